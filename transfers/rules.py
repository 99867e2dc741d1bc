"""The rules of a transfer: the window, the conditions, the causes and the hold rules.

docs/transfers.md §2–§4. The conditions are written once as ``Q`` objects, which the job, the plan
and the eligibility diagnostic all filter with; ``transfers.diagnostic`` explains them to support.
"""

from __future__ import annotations

from datetime import datetime

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from students.identity import same_birth_date, same_last_name
from students.models import Origin, Student

from .models import Cause, HoldReason, Transfer

WINDOW = relativedelta(months=6)


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
        & Q(~Exists(Transfer.objects.filter(origin_student=OuterRef("pk"))))  # 13: a record already left
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


def refuse_left_destination(destination: Student) -> None:
    """Raise the French ``left_destination_error`` as a ValidationError, if there is one."""
    refusal = left_destination_error(destination)
    if refusal:
        raise ValidationError(refusal, code="left_destination")


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


def decide_pair(origin: Student, destination: Student) -> str:
    """ "" to transfer, else the cause (docs/transfers.md §4). Identity first: a mistyped INE must
    never send a student's records to a stranger."""
    # The names compare as the import's identity rules compare them (students.identity). A missing
    # name or birth date never agrees (None == None, "" == "" must not pass): the job never gets
    # here with one (conditions 9 and 10), but another path might.
    if not (
        same_birth_date(origin.birth_date, destination.birth_date)
        and same_last_name(origin.last_name, destination.last_name)
    ):
        return Cause.IDENTITY_MISMATCH
    both_known = origin.diploma_level and destination.diploma_level
    if both_known and (origin.diploma_level, origin.diploma_specialite) != (
        destination.diploma_level,
        destination.diploma_specialite,
    ):
        return Cause.DIPLOMA_CHANGE
    return ""


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


def hold_above() -> int:
    """One SIECLE import pulling more passports than this is held for review (TRANSFER_HOLD_ABOVE)."""
    return settings.TRANSFER_HOLD_ABOVE


def imports_over_volume(destinations: list[Student], now: datetime) -> set[int]:
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
