"""The matching job: decide each (origin student, destination student) pair once, and copy passports.

docs/transfers.md is the guide to this module. A destination is a student created by a SIECLE
import less than six months ago in an establishment that enabled transfer; its origins are
students with the same INE deactivated by a SIECLE import less than six months ago in another
establishment that enabled transfer; both records carry a complete identity (§2, §3). Pairs are
worked in batches of destinations: each batch locks its destinations (``skip_locked``), re-reads
what is already decided, writes the decisions (the unique constraint on the pair is the real
guarantee) and copies the passports set-based, all in one transaction. A batch that fails is
retried one destination at a time, and only the failing destinations are left undecided (§5).
"""

from __future__ import annotations

import logging
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.formats import date_format

from establishments.models import Establishment
from students.models import EntryKind, Origin, PassportEntry, Student

from .models import Cause, HoldReason, Kind, MatchingRun, Transfer, Trigger

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
WINDOW = relativedelta(months=6)
# Any constant identifies "the matching job" among PostgreSQL advisory locks.
ADVISORY_LOCK_KEY = 0x43455249  # "CERI"
# A run still "en cours" after this long was killed (SIGKILL, out of memory, host lost) before it
# could record its end; runs take minutes. The next run marks it failed for support to see.
STALE_RUN_AGE = timedelta(hours=1)
PENDING = "en_attente"
TRANSFER = "transfert"
NEVER = "exclu"


# --- the rules -------------------------------------------------------------------------------


def window_start(now: datetime) -> datetime:
    """Six calendar months before ``now``, counted on the Paris wall clock (DST-safe)."""
    return timezone.localtime(now) - WINDOW


# Conditions 9 and 10 (docs/transfers.md §3): a record without a last name, a first name or a
# birth date is no candidate. The pair stays undecided, not refused, so that it is decided once the
# school fixes the record in SIECLE and re-imports it within the window. The SIECLE import strips
# the names, so "missing" is the empty string.
IDENTITY_COMPLETE = ~Q(last_name="") & ~Q(first_name="") & Q(birth_date__isnull=False)


def origin_conditions(start: datetime, now: datetime) -> Q:
    """Conditions 1–4 and 9 on the origin student (docs/transfers.md §2)."""
    return (
        Q(
            establishment__transfer_enabled=True,
            is_active=False,
            deactivated_by_import__isnull=False,
            deactivated_at__gt=start,
            deactivated_at__lte=now,
        )
        & ~Q(ine="")
        & IDENTITY_COMPLETE
    )


def destination_conditions(start: datetime, now: datetime) -> Q:
    """Conditions 5–7, 10, 11 and 13 on the destination student (docs/transfers.md §2).

    Condition 8 is the join on the INE and 12 compares the pair's two records: both are in
    ``_undecided_origins`` and ``_batch_decisions``.
    """
    return (
        Q(
            establishment__transfer_enabled=True,
            origin=Origin.SIECLE,
            created_at__gt=start,
            created_at__lte=now,
            is_active=True,  # 11: records never go to a school the student has left
        )
        & ~Q(ine="")
        & IDENTITY_COMPLETE
        & ~Exists(Transfer.objects.filter(origin_student=OuterRef("pk")))  # 13: a record already left
    )


def left_destination_error(destination: Student) -> str:
    """Why no path (job, manual, forced) may copy records to this destination now, or "".

    Conditions 11 and 13 (docs/transfers.md §2): records never go to a record the student has left,
    whoever wrote the earlier transfer.
    """
    if not destination.is_active:
        return (
            "L'élève n'est plus inscrit dans l'établissement de destination (son dossier y est désactivé) : "
            "le passeport ne peut pas y être copié."
        )
    if Transfer.objects.filter(origin_student=destination).exists():
        return (
            "L'élève a quitté ce dossier (il est déjà à l'origine d'un transfert) : un passeport ne retourne "
            "jamais vers un établissement que l'élève a quitté."
        )
    return ""


def enrolled_after(origin: Student, destination: Student) -> bool:
    """Condition 12: the destination enrolment did not begin before the origin record's (no way back).

    Equal times pass: two schools' first imports may carry the same moment.
    """
    return destination.created_at >= origin.created_at


