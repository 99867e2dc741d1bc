"""'Signaler une erreur': the origin school tells technical staff a passport was sent wrongly.

The origin is the school a forged arrival would pull records from (SECURITY.md "The origin
knows"): it is e-mailed for every passport sent, and each "sent" row lets it raise the alarm.
Staff are alerted by e-mail (a count and a link, no names) and handle the report in the admin.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse

from cerisepro.site import absolute_url
from establishments.models import Establishment, User
from establishments.services import audit_record

from .models import Transfer, TransferReport

logger = logging.getLogger(__name__)
MAX_MESSAGE_LENGTH = 2000


def transfer_report_create(
    establishment: Establishment, transfer: Transfer, *, user: User, now: datetime, message: str = ""
) -> TransferReport:
    """Record the report, write it to the school's journal, and alert technical staff after commit."""
    assert transfer.origin_establishment_id == establishment.pk, "only the origin reports its transfers"
    with transaction.atomic():
        report = TransferReport.objects.create(
            transfer=transfer,
            establishment=establishment,
            user=user,
            created_at=now,
            message=message.strip()[:MAX_MESSAGE_LENGTH],
        )
        audit_record(establishment, user, "Signalement d'une erreur de transfert", {"signalement": report.pk})
        transaction.on_commit(lambda: _alert_staff(report.pk), robust=True)
    logger.info("Transfer %s reported by establishment %s", transfer.pk, establishment.uai)
    return report


def staff_emails() -> list[str]:
    """Every technical-staff address: active staff users with one, and SUPPORT_EMAILS (ADMINS)."""
    staff = (
        User.objects.filter(is_staff=True, is_active=True).exclude(email="").values_list("email", flat=True)
    )
    return sorted({*staff, *(email for _name, email in settings.ADMINS)})


def _alert_staff(report_id: int) -> None:
    recipients = staff_emails()
    if not recipients:
        logger.warning("Transfer report %s: no staff e-mail address to alert", report_id)
        return
    url = absolute_url(reverse("admin:transfers_transferreport_change", args=[report_id]))
    body = (
        "Bonjour,\n\nUn établissement signale une erreur sur un passeport transmis par cerisepro.\n"
        f"Le signalement est à traiter dans l'administration technique :\n{url}\n\n"
        "Ce message ne contient volontairement aucun nom d'élève.\n"
    )
    try:
        EmailMessage("cerisepro : signalement d'une erreur de transfert", body, to=recipients).send()
    except Exception:
        logger.exception("Could not e-mail staff about transfer report %s", report_id)
