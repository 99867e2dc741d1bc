"""Reads of the transfer history: what an establishment received and sent, per row and per month.

Every read starts from the establishment (``establishment.transfers_received`` /
``transfers_sent``), so a school only ever sees the rows it is a party to.
"""

from __future__ import annotations

import datetime
import functools
import logging
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Field, Q, QuerySet
from django.utils import timezone
from django.utils.text import capfirst

from establishments.models import Establishment
from students.models import Student

from .models import COPIED_COUNTERS, Cause, Kind, Transfer

# docs/transfers.md: dates and months of the history are those of Europe/Paris, whatever the server's zone.
PARIS = ZoneInfo("Europe/Paris")
RECEIVED, SENT = "received", "sent"
DELETED_STUDENT = "élève supprimé"
NO_CAUSE = "—"
CSV_CHUNK_SIZE = 2000
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _paris_midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), PARIS)


def _filtered(
    transfers: QuerySet[Transfer],
    since: datetime.date | None,
    until: datetime.date | None,
    done: bool | None,
    own_student: str,
) -> QuerySet[Transfer]:
    # Bounds as instants rather than ``created_at__date`` so that the (establishment, -created_at)
    # indexes are used; both days are included.
    if since is not None:
        transfers = transfers.filter(created_at__gte=_paris_midnight(since))
    if until is not None:
        transfers = transfers.filter(created_at__lt=_paris_midnight(until + datetime.timedelta(days=1)))
    if done is not None:
        transfers = transfers.filter(done=done)
    # Only the viewer's own student record is shown (HistoryRow.student): joining the other
    # side's student too doubled the rows' width and the model instances built per page.
    related = ("origin_establishment", "destination_establishment", own_student)
    return transfers.select_related(*related).order_by("-created_at", "-id")


def transfers_received(
    establishment: Establishment,
    *,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    done: bool | None = None,
) -> QuerySet[Transfer]:
    """Rows where ``establishment`` is the destination, newest first, days ``since``–``until`` included."""
    return _filtered(establishment.transfers_received.all(), since, until, done, "destination_student")


def transfers_sent(
    establishment: Establishment,
    *,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    done: bool | None = None,
) -> QuerySet[Transfer]:
    """Rows where ``establishment`` is the origin, newest first, days ``since``–``until`` included."""
    return _filtered(establishment.transfers_sent.all(), since, until, done, "origin_student")


SELECTORS = {RECEIVED: transfers_received, SENT: transfers_sent}


# What the arrival's school reads of a pair that was not transferred (SECURITY.md "No oracle"): the
# establishment where the INE was found would tell a school that typed an arrival into its own file
# where that child recently was. Only a done transfer names the school the passport came from.
HIDDEN_ORIGIN = "non communiqué"


def origin_is_shown(direction: str, done: bool) -> bool:
    return direction == SENT or done


@dataclass(frozen=True)
class HistoryRow:
    """One transfer as seen from one side: the student of that side and the other establishment."""

    transfer: Transfer
    direction: str

    @property
    def date(self) -> datetime.date:
        return timezone.localtime(self.transfer.created_at, PARIS).date()

    @property
    def student(self) -> str:
        # The viewer's own record only: the other school's record is not theirs to read.
        record = (
            self.transfer.destination_student if self.direction == RECEIVED else self.transfer.origin_student
        )
        if record is not None:
            return record.display_name
        return self.transfer.student_name or DELETED_STUDENT

    @property
    def other_establishment(self) -> Establishment | None:
        """The other school; None for an arrival whose passport was not received (no oracle)."""
        if self.direction == RECEIVED:
            return (
                self.transfer.origin_establishment if origin_is_shown(RECEIVED, self.transfer.done) else None
            )
        return self.transfer.destination_establishment

    @property
    def cause_label(self) -> str:
        if self.transfer.undone_at is not None:
            return undone_label(self.transfer.undone_at, self.transfer.undo_reason)
        return str(self.transfer.get_cause_display()) if self.transfer.cause else NO_CAUSE


