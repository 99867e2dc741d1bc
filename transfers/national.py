"""The national picture for support: the last nights' runs and the waiting pairs, as charts.

docs/operations.md "The national picture". One query reads the runs of the last ``DAYS`` Paris days
(whatever their number); the charts are inline SVG drawn on the server with the history chart's
pieces (``transfers/charts.py``), each with a <title>, a <desc> and, on the page, a data table.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from . import charts, waiting
from .history import PARIS
from .models import Cause, MatchingRun, Trigger

DAYS = 30


@dataclass
class Night:
    """What the runs started on one Paris day did (the nightly run and any other)."""

    day: datetime.date
    runs: int = 0
    nightly_status: str = ""  # the nightly (beat) run's status label; "" when none ran that day
    pairs_decided: int = 0
    transfers_done: int = 0
    holds: int = 0
    errors: int = 0
    seconds: float = 0.0  # total duration of the day's finished runs

    @property
    def duration_label(self) -> str:
        return duration_label(self.seconds) if self.runs else "—"


@dataclass(frozen=True)
class WaitingReason:
    side: str  # "Arrivées" or "Départs"
    label: str  # the reason as transfers.waiting words it
    count: int

    @property
    def full_label(self) -> str:
        return f"{self.side} — {self.label}"


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    svg: SafeString


@dataclass
class NationalPicture:
    nights: list[Night]
    waiting: list[WaitingReason] = field(default_factory=list)
    night_charts: list[Chart] = field(default_factory=list)
    waiting_chart: SafeString | None = None


def duration_label(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _days(now: datetime.datetime, days: int) -> list[datetime.date]:
    today = timezone.localtime(now, PARIS).date()
    return [today - datetime.timedelta(days=back) for back in range(days - 1, -1, -1)]


def _errors(run: MatchingRun) -> int:
    return len(run.errors) + len(run.failures)


def _add(night: Night, run: MatchingRun) -> None:
    night.runs += 1
    night.pairs_decided += run.pairs_decided
    night.transfers_done += run.transfers_done
    night.holds += run.counts.get(Cause.HELD.value, 0)
    night.errors += _errors(run)
    if run.finished_at is not None:
        night.seconds += (run.finished_at - run.started_at).total_seconds()
    if run.trigger == Trigger.BEAT:
        night.nightly_status = str(run.get_status_display())


def nightly_runs(now: datetime.datetime, days: int = DAYS) -> list[Night]:
    """One ``Night`` per Paris day, the oldest first, the last ``days`` days up to ``now``: one query.

    Skipped runs (another was running) did nothing and are left out.
    """
    nights = {day: Night(day) for day in _days(now, days)}
    start = datetime.datetime.combine(min(nights), datetime.time(), PARIS)
    runs = (
        MatchingRun.objects.filter(started_at__gte=start, started_at__lte=now)
        .exclude(status=MatchingRun.Status.SKIPPED)
        .only(
            "started_at",
            "finished_at",
            "trigger",
            "status",
            "pairs_decided",
            "transfers_done",
            "counts",
            "errors",
            "failures",
        )  # fmt: skip
        .order_by("started_at", "id")
    )
    for run in runs:
        _add(nights[timezone.localtime(run.started_at, PARIS).date()], run)
    return list(nights.values())


def waiting_by_reason(now: datetime.datetime) -> list[WaitingReason]:
    """Every establishment's waiting arrivals and departures, counted by reason.

    The reasons come from ``transfers.waiting``, the one place they are decided (issue 13's rule:
    the page, the admin, the diagnostic and the e-mails say the same). Its queries are set-based:
    a fixed number, whatever the number of waiting students.
    """
    rows = []
    for side, students in (
        ("Arrivées", waiting.waiting_arrivals(None, now)),
        ("Départs", waiting.waiting_departures(None, now)),
    ):
        rows += [
            WaitingReason(side, str(reason.label), count) for reason, count in waiting.reason_counts(students)
        ]
    return rows


def national_picture(*, now: datetime.datetime, days: int = DAYS) -> NationalPicture:
    nights = nightly_runs(now, days)
    picture = NationalPicture(nights, waiting_by_reason(now))
    picture.night_charts = [
        Chart(key, title, nights_chart_svg(nights, key, title=title, colour=colour))
        for key, title, colour in NIGHT_CHARTS
    ]
    picture.waiting_chart = waiting_chart_svg(picture.waiting)
    return picture


# --- drawing -------------------------------------------------------------------------------------

# The charts of the runs: the Night attribute, the title, the colour (the history chart's).
NIGHT_CHARTS = (
    ("pairs_decided", "Paires décidées par jour", charts.SENT_COLOUR),
    ("transfers_done", "Transferts effectués par jour", charts.RECEIVED_COLOUR),
    ("holds", "Paires mises en attente de vérification par jour", charts.SENT_COLOUR),
    ("errors", "Erreurs par jour (exécutions en échec et élèves en erreur)", charts.RECEIVED_COLOUR),
    ("seconds", "Durée totale des exécutions par jour (secondes)", charts.SENT_COLOUR),
)


def _day_label(day: datetime.date) -> str:
    return f"{day.day} {charts.SHORT_MONTHS[day.month - 1]} {day.year}"


def _night_value(night: Night, key: str) -> int:
    return round(getattr(night, key))


def _value_text(key: str, value: int) -> str:
    return duration_label(value) if key == "seconds" else str(value)


def _day_axis(index: int, night: Night, group_width: float) -> SafeString:
    # The day of the month under each bar; the month's name under the first day and each 1st.
    centre = charts.LEFT + (index + 0.5) * group_width
    month = charts.SHORT_MONTHS[night.day.month - 1] if index == 0 or night.day.day == 1 else ""
    return format_html(
        '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="{}">{}</text>'
        '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="{}">{}</text>',
        charts._n(centre),
        charts.HEIGHT - charts.BOTTOM + 16,
        charts.TEXT_COLOUR,
        night.day.day,
        charts._n(centre),
        charts.HEIGHT - charts.BOTTOM + 31,
        charts.TEXT_COLOUR,
        month,
    )


def nights_chart_svg(nights: Sequence[Night], key: str, *, title: str, colour: str) -> SafeString:
    """One bar per day for one measure of the runs, with its <title> and <desc>."""
    values = [_night_value(night, key) for night in nights]
    step = charts._grid_step(max([*values, 0]))
    top_value = step * charts.GRID_LINES
    group_width = (charts.WIDTH - charts.LEFT - charts.RIGHT) / max(len(nights), 1)
    pieces = []
    for index, (night, value) in enumerate(zip(nights, values, strict=True)):
        x = charts.LEFT + index * group_width + (group_width - charts.BAR_WIDTH) / 2
        label = f"{_day_label(night.day)} : {_value_text(key, value)}"
        pieces.append(charts._bar(x, value, top_value, colour, label))
        pieces.append(_day_axis(index, night, group_width))
    description = " ; ".join(
        f"{_day_label(night.day)} : {_value_text(key, value)}"
        for night, value in zip(nights, values, strict=True)
    )
    return _svg(f"national-{key}", title, description, charts._grid(step), *pieces)


def _svg(element_id: str, title: str, description: str, *parts: SafeString) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" '
        'class="chart" aria-labelledby="{}-title {}-desc" font-family="system-ui, sans-serif">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}</svg>',
        charts.WIDTH,
        charts.HEIGHT,
        element_id,
        element_id,
        element_id,
        title,
        element_id,
        description,
        _joined(parts),
    )


def _joined(pieces: Sequence[SafeString]) -> SafeString:
    """Safe pieces (built by ``format_html``) side by side; format_html_join does not escape them again."""
    return format_html_join("", "{}", ((piece,) for piece in pieces))


WAITING_ROW, WAITING_BAR_MAX, WAITING_LEFT = 42, 600, 10


def waiting_chart_svg(reasons: Sequence[WaitingReason]) -> SafeString:
    """One horizontal bar per reason, its sentence above it (too long to stand under a bar)."""
    largest = max([r.count for r in reasons] + [1])
    rows = []
    for index, reason in enumerate(reasons):
        y = charts.TOP + index * WAITING_ROW
        width = max(reason.count * WAITING_BAR_MAX / largest, 1)
        rows.append(
            format_html(
                '<text x="{}" y="{}" font-size="12" fill="#1f2430">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="16" fill="{}"><title>{} : {}</title></rect>'
                '<text x="{}" y="{}" font-size="12" fill="#1f2430">{}</text>',
                WAITING_LEFT,
                y,
                reason.full_label,
                WAITING_LEFT,
                y + 6,
                charts._n(width),
                charts.RECEIVED_COLOUR if reason.side == "Arrivées" else charts.SENT_COLOUR,
                reason.full_label,
                reason.count,
                charts._n(WAITING_LEFT + width + 6),
                y + 19,
                reason.count,
            )
        )
    height = charts.TOP + max(len(reasons), 1) * WAITING_ROW
    description = " ; ".join(f"{r.full_label} : {r.count}" for r in reasons) or "aucun élève en attente"
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" '
        'class="chart" aria-labelledby="national-waiting-title national-waiting-desc" '
        'font-family="system-ui, sans-serif"><title id="national-waiting-title">{}</title>'
        '<desc id="national-waiting-desc">{}</desc>{}</svg>',
        charts.WIDTH,
        height,
        "Élèves dont le passeport attend, par raison",
        description,
        _joined(rows),
    )
