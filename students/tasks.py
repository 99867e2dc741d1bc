"""Celery tasks of the students app: thin wrappers around its services."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from .retention import purge_expired_students


@shared_task(name="students.purge_expired", acks_late=True)
def purge_expired_task() -> dict:
    """Purge the students whose retention period is over. Twice in a row, the second does nothing."""
    return {"purged": purge_expired_students(timezone.now())}
