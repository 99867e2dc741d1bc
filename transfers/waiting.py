"""What is waiting, and why: the passports that have not arrived or not left yet (docs/transfers.md §9).

The one place the waiting reasons are decided. The *En attente* page, the admin's national list,
the eligibility diagnostic and the reminder e-mails all read ``waiting_arrivals`` and
``waiting_departures``; none of them decides a reason on its own.

Set-based: a fixed number of queries whatever the number of students (tests count them at 10 and
200). ``now`` is always passed in.

What a school may know of the other side (docs/transfers.md §9 "What each side may know"): never
the other establishment, nor its students. An arrival's school is told that *the* establishment
of origin has not turned transfer on, or not imported its SIECLE file since the student left, only
when the record found there carries the same INE **and** the same last name and birth date; any
other record counts as "no departure found", so that an INE typed into a school's own file learns
nothing about a child it does not know.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from establishments.access import STAFF_ROLES
from establishments.dashboard import StatusItem, french_plural
from establishments.models import Establishment
from students.identity import same_birth_date, same_last_name
from students.models import Origin, Student

from .models import DECISION_IN_FORCE, Cause, Transfer
from .rules import IDENTITY_COMPLETE, WINDOW, identity_missing, window_start

ARRIVAL, DEPARTURE = "arrivee", "depart"


class WaitingReason(models.TextChoices):
    """Why a passport is waiting, in the French a school reads (first that applies, in this order)."""

    THIS_NOT_ENABLED = "etab_non_active", _("Votre établissement n'a pas activé le transfert")
    IDENTITY_INCOMPLETE = (
        "identite_incomplete",
        _("Identité incomplète dans votre établissement (nom, prénom ou date de naissance manquant)"),
    )
    HELD = "en_revue", _("En cours de vérification par l'assistance technique")
    NEXT_RUN = (
        "prochain_traitement",
        _("Prêt : le passeport sera transféré lors du prochain traitement (chaque nuit)"),
    )
    ORIGIN_NOT_ENABLED = "origine_non_active", _("L'établissement d'origine n'a pas activé le transfert")
    ORIGIN_NOT_IMPORTED = (
        "origine_sans_import",
        _("L'établissement d'origine n'a pas encore importé son fichier SIECLE depuis le départ de l'élève"),
    )
    NO_DEPARTURE = "aucun_depart", _("Aucun départ de cet élève n'a encore été trouvé sur la plateforme")
    AWAITING_DESTINATION = "attente_accueil", _("En attente d'un établissement d'accueil")


ARRIVAL_REASONS = [
    WaitingReason.THIS_NOT_ENABLED,
    WaitingReason.IDENTITY_INCOMPLETE,
    WaitingReason.HELD,
    WaitingReason.NEXT_RUN,
    WaitingReason.ORIGIN_NOT_ENABLED,
    WaitingReason.ORIGIN_NOT_IMPORTED,
    WaitingReason.NO_DEPARTURE,
]
DEPARTURE_REASONS = [
    WaitingReason.THIS_NOT_ENABLED,
    WaitingReason.IDENTITY_INCOMPLETE,
    WaitingReason.HELD,
    WaitingReason.AWAITING_DESTINATION,
]


@dataclass(frozen=True)
class Counterpart:
    """The record on the other side of a waiting pair: for reminders and staff, never shown to a school."""

    student_id: int
    establishment_id: int
    enabled: bool


@dataclass(frozen=True)
class WaitingStudent:
    student: Student  # the school's own record (select_related establishment)
    side: str  # ARRIVAL or DEPARTURE
    reason: WaitingReason
    closes_on: date  # the last day the pair can still be decided (the window's close, Paris date)
    held_since: datetime | None = None
    counterpart: Counterpart | None = None

    @property
    def reason_label(self) -> str:
        return str(self.reason.label)

    @property
    def side_label(self) -> str:
        return "arrivée" if self.side == ARRIVAL else "départ"

    @property
    def pair_key(self) -> str:
        """ "<origin id>-<destination id>": the pair a closing notice is recorded for (Reminder.key)."""
        if self.counterpart is None:
            return ""
        own, other = self.student.pk, self.counterpart.student_id
        return f"{other}-{own}" if self.side == ARRIVAL else f"{own}-{other}"

    @property
    def blocked_by_other_side(self) -> bool:
        """A passport exists on the other side and waits only for that school to turn transfer on."""
        return self.counterpart is not None and not self.counterpart.enabled


class WaitingCounts(NamedTuple):
    arrivals: int
    departures: int


def closes_on(moment: datetime) -> date:
    """The day the six-month window opened by ``moment`` closes (docs/transfers.md §1, Paris dates).

    ``window_start`` subtracts six calendar months from ``now``; at the end of a month (31 August
    - 6 months = 28 February) the window may in fact stay open up to three days longer: the date
    shown is never later than the real close.
    """
    return (timezone.localtime(moment) + WINDOW).date()


def _scope(establishment: Establishment | None, students: Q | None) -> Q:
    scope = Q() if establishment is None else Q(establishment=establishment)
    return scope & students if students is not None else scope


def _decided_pairs(column: str, students: QuerySet[Student]) -> set[tuple[int, int]]:
    """(origin id, destination id) of the pairs in force that touch ``students`` on ``column``'s side."""
    rows = Transfer.objects.filter(DECISION_IN_FORCE, **{f"{column}__in": students.values("pk")})
    return set(rows.values_list("origin_student_id", "destination_student_id"))


