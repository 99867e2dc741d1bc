"""A forged arrival must not pull another school's records (docs/transfers.md §4, SECURITY.md).

Reproduced by the review: an administrator uploaded a file with their own UAJ and one invented
arrival (INE, last name, birth date of a child who had just left another school); the run copied
that school's confidential bilan, and a wrong name produced a row naming the school the INE left.
Defence in depth: no oracle, consistency evidence holding pairs for review, a volume guard, and
the origin school told (e-mail, "signaler une erreur").
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.urls import reverse

from establishments.models import AuditLogEntry, Role
from students.models import PassportEntry
from transfers.diagnostic import planned_pairs_for_ine
from transfers.history import csv_rows, transfers_received
from transfers.models import Transfer, TransferReport
from transfers.review import transfer_refuse_held, transfer_release
from transfers.run import run_matching

from ..factories import EstablishmentFactory, PassportEntryFactory, StaffFactory, UserFactory
from .test_matching import INE, left

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 1, 10, 0, tzinfo=PARIS)
LEFT_AT, ARRIVED_AT = datetime(2026, 9, 5, tzinfo=PARIS), datetime(2026, 9, 8, tzinfo=PARIS)
COLLEGE = "0752387M"  # where the child was last year, before the origin


@pytest.fixture
def origin_school(db):
    school = EstablishmentFactory(
        uai="0750654D", name="LP Henri-IV", transfer_enabled=True, cnil_declaration_number="1929152"
    )
    UserFactory(
        establishment=school, role=Role.ADMINISTRATOR, email="admin@henri4.example.org", username="h4"
    )
    return school


@pytest.fixture
def arrival_school(db):
    school = EstablishmentFactory(
        uai="0920131T", name="LP Renoir", transfer_enabled=True, cnil_declaration_number="2003574"
    )
    UserFactory(
        establishment=school, role=Role.ADMINISTRATOR, email="admin@renoir.example.org", username="rn"
    )
    return school


@pytest.fixture
def departure(origin_school):
    """A child who left the origin, with a confidential bilan; last year they were at a collège."""
    student = left(
        origin_school, LEFT_AT, first_name="Inès", previous_uai=COLLEGE, entered_on=date(2025, 9, 1)
    )
    PassportEntryFactory(
        student=student, kind="bilan", title="Bilan confidentiel", produced_uai=origin_school.uai
    )
    return student


def arrival(school, **fields):
    from ..factories import StudentFactory

    values = {
        "ine": INE,
        "last_name": "MARTIN",
        "first_name": "Inès",
        "birth_date": date(2008, 5, 17),
        "origin": "siecle",
        "created_at": ARRIVED_AT,
        "entered_on": date(2026, 9, 8),
        **fields,
    }
    return StudentFactory(establishment=school, **values)


# --- consistency evidence -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "previous", ["0750654D", COLLEGE, ""], ids=["the-origin", "the-origin-previous", "none"]
)
def test_an_arrival_whose_previous_school_agrees_is_transferred(departure, arrival_school, previous):
    arrival(arrival_school, previous_uai=previous)

    run_matching(NOW)

    row = Transfer.objects.get()
    assert (row.done, row.cause, row.hold_reason) == (True, "", "")


def test_an_arrival_naming_another_previous_school_is_held_not_copied(departure, arrival_school):
    destination = arrival(arrival_school, previous_uai="0750655E")
    mail.outbox.clear()

    run_matching(NOW)

    row = Transfer.objects.get()
    assert (row.done, row.cause, row.hold_reason) == (False, "en_revue", "etab_precedent")
    assert not destination.passport_entries.exists()
    assert mail.outbox == []
    (planned,) = planned_pairs_for_ine(INE, now=NOW) or [None]
    assert planned is None, "a held pair is decided: the next run does not take it again"


def test_an_arrival_entered_before_the_origin_enrolment_is_held(departure, arrival_school):
    arrival(arrival_school, entered_on=date(2025, 1, 5))

    run_matching(NOW)

    assert Transfer.objects.get().hold_reason == "date_entree"


def test_staff_release_a_held_pair_and_both_schools_are_told(
    departure, arrival_school, django_capture_on_commit_callbacks, celery_conf
):
    celery_conf(task_always_eager=True)  # the e-mails' own task (tests/transfers/test_emails.py)
    destination = arrival(arrival_school, previous_uai="0750655E")
    run_matching(NOW)
    held = Transfer.objects.get()
    staff = StaffFactory()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        transfer_release(held, user=staff, now=NOW, note="Vérifié par téléphone avec les deux établissements")

    held.refresh_from_db()
    assert (held.done, held.cause, held.reviewed_by, held.reviewed_at) == (True, "", staff, NOW)
    assert destination.passport_entries.filter(title="Bilan confidentiel").exists()
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@henri4.example.org", "admin@renoir.example.org"]


def test_staff_refuse_a_held_pair_and_nothing_is_copied(departure, arrival_school):
    destination = arrival(arrival_school, previous_uai="0750655E")
    run_matching(NOW)

    refused = transfer_refuse_held(
        Transfer.objects.get(), user=StaffFactory(), now=NOW, note="Arrivée inventée"
    )

    assert (refused.done, refused.cause) == (False, "refuse_revue")
    assert not destination.passport_entries.exists()
    run_matching(NOW)
    assert Transfer.objects.count() == 1, "a refused pair is not decided again"


def test_the_admin_review_page_releases_a_held_pair(departure, arrival_school, client):
    arrival(arrival_school, previous_uai="0750655E")
    run_matching(NOW)
    held = Transfer.objects.get()
    client.force_login(StaffFactory())
    url = reverse("admin:transfers_transfer_review", args=[held.pk])

    page = client.get(url)
    assert "L&#x27;établissement précédent déclaré par le nouvel établissement" in page.content.decode()
    client.post(url, {"decision": "liberer", "note": "ok"})

    held.refresh_from_db()
    assert held.done and PassportEntry.objects.filter(source_entry__isnull=False).count() == 1


# --- the volume guard ---------------------------------------------------------------------------


def test_one_import_pulling_more_passports_than_the_limit_is_held(origin_school, arrival_school, settings):
    from ..factories import SiecleImportFactory

    settings.TRANSFER_HOLD_ABOVE = 2
    forged = SiecleImportFactory(establishment=arrival_school, status="applique", created_at=ARRIVED_AT)
    for number in range(3):
        ine = f"07083232{number}JA"
        left(origin_school, LEFT_AT, ine=ine, first_name="Inès")
        arrival(arrival_school, ine=ine, created_by_import=forged)

    run = run_matching(NOW)

    assert set(Transfer.objects.values_list("cause", "hold_reason")) == {("en_revue", "volume")}
    assert run.transfers_done == 0 and not PassportEntry.objects.filter(source_entry__isnull=False).exists()


def test_an_import_within_the_limit_is_transferred(origin_school, arrival_school, settings):
    from ..factories import SiecleImportFactory

    settings.TRANSFER_HOLD_ABOVE = 2
    usual = SiecleImportFactory(establishment=arrival_school, status="applique", created_at=ARRIVED_AT)
    for number in range(2):
        ine = f"07083232{number}JA"
        left(origin_school, LEFT_AT, ine=ine, first_name="Inès")
        arrival(arrival_school, ine=ine, created_by_import=usual)

    assert run_matching(NOW).transfers_done == 2


# --- no oracle ------------------------------------------------------------------------------------


def test_a_refused_arrival_never_tells_where_the_ine_was_found(
    departure, arrival_school, origin_school, client_for
):
    arrival(arrival_school, last_name="DUPONT")  # a guessed name: identity differs
    run_matching(NOW)
    assert Transfer.objects.get().cause == "identite_differente"
    arrival_admin = arrival_school.users.get()

    page = (
        client_for(arrival_admin).get(reverse("transfer-history", args=[arrival_school.uai])).content.decode()
    )
    export = "\n".join(";".join(row) for row in csv_rows(transfers_received(arrival_school), "received"))

    for text in (page, export):
        assert origin_school.uai not in text and origin_school.name not in text
    assert "Non communiqué" in page and "non communiqué" in export
    origin_page = client_for(origin_school.users.get()).get(
        reverse("transfer-history", args=[origin_school.uai])
    )
    assert arrival_school.uai in origin_page.content.decode(), "the origin sees its own student's row in full"


def test_a_held_arrival_does_not_name_the_origin_either(departure, arrival_school, origin_school, client_for):
    arrival(arrival_school, previous_uai="0750655E")
    run_matching(NOW)

    page = client_for(arrival_school.users.get()).get(reverse("transfer-history", args=[arrival_school.uai]))

    html = page.content.decode()
    assert "En attente de vérification par l&#x27;assistance technique" in html
    assert origin_school.uai not in html


# --- the origin knows -----------------------------------------------------------------------------


def test_the_origin_school_is_emailed_a_count_for_passports_sent(
    departure, arrival_school, django_capture_on_commit_callbacks, celery_conf
):
    celery_conf(task_always_eager=True)  # the e-mails' own task (tests/transfers/test_emails.py)
    arrival(arrival_school)

    with django_capture_on_commit_callbacks(execute=True):
        run_matching(NOW)

    (sent,) = [m for m in mail.outbox if m.to == ["admin@henri4.example.org"]]
    assert "1 passeport professionnel transmis" in sent.subject
    assert "Signaler une erreur" in sent.body and "/etablissements/0750654D/transferts/" in sent.body
    assert "MARTIN" not in sent.body and INE not in sent.body


def test_the_origin_reports_an_error_on_a_sent_row_and_staff_are_alerted(
    departure, arrival_school, origin_school, client_for, django_capture_on_commit_callbacks
):
    arrival(arrival_school)
    run_matching(NOW)
    row = Transfer.objects.get()
    StaffFactory(email="support@example.org")
    client = client_for(origin_school.users.get())
    history = client.get(reverse("transfer-history", args=[origin_school.uai])).content.decode()
    url = reverse("transfer-report", args=[origin_school.uai, row.public_id])
    assert url in history
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"message": "Cette élève n'est jamais partie."})

    assert response.status_code == 302
    report = TransferReport.objects.get()
    assert (report.transfer, report.establishment, report.message) == (
        row,
        origin_school,
        "Cette élève n'est jamais partie.",
    )
    assert AuditLogEntry.objects.filter(
        establishment=origin_school, action__startswith="Signalement"
    ).exists()
    (alert,) = mail.outbox
    assert alert.to == ["support@example.org"] and "MARTIN" not in alert.body


def test_only_the_origin_can_report_a_transfer(departure, arrival_school, client_for):
    arrival(arrival_school)
    run_matching(NOW)
    row = Transfer.objects.get()
    arrival_admin = arrival_school.users.get()

    response = client_for(arrival_admin).post(
        reverse("transfer-report", args=[arrival_school.uai, row.public_id]), {"message": "x"}
    )

    assert response.status_code == 404 and not TransferReport.objects.exists()
