"""The monthly sent / received bar chart, drawn on the server as inline SVG (no script, no JS).

Every piece of text goes through ``format_html``; ``mark_safe`` only ever joins such pieces.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from .history import MonthCount

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
SHORT_MONTHS = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)
RECEIVED_COLOUR, SENT_COLOUR, GRID_COLOUR, TEXT_COLOUR = "#b0173a", "#2f5d8a", "#d9dce3", "#5d6472"
WIDTH, HEIGHT = 720, 250
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 40, 44
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
BAR_WIDTH, BAR_GAP = 16, 3
GRID_LINES = 4


def month_label(month: datetime.date) -> str:
    return f"{MONTHS[month.month - 1]} {month.year}"


def students_label(count: int, participle: str) -> str:
    """``0 élève reçu``, ``2 élèves partis``: French keeps 0 and 1 singular."""
    plural = "s" if count > 1 else ""
    return f"{count} élève{plural} {participle}{plural}"


def chart_description(counts: Sequence[MonthCount]) -> str:
    return " ; ".join(
        f"{month_label(c.month)} : {students_label(c.received, 'reçu')}, {students_label(c.sent, 'parti')}"
        for c in counts
    )


def _n(value: float) -> str:
    """A coordinate: ``format_html`` escapes its arguments to strings, so format numbers first."""
    return f"{value:.1f}"


def _grid_step(largest: int) -> int:
    return max(1, math.ceil(largest / GRID_LINES))


def _y(value: int, top_value: int) -> float:
    return TOP + PLOT_HEIGHT - value * PLOT_HEIGHT / top_value


def _legend() -> SafeString:
    items = []
    for offset, colour, text in ((0, RECEIVED_COLOUR, "Élèves reçus"), (150, SENT_COLOUR, "Élèves partis")):
        items.append(
            format_html(
                '<rect x="{}" y="10" width="12" height="12" fill="{}"/>'
                '<text x="{}" y="20" font-size="13" fill="#1f2430">{}</text>',
                LEFT + offset,
                colour,
                LEFT + offset + 18,
                text,
            )
        )
    return mark_safe("".join(items))


def _grid(step: int) -> SafeString:
    lines = []
    for k in range(GRID_LINES + 1):
        y = _y(k * step, step * GRID_LINES)
        lines.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}"/>'
                '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="{}">{}</text>',
                LEFT,
                WIDTH - RIGHT,
                _n(y),
                _n(y),
                GRID_COLOUR,
                LEFT - 6,
                _n(y + 4),
                TEXT_COLOUR,
                k * step,
            )
        )
    return mark_safe("".join(lines))


def _bar(x: float, value: int, top_value: int, colour: str, title: str) -> SafeString:
    if value == 0:
        return mark_safe("")
    y = _y(value, top_value)
    return format_html(
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>'
        '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#1f2430">{}</text>',
        _n(x),
        _n(y),
        BAR_WIDTH,
        _n(TOP + PLOT_HEIGHT - y),
        colour,
        title,
        _n(x + BAR_WIDTH / 2),
        _n(y - 4),
        value,
    )


def _month_group(index: int, count: MonthCount, group_width: float, top_value: int) -> SafeString:
    left = LEFT + index * group_width + (group_width - 2 * BAR_WIDTH - BAR_GAP) / 2
    label = month_label(count.month)
    centre = LEFT + (index + 0.5) * group_width
    year = count.month.year if index == 0 or count.month.month == 1 else ""
    return format_html(
        '<g>{}{}<text x="{}" y="{}" font-size="12" text-anchor="middle" fill="{}">{}</text>'
        '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="{}">{}</text></g>',
        _bar(
            left,
            count.received,
            top_value,
            RECEIVED_COLOUR,
            f"{label} : {students_label(count.received, 'reçu')}",
        ),
        _bar(
            left + BAR_WIDTH + BAR_GAP,
            count.sent,
            top_value,
            SENT_COLOUR,
            f"{label} : {students_label(count.sent, 'parti')}",
        ),
        _n(centre),
        HEIGHT - BOTTOM + 16,
        TEXT_COLOUR,
        SHORT_MONTHS[count.month.month - 1],
        _n(centre),
        HEIGHT - BOTTOM + 31,
        TEXT_COLOUR,
        year,
    )


def monthly_chart_svg(counts: Sequence[MonthCount], *, element_id: str = "transfer-chart") -> SafeString:
    """Grouped bars (received, sent) per month, with a <title> and a <desc> that say it all in words."""
    step = _grid_step(max([c.received for c in counts] + [c.sent for c in counts] + [0]))
    top_value = step * GRID_LINES
    group_width = (WIDTH - LEFT - RIGHT) / max(len(counts), 1)
    groups = mark_safe(
        "".join(_month_group(i, count, group_width, top_value) for i, count in enumerate(counts))
    )
    title = "Transferts effectués par mois"
    if counts:
        title += f", de {month_label(counts[0].month)} à {month_label(counts[-1].month)}"
    return format_html(
        # Sized by static/css/app.css (.chart), not a style attribute: the Content-Security-Policy
        # has no 'unsafe-inline' for styles, and SVG presentation attributes need none.
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" '
        'class="chart" aria-labelledby="{}-title {}-desc" font-family="system-ui, sans-serif">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}{}{}</svg>',
        WIDTH,
        HEIGHT,
        element_id,
        element_id,
        element_id,
        title,
        element_id,
        chart_description(counts),
        _legend(),
        _grid(step),
        groups,
    )
