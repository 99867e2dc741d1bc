"""Celery tasks of the privacy app: thin wrappers around its services."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from students.services import discard_stale_previews

from .retention import purge_expired_students


# The name predates the privacy app and is what the beat schedule (cerisepro/settings.py) sends.
@shared_task(name="students.purge_expired", acks_late=True)
def purge_expired_task() -> dict:
    """Purge the students whose retention period is over, and the files of abandoned import
    previews. Twice in a row, the second does nothing."""
    now = timezone.now()
    return {"purged": purge_expired_students(now), "previews_discarded": discard_stale_previews(now)}