def _held_since(column: str) -> Subquery:
    held = Transfer.objects.filter(DECISION_IN_FORCE, cause=Cause.HELD, **{column: OuterRef("pk")})
    return Subquery(held.order_by("created_at").values("created_at")[:1])


_FIELDS = (
    "pk",
    "establishment_id",
    "establishment__transfer_enabled",
    "ine",
    "last_name",
    "birth_date",
    "is_active",
    "created_at",
    "deactivated_at",
    "deactivated_by_import_id",
    "origin",
)


class _Other(NamedTuple):
    pk: int
    establishment_id: int
    enabled: bool
    ine: str
    last_name: str
    birth_date: date | None
    is_active: bool
    created_at: datetime
    deactivated_at: datetime | None
    deactivated_by_import_id: int | None
    origin: str


def _others(ines: QuerySet[Student], extra: Q) -> dict[str, list[_Other]]:
    """Every record carrying one of these INEs and meeting ``extra``, as tuples, by INE (one query)."""
    by_ine: dict[str, list[_Other]] = defaultdict(list)
    for row in Student.objects.filter(extra, ine__in=ines.values("ine")).values_list(*_FIELDS):
        other = _Other(*row)
        by_ine[other.ine].append(other)
    return by_ine


def _same_person(record: Student, other: _Other) -> bool:
    """Same person as far as a school may be told (module docstring): same last name and birth date."""
    return same_birth_date(record.birth_date, other.birth_date) and same_last_name(
        record.last_name, other.last_name
    )


# --- arrivals ---------------------------------------------------------------------------------


def _arrivals_qs(now: datetime, scope: Q) -> QuerySet[Student]:
    """Students created by a SIECLE import in the window, with an INE, active, whose passport has not
    arrived: no decision in force besides a hold (conditions 6, 7, 11; §9)."""
    start = window_start(now)
    final = Transfer.objects.filter(DECISION_IN_FORCE, destination_student=OuterRef("pk")).exclude(
        cause__in=[Cause.HELD, Cause.MORE_RECENT_ORIGIN]
    )
    left = Transfer.objects.filter(DECISION_IN_FORCE, origin_student=OuterRef("pk"))  # condition 13
    return (
        Student.objects.filter(
            scope, origin=Origin.SIECLE, created_at__gt=start, created_at__lte=now, is_active=True
        )
        .exclude(ine="")
        .exclude(Exists(final))
        .exclude(Exists(left))
        .annotate(held_since=_held_since("destination_student"))
        .select_related("establishment")
        .order_by("establishment__uai", "last_name", "first_name", "pk")
    )


