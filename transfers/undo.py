"""Technical staff undo a transfer, and re-open an undone pair for the job (docs/transfers.md
"Undoing a transfer").

An undo removes the copies the transfer made in the destination passport, provided nobody changed
them and no later transfer copied them onward; the history row stays, as the pair's decision, so
the job does not decide the pair again until staff re-open it. Both schools' administrators are
e-mailed after commit. The Django admin (``transfers/admin.py``) is a thin wrapper.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cerisepro.site import site_url
from establishments.models import Establishment, User
from students.models import PassportEntry

from . import history
from .emails import _administrator_emails
from .models import DECISION_IN_FORCE, Cause, Transfer

logger = logging.getLogger(__name__)
MAX_REASON_LENGTH = 1000


def undo_days() -> int:
    """How many days after the copy a transfer may be undone (TRANSFER_UNDO_DAYS, 30 by default)."""
    return settings.TRANSFER_UNDO_DAYS


def copies_of(transfer: Transfer) -> QuerySet[PassportEntry]:
    """The entries the transfer copied: in the destination passport, copied from the origin's.

    A copy names the entry it was made from (``source_entry``), and a passport holds at most one
    copy of an entry (``one_copy_per_source_entry``), so this is exactly what the copy wrote.
    """
    if transfer.destination_student_id is None or transfer.origin_student_id is None:
        return PassportEntry.objects.none()  # a record is gone (retention): nothing is recognisable
    return PassportEntry.objects.filter(
        student_id=transfer.destination_student_id, source_entry__student_id=transfer.origin_student_id
    )


def copied_at(transfer: Transfer, copies: list[PassportEntry]) -> datetime.datetime:
    """When the passport was copied: the copies' own creation time (a held or forced pair is copied
    long after it was decided); a transfer that copied nothing counts from its decision or review."""
    if copies:
        return min(entry.created_at for entry in copies)
    return transfer.reviewed_at or transfer.created_at


def undo_deadline(transfer: Transfer, copies: list[PassportEntry]) -> datetime.datetime:
    return copied_at(transfer, copies) + datetime.timedelta(days=undo_days())


def _paris_day(moment: datetime.datetime) -> str:
    return timezone.localtime(moment, history.PARIS).strftime("%d/%m/%Y")


def _state_refusal(transfer: Transfer) -> str:
    if transfer.undone_at is not None:
        return _("Ce transfert a déjà été annulé le %(day)s.") % {"day": _paris_day(transfer.undone_at)}
    if not transfer.done:
        return _("Seul un transfert effectué peut être annulé (celui-ci n'a rien copié).")
    if transfer.origin_student_id is None or transfer.destination_student_id is None:
        return _("L'un des deux élèves n'existe plus : le transfert ne peut pas être annulé.")
    return ""


def _copies_refusal(transfer: Transfer, copies: list[PassportEntry], now: datetime.datetime) -> str:
    deadline = undo_deadline(transfer, copies)
    if now > deadline:
        return _(
            "Le délai d'annulation est dépassé : un transfert peut être annulé pendant %(days)d jours "
            "après la copie du passeport, soit jusqu'au %(day)s."
        ) % {"days": undo_days(), "day": _paris_day(deadline)}
    if len(copies) != transfer.entries_copied:
        return _(
            "Des entrées copiées par ce transfert ne sont plus reconnaissables (%(found)d trouvées sur "
            "%(copied)d copiées) : le transfert ne peut pas être annulé sans risque."
        ) % {"found": len(copies), "copied": transfer.entries_copied}
    # A copy is written with updated_at == created_at; every change of an entry sets updated_at
    # (students.passport.services.passport_entry_update), so a later updated_at proves an edit.
    edited = sum(1 for entry in copies if entry.updated_at > entry.created_at)
    if edited:
        return ngettext(
            "%(count)d entrée copiée a été modifiée depuis la copie : le transfert ne peut pas être annulé.",
            "%(count)d entrées copiées ont été modifiées depuis la copie : "
            "le transfert ne peut pas être annulé.",
            edited,
        ) % {"count": edited}
    return ""


def _onward_refusal(transfer: Transfer, copies: list[PassportEntry]) -> str:
    """A → B → C: B's copies went on to C, or B's record is the origin of a transfer still in force."""
    onward = (
        Transfer.objects.filter(
            DECISION_IN_FORCE, origin_student_id=transfer.destination_student_id, done=True
        )
        .values_list("pk", flat=True)
        .first()
    )
    copied_on = PassportEntry.objects.filter(source_entry__in=[entry.pk for entry in copies]).exists()
    if onward is None and not copied_on:
        return ""
    message = _(
        "Le passeport a depuis été transmis à un autre établissement : annulez d'abord le transfert "
        "suivant, puis celui-ci."
    )
    if onward is not None:
        message += " " + _("(transfert suivant : n° %(id)d)") % {"id": onward}
    return message


def transfer_undo_refusal(transfer: Transfer, *, now: datetime.datetime) -> str:
    """Why ``transfer`` cannot be undone now, in French for staff, or "" (docs/transfers.md)."""
    refusal = _state_refusal(transfer)
    if refusal:
        return refusal
    copies = list(copies_of(transfer))
    return _copies_refusal(transfer, copies, now) or _onward_refusal(transfer, copies)


def _clean_reason(reason: str, missing: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationError(missing, code="reason_required")
    return reason[:MAX_REASON_LENGTH]


def _lock(transfer: Transfer) -> Transfer:
    return Transfer.objects.select_for_update(of=("self",)).get(pk=transfer.pk)


def transfer_undo(transfer: Transfer, *, user: User, now: datetime.datetime, reason: str) -> Transfer:
    """Remove the copies ``transfer`` made and mark it undone; refuse with a French ValidationError.

    All or nothing, under the row's lock: two staff undoing at once remove the copies once. The
    copy counters are kept (they say what was copied, then removed); the row is no longer done, so
    the arrival's school no longer sees where the passport came from (docs/transfers.md).
    """
    reason = _clean_reason(reason, _("Indiquez le motif de l'annulation."))
    with transaction.atomic():
        # The copies are locked too: nothing edits them meanwhile. A run copying B's passport onward
        # to C at this very moment reads B's entries without locking them (the job locks C only):
        # should it commit between the check and the delete, C keeps what it received from B, its
        # copies' source_entry set to NULL by the delete, original_entry still naming A's entries.
        transfer = _lock(transfer)
        refusal = _state_refusal(transfer)
        copies = [] if refusal else list(copies_of(transfer).select_for_update())
        refusal = refusal or _copies_refusal(transfer, copies, now) or _onward_refusal(transfer, copies)
        if refusal:
            raise ValidationError(refusal, code="undo_refused")
        PassportEntry.objects.filter(pk__in=[entry.pk for entry in copies]).delete()
        transfer.done, transfer.cause = False, Cause.UNDONE
        transfer.undone_at, transfer.undone_by, transfer.undo_reason = now, user, reason
        transfer.save(update_fields=["done", "cause", "undone_at", "undone_by", "undo_reason"])
        # The history's cached monthly counts (done transfers) of both schools, renewed on commit.
        history.invalidate_history_counts(
            [transfer.origin_establishment_id, transfer.destination_establishment_id]
        )
        transaction.on_commit(lambda: notify_undone(transfer.pk), robust=True)
    logger.info("Transfer %s undone: %s entries removed", transfer.pk, len(copies))
    return transfer


def transfer_is_reopenable(transfer: Transfer) -> bool:
    return transfer.undone_at is not None and transfer.reopened_at is None


def transfer_reopen(transfer: Transfer, *, user: User, now: datetime.datetime, reason: str) -> Transfer:
    """Let the job decide an undone pair again: the row stays as history, no longer as the decision."""
    reason = _clean_reason(reason, _("Indiquez le motif de la réouverture."))
    with transaction.atomic():
        transfer = _lock(transfer)
        if not transfer_is_reopenable(transfer):
            raise ValidationError(
                _("Seul un transfert annulé, et pas encore rouvert, peut être rouvert."),
                code="not_reopenable",
            )
        transfer.reopened_at, transfer.reopened_by, transfer.reopen_reason = now, user, reason
        transfer.save(update_fields=["reopened_at", "reopened_by", "reopen_reason"])
    return transfer


# --- e-mails -----------------------------------------------------------------------------------

# Each side's e-mail: the establishment it goes to and its templates. No student name, no INE, and
# the arrival's school is not told where the passport came from (docs/transfers.md, no oracle).
UNDONE_SIDES = {
    history.RECEIVED: "destination_establishment",
    history.SENT: "origin_establishment",
}


def _undone_message(transfer: Transfer, side: str, establishment: Establishment, recipients: list[str]):
    site = site_url()
    assert transfer.undone_at is not None
    context = {
        "establishment": establishment,
        "received": side == history.RECEIVED,
        "decided_on": _paris_day(transfer.created_at),
        "undone_on": _paris_day(transfer.undone_at),
        "reason": transfer.undo_reason,
        "history_url": site + reverse("transfer-history", args=[establishment.uai]),
    }
    subject = render_to_string("transfers/email_undone_subject.txt", context).strip()
    body = render_to_string("transfers/email_undone.txt", context)
    return EmailMessage(" ".join(subject.split()), body, to=recipients)


def notify_undone(transfer_id: int) -> int:
    """Tell both schools' administrators a transfer was undone; the number of e-mails sent.

    After commit; a failure to send is logged, never raised (the undo is committed).
    """
    transfer = Transfer.objects.select_related("origin_establishment", "destination_establishment").get(
        pk=transfer_id
    )
    sides = {side: getattr(transfer, column) for side, column in UNDONE_SIDES.items()}
    recipients = _administrator_emails([e.pk for e in sides.values()])
    sent = 0
    for side, establishment in sides.items():
        if not recipients.get(establishment.pk):
            logger.warning("No administrator with an e-mail address to notify in %s", establishment.uai)
            continue
        try:
            _undone_message(transfer, side, establishment, recipients[establishment.pk]).send()
        except Exception:
            logger.exception("Could not send the transfer-undone e-mail to %s", establishment.uai)
        else:
            sent += 1
    return sent
