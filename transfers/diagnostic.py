"""The eligibility diagnostic: why has (or hasn't) a student's passport arrived? (docs/transfers.md §7)

The thirteen conditions of §2 in Python, in French, each with the value that decided it; what the
next run will do with each pair; and the history rows. tests/transfers/test_conditions.py pins
that ``pair_conditions`` says "all met" exactly when the job decides the pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from students.models import Origin, Student

from .models import Transfer
from .plan import Outcome, PlannedPair, batch_decisions, planned_pair
from .rules import destination_conditions, enrolled_after, identity_missing, window_start
from .waiting import WaitingStudent, waiting_arrivals, waiting_departures


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
                f"désactivé le {_when(origin.deactivated_at)} ; six mois comptés depuis le {_when(start)}",
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
                f"créé le {_when(destination.created_at)} ; six mois comptés depuis le {_when(start)}",
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
                planned.append(PlannedPair(origin, destination, Outcome.NEVER, final[0].reason))
            elif unmet and not origin.is_active:
                planned.append(PlannedPair(origin, destination, Outcome.PENDING, unmet[0].reason))
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
    return [planned_pair(decision) for decision in batch_decisions(destinations, now)]


# --- the diagnostic page ----------------------------------------------------------------------


@dataclass(frozen=True)
class PairDiagnostic:
    origin: Student | None
    destination: Student | None
    conditions: list[Condition]
    decision: Transfer | None


@dataclass(frozen=True)
class Diagnostic:
    ine: str
    students: list[Student]
    related: list[Student]
    pairs: list[PairDiagnostic]
    planned: list[PlannedPair]
    decisions: list[Transfer]
    # What each school sees on its "En attente" page for these records (transfers.waiting, §9).
    waiting: list[WaitingStudent]


# How many look-alike records (same name and birth date, other or no INE) the diagnostic shows.
RELATED_LIMIT = 20


def eligibility_diagnostic(ine: str, *, now: datetime) -> Diagnostic:
    """Why has (or hasn't) this student's passport arrived? Every record and pair, with reasons.

    Besides the records carrying the INE, it shows the records of a student with the same last
    name and birth date but another INE or none: a mistyped or missing INE is the usual answer.
    """
    students = list(_students_qs().filter(ine=ine).order_by("created_at", "id"))
    related = _look_alikes(students)
    everyone = students + related
    decisions = list(
        Transfer.objects.filter(Q(origin_student__in=everyone) | Q(destination_student__in=everyone))
        .select_related("origin_establishment", "destination_establishment", "user")
        .order_by("created_at", "id")
    )
    by_pair = {(row.origin_student_id, row.destination_student_id): row for row in decisions}
    pairs = [
        PairDiagnostic(
            origin,
            destination,
            pair_conditions(origin, destination, now=now),
            by_pair.get((getattr(origin, "pk", None), getattr(destination, "pk", None))),
        )
        for origin, destination in _candidate_pairs(everyone)
    ]
    waiting = waiting_arrivals(None, now, students=Q(ine=ine)) + waiting_departures(
        None, now, students=Q(ine=ine)
    )
    return Diagnostic(ine, students, related, pairs, planned_pairs_for_ine(ine, now=now), decisions, waiting)


def _students_qs() -> QuerySet[Student]:
    return Student.objects.select_related("establishment", "created_by_import", "deactivated_by_import")


def _look_alikes(students: list[Student]) -> list[Student]:
    identities = {(s.last_name.upper(), s.birth_date) for s in students if s.birth_date}
    found: list[Student] = []
    for last_name, birth_date in sorted(identities, key=str):
        found += (
            _students_qs()
            .filter(last_name__iexact=last_name, birth_date=birth_date)
            .exclude(pk__in=[s.pk for s in students + found])
            .order_by("created_at", "id")[:RELATED_LIMIT]
        )
    return found[:RELATED_LIMIT]


def _candidate_pairs(students: list[Student]) -> list[tuple[Student | None, Student | None]]:
    """Ordered pairs of records in two establishments, the earlier enrolment being the origin."""
    pairs: list[tuple[Student | None, Student | None]] = [
        (origin, destination)
        for origin in students
        for destination in students
        if origin.establishment_id != destination.establishment_id
        and (origin.created_at, origin.pk) < (destination.created_at, destination.pk)
    ]
    if not pairs and len(students) == 1:
        # One record only: the other side is missing, and pair_conditions says which conditions fail.
        (student,) = students
        pairs = [(student, None)] if not student.is_active else [(None, student)]
    return pairs