def _origin_reason(
    destination: Student, origins: Iterable[_Other], start: datetime, now: datetime
) -> tuple[WaitingReason | None, _Other | None]:
    """The best origin the arrival's school may be told of (module docstring), and what it waits for."""
    found: list[tuple[int, WaitingReason, _Other]] = []
    for origin in origins:
        if (
            origin.establishment_id == destination.establishment_id
            or origin.created_at > destination.created_at
        ):
            continue  # the same school, or a way back (condition 12)
        if not _same_person(destination, origin):
            continue
        if origin.is_active or origin.deactivated_by_import_id is None:
            found.append((2, WaitingReason.ORIGIN_NOT_IMPORTED, origin))
        elif origin.deactivated_at is not None and start < origin.deactivated_at <= now:
            if origin.enabled:
                found.append((0, WaitingReason.NEXT_RUN, origin))
            else:
                found.append((1, WaitingReason.ORIGIN_NOT_ENABLED, origin))
    if not found:
        return None, None
    # The most recent departure first, as the job does (docs/transfers.md §4).
    found.sort(key=lambda item: (item[0], -(item[2].deactivated_at or now).timestamp()))
    return found[0][1], found[0][2]


def _own_side_reason(student: Student, held_since: datetime | None) -> WaitingReason | None:
    """What this school's own side stops, first that applies, for an arrival and a departure alike:
    its transfer switch, the student's identity, a review by staff (docs/transfers.md §9)."""
    if not student.establishment.transfer_enabled:
        return WaitingReason.THIS_NOT_ENABLED
    if identity_missing(student):
        return WaitingReason.IDENTITY_INCOMPLETE
    if held_since is not None:
        return WaitingReason.HELD
    return None


def _arrival(destination: Student, origins: list[_Other], start: datetime, now: datetime) -> WaitingStudent:
    origin_reason, origin = _origin_reason(destination, origins, start, now)
    closing = closes_on(destination.created_at)
    counterpart = None
    departed = origin_reason in (WaitingReason.NEXT_RUN, WaitingReason.ORIGIN_NOT_ENABLED)
    if origin is not None and departed and origin.deactivated_at is not None:
        # A departed origin: a passport exists and waits (reminders); its window may close first.
        counterpart = Counterpart(origin.pk, origin.establishment_id, origin.enabled)
        closing = min(closing, closes_on(origin.deactivated_at))
    held_since = getattr(destination, "held_since", None)
    reason = _own_side_reason(destination, held_since) or origin_reason or WaitingReason.NO_DEPARTURE
    return WaitingStudent(destination, ARRIVAL, reason, closing, held_since, counterpart)


def waiting_arrivals(
    establishment: Establishment | None, now: datetime, *, students: Q | None = None
) -> list[WaitingStudent]:
    """The arrivals whose passport has not arrived, each with its reason and closing date (§9).

    ``establishment`` None: every establishment (staff, reminders); ``students`` narrows further
    (a Q on Student, e.g. an INE for the diagnostic, académie for the admin). Three queries.
    """
    start = window_start(now)
    arrivals = _arrivals_qs(now, _scope(establishment, students))
    candidates = (
        Q(Q(is_active=True) | Q(deactivated_at__gt=start, deactivated_at__lte=now)) & IDENTITY_COMPLETE
    )
    origins = _others(arrivals, candidates)
    decided = _decided_pairs("destination_student", arrivals)
    waiting = []
    for destination in arrivals:
        undecided = [o for o in origins.get(destination.ine, []) if (o.pk, destination.pk) not in decided]
        waiting.append(_arrival(destination, undecided, start, now))
    return waiting


# --- departures -------------------------------------------------------------------------------


def _departures_qs(now: datetime, scope: Q) -> QuerySet[Student]:
    """Students deactivated by a SIECLE import in the window, with an INE, whose passport has gone
    nowhere: no decision in force as origin besides a hold (conditions 2–4; §9)."""
    start = window_start(now)
    final = Transfer.objects.filter(DECISION_IN_FORCE, origin_student=OuterRef("pk")).exclude(
        cause=Cause.HELD
    )
    return (
        Student.objects.filter(
            scope,
            is_active=False,
            deactivated_by_import__isnull=False,
            deactivated_at__gt=start,
            deactivated_at__lte=now,
        )
        .exclude(ine="")
        .exclude(Exists(final))
        .annotate(held_since=_held_since("origin_student"))
        .select_related("establishment")
        .order_by("establishment__uai", "last_name", "first_name", "pk")
    )