def identity_missing(student: Student) -> list[str]:
    """The identity fields a record lacks (conditions 9 and 10), in French, for the diagnostic."""
    missing = [
        ("nom", not student.last_name),
        ("prénom", not student.first_name),
        ("date de naissance", student.birth_date is None),
    ]
    return [label for label, absent in missing if absent]


def _comparable_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if c.isalnum()).casefold()


def _identity_comparable(student: Student) -> bool:
    return student.birth_date is not None and _comparable_name(student.last_name) != ""


def decide_pair(origin: Student, destination: Student) -> str:
    """ "" to transfer, else the cause (docs/transfers.md §4). Identity first: a mistyped INE must
    never send a student's records to a stranger."""
    # Defence in depth: the job never gets here with an incomplete identity (conditions 9 and 10
    # keep such pairs undecided), but a missing name or birth date must never compare equal
    # (None == None, "" == "") on a path that skipped those conditions.
    if not (_identity_comparable(origin) and _identity_comparable(destination)):
        return Cause.IDENTITY_MISMATCH
    if origin.birth_date != destination.birth_date or _comparable_name(origin.last_name) != _comparable_name(
        destination.last_name
    ):
        return Cause.IDENTITY_MISMATCH
    both_known = origin.diploma_level and destination.diploma_level
    if both_known and (origin.diploma_level, origin.diploma_specialite) != (
        destination.diploma_level,
        destination.diploma_specialite,
    ):
        return Cause.DIPLOMA_CHANGE
    return ""


@dataclass(frozen=True)
class Condition:
    number: int
    label: str
    met: bool
    value: str
    # What a waiting pair shows when this condition is unmet; the label when empty.
    waiting: str = ""

    @property
    def reason(self) -> str:
        return self.waiting or self.label


INCOMPLETE_IDENTITY = "Identité incomplète (nom, prénom ou date de naissance manquant)"


def _missing_text(missing: list[str]) -> str:
    return f"{'manquants' if len(missing) > 1 else 'manquant'} : {', '.join(missing)}"


def _identity_condition(number: int, student: Student, side: str) -> Condition:
    missing = identity_missing(student)
    return Condition(
        number,
        f"Identité complète dans {side} (nom, prénom, date de naissance)",
        not missing,
        _missing_text(missing) if missing else "nom, prénom et date de naissance renseignés",
        waiting=f"{INCOMPLETE_IDENTITY} dans {side}",
    )


# Conditions 11–13 never come back once unmet for a pair: the diagnostic shows it as excluded.
FINAL_CONDITIONS = frozenset({12, 13})


def _left_condition(destination: Student) -> Condition:
    """Condition 13: the destination record is not one the student has left (an origin already)."""
    left = Transfer.objects.filter(origin_student=destination).exists()
    return Condition(
        13,
        "Dossier que l'élève n'a pas déjà quitté",
        not left,
        "déjà à l'origine d'un transfert décidé" if left else "jamais à l'origine d'un transfert",
        waiting="Retour vers un dossier que l'élève a quitté (déjà à l'origine d'un transfert)",
    )


def _when(moment: datetime | None) -> str:
    return date_format(timezone.localtime(moment), "d/m/Y H:i") if moment else "—"


