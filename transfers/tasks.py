"""Celery tasks: thin wrappers around transfers.run and transfers.emails."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from establishments.models import Establishment

from . import emails
from .models import MatchingRun, Trigger
from .run import run_matching

RETRY_WHEN_BUSY_SECONDS = 120


@shared_task(name="transfers.run_matching", bind=True, acks_late=True, max_retries=10)
def run_matching_task(self, establishment_id: int | None = None, trigger: str = Trigger.BEAT) -> dict:
    """Run the matching job now, for every establishment or one (after its SIECLE import).

    Delivered twice, or fired twice by beat, it does no double work: pairs are decided once.
    """
    establishment = Establishment.objects.filter(pk=establishment_id).first() if establishment_id else None
    if establishment_id and establishment is None:
        return {"status": "establishment gone"}
    run = run_matching(timezone.now(), establishment, trigger=trigger)
    if run.status == MatchingRun.Status.SKIPPED and establishment is not None:
        # Another run holds the lock and may have started before this import committed.
        raise self.retry(countdown=RETRY_WHEN_BUSY_SECONDS)
    return {"run": run.pk, "status": run.status, "pairs": run.pairs_decided}


# A failing SMTP server is retried after 1, 2, 4, 8, 16 then 32 minutes, then given up (logged).
EMAIL_RETRY_SECONDS = 60
EMAIL_MAX_RETRIES = 6


@shared_task(name="transfers.send_transfer_emails", bind=True, max_retries=EMAIL_MAX_RETRIES)
def send_transfer_emails_task(self, transfer_ids: list[int], already_sent: list[str] | None = None) -> int:
    """E-mail both sides of done transfers, after they commit, over one SMTP connection.

    A failure retries the e-mails not yet sent, never those already sent (docs/transfers.md §5).
    """
    try:
        return len(emails.send_transfer_emails(transfer_ids, already_sent=already_sent or ()))
    except emails.NotSentError as failure:
        raise self.retry(
            kwargs={"transfer_ids": transfer_ids, "already_sent": failure.sent},
            countdown=EMAIL_RETRY_SECONDS * 2**self.request.retries,
        ) from None


@shared_task(name="transfers.send_reminders")
def send_reminders_task() -> dict:
    """Record today's reminders about waiting passports; their e-mails are queued after commit.

    Fired twice the same day (or week), it sends nothing twice: the records are unique
    (docs/transfers.md §9).
    """
    from .reminders import send_reminders

    return {"reminders": len(send_reminders(timezone.now()))}


@shared_task(name="transfers.send_reminder_emails")
def send_reminder_emails_task(reminder_ids: list[int]) -> int:
    """Send the e-mails of recorded reminders (one per establishment and kind)."""
    from .reminders import deliver_reminders

    return deliver_reminders(reminder_ids)