def undone_label(undone_at: datetime.datetime, reason: str) -> str:
    """ "Annulé le 03/12/2026 (motif)": what both sides read of an undone transfer (transfers.undo).

    The reason is staff's, written for both schools; the arrival's school still does not see the
    origin (the row is no longer done, ``origin_is_shown``).
    """
    day = timezone.localtime(undone_at, PARIS).strftime("%d/%m/%Y")
    return f"Annulé le {day} ({reason})" if reason else f"Annulé le {day}"


def history_rows(transfers: Iterable[Transfer], direction: str) -> Iterator[HistoryRow]:
    return (HistoryRow(transfer, direction) for transfer in transfers)


def neutralise_formula(value: str) -> str:
    """Make a spreadsheet show ``value`` as text rather than run it as a formula."""
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


CSV_HEADERS = {
    RECEIVED: ("UAI de provenance", "Établissement de provenance"),
    SENT: ("UAI de destination", "Établissement de destination"),
}


# The columns of one CSV line, read as tuples: building model instances for each row and its joins
# was most of the export's time (BENCHMARKS.md).
# The viewer's own student record and the other establishment, per table: what the CSV export and
# the page read of each row (as tuples of columns, _line_columns).
_LINE_SIDES = {
    RECEIVED: ("destination_student", "origin_establishment"),
    SENT: ("origin_student", "destination_establishment"),
}


def _line_columns(direction: str) -> tuple[str, ...]:
    """The columns both the CSV export and the page read, in the order they unpack them."""
    own, other = _LINE_SIDES[direction]
    return (
        "created_at",
        f"{own}_id",
        f"{own}__last_name",
        f"{own}__first_name",
        "student_name",
        f"{other}__uai",
        f"{other}__name",
        "done",
        "cause",
        "kind",
        "undone_at",
        "undo_reason",
    )


def _student_cell(student_id: int | None, last_name: str, first_name: str, student_name: str) -> str:
    """The viewer's own student, from the two columns read (Student.display_name without a model
    instance per row: that was 60 % of the export's time, BENCHMARKS.md "web"), or the name kept
    when the record was deleted."""
    if student_id is not None:
        return _display_name(_Name(last_name, first_name))
    return student_name or DELETED_STUDENT


def copied_headers() -> list[str]:
    """ "Fiches copiées", …: one CSV column per counter, named by the field (COPIED_COUNTERS)."""
    return [str(capfirst(_verbose_name(column))) for column in COPIED_COUNTERS.values()]


def _verbose_name(column: str) -> str:
    field = Transfer._meta.get_field(column)
    assert isinstance(field, Field)  # a column of Transfer
    return str(field.verbose_name)


class _Name(NamedTuple):
    last_name: str
    first_name: str


_display_name = Student.display_name.fget  # type: ignore[attr-defined]


def _paris_day(moment: datetime.datetime) -> str:
    """``03/12/2026``: the Paris date of an instant (strftime was a tenth of the export's time)."""
    day = moment.astimezone(PARIS)
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def csv_rows(transfers: QuerySet[Transfer], direction: str) -> Iterator[list[str]]:
    """The header, then one French spreadsheet row per transfer, read in chunks (flat memory)."""
    uai_header, name_header = CSV_HEADERS[direction]
    yield [
        "Date",
        "Élève",
        uai_header,
        name_header,
        "Transfert effectué",
        "Motif",
        "Type",
        *copied_headers(),
    ]
    causes = {value: str(label) for value, label in Cause.choices}
    kinds = {value: str(label) for value, label in Kind.choices}
    lines = transfers.values_list(*_line_columns(direction), *COPIED_COUNTERS.values())
    for (
        created_at,
        student_id,
        last_name,
        first_name,
        student_name,
        uai,
        name,
        done,
        cause,
        kind,
        undone_at,
        undo_reason,
        *copied,
    ) in lines.iterator(chunk_size=CSV_CHUNK_SIZE):
        student = _student_cell(student_id, last_name, first_name, student_name)
        if not origin_is_shown(direction, done):
            uai, name = HIDDEN_ORIGIN, HIDDEN_ORIGIN
        yield [
            _paris_day(created_at),
            neutralise_formula(student),
            uai,
            neutralise_formula(name),
            "oui" if done else "non",
            neutralise_formula(undone_label(undone_at, undo_reason))
            if undone_at is not None
            else (causes.get(cause, cause) if cause else NO_CAUSE),
            kinds.get(kind, kind),
            *map(str, copied),
        ]