def pair_conditions(origin: Student | None, destination: Student | None, *, now: datetime) -> list[Condition]:
    """The thirteen conditions of docs/transfers.md §2 for one pair, each with the value that decided it.

    The Python twin of ``origin_conditions``, ``destination_conditions`` and the join on the INE:
    tests/transfers/test_conditions.py pins that the job decides a pair exactly when all hold.
    """
    start = window_start(now)
    conditions = []
    if origin is not None:
        est = origin.establishment
        conditions += [
            Condition(
                1,
                "Transfert activé dans l'ancien établissement",
                est.transfer_enabled,
                f"{est.uai} : transfert {'activé' if est.transfer_enabled else 'désactivé'}",
            ),
            Condition(2, "L'élève a un INE", bool(origin.ine), origin.ine or "pas d'INE"),
            Condition(
                3,
                "Désactivé par un import SIECLE",
                not origin.is_active and origin.deactivated_by_import_id is not None,
                "actif"
                if origin.is_active
                else f"désactivé le {_when(origin.deactivated_at)}"
                + (" par un import SIECLE" if origin.deactivated_by_import_id else " (hors import SIECLE)"),
            ),
            Condition(
                4,
                "Il y a moins de six mois",
                origin.deactivated_at is not None and start < origin.deactivated_at <= now,
                f"désactivé le {_when(origin.deactivated_at)}, limite {_when(start)}",
            ),
            _identity_condition(9, origin, "l'ancien établissement"),
        ]
    if destination is not None:
        est = destination.establishment
        conditions += [
            Condition(
                5,
                "Transfert activé dans le nouvel établissement",
                est.transfer_enabled,
                f"{est.uai} : transfert {'activé' if est.transfer_enabled else 'désactivé'}",
            ),
            Condition(
                6,
                "Créé par un import SIECLE",
                destination.origin == Origin.SIECLE,
                destination.get_origin_display(),
            ),
            Condition(
                7,
                "Il y a moins de six mois",
                start < destination.created_at <= now,
                f"créé le {_when(destination.created_at)}, limite {_when(start)}",
            ),
            _identity_condition(10, destination, "le nouvel établissement"),
            Condition(
                11,
                "Élève actif dans le nouvel établissement",
                destination.is_active,
                "actif" if destination.is_active else f"désactivé le {_when(destination.deactivated_at)}",
                waiting="L'élève a quitté le nouvel établissement (dossier désactivé)",
            ),
            _left_condition(destination),
        ]
    if origin is not None and destination is not None:
        same = bool(origin.ine) and origin.ine == destination.ine
        conditions.append(
            Condition(
                8,
                "Même INE que dans l'ancien établissement",
                same,
                f"{origin.ine or '—'} / {destination.ine or '—'}",
            )
        )
        conditions.append(
            Condition(
                12,
                "Inscrit dans le nouvel établissement après l'ancien",
                enrolled_after(origin, destination),
                f"ancien créé le {_when(origin.created_at)}, nouveau créé le {_when(destination.created_at)}",
                waiting="Retour vers un établissement quitté : le dossier de destination est antérieur à "
                "celui d'origine",
            )
        )
    return sorted(conditions, key=lambda condition: condition.number)


# --- deciding destinations -------------------------------------------------------------------


@dataclass
class PlannedPair:
    origin: Student
    destination: Student
    outcome: str  # TRANSFER, a Cause value, or PENDING
    reason: str = ""

    @property
    def outcome_label(self) -> str:
        if self.outcome == TRANSFER:
            return "transfert"
        if self.outcome == PENDING:
            return "en attente"
        if self.outcome == NEVER:
            return "jamais (retour vers un dossier quitté)"
        return Cause(self.outcome).label


class Decision(NamedTuple):
    """What the job decides for one pair: a cause ("" to transfer) and, when held, why."""

    origin: Student
    destination: Student
    cause: str
    hold_reason: str = ""


def hold_reason_for(origin: Student, destination: Student) -> str:
    """Why a pair the rules would transfer must first be checked by staff, or "" (docs/transfers.md §4).

    SIECLE files are not signed: an arrival typed into a school's own file could pull another
    school's records. The files carry evidence of where a student comes from; when it disagrees,
    the pair waits for technical staff instead of being copied at once.
    """
    previous = destination.previous_uai
    if previous and previous not in {origin.establishment.uai, origin.previous_uai}:
        return HoldReason.PREVIOUS_SCHOOL
    if destination.entered_on and origin.entered_on and destination.entered_on < origin.entered_on:
        return HoldReason.ENTRY_DATE
    return ""


def _decide(origin: Student, destination: Student, volume_held: bool) -> Decision:
    cause = decide_pair(origin, destination)
    if cause:
        return Decision(origin, destination, cause)
    reason = hold_reason_for(origin, destination) or (HoldReason.VOLUME if volume_held else "")
    return Decision(origin, destination, Cause.HELD if reason else "", reason)


def _decide_destination(
    destination: Student, candidates: list[Student], decided_recent: datetime | None, volume_held: bool
) -> list[Decision]:
    """Decide the undecided candidate origins of one destination.

    The most recently deactivated origin is the origin; the others are "not used". An origin
    decided in an earlier run counts for that rule (``decided_recent``).
    """
    candidates = sorted(candidates, key=lambda o: (o.deactivated_at, o.pk), reverse=True)
    decisions = []
    for index, origin in enumerate(candidates):
        if index == 0 and (decided_recent is None or origin.deactivated_at > decided_recent):
            decisions.append(_decide(origin, destination, volume_held))
        else:
            decisions.append(Decision(origin, destination, Cause.MORE_RECENT_ORIGIN))
    return decisions