def _destination_for(origin: Student, destinations: Iterable[_Other]) -> _Other | None:
    """The arrival elsewhere the job would pair with this departure (same person, enrolled after)."""
    found = [
        d
        for d in destinations
        if d.establishment_id != origin.establishment_id
        and d.created_at >= origin.created_at
        and _same_person(origin, d)
    ]
    return max(found, key=lambda d: (d.created_at, d.pk)) if found else None


def waiting_departures(
    establishment: Establishment | None, now: datetime, *, students: Q | None = None
) -> list[WaitingStudent]:
    """The departures whose passport has gone nowhere, "en attente d'un établissement d'accueil" unless
    this school can act (transfer off, identity incomplete) or staff are checking it (§9). Three queries."""
    start = window_start(now)
    departures = _departures_qs(now, _scope(establishment, students))
    arrivals = (
        Q(origin=Origin.SIECLE, is_active=True, created_at__gt=start, created_at__lte=now) & IDENTITY_COMPLETE
    )
    destinations = _others(departures, arrivals)
    decided = _decided_pairs("origin_student", departures)
    waiting = []
    for origin in departures:
        assert origin.deactivated_at is not None  # a departure is a deactivated record
        undecided = [d for d in destinations.get(origin.ine, []) if (origin.pk, d.pk) not in decided]
        destination = _destination_for(origin, undecided)
        closing = closes_on(origin.deactivated_at)
        counterpart = None
        if destination is not None:
            counterpart = Counterpart(destination.pk, destination.establishment_id, destination.enabled)
            closing = min(closing, closes_on(destination.created_at))
        held_since = getattr(origin, "held_since", None)
        reason = _own_side_reason(origin, held_since) or WaitingReason.AWAITING_DESTINATION
        waiting.append(WaitingStudent(origin, DEPARTURE, reason, closing, held_since, counterpart))
    return waiting


def waiting_counts(establishment: Establishment, now: datetime) -> WaitingCounts:
    """How many arrivals and departures of this establishment wait (the home page's status panel).

    Two COUNT queries: every student of the two selections waits, whatever its reason.
    """
    scope = _scope(establishment, None)
    return WaitingCounts(_arrivals_qs(now, scope).count(), _departures_qs(now, scope).count())


def reason_counts(waiting: Iterable[WaitingStudent]) -> list[tuple[WaitingReason, int]]:
    """(reason, how many) in the reasons' order, reasons with none left out."""
    counts: dict[WaitingReason, int] = defaultdict(int)
    for item in waiting:
        counts[item.reason] += 1
    return [(reason, counts[reason]) for reason in WaitingReason if counts[reason]]


# --- the home page's status panel (establishments.dashboard; registered by transfers) ----------


def _status_item(key: str, label: str, count: int, establishment: Establishment, role: str) -> StatusItem:
    value = french_plural(count, "%(count)d élève", "%(count)d élèves")
    url = reverse("transfer-waiting", args=[establishment.uai]) if role in STAFF_ROLES else ""
    warning = ""
    if count and not establishment.transfer_enabled:
        warning = str(_("Le transfert n'est pas activé : activez-le dans Paramètres › Transferts."))
    return StatusItem(key, label, value, url, warning)


def arrivals_item(establishment: Establishment, now: datetime, role: str) -> StatusItem:
    """ "Arrivés, passeport en attente": one COUNT query."""
    count = _arrivals_qs(now, _scope(establishment, None)).count()
    return _status_item("waiting_arrivals", "Arrivés, passeport en attente", count, establishment, role)


def departures_item(establishment: Establishment, now: datetime, role: str) -> StatusItem:
    """ "Partis, en attente d'un établissement d'accueil": one COUNT query."""
    count = _departures_qs(now, _scope(establishment, None)).count()
    label = "Partis, en attente d'un établissement d'accueil"
    return _status_item("waiting_departures", label, count, establishment, role)
