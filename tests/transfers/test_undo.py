"""Undoing a transfer (docs/transfers.md "Undoing a transfer"): the service, the job afterwards, e-mails."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from establishments.models import Role
from students.models import PassportEntry
from tests.factories import (
    EstablishmentFactory,
    PassportEntryFactory,
    SiecleImportFactory,
    StudentFactory,
    UserFactory,
)
from transfers import history, undo
from transfers.models import Cause, Transfer
from transfers.plan import plan_matching
from transfers.run import run_matching

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")  # the dates both schools read (transfers.history)

INE = "070832327JA"
DAY = datetime.timedelta(days=1)
REASON = "Erreur de saisie de l'INE dans le fichier SIECLE du nouvel établissement"


def school(uai: str):
    establishment = EstablishmentFactory(uai=uai, transfer_enabled=True, cnil_declaration_number="1929152 V0")
    UserFactory(establishment=establishment, role=Role.ADMINISTRATOR, email=f"admin.{uai}@example.org")
    return establishment


def left(establishment, at: datetime.datetime, *, created: datetime.datetime):
    record = SiecleImportFactory(establishment=establishment, status="applique", created_at=at)
    return StudentFactory(
        establishment=establishment,
        ine=INE,
        last_name="MARTIN",
        is_active=False,
        deactivated_at=at,
        deactivated_by_import=record,
        created_at=created,
    )


def arrived(establishment, at: datetime.datetime):
    return StudentFactory(
        establishment=establishment, ine=INE, last_name="MARTIN", origin="siecle", created_at=at
    )


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def staff(staff_user):
    return staff_user


@pytest.fixture
def scene(now, django_capture_on_commit_callbacks):
    """A → B done by the job ``now``: 3 entries copied into B, which also has one entry of its own."""
    a, b = school("0750654D"), school("0920131T")
    origin = left(a, now - 3 * DAY, created=now - 700 * DAY)
    for kind in ("fiche", "evaluation", "bilan"):
        PassportEntryFactory(student=origin, kind=kind, created_at=now - 100 * DAY, updated_at=now - 90 * DAY)
    destination = arrived(b, now - 2 * DAY)
    PassportEntryFactory(student=destination, title="Écrite à B", created_at=now - DAY, updated_at=now - DAY)
    with django_capture_on_commit_callbacks(execute=True):
        run_matching(now=now)
    mail.outbox.clear()
    transfer = Transfer.objects.get()
    assert transfer.done and transfer.entries_copied == 3
    return transfer


def copies(transfer: Transfer):
    return PassportEntry.objects.filter(student=transfer.destination_student, source_entry__isnull=False)


def test_an_undo_removes_the_copies_and_nothing_else(scene, staff, now):
    transfer = undo.transfer_undo(scene, user=staff, now=now + DAY, reason=f"  {REASON} ")

    transfer.refresh_from_db()
    assert not copies(transfer).exists()
    assert list(transfer.destination_student.passport_entries.values_list("title", flat=True)) == [
        "Écrite à B"
    ]
    assert transfer.origin_student.passport_entries.count() == 3
    assert (transfer.done, transfer.cause) == (False, Cause.UNDONE)
    assert (transfer.undone_at, transfer.undone_by, transfer.undo_reason) == (now + DAY, staff, REASON)
    assert transfer.entries_copied == 3  # what was copied, then removed


def test_an_entry_edited_since_the_copy_refuses_the_undo(scene, staff, now):
    copies(scene).filter(kind="bilan").update(updated_at=now + DAY)

    with pytest.raises(ValidationError) as refused:
        undo.transfer_undo(scene, user=staff, now=now + 2 * DAY, reason=REASON)

    assert refused.value.messages == [
        "1 entrée copiée a été modifiée depuis la copie : le transfert ne peut pas être annulé."
    ]
    scene.refresh_from_db()
    assert scene.done and scene.undone_at is None
    assert copies(scene).count() == 3


def test_the_period_after_the_copy_bounds_the_undo(scene, staff, now, settings):
    with pytest.raises(ValidationError) as refused:
        undo.transfer_undo(
            scene, user=staff, now=now + 30 * DAY + datetime.timedelta(seconds=1), reason=REASON
        )

    deadline = timezone.localtime(now + 30 * DAY, PARIS).strftime("%d/%m/%Y")
    assert refused.value.messages == [
        "Le délai d'annulation est dépassé : un transfert peut être annulé pendant 30 jours après la copie "
        f"du passeport, soit jusqu'au {deadline}."
    ]
    assert copies(scene).count() == 3
    settings.TRANSFER_UNDO_DAYS = 60
    undo.transfer_undo(scene, user=staff, now=now + 31 * DAY, reason=REASON)
    assert not copies(scene).exists()


def test_the_last_moment_of_the_period_still_undoes(scene, staff, now):
    undo.transfer_undo(scene, user=staff, now=now + 30 * DAY, reason=REASON)

    assert not copies(scene).exists()


def test_a_reason_is_required(scene, staff, now):
    with pytest.raises(ValidationError) as refused:
        undo.transfer_undo(scene, user=staff, now=now + DAY, reason="   ")

    assert refused.value.messages == ["Indiquez le motif de l'annulation."]
    scene.refresh_from_db()
    assert scene.done and copies(scene).count() == 3


def test_a_transfer_is_undone_once(scene, staff, now):
    undo.transfer_undo(scene, user=staff, now=now + DAY, reason=REASON)

    with pytest.raises(ValidationError) as refused:
        undo.transfer_undo(scene, user=staff, now=now + 2 * DAY, reason="encore")

    day = timezone.localtime(now + DAY, PARIS).strftime("%d/%m/%Y")
    assert refused.value.messages == [f"Ce transfert a déjà été annulé le {day}."]
    scene.refresh_from_db()
    assert scene.undo_reason == REASON


def test_a_pair_that_was_not_transferred_cannot_be_undone(staff, now):
    a, b = school("0750654D"), school("0920131T")
    origin = left(a, now - 3 * DAY, created=now - 700 * DAY)
    refused = Transfer.for_pair(
        origin, arrived(b, now - DAY), now=now, kind="automatique", cause=Cause.DIPLOMA_CHANGE
    )
    refused.save()

    with pytest.raises(ValidationError) as error:
        undo.transfer_undo(refused, user=staff, now=now, reason=REASON)

    assert error.value.messages == ["Seul un transfert effectué peut être annulé (celui-ci n'a rien copié)."]


@pytest.fixture
def onward(scene, now, django_capture_on_commit_callbacks):
    """A → B → C: the student leaves B a week later, C's import creates them, the job copies B's passport."""
    b_record = scene.destination_student
    b_record.is_active = False
    b_record.deactivated_at = now + 7 * DAY
    b_record.deactivated_by_import = SiecleImportFactory(
        establishment=b_record.establishment, status="applique"
    )
    b_record.save()
    arrived(school("0752387M"), now + 8 * DAY)
    with django_capture_on_commit_callbacks(execute=True):
        run_matching(now=now + 9 * DAY)
    mail.outbox.clear()
    return Transfer.objects.get(origin_student=b_record)


def test_a_passport_copied_onward_refuses_the_undo_until_the_next_one_is_undone(scene, onward, staff, now):
    assert onward.done and onward.entries_copied == 4  # B's own entry and the three copies from A

    with pytest.raises(ValidationError) as refused:
        undo.transfer_undo(scene, user=staff, now=now + 10 * DAY, reason=REASON)

    assert refused.value.messages == [
        "Le passeport a depuis été transmis à un autre établissement : annulez d'abord le transfert suivant, "
        f"puis celui-ci. (transfert suivant : n° {onward.pk})"
    ]
    assert copies(scene).count() == 3
    undo.transfer_undo(onward, user=staff, now=now + 10 * DAY, reason=REASON)
    undo.transfer_undo(scene, user=staff, now=now + 10 * DAY, reason=REASON)
    assert not copies(scene).exists() and not copies(onward).exists()


def test_the_job_does_not_decide_an_undone_pair_until_staff_reopen_it(scene, staff, now):
    undo.transfer_undo(scene, user=staff, now=now + DAY, reason=REASON)

    run = run_matching(now=now + 2 * DAY)

    assert run.pairs_decided == 0 and plan_matching(now + 2 * DAY) == []
    assert Transfer.objects.count() == 1 and not copies(scene).exists()

    undo.transfer_reopen(scene, user=staff, now=now + 3 * DAY, reason="INE corrigé")
    run = run_matching(now=now + 4 * DAY)

    assert (run.pairs_decided, run.transfers_done, run.entries_copied) == (1, 1, 3)
    assert copies(scene).count() == 3
    old, new = Transfer.objects.order_by("id")
    assert (old.cause, old.reopened_by, old.reopen_reason) == (Cause.UNDONE, staff, "INE corrigé")
    assert (new.done, new.origin_student, new.destination_student) == (
        True,
        scene.origin_student,
        scene.destination_student,
    )
    assert run_matching(now=now + 5 * DAY).pairs_decided == 0  # the new row decides the pair again


def test_only_an_undone_pair_is_reopened_and_only_once(scene, staff, now):
    with pytest.raises(ValidationError):
        undo.transfer_reopen(scene, user=staff, now=now, reason="trop tôt")
    undo.transfer_undo(scene, user=staff, now=now + DAY, reason=REASON)
    with pytest.raises(ValidationError) as missing:
        undo.transfer_reopen(scene, user=staff, now=now + DAY, reason="")
    undo.transfer_reopen(scene, user=staff, now=now + DAY, reason="INE corrigé")

    with pytest.raises(ValidationError) as twice:
        undo.transfer_reopen(scene, user=staff, now=now + 2 * DAY, reason="encore")

    assert missing.value.messages == ["Indiquez le motif de la réouverture."]
    assert twice.value.messages == ["Seul un transfert annulé, et pas encore rouvert, peut être rouvert."]


def test_both_schools_administrators_are_told_after_commit(
    scene, staff, now, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        undo.transfer_undo(scene, user=staff, now=now + DAY, reason=REASON)
    assert mail.outbox == []  # nothing before the commit

    for callback in callbacks:
        callback()

    by_recipient = {message.to[0]: message for message in mail.outbox}
    assert set(by_recipient) == {"admin.0750654D@example.org", "admin.0920131T@example.org"}
    for message in mail.outbox:
        assert message.subject == "cerisepro : un transfert de passeport professionnel a été annulé"
        assert f"Motif : {REASON}" in message.body
        assert "MARTIN" not in message.subject + message.body and INE not in message.body
    received = by_recipient["admin.0920131T@example.org"].body
    assert "arrivé dans votre établissement" in received and "« Élèves reçus »" in received
    assert "0750654D" not in received  # the arrival's school is not told where it came from
    assert "parti de votre établissement" in by_recipient["admin.0750654D@example.org"].body


def test_the_history_counts_forget_an_undone_transfer(scene, staff, now, django_capture_on_commit_callbacks):
    destination = scene.destination_establishment
    assert history.monthly_counts(destination, now=now)[-1].received == 1  # read, and cached

    with django_capture_on_commit_callbacks(execute=True):
        undo.transfer_undo(scene, user=staff, now=now + DAY, reason=REASON)

    assert history.monthly_counts(destination, now=now)[-1].received == 0
    assert history.monthly_counts(scene.origin_establishment, now=now)[-1].sent == 0


def test_once_the_mistyped_ine_is_fixed_the_real_origin_is_transferred(scene, staff, now):
    """A mistyped INE pulled A's passport into B; the real origin C left earlier under the right INE."""
    destination = scene.destination_student
    real = left(school("0752387M"), now - 20 * DAY, created=now - 700 * DAY)
    real.ine = "123456789AB"
    real.save()
    PassportEntryFactory(
        student=real, title="Du vrai lycée", created_at=now - 50 * DAY, updated_at=now - 50 * DAY
    )
    undo.transfer_undo(scene, user=staff, now=now + DAY, reason=REASON)
    destination.ine = real.ine  # the school fixed the INE in SIECLE and re-imported it
    destination.save()

    run = run_matching(now=now + 2 * DAY)

    assert (run.pairs_decided, run.transfers_done) == (1, 1)
    assert list(copies(Transfer.objects.get(origin_student=real)).values_list("title", flat=True)) == [
        "Du vrai lycée"
    ]
    assert Transfer.objects.get(pk=scene.pk).cause == Cause.UNDONE  # A → B stays undone, not re-decided


def test_under_the_same_ine_an_undone_transfer_still_keeps_older_origins_out(scene, staff, now):
    """A forged arrival: once the latest school's passport is undone, the older one must not follow."""
    older = left(school("0752387M"), now - 40 * DAY, created=now - 900 * DAY)
    PassportEntryFactory(student=older, created_at=now - 300 * DAY, updated_at=now - 300 * DAY)
    undo.transfer_undo(scene, user=staff, now=now + DAY, reason=REASON)

    run = run_matching(now=now + 2 * DAY)

    assert (run.pairs_decided, run.transfers_done) == (1, 0)
    assert Transfer.objects.get(origin_student=older).cause == Cause.MORE_RECENT_ORIGIN
    assert not copies(scene).exists()
