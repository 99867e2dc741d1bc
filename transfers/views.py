"""The transfer history pages: both lists, the monthly chart and the CSV export.

Filters live in GET parameters (``du``, ``au``, ``effectue``; ``direction`` for the export): dates
and yes/no only, never a name or an INE.
"""

from __future__ import annotations

import csv
import functools
import uuid
from collections.abc import Callable
from html import escape
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import HttpResponse, HttpResponseBadRequest, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from cerisepro.forms import SafeInputMixin
from establishments.access import STAFF_ROLES, SchoolRequest, school_view
from establishments.models import Establishment

from . import history, reports, waiting
from .charts import chart_description, month_label, monthly_chart_svg

PAGE_SIZE = 25
DIRECTIONS = {"recus": history.RECEIVED, "partis": history.SENT}
DONE_CHOICES = {"tous": None, "oui": True, "non": False}
FILTER_PARAMS = ("du", "au", "effectue")


class HistoryFilterForm(SafeInputMixin, forms.Form):
    du = forms.DateField(
        label="Du", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    au = forms.DateField(
        label="Au", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    effectue = forms.ChoiceField(
        label="Transfert effectué",
        required=False,
        choices=[("tous", "Tous"), ("oui", "Oui"), ("non", "Non")],
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("du") and data.get("au") and data["du"] > data["au"]:
            raise forms.ValidationError("La date de début doit précéder la date de fin.")
        return data

    def filters(self) -> dict:
        """The selectors' keyword arguments; a field that does not validate filters nothing."""
        if not self.is_bound:
            return {"since": None, "until": None, "done": None}
        self.is_valid()  # fills cleaned_data with the fields that validate
        data = self.cleaned_data
        return {
            "since": data.get("du"),
            "until": data.get("au"),
            "done": DONE_CHOICES.get(data.get("effectue") or "tous"),
        }


def _filter_query(request: SchoolRequest) -> str:
    """The filters alone, for the export links."""
    query = QueryDict(mutable=True)
    for key in FILTER_PARAMS:
        query.setlist(key, request.GET.getlist(key))
    return query.urlencode()


def _query_without(request: SchoolRequest, *keys: str) -> str:
    query = request.GET.copy()
    for key in keys:
        query.pop(key, None)
    return query.urlencode()


def _report_url(establishment: Establishment) -> Callable[[uuid.UUID], str]:
    """A transfer's "Signaler une erreur" URL, reversed once per page rather than once per row
    (25 reverses were 1.4 ms of a 17 ms page in-process): the id goes where a placeholder was."""
    placeholder = str(uuid.UUID(int=0))
    before, after = reverse("transfer-report", args=[establishment.uai, placeholder]).split(placeholder)
    return lambda public_id: f"{before}{public_id}{after}"


# The rows of a history table, written here rather than in history_table.html: fifty rows of
# template lookups and tags were 3.6 ms of a page, fifty format_html 2 ms (in-process, BENCHMARKS.md
# "web"). Every value goes through html.escape, which is what django.utils.html.escape runs (the
# same bytes), without its lazy-string wrapper: the rows hold plain strings only.
_NOT_SHOWN = '<span class="muted">Non communiqué</span>'
_DONE = {True: '<span class="status on">oui</span>', False: '<span class="status off">non</span>'}


def _row_html(row: history.PageRow) -> SafeString:
    student = escape(row.student)
    other = _NOT_SHOWN if row.other is None else escape(row.other)
    report = (
        f'<td class="nowrap"><a href="{escape(row.report_url)}">Signaler une erreur'
        # The student, for screen readers (RGAA 6.1: a link's name says where it leads).
        f'<span class="visually-hidden"> pour {student}</span></a></td>'
        if row.report_url
        else ""
    )
    return mark_safe(  # noqa: S308 - every value above is escaped
        f"<tr><td>{escape(row.date)}</td><td>{student}</td><td>{other}</td><td>{_DONE[row.done]}</td>"
        f"<td>{escape(row.reason)}</td>"
        f'<td><span class="kind {escape(row.kind)}">{escape(row.kind_label)}</span></td>{report}</tr>'
    )


class _CountedPaginator(Paginator):
    """A paginator told its count: the unfiltered tables' totals are cached (``history.row_totals``)."""

    def __init__(self, object_list, per_page: int, count: int):
        super().__init__(object_list, per_page)
        self._known_count = count

    @functools.cached_property
    def count(self) -> int:
        return self._known_count


def _table(
    request: SchoolRequest,
    transfers,
    direction: str,
    page_key: str,
    total: int | None = None,
    filters: dict[str, Any] | None = None,
) -> dict:
    # The rows are counted on the selector's queryset: the columns' joins would make PostgreSQL
    # count by scanning the table (11 ms at 15,000 rows) instead of the establishment's index (2 ms).
    # Unfiltered, the count is the cached total (``total``), which the page opened most then needs.
    paginator = (
        Paginator(transfers, PAGE_SIZE) if total is None else _CountedPaginator(transfers, PAGE_SIZE, total)
    )
    page: Page = paginator.get_page(request.GET.get(page_key))
    lines = history.page_line_values(
        request.establishment,
        direction,
        **(filters or {}),
        offset=(page.number - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    report_url = _report_url(request.establishment) if direction == history.SENT else None
    rows = [_row_html(row) for row in history.page_rows(lines, direction, report_url)]
    return {
        "page": page,
        # One string: fifty {{ row }} nodes were 0.3 ms of the page's template.
        "rows": mark_safe("".join(rows)),  # noqa: S308 - _row_html escapes each row's values
        "page_key": page_key,
        "query": _query_without(request, page_key),
    }


@functools.lru_cache(maxsize=1024)
def _chart(counts: tuple[history.MonthCount, ...]) -> SafeString:
    """The chart's section (the chart, its text alternative and the table of its figures), a pure
    function of the (cached) counts: rendered once per change of the counts in each process, not
    per page (BENCHMARKS.md, "web")."""
    context = {
        "chart": monthly_chart_svg(counts),
        "chart_description": chart_description(counts),
        "months": [(month_label(c.month), c.received, c.sent) for c in counts],
    }
    return _rendered("transfers/history_chart.html", context)


def _filter_fields(form: HistoryFilterForm) -> SafeString:
    """The filter form's fields: the same HTML for everyone while the form is empty, the page most
    opened, so rendered once per process then (three widgets through their templates were 2 ms of
    a page); a filled-in form shows its values and errors, rendered each time."""
    if form.is_bound:
        return _render_filter_fields(form)
    return _empty_filter_fields()


@functools.lru_cache(maxsize=1)
def _empty_filter_fields() -> SafeString:
    return _render_filter_fields(HistoryFilterForm())


def _render_filter_fields(form: HistoryFilterForm) -> SafeString:
    return _rendered("transfers/history_filters.html", {"form": form})


def _rendered(template_name: str, context: dict[str, Any]) -> SafeString:
    # A template renders to a SafeString, which its stub types as str.
    return cast(SafeString, render_to_string(template_name, context))


@require_GET
@school_view(read=STAFF_ROLES)
def transfer_history(request: SchoolRequest) -> HttpResponse:
    establishment = request.establishment
    form = HistoryFilterForm(request.GET if any(k in request.GET for k in FILTER_PARAMS) else None)
    filters = form.filters()
    counts = history.monthly_counts(establishment, now=timezone.now())
    filtered = any(value is not None for value in filters.values())
    received, sent = (None, None) if filtered else history.row_totals(establishment)
    context = {
        "establishment": establishment,
        "form": form,
        "filter_fields": _filter_fields(form),
        "received": _table(
            request,
            history.transfers_received(establishment, **filters),
            history.RECEIVED,
            "page_recus",
            received,
            filters,
        ),
        "sent": _table(
            request,
            history.transfers_sent(establishment, **filters),
            history.SENT,
            "page_partis",
            sent,
            filters,
        ),
        "chart": _chart(tuple(counts)),
        "filter_query": _filter_query(request),
    }
    return render(request, "transfers/history.html", context)


class _Echo:
    """A file-like object whose ``write`` hands the line back, for streaming ``csv.writer``."""

    def write(self, value: str) -> str:
        return value


# Lines per chunk handed to the server: one write per line was a fifth of the export's time.
CSV_LINES_PER_CHUNK = 500


def _csv_stream(transfers, direction: str):
    # The BOM makes French spreadsheets read the file as UTF-8 rather than Windows-1252.
    yield "\ufeff"
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    lines: list[str] = []
    for row in history.csv_rows(transfers, direction):
        lines.append(writer.writerow(row))
        if len(lines) == CSV_LINES_PER_CHUNK:
            yield "".join(lines)
            lines.clear()
    if lines:
        yield "".join(lines)


@require_GET
@school_view(read=STAFF_ROLES)
def transfer_history_csv(request: SchoolRequest) -> HttpResponseBase:
    establishment = request.establishment
    direction = DIRECTIONS.get(request.GET.get("direction", "recus"))
    form = HistoryFilterForm(request.GET)
    if direction is None or not form.is_valid():
        return HttpResponseBadRequest(
            "Paramètres d'export invalides.", content_type="text/plain; charset=utf-8"
        )
    transfers = history.SELECTORS[direction](establishment, **form.filters())
    response = StreamingHttpResponse(
        _csv_stream(transfers, direction), content_type="text/csv; charset=utf-8"
    )
    slug = "recus" if direction == history.RECEIVED else "partis"
    today = timezone.localtime(timezone.now(), history.PARIS).date()
    response["Content-Disposition"] = (
        f'attachment; filename="transferts-{slug}-{establishment.uai}-{today:%Y%m%d}.csv"'
    )
    response["Cache-Control"] = "private, no-store"
    return response


class TransferReportForm(SafeInputMixin, forms.Form):
    message = forms.CharField(
        label="Ce qui ne va pas (facultatif)",
        required=False,
        max_length=reports.MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Par exemple : l'élève n'a pas quitté l'établissement, ou il est parti ailleurs. "
        "N'indiquez pas d'autre information personnelle que nécessaire.",
    )


@require_http_methods(["GET", "POST"])
@school_view(read=STAFF_ROLES, write=STAFF_ROLES)
def transfer_report(request: SchoolRequest, transfer: str) -> HttpResponse:
    """ "Signaler une erreur" on a row of "Élèves partis": only the origin school reaches it."""
    establishment = request.establishment
    row = get_object_or_404(history.transfers_sent(establishment), public_id=transfer)
    form = TransferReportForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        reports.transfer_report_create(
            establishment, row, user=request.user, now=timezone.now(), message=form.cleaned_data["message"]
        )
        messages.success(request, "Merci : l'assistance technique a été prévenue et vérifiera ce transfert.")
        return redirect("transfer-history", uai=establishment.uai)
    context = {"establishment": establishment, "row": history.HistoryRow(row, history.SENT), "form": form}
    return render(request, "transfers/report.html", context, status=400 if form.errors else 200)


@require_GET
@school_view(read=STAFF_ROLES)
def transfer_waiting(request: SchoolRequest) -> HttpResponse:
    """ "En attente": this school's arrivals and departures whose passport waits, why and until when
    (docs/transfers.md §9). The reasons come from transfers.waiting, as in the admin and the e-mails."""
    establishment = request.establishment
    now = timezone.now()
    arrivals = waiting.waiting_arrivals(establishment, now)
    departures = waiting.waiting_departures(establishment, now)
    context = {
        "establishment": establishment,
        "arrivals": arrivals,
        "departures": departures,
        "arrival_counts": waiting.reason_counts(arrivals),
        "reasons": waiting.WaitingReason,
    }
    return render(request, "transfers/waiting.html", context)