def hold_above() -> int:
    """One SIECLE import pulling more passports than this is held for review (TRANSFER_HOLD_ABOVE)."""
    return settings.TRANSFER_HOLD_ABOVE


def _imports_over_volume(destinations: list[Student], now: datetime) -> set[int]:
    """The SIECLE imports, among those that created ``destinations``, that would pull more than
    ``hold_above()`` passports: their destinations with an eligible origin, decided or not."""
    imports = {d.created_by_import_id for d in destinations if d.created_by_import_id}
    if not imports:
        return set()
    start = window_start(now)
    origins = Student.objects.filter(origin_conditions(start, now), ine=OuterRef("ine")).exclude(
        establishment=OuterRef("establishment")
    )
    counts = (
        Student.objects.filter(created_by_import__in=imports, origin=Origin.SIECLE, created_at__gt=start)
        .exclude(ine="")
        .filter(Exists(origins))
        .values("created_by_import")
        .annotate(pulled=Count("pk"))
        .filter(pulled__gt=hold_above())
        .values_list("created_by_import", flat=True)
    )
    return set(counts)


def _undecided_origins(start: datetime, now: datetime):
    return (
        Student.objects.filter(
            origin_conditions(start, now), ine=OuterRef("ine"), created_at__lte=OuterRef("created_at")
        )
        .exclude(establishment=OuterRef("establishment"))
        .exclude(
            Exists(
                Transfer.objects.filter(
                    origin_student=OuterRef("pk"), destination_student=OuterRef(OuterRef("pk"))
                )
            )
        )
    )


