"""Staff decisions on a pair the job decided: force a change of diploma, release or refuse a held pair.

docs/transfers.md §4. Both act on a history row the job wrote (``Transfer``), from the Django
admin, and copy the passport with :func:`transfers.copy.copy_passports`; neither has a school page.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from establishments.models import User
from students.models import Student

from .copy import copy_passports
from .models import Cause, Kind, Transfer
from .rules import refuse_left_destination
from .run import notify_done

# --- forced transfers --------------------------------------------------------------------------


def transfer_is_forceable(transfer: Transfer) -> bool:
    return not transfer.done and transfer.cause == Cause.DIPLOMA_CHANGE


def transfer_force(transfer: Transfer, *, user: User, now: datetime) -> Transfer:
    """Transfer a pair the job refused for a change of diploma; the cause stays for traceability."""
    with transaction.atomic():
        transfer = Transfer.objects.select_for_update().get(pk=transfer.pk)
        if transfer.done:
            raise ValidationError(_("Ce transfert a déjà été effectué."), code="done")
        if transfer.cause != Cause.DIPLOMA_CHANGE:
            raise ValidationError(
                _(
                    "Seul un transfert refusé pour changement de diplôme peut être forcé "
                    "(celui-ci a été refusé pour : %(cause)s)."
                ),
                code="not_forceable",
                params={"cause": transfer.get_cause_display().lower()},
            )
        refuse_left_destination(_present_destination(transfer))
        transfer.done, transfer.kind, transfer.user = True, Kind.FORCED, user
        transfer.save(update_fields=["done", "kind", "user"])
        copy_passports([transfer], now=now)
    return transfer


# --- pairs held for review -----------------------------------------------------------------------


def transfer_is_held(transfer: Transfer) -> bool:
    return not transfer.done and transfer.cause == Cause.HELD


def transfer_release(transfer: Transfer, *, user: User, now: datetime, note: str = "") -> Transfer:
    """Staff checked a held pair and release it: the passport is copied, the review recorded."""
    with transaction.atomic():
        transfer = _lock_held(transfer)
        refuse_left_destination(_present_destination(transfer))
        transfer.done, transfer.cause = True, ""
        _record_review(transfer, user=user, now=now, note=note)
        copy_passports([transfer], now=now)
        transaction.on_commit(lambda: notify_done([transfer.pk]), robust=True)
    return transfer


def transfer_refuse_held(transfer: Transfer, *, user: User, now: datetime, note: str = "") -> Transfer:
    """Staff checked a held pair and refuse it: nothing is copied, the review is recorded."""
    with transaction.atomic():
        transfer = _lock_held(transfer)
        transfer.cause = Cause.REFUSED_AFTER_REVIEW
        _record_review(transfer, user=user, now=now, note=note)
    return transfer


def _lock_held(transfer: Transfer) -> Transfer:
    transfer = (
        Transfer.objects.select_for_update(of=("self",))
        .select_related("destination_student")
        .get(pk=transfer.pk)
    )
    if not transfer_is_held(transfer):
        raise ValidationError(_("Ce transfert n'est plus en attente de vérification."), code="not_held")
    _present_destination(transfer)
    return transfer


def _record_review(transfer: Transfer, *, user: User, now: datetime, note: str) -> None:
    transfer.reviewed_by, transfer.reviewed_at, transfer.review_note = user, now, note.strip()
    transfer.save(update_fields=["done", "cause", "reviewed_by", "reviewed_at", "review_note"])


def _present_destination(transfer: Transfer) -> Student:
    """The pair's destination student; refused when either student of the pair was deleted since."""
    destination = transfer.destination_student
    if transfer.origin_student_id is None or destination is None:
        raise ValidationError(
            _("L'un des deux élèves n'existe plus : le passeport ne peut pas être copié."),
            code="student_gone",
        )
    return destination
