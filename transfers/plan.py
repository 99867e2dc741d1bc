"""What the job decides: the candidate destinations, one batch's decisions, and the plan.

docs/transfers.md §4. ``batch_decisions`` is the one place a batch of destinations is decided:
the run writes its decisions, ``plan_matching`` and the diagnostic only show them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.db import models
from django.db.models import Exists, OuterRef, Q

from establishments.models import Establishment
from students.models import Student

from .models import DECISION_IN_FORCE, Cause, HoldReason, Transfer
from .rules import (
    decide_pair,
    destination_conditions,
    enrolled_after,
    hold_reason_for,
    imports_over_volume,
    origin_conditions,
    window_start,
)

BATCH_SIZE = 500


class Outcome(models.TextChoices):
    """What the plan says of a pair besides a ``Cause``: transferred, waiting, or never."""

    TRANSFER = "transfert", "transfert"
    PENDING = "en_attente", "en attente"
    NEVER = "exclu", "jamais (retour vers un dossier quitté)"  # a way back to a record the student left


@dataclass
class PlannedPair:
    origin: Student
    destination: Student
    outcome: str  # an Outcome or a Cause value
    reason: str = ""

    @property
    def outcome_label(self) -> str:
        if self.outcome in Outcome.values:
            return str(Outcome(self.outcome).label)
        return str(Cause(self.outcome).label)


class Decision(NamedTuple):
    """What the job decides for one pair: a cause ("" to transfer) and, when held, why."""

    origin: Student
    destination: Student
    cause: str
    hold_reason: str = ""


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
        assert origin.deactivated_at is not None  # a candidate origin is a deactivated record
        if index == 0 and (decided_recent is None or origin.deactivated_at > decided_recent):
            decisions.append(_decide(origin, destination, volume_held))
        else:
            decisions.append(Decision(origin, destination, Cause.MORE_RECENT_ORIGIN))
    return decisions


def _undecided_origins(start: datetime, now: datetime):
    return (
        Student.objects.filter(
            origin_conditions(start, now), ine=OuterRef("ine"), created_at__lte=OuterRef("created_at")
        )
        .exclude(establishment=OuterRef("establishment"))
        .exclude(
            # A pair with a decision in force is decided, an undone transfer included; only staff
            # re-opening it lets the job decide it again (docs/transfers.md "Undoing a transfer").
            Exists(
                Transfer.objects.filter(
                    DECISION_IN_FORCE,
                    origin_student=OuterRef("pk"),
                    destination_student=OuterRef(OuterRef("pk")),
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


def batch_decisions(destinations: list[Student], now: datetime) -> list[Decision]:
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
    rows = Transfer.objects.filter(DECISION_IN_FORCE, destination_student__in=destinations).values_list(
        "destination_student_id", "origin_student_id", "origin_student__deactivated_at", "cause", "ine"
    )
    current_ine = {d.pk: d.ine for d in destinations}
    for destination_id, origin_id, deactivated_at, cause, ine in rows:
        decided[destination_id].add(origin_id)
        if cause == Cause.UNDONE and ine != current_ine[destination_id]:
            # An undone transfer under an INE the destination no longer carries was a mistaken
            # identity, since corrected: it is no origin of this student for the "most recent
            # origin" rule (docs/transfers.md §10). Under the same INE it still counts (a forged
            # arrival must not pull the student's older passports once the latest was undone).
            continue
        if deactivated_at and (
            destination_id not in decided_recent or deactivated_at > decided_recent[destination_id]
        ):
            decided_recent[destination_id] = deactivated_at
    over_volume = imports_over_volume(destinations, now)
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
        for decision in batch_decisions(destinations, now):
            planned.append(planned_pair(decision))
    return planned


def planned_pair(decision: Decision) -> PlannedPair:
    reason = str(HoldReason(decision.hold_reason).label) if decision.hold_reason else ""
    return PlannedPair(decision.origin, decision.destination, decision.cause or Outcome.TRANSFER, reason)
