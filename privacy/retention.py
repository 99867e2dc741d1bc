"""Retention of departed students' records (GDPR storage limitation, docs/privacy.md).

An establishment keeps the records of a student who left (deactivated) for
``settings.STUDENT_RETENTION_YEARS`` calendar years (Paris time), then they are purged: the student
row, its passport entries (``PassportEntry.student`` cascades), its pending or past manual-transfer
authorisations (they name the student and cascade too) and the student's own login account.

What stays, on purpose:
- the copies of the passport made by a transfer belong to the student at the new school, who is
  another record with its own clock; their provenance (UAI, school, author) is kept;
- the history rows (``Transfer``), so that both schools' counts stay true: the purged side's
  foreign key becomes NULL, the name is replaced by "élève supprimé" and the INE is blanked;
- the import records, with their warnings cleared and any kept file dropped once they are older
  than the same limit (warnings may quote an INE).
"""

from __future__ import annotations

import logging
from datetime import datetime

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from establishments.models import Role, User
from students.models import SiecleImport, Student
from transfers.history import DELETED_STUDENT
from transfers.models import Transfer

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


def retention_cutoff(now: datetime, years: int) -> datetime:
    """``years`` calendar years before ``now``, on the Paris wall clock (29 February → 28)."""
    return timezone.localtime(now) - relativedelta(years=years)


def expired_students(now: datetime, years: int) -> QuerySet[Student]:
    """Students deactivated more than ``years`` years ago; an active student never expires."""
    return Student.objects.filter(is_active=False, deactivated_at__lt=retention_cutoff(now, years))


def purge_expired_students(now: datetime, years: int | None = None, *, dry_run: bool = False) -> int:
    """Purge the students whose retention period is over; return how many (or would be)."""
    years = settings.STUDENT_RETENTION_YEARS if years is None else years
    ids = list(expired_students(now, years).order_by("pk").values_list("pk", flat=True))
    if dry_run:
        return len(ids)
    purged = sum(
        _purge_batch(ids[start : start + BATCH_SIZE], now, years) for start in range(0, len(ids), BATCH_SIZE)
    )
    _forget_old_import_details(now, years)
    logger.info("Retention purge: %s students deactivated more than %s years ago deleted", purged, years)
    return purged


def _purge_batch(ids: list[int], now: datetime, years: int) -> int:
    with transaction.atomic():
        # Re-checked under lock: a student reactivated by an import meanwhile is kept.
        students = list(
            expired_students(now, years).select_for_update().filter(pk__in=ids).values_list("pk", "user_id")
        )
        ids = [pk for pk, _user in students]
        Transfer.objects.filter(Q(origin_student__in=ids) | Q(destination_student__in=ids)).update(
            student_name=DELETED_STUDENT, ine=""
        )
        accounts = [user_id for _pk, user_id in students if user_id]
        Student.objects.filter(pk__in=ids).delete()
        User.objects.filter(pk__in=accounts, role=Role.STUDENT).delete()
    return len(ids)


def _forget_old_import_details(now: datetime, years: int) -> None:
    SiecleImport.objects.filter(created_at__lt=retention_cutoff(now, years)).update(
        # Everything of an old import that names students: its warnings, the identity corrections
        # and reassigned SIECLE ids it recorded, a preview's file and summary.
        warnings=[],
        identity_changes=[],
        reassigned_siecle_ids=[],
        pending_content=None,
        pending_nomenclature=None,
        preview=None,
    )
