"""E-mails about transfers, sent by their own task after the transfers commit.

An e-mail leaves our system: it says how many passports arrived and where to read the history,
never a student's name or INE (personal data of minors, docs/privacy.md).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from contextlib import suppress
from typing import NamedTuple

from django.core.mail import EmailMessage, get_connection
from django.db.models import Count
from django.template.loader import render_to_string
from django.urls import reverse

from cerisepro.site import site_url
from establishments.models import Establishment, Role, User

from .models import Transfer

logger = logging.getLogger(__name__)
ID_CHUNK = 5000  # keeps ``id IN (…)`` under SQLite's bound-parameter limit


# Which side of a done transfer each e-mail goes to, and its templates.
SIDES = {
    "received": ("destination_establishment", "transfers/email_received"),
    "sent": ("origin_establishment", "transfers/email_sent"),
}


def _done_per(side: str, transfer_ids: list[int]) -> Counter[int]:
    column = SIDES[side][0]
    counts: Counter[int] = Counter()
    for start in range(0, len(transfer_ids), ID_CHUNK):
        chunk = transfer_ids[start : start + ID_CHUNK]
        rows = (
            Transfer.objects.filter(id__in=chunk, done=True)
            .order_by()
            .values_list(column)
            .annotate(count=Count("id"))
        )
        counts.update(dict(rows))
    return counts


def _administrator_emails(establishment_ids) -> dict[int, list[str]]:
    recipients: dict[int, list[str]] = defaultdict(list)
    administrators = (
        User.objects.filter(establishment_id__in=establishment_ids, role=Role.ADMINISTRATOR, is_active=True)
        .exclude(email="")
        .order_by("id")
        .values_list("establishment_id", "email")
    )
    for establishment_id, email in administrators:
        recipients[establishment_id].append(email)
    return recipients


def _message(side: str, establishment: Establishment, count: int, recipients: list[str]) -> EmailMessage:
    site = site_url()
    context = {
        "establishment": establishment,
        "count": count,
        "plural": "s" if count > 1 else "",
        "history_url": site + reverse("transfer-history", args=[establishment.uai]),
    }
    template = SIDES[side][1]
    subject = render_to_string(f"{template}_subject.txt", context).strip()
    body = render_to_string(f"{template}.txt", context)
    return EmailMessage(" ".join(subject.split()), body, to=recipients)


class Notification(NamedTuple):
    """One e-mail to one establishment's administrators; ``key`` names it across retries."""

    key: str
    uai: str
    message: EmailMessage


def _side_notifications(side: str, transfer_ids: list[int]) -> list[Notification]:
    """One e-mail per establishment of that side, counting done transfers only."""
    counts = _done_per(side, transfer_ids)
    if not counts:
        return []
    recipients = _administrator_emails(counts)
    notifications = []
    for establishment in Establishment.objects.filter(id__in=counts).order_by("uai"):
        if not recipients.get(establishment.id):
            logger.warning("No administrator with an e-mail address to notify in %s", establishment.uai)
            continue
        message = _message(side, establishment, counts[establishment.id], recipients[establishment.id])
        notifications.append(Notification(f"{side}:{establishment.uai}", establishment.uai, message))
    return notifications


def transfer_notifications(transfer_ids: list[int]) -> list[Notification]:
    """The e-mails about done transfers: to each destination establishment (passports received),
    then to each origin (passports sent from it, so that a passport pulled by a forged arrival does
    not go unnoticed, SECURITY.md)."""
    ids = list(transfer_ids)
    return [*_side_notifications("received", ids), *_side_notifications("sent", ids)]


class NotSentError(Exception):
    """Some e-mails could not be sent; ``sent`` names those that were (never send them twice)."""

    def __init__(self, sent: list[str], left: int) -> None:
        super().__init__(f"{left} e-mails not sent")
        self.sent = sent


def send_transfer_emails(transfer_ids: list[int], *, already_sent: Iterable[str] = ()) -> list[str]:
    """Send the e-mails about done transfers over one SMTP connection; the keys of those sent.

    ``already_sent`` are left out (a retry). On the first failure the connection is dropped and
    :class:`NotSentError` says what was sent, for the caller to retry the rest later. Runs in its
    own Celery task after the transfers commit (``transfers.tasks``): a slow or failing SMTP
    server never slows down or fails a copy (docs/transfers.md §5).
    """
    skipped = set(already_sent)
    pending = [n for n in transfer_notifications(transfer_ids) if n.key not in skipped]
    sent = list(already_sent)
    if not pending:
        return sent
    connection = get_connection()
    left = list(pending)
    try:
        connection.open()
        while left:
            connection.send_messages([left[0].message])
            sent.append(left.pop(0).key)
    except Exception as error:
        # Establishment code only: no student data, no recipient address in the logs.
        logger.warning(
            "Could not send the transfers-%s e-mail to %s (%s); %d e-mails left for a retry",
            left[0].key.split(":")[0],
            left[0].uai,
            type(error).__name__,
            len(left),
        )
        raise NotSentError(sent, len(left)) from error
    finally:
        with suppress(Exception):  # a connection that died is closed already
            connection.close()
    return sent