# --- the rows of the history page ----------------------------------------------------------------


class PageRow(NamedTuple):
    """One line of a history table, every cell already text: what :class:`HistoryRow` says of a
    transfer, built from a tuple of columns. Building three model instances per row and reading
    each cell through properties, ``get_*_display`` and template lookups was half of the page's
    time (BENCHMARKS.md, "web")."""

    date: str  # "15/09/2026", the Paris date
    student: str  # the viewer's own record, else the name kept on the row, else "élève supprimé"
    other: str | None  # "UAI — name" of the other school; None: not communicated (no oracle)
    done: bool
    reason: str  # the "Motif" column
    kind: str  # Kind's value, for the CSS class
    kind_label: str  # "automatique", "manuel", "forcé"
    public_id: uuid.UUID
    report_url: str | None  # "Signaler une erreur", on the sent rows


FORCED_DESPITE = "Forcé par l'assistance malgré : "


def page_lines(transfers: QuerySet[Transfer], direction: str) -> QuerySet[Transfer, tuple[Any, ...]]:
    """``transfers`` (a selector's queryset) as the tuples :func:`page_rows` reads; paginate this."""
    return transfers.values_list(*_line_columns(direction), "public_id")


# The page's own query, written once per shape (which filters it has) on PostgreSQL: Django
# compiling page_lines' query was 1.2 of its 1.9 ms, twice per page (in-process, BENCHMARKS.md
# "web"). It reads what page_lines reads, from the same side's rows of the establishment only;
# tests/transfers/test_history_page_rows.py holds the two to the same rows for every shape and page.
_SIDE_COLUMN = {RECEIVED: "destination_establishment", SENT: "origin_establishment"}


def page_line_values(
    establishment: Establishment,
    direction: str,
    *,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    done: bool | None = None,
    offset: int = 0,
    limit: int,
) -> list[tuple[Any, ...]]:
    """One page (``offset``, ``limit``) of :func:`page_lines` over ``SELECTORS[direction]``."""
    if connection.vendor != "postgresql":
        rows = SELECTORS[direction](establishment, since=since, until=until, done=done)
        return list(page_lines(rows, direction)[offset : offset + limit])
    params: list[Any] = [establishment.pk]
    if since is not None:
        params.append(_paris_midnight(since))
    if until is not None:
        params.append(_paris_midnight(until + datetime.timedelta(days=1)))
    if done is not None:
        params.append(done)
    shape = (direction, since is not None, until is not None, done is not None)
    name = "cerisepro_history_{}_{}{}{}".format(direction, *map(int, shape[1:]))  # e.g. …_received_000
    return _execute_prepared(name, _page_sql(*shape), [*params, limit, offset])


# PostgreSQL planned the page's query (three tables, a dozen indexes) at each execution: 0.6 of its
# 1.3 ms of server CPU, twice per page. The query is prepared once per database connection (which
# CONN_MAX_AGE keeps across requests) and executed with its generic plan: the same index scan of
# the establishment's rows whatever the values. Only prepared statements follow plan_cache_mode;
# psycopg2 sends every other query unprepared. (A first page view inside a transaction that rolls
# back undoes the SET but not the PREPARE: that connection then re-plans each time, slower, never
# wrong.) A pooler in transaction mode would lose the statements: use session pooling, or none
# (docs/operations.md).
_prepared_on: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _execute_prepared(name: str, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        prepared = _prepared_on.setdefault(connection.connection, set())
        if name not in prepared:
            cursor.execute(f"SET plan_cache_mode = force_generic_plan; PREPARE {name} AS {sql}")
            prepared.add(name)
        cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})", params)
        return cursor.fetchall()


