"""E-mails about transfers, sent after the matching job commits.

An e-mail leaves our system: it says how many passports arrived and where to read the history,
never a student's name or INE (personal data of minors, docs/privacy.md).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Count
from django.template.loader import render_to_string
from django.urls import reverse

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
    site_url = getattr(settings, "SITE_URL", "").rstrip("/")
    context = {
        "establishment": establishment,
        "count": count,
        "plural": "s" if count > 1 else "",
        "history_url": site_url + reverse("transfer-history", args=[establishment.uai]),
    }
    template = SIDES[side][1]
    subject = render_to_string(f"{template}_subject.txt", context).strip()
    body = render_to_string(f"{template}.txt", context)
    return EmailMessage(" ".join(subject.split()), body, to=recipients)


def _notify_side(side: str, transfer_ids: list[int]) -> int:
    """One e-mail per establishment of that side, counting done transfers only; the number sent.

    A failure to send is logged and never raised (the transfers are already committed).
    """
    counts = _done_per(side, list(transfer_ids))
    if not counts:
        return 0
    recipients = _administrator_emails(counts)
    sent = 0
    for establishment in Establishment.objects.filter(id__in=counts).order_by("uai"):
        if not recipients.get(establishment.id):
            logger.warning("No administrator with an e-mail address to notify in %s", establishment.uai)
            continue
        try:
            _message(side, establishment, counts[establishment.id], recipients[establishment.id]).send()
        except Exception:
            # Establishment code only: no student data, no recipient address in the logs.
            logger.exception("Could not send the transfers-%s e-mail to %s", side, establishment.uai)
        else:
            sent += 1
    return sent


def notify_transfers_received(transfer_ids: list[int]) -> int:
    """Tell each destination establishment's administrators how many passports they received."""
    return _notify_side("received", transfer_ids)


def notify_transfers_sent(transfer_ids: list[int]) -> int:
    """Tell each origin establishment's administrators how many passports were sent from it, so
    that a passport pulled by a forged arrival does not go unnoticed (SECURITY.md)."""
    return _notify_side("sent", transfer_ids)
