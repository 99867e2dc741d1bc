"""Reminder e-mails about waiting passports (docs/transfers.md §9 "Reminders").

- **Weekly**: a school that has not turned transfer on while passports wait for it (as origin or
  destination: a record of the same student on the other side, within the window) gets at most
  one e-mail per ISO week: how many students, the earliest closing date, the link to
  *Paramètres › Transferts*.
- **30 and 7 days** before a pair's window closes, the *waiting side* (the school that has turned
  transfer on, when the other has not) is told: how many students, the date.

No names, no INE, never the other school: counts and dates only. Every e-mail is first recorded as
a ``Reminder``; its unique constraint (establishment, kind, week or pair) means a run repeated the
same day or week sends nothing twice. The e-mails are queued once the records commit. A school
turns all of them off with ``Establishment.transfer_reminders_enabled``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cerisepro.site import site_url
from establishments.models import Establishment

from .emails import _administrator_emails
from .models import Reminder, ReminderKind
from .waiting import WaitingReason, WaitingStudent, waiting_arrivals, waiting_departures

logger = logging.getLogger(__name__)

# Days before a window closes → the notice; the nearest threshold wins (a pair first seen 5 days
# before its close gets the 7-day notice only).
CLOSING_NOTICES = ((7, ReminderKind.CLOSING_7), (30, ReminderKind.CLOSING_30))


@dataclass
class Notice:
    """One e-mail to plan: to one establishment, of one kind, for these weeks or pairs."""

    establishment_id: int
    kind: str
    keys: dict[str, date] = field(default_factory=dict)  # week or pair → closing date
    students: int = 0  # how many students wait (a weekly reminder; a closing notice counts its pairs)


def week_key(now: datetime) -> str:
    """The ISO week of ``now`` on the Paris calendar, e.g. "2026-W49"."""
    year, week, _day = timezone.localdate(now).isocalendar()
    return f"{year}-W{week:02d}"


def _closing_kind(closes_on: date, today: date) -> str | None:
    days = (closes_on - today).days
    for threshold, kind in CLOSING_NOTICES:
        if 0 <= days <= threshold:
            return kind
    return None


def plan_reminders(waiting: Iterable[WaitingStudent], now: datetime) -> list[Notice]:
    """What to send today, before what was already sent is left out (``send_reminders``)."""
    today = timezone.localdate(now)
    week = week_key(now)
    notices: dict[tuple[int, str], Notice] = {}

    def notice(establishment_id: int, kind: str) -> Notice:
        return notices.setdefault((establishment_id, kind), Notice(establishment_id, kind))

    for item in waiting:
        establishment = item.student.establishment
        if not establishment.transfer_reminders_enabled or item.counterpart is None:
            continue  # opted out, or nothing waits on the other side
        if item.reason == WaitingReason.THIS_NOT_ENABLED:
            weekly = notice(establishment.pk, ReminderKind.NOT_ENABLED)
            weekly.keys[week] = min(weekly.keys.get(week, item.closes_on), item.closes_on)
            weekly.students += 1
        elif item.blocked_by_other_side and establishment.transfer_enabled:
            kind = _closing_kind(item.closes_on, today)
            if kind is not None:
                notice(establishment.pk, kind).keys[item.pair_key] = item.closes_on
    return list(notices.values())


def _record(notice: Notice, recipients: int, now: datetime) -> list[Reminder]:
    """Record the reminders not sent yet for this notice; [] when all were (or a concurrent run won)."""
    sent = set(
        Reminder.objects.filter(
            establishment_id=notice.establishment_id, kind=notice.kind, key__in=list(notice.keys)
        ).values_list("key", flat=True)
    )
    rows = [
        Reminder(
            establishment_id=notice.establishment_id,
            kind=notice.kind,
            key=key,
            sent_at=now,
            recipients=recipients,
            students=notice.students if notice.kind == ReminderKind.NOT_ENABLED else 1,
            closes_on=closing,
        )
        for key, closing in sorted(notice.keys.items())
        if key not in sent
    ]
    if not rows:
        return []
    try:
        with transaction.atomic():  # a savepoint: another run recorded them first
            return Reminder.objects.bulk_create(rows)
    except IntegrityError:
        logger.info("Reminders of establishment %s recorded by a concurrent run", notice.establishment_id)
        return []


def send_reminders(now: datetime) -> list[Reminder]:
    """Record today's reminders and queue their e-mails once the records commit (docs/transfers.md §9)."""
    # Only the schools that did not turn reminders off (the opt-out is checked again per item).
    scope = Q(establishment__transfer_reminders_enabled=True)
    waiting = waiting_arrivals(None, now, students=scope) + waiting_departures(None, now, students=scope)
    notices = plan_reminders(waiting, now)
    recipients = _administrator_emails({n.establishment_id for n in notices})
    recorded: list[Reminder] = []
    with transaction.atomic():
        for notice in notices:
            if not recipients.get(notice.establishment_id):
                logger.warning(
                    "No administrator with an e-mail address to remind in establishment %s",
                    notice.establishment_id,
                )
                continue
            recorded += _record(notice, len(recipients[notice.establishment_id]), now)
        if recorded:
            ids = [reminder.pk for reminder in recorded]
            transaction.on_commit(lambda: _enqueue(ids), robust=True)
    logger.info("Transfer reminders: %s recorded", len(recorded))
    return recorded