@functools.lru_cache(maxsize=16)
def _page_sql(direction: str, since: bool, until: bool, done: bool) -> str:
    """The page's query for one shape, its values as $1, $2… (in page_line_values' order)."""
    own_student, other_establishment = _LINE_SIDES[direction]
    quote = connection.ops.quote_name
    number = iter(range(1, 10))

    def column(name: str) -> str:
        field = Transfer._meta.get_field(name)
        assert isinstance(field, Field) and field.column  # a column of Transfer, not a reverse relation
        return "t." + quote(field.column)

    def value() -> str:
        return f"${next(number)}"

    conditions = [f"{column(_SIDE_COLUMN[direction])} = {value()}"]
    if since:
        conditions.append(f"{column('created_at')} >= {value()}")
    if until:
        conditions.append(f"{column('created_at')} < {value()}")
    if done:
        conditions.append(f"{column('done')} = {value()}")
    # page_lines' columns, in its order; every name comes from the models, every value is a parameter.
    selected = [
        column("created_at"),
        column(own_student),
        f"s.{quote('last_name')}",
        f"s.{quote('first_name')}",
        column("student_name"),
        f"e.{quote('uai')}",
        f"e.{quote('name')}",
        *(column(name) for name in ("done", "cause", "kind", "undone_at", "undo_reason", "public_id")),
    ]
    students, schools = quote(Student._meta.db_table), quote(Establishment._meta.db_table)
    return (
        f"SELECT {', '.join(selected)} FROM {quote(Transfer._meta.db_table)} t"  # noqa: S608 - no value in it
        f" LEFT OUTER JOIN {students} s ON s.{quote('id')} = {column(own_student)}"
        f" LEFT OUTER JOIN {schools} e ON e.{quote('id')} = {column(other_establishment)}"
        f" WHERE {' AND '.join(conditions)}"
        f" ORDER BY {column('created_at')} DESC, {column('id')} DESC LIMIT {value()} OFFSET {value()}"
    )


def page_rows(
    lines: Iterable[tuple], direction: str, report_url: Callable[[uuid.UUID], str] | None = None
) -> list[PageRow]:
    """The rows of one page of :func:`page_lines`, with the same privacy as :class:`HistoryRow`;
    ``report_url`` gives each row's report page from its ``public_id``."""
    causes = {value: str(label) for value, label in Cause.choices}
    kinds = {value: str(label).lower() for value, label in Kind.choices}
    rows = []
    for (
        created_at,
        student_id,
        last_name,
        first_name,
        student_name,
        uai,
        name,
        done,
        cause,
        kind,
        undone_at,
        undo_reason,
        public_id,
    ) in lines:
        student = _student_cell(student_id, last_name, first_name, student_name)
        if undone_at is not None:
            reason = undone_label(undone_at, undo_reason)
        elif not cause:
            reason = NO_CAUSE
        elif kind == Kind.FORCED:
            reason = FORCED_DESPITE + causes.get(cause, cause)
        else:
            reason = causes.get(cause, cause)
        rows.append(
            PageRow(
                date=_paris_day(created_at),
                student=student,
                other=f"{uai} — {name}" if origin_is_shown(direction, done) else None,
                done=done,
                reason=reason,
                kind=kind,
                kind_label=kinds.get(kind, kind),
                public_id=public_id,
                report_url=report_url(public_id) if report_url else None,
            )
        )
    return rows


class MonthCount(NamedTuple):
    month: datetime.date  # first day of the month
    sent: int
    received: int


