"""Copying passports: one set-based statement per batch (docs/transfers.md §6).

The job, manual transfers, forced transfers and released pairs all copy with ``copy_passports``.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from students.models import PassportEntry

from .history import invalidate_history_counts
from .models import COPIED_COUNTERS, Transfer

_COPIED_COLUMNS = (
    "kind",
    "title",
    "occurred_on",
    "end_on",
    "place",
    "description",
    "competencies",
    "level",
    "evaluator",
    "author_name",
    "produced_uai",
    "produced_by",
)


def _db_datetime(moment: datetime):
    """A datetime as the ORM stores it: raw SQL on SQLite would otherwise keep the Paris offset, and
    the copies' dates would not compare with the others'."""
    return connection.ops.adapt_datetimefield_value(moment)


def _uuid_sql() -> str:
    # Django stores UUIDs as 32 hex characters on SQLite and as the uuid type on PostgreSQL.
    return "gen_random_uuid()" if connection.vendor == "postgresql" else "lower(hex(randomblob(16)))"


def _present_originals_cte(count: int) -> str:
    """``present``: the original of every entry the batch's destination passports already hold.

    An entry's original is ``COALESCE(original_entry_id, id)``: a copy points to the entry as
    first written, which has no original itself (``_insert_copies_sql``), so "x is a copy of O or
    is O" is exactly "x's original is O". Destinations are new arrivals whose passports are empty
    or nearly so: this set is read once per batch through the ``student_id`` index, and each entry
    to copy is checked against it in a hash, instead of two index probes per entry into the whole
    table's indexes (BENCHMARKS.md, "national").
    """
    entry = PassportEntry._meta.db_table
    transfer = Transfer._meta.db_table
    placeholders = ", ".join(["%s"] * count)
    # Computed once, not inlined into the anti-join: PostgreSQL 12+ would otherwise fold it back.
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    # Only table names from the models and placeholders are interpolated; values are parameters.
    return (
        f"present AS {materialized}(SELECT x.student_id,"  # noqa: S608
        " COALESCE(x.original_entry_id, x.id) AS original_id"
        f" FROM {transfer} d JOIN {entry} x ON x.student_id = d.destination_student_id"
        f" WHERE d.id IN ({placeholders}) AND d.done)"
    )


def _copy_from_clause(count: int) -> str:
    entry = PassportEntry._meta.db_table
    transfer = Transfer._meta.db_table
    placeholders = ", ".join(["%s"] * count)
    # Only table names from the models and placeholders are interpolated; values are parameters.
    return (
        f" FROM {transfer} t JOIN {entry} e ON e.student_id = t.origin_student_id"  # noqa: S608
        f" WHERE t.id IN ({placeholders}) AND t.done"
        # Never copy an entry whose original is already in the destination passport, as a copy or
        # as itself (docs/transfers.md §6): checked against ``present`` (_present_originals_cte).
        " AND NOT EXISTS (SELECT 1 FROM present p WHERE p.student_id = t.destination_student_id"
        " AND p.original_id = COALESCE(e.original_entry_id, e.id))"
    )


def _insert_copies_sql(where: str) -> str:
    columns = ", ".join(_COPIED_COLUMNS)
    selected = ", ".join(f"e.{column}" for column in _COPIED_COLUMNS)
    return (
        f"INSERT INTO {PassportEntry._meta.db_table} (student_id, public_id, {columns},"
        " source_entry_id, original_entry_id, created_at, updated_at)"
        f" SELECT t.destination_student_id, {_uuid_sql()}, {selected},"
        f" e.id, COALESCE(e.original_entry_id, e.id), %s, %s{where}"
    )


def _copy_and_count_in_one_statement(transfers: list[Transfer], now: datetime) -> None:
    """PostgreSQL: insert the copies and write the counters in one statement.

    The entries are read once (the INSERT's RETURNING feeds the counts), and the counters are
    set by the same statement instead of a SELECT before and an UPDATE after: one round trip per
    batch. Copies are attributed to their transfer by destination, which the caller guarantees is
    unique among ``transfers``.
    """
    ids = [t.pk for t in transfers]
    table = Transfer._meta.db_table
    placeholders = ", ".join(["%s"] * len(ids))
    # Only table names from the models and placeholders are interpolated; values are parameters.
    present = _present_originals_cte(len(ids))
    insert = _insert_copies_sql(_copy_from_clause(len(ids)))
    kinds, columns = list(COPIED_COUNTERS), list(COPIED_COUNTERS.values())
    # One FILTER clause and one SET per counter column, the kind a parameter (COPIED_COUNTERS).
    counted_as = ", ".join(f"COUNT(*) FILTER (WHERE kind = %s) AS {column}" for column in columns)
    sql = (
        f"WITH {present}, copied AS ({insert} RETURNING student_id, kind),"  # noqa: S608
        f" counts AS (SELECT student_id, {counted_as} FROM copied GROUP BY student_id)"
        f" UPDATE {table} t SET {', '.join(f'{column} = c.{column}' for column in columns)} FROM counts c"
        f" WHERE t.id IN ({placeholders}) AND t.destination_student_id = c.student_id"
        f" RETURNING t.id, {', '.join(f't.{column}' for column in columns)}"
    )
    with connection.cursor() as cursor:
        # For this transaction only (set_config(…, true) is SET LOCAL), in one round trip:
        # - jit off: the statement's estimated cost (hundreds of thousands) makes PostgreSQL
        #   JIT-compile it with inlining and optimisation: 0.6–0.9 s per batch for a 0.1–0.5 s
        #   statement at national scale;
        # - merge joins off: the batch's transfers were written in this transaction, so PostgreSQL
        #   has no statistics for them and estimates a few dozen entries; it then chose a merge
        #   anti-join that sorts every entry of the batch (45 MB on disk per batch at scale 0.25)
        #   against the empty ``present`` set, where a hash of that set needs no sort.
        # (EXPLAIN ANALYZE of both in BENCHMARKS.md, "national".)
        cursor.execute("SELECT set_config('jit', 'off', true), set_config('enable_mergejoin', 'off', true)")
        stamp = _db_datetime(now)
        cursor.execute(sql, [*ids, stamp, stamp, *ids, *kinds, *ids])
        counted = cursor.fetchall()
    by_id = {t.pk: t for t in transfers}
    for transfer_id, *counts in counted:
        for column, count in zip(columns, counts, strict=True):
            setattr(by_id[transfer_id], column, count)


def _copy_then_count(transfers: list[Transfer], now: datetime) -> None:
    """Elsewhere (SQLite), or when two transfers share a destination: three statements."""
    ids = [t.pk for t in transfers]
    present, where = f"WITH {_present_originals_cte(len(ids))} ", _copy_from_clause(len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f"{present}SELECT t.id, e.kind, COUNT(*){where} GROUP BY t.id, e.kind", [*ids, *ids])
        counts = cursor.fetchall()
        stamp = _db_datetime(now)
        cursor.execute(present + _insert_copies_sql(where), [*ids, stamp, stamp, *ids])
    by_id = {t.pk: t for t in transfers}
    for transfer_id, kind, count in counts:
        setattr(by_id[transfer_id], COPIED_COUNTERS[kind], count)
    Transfer.objects.bulk_update(transfers, list(COPIED_COUNTERS.values()))


def copy_passports(transfers: list[Transfer], *, now: datetime) -> None:
    """Copy the origin passports of done transfers, set-based: one statement per batch on
    PostgreSQL (after one ``set_config`` of the planner settings), three elsewhere, whatever the
    number of entries.

    Fills the per-kind counters of each row. The caller holds the transaction, so each copy is
    all-or-nothing with its history row; the schools' history counts are renewed after it commits.
    """
    transfers = [t for t in transfers if t.done]
    if not transfers:
        return
    # Every path that makes a transfer done copies through here: the history's cached monthly
    # counts (done transfers only) of both schools are renewed once the caller commits.
    invalidate_history_counts(
        {t.origin_establishment_id for t in transfers} | {t.destination_establishment_id for t in transfers}
    )
    one_per_destination = len({t.destination_student_id for t in transfers}) == len(transfers)
    if connection.vendor == "postgresql" and one_per_destination:
        _copy_and_count_in_one_statement(transfers, now)
    else:
        _copy_then_count(transfers, now)