def _enqueue(reminder_ids: list[int]) -> None:
    from .tasks import send_reminder_emails_task  # tasks imports this module

    send_reminder_emails_task.delay(reminder_ids)


# --- the e-mails ------------------------------------------------------------------------------

TEMPLATES: dict[str, str] = {
    ReminderKind.NOT_ENABLED: "transfers/email_reminder_weekly",
    ReminderKind.CLOSING_30: "transfers/email_reminder_closing",
    ReminderKind.CLOSING_7: "transfers/email_reminder_closing",
}


def _message(
    establishment: Establishment, kind: str, rows: list[Reminder], recipients: list[str]
) -> EmailMessage:
    site = site_url()
    count = rows[0].students if kind == ReminderKind.NOT_ENABLED else len(rows)
    closes = min(row.closes_on for row in rows if row.closes_on)
    context = {
        "establishment": establishment,
        "count": count,
        "closes_on": closes,
        "days": (closes - timezone.localdate(rows[0].sent_at)).days,
        "reason": WaitingReason.THIS_NOT_ENABLED.label,
        "settings_url": site + reverse("settings-transfers", args=[establishment.uai]),
        "waiting_url": site + reverse("transfer-waiting", args=[establishment.uai]),
    }
    subject = render_to_string(f"{TEMPLATES[kind]}_subject.txt", context).strip()
    body = render_to_string(f"{TEMPLATES[kind]}.txt", context)
    return EmailMessage(" ".join(subject.split()), body, to=recipients)


def deliver_reminders(reminder_ids: list[int]) -> int:
    """Send the e-mails of recorded reminders: one per establishment and kind; the number sent.

    A failure is logged, never raised: the reminder stays recorded (at most one a week, never two).
    """
    groups: dict[tuple[int, str], list[Reminder]] = defaultdict(list)
    for row in Reminder.objects.filter(pk__in=reminder_ids).select_related("establishment").order_by("pk"):
        groups[(row.establishment_id, row.kind)].append(row)
    recipients = _administrator_emails({establishment_id for establishment_id, _kind in groups})
    sent = 0
    for (establishment_id, kind), rows in groups.items():
        if not recipients.get(establishment_id):
            continue
        establishment = rows[0].establishment
        try:
            _message(establishment, kind, rows, recipients[establishment_id]).send()
        except Exception:
            # Establishment code only: no student data, no recipient address in the logs.
            logger.exception("Could not send the %s reminder to %s", kind, establishment.uai)
        else:
            sent += 1
    return sent