def _last_months(now: datetime.datetime, months: int) -> list[datetime.date]:
    today = timezone.localtime(now, PARIS)
    index = today.year * 12 + today.month - 1
    return [datetime.date(i // 12, i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


def _done_per_month(transfers: QuerySet[Transfer], bounds: list[datetime.datetime]) -> list[int]:
    months = range(len(bounds) - 1)
    counts = {
        f"month_{i}": Count("id", filter=Q(created_at__gte=bounds[i], created_at__lt=bounds[i + 1]))
        for i in months
    }
    totals = transfers.filter(done=True, created_at__gte=bounds[0], created_at__lt=bounds[-1]).aggregate(
        **counts
    )
    return [totals[f"month_{i}"] for i in months]


def _monthly_counts_from_database(
    establishment: Establishment, *, months: int = 12, now: datetime.datetime
) -> list[MonthCount]:
    """Two aggregate queries, whatever the number of rows; months without transfers count 0. Each
    month is a range of instants between two Paris midnights, counted with ``FILTER``: converting
    every row's date to Paris time to truncate it (``TruncMonth``) took longer than the scan
    itself at 20,000 rows (BENCHMARKS.md).
    """
    month_starts = _last_months(now, months)
    following = (month_starts[-1] + datetime.timedelta(days=31)).replace(day=1)
    bounds = [_paris_midnight(month) for month in [*month_starts, following]]
    sent = _done_per_month(establishment.transfers_sent.all(), bounds)
    received = _done_per_month(establishment.transfers_received.all(), bounds)
    return [MonthCount(*counts) for counts in zip(month_starts, sent, received, strict=True)]


# --- the monthly counts, cached per establishment -----------------------------------------------

logger = logging.getLogger(__name__)
# docs/transfers.md §History: the counts change only when a history row is written, done or undone,
# which calls invalidate_history_counts after its commit. The timeout only bounds how stale a
# per-process cache (the default, locmem) can be when the write happened in another process: share
# the cache (CACHE_URL=redis://…) with several processes.
COUNTS_TIMEOUT = 5 * 60


def _version_key(establishment_id: int) -> str:
    return f"transfers:history-counts-version:{establishment_id}"


@contextmanager
def _cache_errors_ignored() -> Iterator[None]:
    """A cache that fails is a cache miss (logged), never an error page."""
    try:
        yield
    except Exception:
        logger.warning("History counts: the cache does not answer", exc_info=True)


def _counts_key(establishment_id: int, what: str = "counts") -> str | None:
    """The cache key of an establishment's counts as of its last invalidation (None: no cache)."""
    key = _version_key(establishment_id)
    version = None
    with _cache_errors_ignored():  # None: read the database
        version = cache.get(key)
        if version is None:
            cache.add(key, uuid.uuid4().hex, timeout=None)
            version = cache.get(key)
    return f"transfers:history-{what}:{establishment_id}:{version}" if version else None


def row_totals(establishment: Establishment) -> tuple[int, int]:
    """How many history rows the establishment received and sent, all of them (the unfiltered
    tables' counts): cached like :func:`monthly_counts`, renewed by the same invalidation."""
    key = _counts_key(establishment.pk, "totals")
    if key is not None:
        with _cache_errors_ignored():
            cached = cache.get(key)
            if cached is not None:
                return cached
    totals = (establishment.transfers_received.count(), establishment.transfers_sent.count())
    if key is not None:
        with _cache_errors_ignored():
            cache.set(key, totals, COUNTS_TIMEOUT)
    return totals


def monthly_counts(
    establishment: Establishment, *, months: int = 12, now: datetime.datetime
) -> list[MonthCount]:
    """Done transfers sent and received per month, the last ``months`` months up to ``now``'s month.

    Cached per establishment (and per month in which ``now`` falls), until the next
    :func:`invalidate_history_counts` of that establishment.
    """
    key = _counts_key(establishment.pk)
    tag = (months, _last_months(now, 1)[0])
    if key is not None:
        with _cache_errors_ignored():
            cached = cache.get(key)
            if cached is not None and cached[0] == tag:
                return [MonthCount(*row) for row in cached[1]]
    counts = _monthly_counts_from_database(establishment, months=months, now=now)
    if key is not None:
        with _cache_errors_ignored():
            cache.set(key, (tag, [tuple(row) for row in counts]), COUNTS_TIMEOUT)
    return counts


def invalidate_history_counts(establishment_ids: Iterable[int | None]) -> None:
    """Forget the cached monthly counts and row totals of these establishments, once the current
    transaction commits (at once outside one). Call it wherever a history row is written, or a
    transfer becomes done or undone.

    Each establishment gets a new version: a page that read the counts before the commit stores
    them under the old one, which nobody reads any more.
    """
    ids = {i for i in establishment_ids if i is not None}
    if not ids:
        return

    def new_versions() -> None:
        cache.set_many({_version_key(i): uuid.uuid4().hex for i in ids}, timeout=None)

    transaction.on_commit(new_versions, robust=True)