def candidate_destination_ids(now: datetime, establishment: Establishment | None = None) -> list[int]:
    """Destinations that have at least one eligible origin not yet decided."""
    start = window_start(now)
    destinations = Student.objects.filter(destination_conditions(start, now))
    if establishment is not None:
        arrivals_or_departures = Q(establishment=establishment) | Q(
            ine__in=establishment.students.filter(origin_conditions(start, now)).values("ine")
        )
        destinations = destinations.filter(arrivals_or_departures)
    return list(
        destinations.filter(Exists(_undecided_origins(start, now)))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _batch_decisions(destinations: list[Student], now: datetime) -> list[Decision]:
    """Three queries for the whole batch: the eligible origins, what is already decided, and the
    imports whose volume holds their pairs for review."""
    start = window_start(now)
    by_ine: dict[str, list[Student]] = defaultdict(list)
    origins = Student.objects.select_related("establishment").filter(
        origin_conditions(start, now), ine__in={d.ine for d in destinations}
    )
    for origin in origins:
        by_ine[origin.ine].append(origin)
    decided: dict[int, set[int]] = defaultdict(set)
    decided_recent: dict[int, datetime] = {}
    rows = Transfer.objects.filter(destination_student__in=destinations).values_list(
        "destination_student_id", "origin_student_id", "origin_student__deactivated_at"
    )
    for destination_id, origin_id, deactivated_at in rows:
        decided[destination_id].add(origin_id)
        if deactivated_at and (
            destination_id not in decided_recent or deactivated_at > decided_recent[destination_id]
        ):
            decided_recent[destination_id] = deactivated_at
    over_volume = _imports_over_volume(destinations, now)
    decisions = []
    for destination in destinations:
        candidates = [
            o
            for o in by_ine[destination.ine]
            if o.establishment_id != destination.establishment_id
            and o.pk not in decided[destination.pk]
            and enrolled_after(o, destination)
        ]
        volume_held = destination.created_by_import_id in over_volume
        decisions += _decide_destination(
            destination, candidates, decided_recent.get(destination.pk), volume_held
        )
    return decisions


# --- copying passports -----------------------------------------------------------------------

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
_KIND_COUNTERS = {
    EntryKind.FICHE: "fiches_copied",
    EntryKind.EVALUATION: "evaluations_copied",
    EntryKind.BILAN: "bilans_copied",
}


def _db_datetime(moment: datetime):
    """A datetime as the ORM stores it: raw SQL on SQLite would otherwise keep the Paris offset, and
    the copies' dates would not compare with the others'."""
    return connection.ops.adapt_datetimefield_value(moment)


def _uuid_sql() -> str:
    # Django stores UUIDs as 32 hex characters on SQLite and as the uuid type on PostgreSQL.
    return "gen_random_uuid()" if connection.vendor == "postgresql" else "lower(hex(randomblob(16)))"


def _copy_from_clause(count: int) -> str:
    entry = PassportEntry._meta.db_table
    transfer = Transfer._meta.db_table
    placeholders = ", ".join(["%s"] * count)
    # Only table names from the models and placeholders are interpolated; values are parameters.
    return (
        f" FROM {transfer} t JOIN {entry} e ON e.student_id = t.origin_student_id"  # noqa: S608
        f" WHERE t.id IN ({placeholders}) AND t.done"
        # Never copy an entry whose original is already in the destination passport, as a copy or
        # as itself. Two anti-joins rather than one with an OR: each is one plain index probe per
        # entry; the OR made PostgreSQL build a BitmapOr of two index scans and recheck the heap
        # for every entry copied, twice as slow (EXPLAIN ANALYZE in BENCHMARKS.md).
        f" AND NOT EXISTS (SELECT 1 FROM {entry} x WHERE x.student_id = t.destination_student_id"
        f" AND x.original_entry_id = COALESCE(e.original_entry_id, e.id))"
        f" AND NOT EXISTS (SELECT 1 FROM {entry} x WHERE x.id = COALESCE(e.original_entry_id, e.id)"
        f" AND x.student_id = t.destination_student_id)"
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
    insert = _insert_copies_sql(_copy_from_clause(len(ids)))
    sql = (
        f"WITH copied AS ({insert} RETURNING student_id, kind),"  # noqa: S608
        " counts AS (SELECT student_id,"
        " COUNT(*) FILTER (WHERE kind = %s) AS fiches,"
        " COUNT(*) FILTER (WHERE kind = %s) AS evaluations,"
        " COUNT(*) FILTER (WHERE kind = %s) AS bilans"
        " FROM copied GROUP BY student_id)"
        f" UPDATE {table} t SET fiches_copied = c.fiches, evaluations_copied = c.evaluations,"
        " bilans_copied = c.bilans FROM counts c"
        f" WHERE t.id IN ({placeholders}) AND t.destination_student_id = c.student_id"
        " RETURNING t.id, t.fiches_copied, t.evaluations_copied, t.bilans_copied"
    )
    kinds = [EntryKind.FICHE, EntryKind.EVALUATION, EntryKind.BILAN]
    with connection.cursor() as cursor:
        # The statement's estimated cost (hundreds of thousands) makes PostgreSQL JIT-compile it
        # with inlining and optimisation: 0.6–0.9 s per batch for a 0.1–0.5 s statement at national
        # scale (EXPLAIN ANALYZE in BENCHMARKS.md). Off for this transaction only.
        cursor.execute("SET LOCAL jit = off")
        stamp = _db_datetime(now)
        cursor.execute(sql, [stamp, stamp, *ids, *kinds, *ids])
        counted = cursor.fetchall()
    by_id = {t.pk: t for t in transfers}
    for transfer_id, fiches, evaluations, bilans in counted:
        transfer = by_id[transfer_id]
        transfer.fiches_copied, transfer.evaluations_copied = fiches, evaluations
        transfer.bilans_copied = bilans


def _copy_then_count(transfers: list[Transfer], now: datetime) -> None:
    """Elsewhere (SQLite), or when two transfers share a destination: three statements."""
    ids = [t.pk for t in transfers]
    where = _copy_from_clause(len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t.id, e.kind, COUNT(*){where} GROUP BY t.id, e.kind", ids)
        counts = cursor.fetchall()
        stamp = _db_datetime(now)
        cursor.execute(_insert_copies_sql(where), [stamp, stamp, *ids])
    by_id = {t.pk: t for t in transfers}
    for transfer_id, kind, count in counts:
        setattr(by_id[transfer_id], _KIND_COUNTERS[kind], count)
    Transfer.objects.bulk_update(transfers, list(_KIND_COUNTERS.values()))


def copy_passports(transfers: list[Transfer], *, now: datetime) -> None:
    """Copy the origin passports of done transfers, set-based: one statement per batch on
    PostgreSQL (after a ``SET LOCAL``), three elsewhere, whatever the number of entries.

    Fills the per-kind counters of each row. The caller holds the transaction, so each copy is
    all-or-nothing with its history row.
    """
    transfers = [t for t in transfers if t.done]
    if not transfers:
        return
    one_per_destination = len({t.destination_student_id for t in transfers}) == len(transfers)
    if connection.vendor == "postgresql" and one_per_destination:
        _copy_and_count_in_one_statement(transfers, now)
    else:
        _copy_then_count(transfers, now)


# --- claiming and deciding a batch -------------------------------------------------------------


@contextmanager
def matching_lock() -> Iterator[bool]:
    """Keep two runs from working the same pairs at once (PostgreSQL advisory lock).

    Correctness does not depend on it: the unique constraint on the pair and the row locks do
    that. The lock only saves the second run from doing the work twice. Elsewhere: always True.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
            except DatabaseError:
                pass  # the connection is gone, and the session lock with it


def _student_name(student: Student) -> str:
    return f"{student.last_name} {student.first_name}".strip()


def _write_decisions(decisions: list[Decision], run: MatchingRun, now: datetime) -> list[Transfer]:
    rows = [
        Transfer(
            created_at=now,
            ine=decision.destination.ine,
            origin_student=decision.origin,
            destination_student=decision.destination,
            origin_establishment_id=decision.origin.establishment_id,
            destination_establishment_id=decision.destination.establishment_id,
            student_name=_student_name(decision.destination),
            kind=Kind.AUTOMATIC,
            done=decision.cause == "",
            cause=decision.cause,
            hold_reason=decision.hold_reason,
            run=run,
        )
        for decision in decisions
    ]
    return Transfer.objects.bulk_create(rows)


def _process_batch(run: MatchingRun, destination_ids: list[int], now: datetime) -> list[Transfer]:
    with transaction.atomic():
        # Claim: a destination locked by another worker is skipped; it will be seen next run.
        # Re-checked under the lock: an import may have deactivated a destination since it was listed.
        destinations = list(
            Student.objects.select_for_update(skip_locked=True, of=("self",)).filter(
                destination_conditions(window_start(now), now), pk__in=destination_ids
            )
        )
        rows = _write_decisions(_batch_decisions(destinations, now), run, now)
        copy_passports(rows, now=now)
    return rows


def _save_progress(run: MatchingRun) -> None:
    """Write the counters as each batch commits: a run killed later (SIGKILL) still shows the pairs
    it committed, instead of "en cours, 0 paires" until the next run closes it."""
    MatchingRun.objects.filter(pk=run.pk).update(
        pairs_decided=run.pairs_decided,
        transfers_done=run.transfers_done,
        entries_copied=run.entries_copied,
        counts=run.counts,
    )


def _count(run: MatchingRun, rows: list[Transfer]) -> list[int]:
    """Add a committed batch to the run's counters; the ids of its done transfers."""
    for row in rows:
        key = "transfert" if row.done else row.cause
        run.counts[key] = run.counts.get(key, 0) + 1
    run.pairs_decided += len(rows)
    run.transfers_done += sum(1 for row in rows if row.done)
    run.entries_copied += sum(row.entries_copied for row in rows)
    return [row.pk for row in rows if row.done]


# --- failures --------------------------------------------------------------------------------

# More failing destinations than this in one run is not a bad pair but a bug or an outage: the run
# stops as FAILED rather than retrying every destination of every batch (docs/transfers.md §5).
MAX_FAILURES = 50

# Fixed texts for support: a database's own message may quote the values (names, INEs) that broke
# a constraint, so it never goes into the run. The most specific class comes first.
_ERROR_TEXTS: tuple[tuple[type[Exception], str], ...] = (
    (IntegrityError, "contrainte de la base de données non respectée"),
    (DataError, "valeur refusée par la base de données"),
    (InterfaceError, "connexion à la base de données perdue"),
    (OperationalError, "base de données indisponible (connexion, verrou ou délai dépassé)"),
    (DatabaseError, "erreur de la base de données"),
)


class TooManyFailures(RuntimeError):
    """Raised by the run itself, with a message safe to record (it quotes no data)."""


def _is_about_the_pair(error: Exception) -> bool:
    """Whether the failing destination's own data may explain ``error``.

    A lost connection or an unavailable server is not about a pair: retrying one destination at
    a time would only repeat it for each, so the run stops as FAILED (docs/transfers.md §5).
    """
    if isinstance(error, (InterfaceError, OperationalError, TooManyFailures)):
        return False
    return not connection.needs_rollback and connection.is_usable()


def safe_error_message(error: Exception) -> str:
    """A short French text for support, without names or INEs (docs/transfers.md §5)."""
    if isinstance(error, TooManyFailures):
        return str(error)
    text = next((text for kind, text in _ERROR_TEXTS if isinstance(error, kind)), "erreur inattendue")
    # PostgreSQL names the broken constraint apart from the message: a schema name, no values.
    constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
    return f"{text} ({constraint})" if constraint else text


def _undecided_origin_ids(destination_id: int, now: datetime) -> list[int]:
    """The origins a failing destination would have been decided with (none if unreadable)."""
    destination = Student.objects.filter(pk=destination_id)
    origins = (
        Student.objects.filter(origin_conditions(window_start(now), now), ine__in=destination.values("ine"))
        .exclude(establishment__in=destination.values("establishment"))
        .exclude(
            Exists(
                Transfer.objects.filter(origin_student=OuterRef("pk"), destination_student_id=destination_id)
            )
        )
    )
    try:
        with transaction.atomic():
            return list(origins.order_by("pk").values_list("pk", flat=True))
    except DatabaseError:
        return []


def _record_failure(run: MatchingRun, destination_id: int, error: Exception, now: datetime) -> None:
    """The destination stays undecided: the next run tries it again (docs/transfers.md §5)."""
    logger.warning(
        "Matching run %s: destination student %s failed (%s), left undecided",
        run.pk,
        destination_id,
        type(error).__name__,
    )
    # The traceback may quote a name or an INE: debug level only (docs/transfers.md §5).
    logger.debug("Matching run %s: destination student %s", run.pk, destination_id, exc_info=error)
    run.failures.append(
        {
            "destination_student_id": destination_id,
            "origin_student_ids": _undecided_origin_ids(destination_id, now),
            "error": type(error).__name__,
            "message": safe_error_message(error),
        }
    )
    if len(run.failures) >= MAX_FAILURES:
        raise TooManyFailures(
            f"{len(run.failures)} élèves en erreur : arrêt de l'exécution (panne ou anomalie du traitement)"
        ) from None  # the cause's message may quote data, and the run's failure is logged


def _run_batch(run: MatchingRun, destination_ids: list[int], now: datetime, done: list[int]) -> None:
    """One transaction for the batch; if it fails, one per destination (docs/transfers.md §5).

    Adds the ids of the done transfers to ``done`` as each commits, so that a failure that is not
    about a pair, which propagates, loses no notification.
    """
    try:
        done += _count(run, _process_batch(run, destination_ids, now))
        _save_progress(run)
        return
    except Exception as error:
        if not _is_about_the_pair(error):
            raise
        if len(destination_ids) == 1:
            _record_failure(run, destination_ids[0], error, now)
            return
    for destination_id in destination_ids:
        try:
            done += _count(run, _process_batch(run, [destination_id], now))
            _save_progress(run)
        except Exception as error:
            if not _is_about_the_pair(error):
                raise
            _record_failure(run, destination_id, error, now)


# --- starting and ending a run ---------------------------------------------------------------


def _finish(run: MatchingRun, status: str) -> MatchingRun:
    run.status = status
    run.finished_at = timezone.now()
    try:
        run.save()
    except DatabaseError:
        # The connection died mid-run: reconnect once to record the failure.
        connection.close()
        run.save()
    return run


def _close_interrupted_runs(run: MatchingRun) -> None:
    MatchingRun.objects.filter(
        status=MatchingRun.Status.RUNNING, started_at__lt=run.started_at - STALE_RUN_AGE
    ).update(
        status=MatchingRun.Status.FAILED,
        finished_at=run.started_at,
        errors=[f"interrompu : arrêté avant sa fin, travail repris par l'exécution {run.pk}"],
    )


def run_matching(
    now: datetime,
    establishment: Establishment | None = None,
    *,
    trigger: str = Trigger.COMMAND,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
) -> MatchingRun | list[PlannedPair]:
    """Decide every pair that meets the conditions as of ``now`` (for one establishment, or all).

    With ``dry_run``, return the pairs and what would happen, writing nothing. A destination
    that fails is recorded on the run and left for the next one ("terminé avec erreurs"); a
    failure that is not about a pair ends the run as FAILED and is raised (docs/transfers.md §5).
    """
    if dry_run:
        return plan_matching(now, establishment, batch_size=batch_size)
    started = timezone.now()
    with matching_lock() as acquired:
        run = MatchingRun.objects.create(
            started_at=started, as_of=now, trigger=trigger, establishment=establishment
        )
        if not acquired:
            logger.info("Matching run %s skipped: another run holds the lock", run.pk)
            return _finish(run, MatchingRun.Status.SKIPPED)
        _close_interrupted_runs(run)
        done_ids: list[int] = []
        try:
            ids = candidate_destination_ids(now, establishment)
            for start in range(0, len(ids), batch_size):
                _run_batch(run, ids[start : start + batch_size], now, done_ids)
        except Exception as error:
            logger.exception("Matching run %s failed", run.pk)
            run.errors.append(f"{type(error).__name__} : {safe_error_message(error)}")
            _finish(run, MatchingRun.Status.FAILED)
            raise
        finally:
            if done_ids:
                _notify(done_ids)
    logger.info(
        "Matching run %s: %s pairs decided, %s transfers, %s entries copied, %s destinations failed",
        run.pk,
        run.pairs_decided,
        run.transfers_done,
        run.entries_copied,
        len(run.failures),
    )
    status = MatchingRun.Status.SUCCEEDED_WITH_ERRORS if run.failures else MatchingRun.Status.SUCCEEDED
    return _finish(run, status)


def notify_done(transfer_ids: list[int]) -> None:
    """E-mail both sides of done transfers: counts and a link, no names (after commit)."""
    from .emails import notify_transfers_received, notify_transfers_sent

    notify_transfers_received(transfer_ids)
    notify_transfers_sent(transfer_ids)


def _notify(transfer_ids: list[int]) -> None:
    """E-mail both schools' administrators after commit; never undoes a transfer (it is committed)."""
    transaction.on_commit(lambda: notify_done(transfer_ids), robust=True)


def plan_matching(
    now: datetime, establishment: Establishment | None = None, *, batch_size: int = BATCH_SIZE
) -> list[PlannedPair]:
    """What a run would decide now, without writing anything."""
    ids = candidate_destination_ids(now, establishment)
    planned = []
    for start in range(0, len(ids), batch_size):
        destinations = list(
            Student.objects.select_related("establishment").filter(
                destination_conditions(window_start(now), now), pk__in=ids[start : start + batch_size]
            )
        )
        for decision in _batch_decisions(destinations, now):
            planned.append(_planned(decision))
    return planned


def planned_pairs_for_ine(ine: str, *, now: datetime) -> list[PlannedPair]:
    """For the support diagnostic: every pair of records carrying this INE, and its fate."""
    records = list(Student.objects.select_related("establishment").filter(ine=ine.strip().upper()))
    decided = set(
        Transfer.objects.filter(origin_student__in=records).values_list(
            "origin_student_id", "destination_student_id"
        )
    )
    would_run = {(p.origin.pk, p.destination.pk): p for p in _plan_for(records, now)}
    planned = []
    for origin in records:
        for destination in records:
            if (
                origin.establishment_id == destination.establishment_id
                or (origin.pk, destination.pk) in decided
            ):
                continue
            if (origin.pk, destination.pk) in would_run:
                planned.append(would_run[(origin.pk, destination.pk)])
                continue
            unmet = [c for c in pair_conditions(origin, destination, now=now) if not c.met]
            final = [c for c in unmet if c.number in FINAL_CONDITIONS]
            if final and not origin.is_active:
                planned.append(PlannedPair(origin, destination, NEVER, final[0].reason))
            elif unmet and not origin.is_active:
                planned.append(PlannedPair(origin, destination, PENDING, unmet[0].reason))
    return planned


def _plan_for(records: list[Student], now: datetime) -> list[PlannedPair]:
    """What the next run would decide among these records (one query picks the destinations)."""
    eligible = set(
        Student.objects.filter(
            destination_conditions(window_start(now), now), pk__in=[r.pk for r in records]
        ).values_list("pk", flat=True)
    )
    destinations = [r for r in records if r.pk in eligible]
    if not destinations:
        return []
    return [_planned(decision) for decision in _batch_decisions(destinations, now)]


def _planned(decision: Decision) -> PlannedPair:
    reason = HoldReason(decision.hold_reason).label if decision.hold_reason else ""
    return PlannedPair(decision.origin, decision.destination, decision.cause or TRANSFER, reason)
