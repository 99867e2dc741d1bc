"""The home page's services (docs/home.md): each checklist step and each status item, with the
scene that produces it, and the panel's fixed number of queries."""

from __future__ import annotations

import datetime

import pytest

from establishments import dashboard
from establishments.models import Role
from students.models import SiecleImport
from transfers.models import ManualAuthorisation

from ..factories import PassportEntryFactory, SiecleImportFactory, StudentFactory, UserFactory
from ..transfers.factories import RefusedTransferFactory, TransferFactory
from ..transfers.manual_factories import authorisation, left_student

pytestmark = pytest.mark.django_db

PARIS = dashboard.PARIS
# Mid-October: inside the school year.
NOW = datetime.datetime(2026, 10, 15, 10, 0, tzinfo=PARIS)


def steps(establishment, user) -> dict[str, bool]:
    return {step.key: step.done for step in dashboard.checklist(establishment, user)}


def items(establishment, *, now=NOW, role=Role.ADMINISTRATOR) -> dict[str, dashboard.StatusItem]:
    return {item.key: item for item in dashboard.status_panel(establishment, now=now, role=role)}


def applied_import(establishment, applied_at, status=SiecleImport.Status.APPLIED):
    return SiecleImportFactory(
        establishment=establishment, status=status, created_at=applied_at, applied_at=applied_at
    )


# --- the checklist -------------------------------------------------------------------------------


def test_a_new_school_has_every_step_to_do_in_order(establishment, admin_user):
    checklist = dashboard.checklist(establishment, admin_user)

    assert [(step.key, step.done) for step in checklist] == [
        ("details", False),
        ("images", False),
        ("siecle", False),
        ("transfer", False),
        ("users", False),
    ]
    assert [step.url for step in checklist] == [
        f"/etablissements/0750654D/parametres/{tab}/"
        for tab in ("etablissement", "logo", "import-siecle", "transferts", "utilisateurs")
    ]


def test_the_details_step_is_done_once_phone_and_address_are_filled_in(establishment, admin_user):
    establishment.phone, establishment.address, establishment.postal_code = (
        "01 44 32 00 00",
        "23 rue",
        "75005",
    )
    assert steps(establishment, admin_user)["details"] is False

    establishment.city = "Paris"

    assert steps(establishment, admin_user)["details"] is True


def test_the_images_step_needs_both_the_logo_and_the_stamp(establishment, admin_user):
    establishment.logo = "establishments/x/logo.png"
    assert steps(establishment, admin_user)["images"] is False

    establishment.stamp = "establishments/x/stamp.png"

    assert steps(establishment, admin_user)["images"] is True


def test_the_siecle_step_is_done_by_an_applied_import_not_by_a_preview_or_a_refusal(
    establishment, admin_user
):
    SiecleImportFactory(establishment=establishment, status=SiecleImport.Status.PREVIEW)
    SiecleImportFactory(establishment=establishment, status=SiecleImport.Status.REFUSED)
    assert steps(establishment, admin_user)["siecle"] is False

    applied_import(establishment, NOW, status=SiecleImport.Status.UNCHANGED)

    assert steps(establishment, admin_user)["siecle"] is True


def test_a_school_without_siecle_has_no_import_step_nor_import_item(establishment, admin_user):
    establishment.uses_siecle = False

    assert "siecle" not in steps(establishment, admin_user)
    assert "siecle" not in items(establishment)


def test_the_transfer_step_is_done_when_transfer_is_on(establishment, admin_user):
    establishment.transfer_enabled, establishment.cnil_declaration_number = True, "1929152 V0"

    assert steps(establishment, admin_user)["transfer"] is True


def test_the_users_step_needs_another_active_user_of_the_school(
    establishment, other_establishment, admin_user
):
    UserFactory(establishment=other_establishment, role=Role.TEACHER)
    UserFactory(establishment=establishment, role=Role.TEACHER, is_active=False)
    assert steps(establishment, admin_user)["users"] is False

    UserFactory(establishment=establishment, role=Role.TEACHER)

    assert steps(establishment, admin_user)["users"] is True


# --- the status panel ----------------------------------------------------------------------------


def test_the_panel_says_whether_transfer_is_on_with_its_declaration_number(establishment):
    assert items(establishment)["transfer"].value == "désactivé"

    establishment.transfer_enabled, establishment.cnil_declaration_number = True, "1929152 V0"

    assert items(establishment)["transfer"].value == "activé (déclaration CNIL 1929152 V0)"


def test_without_an_import_the_panel_asks_for_one(establishment):
    item = items(establishment)["siecle"]

    assert (item.value, item.warning) == ("aucun", "Importez l'export SIECLE.")


def test_a_recent_import_shows_its_paris_date_without_a_warning(establishment):
    applied_import(establishment, datetime.datetime(2026, 10, 1, 23, 30, tzinfo=datetime.UTC))
    SiecleImportFactory(establishment=establishment, status=SiecleImport.Status.PREVIEW, created_at=NOW)

    item = items(establishment)["siecle"]

    assert (item.value, item.warning) == ("le 02/10/2026", "")


def test_an_import_older_than_30_days_during_the_school_year_is_a_warning(establishment):
    applied_import(establishment, NOW - datetime.timedelta(days=44))

    item = items(establishment)["siecle"]

    assert "Import de plus de 30 jours (44 jours)" in item.warning


def test_an_import_of_exactly_30_days_is_not_yet_a_warning(establishment):
    applied_import(establishment, NOW - datetime.timedelta(days=30))

    assert items(establishment)["siecle"].warning == ""


@pytest.mark.parametrize(
    ("now", "warned"),
    [
        (datetime.datetime(2026, 7, 5, 18, 0, tzinfo=PARIS), True),  # the last day of the year
        (datetime.datetime(2026, 7, 6, 9, 0, tzinfo=PARIS), False),  # the summer holidays
        (datetime.datetime(2026, 8, 31, 23, 0, tzinfo=PARIS), False),
        (datetime.datetime(2026, 9, 1, 0, 30, tzinfo=PARIS), True),  # back to school
    ],
)
def test_outside_the_school_year_an_old_import_is_no_warning(establishment, now, warned):
    applied_import(establishment, datetime.datetime(2026, 5, 1, tzinfo=PARIS))

    assert bool(items(establishment, now=now)["siecle"].warning) is warned


def test_the_panel_counts_active_students_and_those_without_ine(establishment, other_establishment):
    StudentFactory.create_batch(3, establishment=establishment)
    StudentFactory(establishment=establishment, ine="")
    left_student(establishment, ine="")
    StudentFactory(establishment=other_establishment, ine="")

    item = items(establishment)["students"]

    assert item.value == "4 élèves actifs, dont 1 sans INE"
    assert "ne peut pas être transféré" in item.warning


def test_the_panel_counts_passports_received_and_sent_in_the_last_30_days(establishment, other_establishment):
    recent, old = NOW - datetime.timedelta(days=29), NOW - datetime.timedelta(days=31)
    TransferFactory(destination_establishment=establishment, created_at=recent)
    TransferFactory(destination_establishment=establishment, created_at=recent)
    TransferFactory(destination_establishment=establishment, created_at=old)
    RefusedTransferFactory(destination_establishment=establishment, created_at=recent)
    TransferFactory(origin_establishment=establishment, created_at=recent)
    TransferFactory(origin_establishment=other_establishment, created_at=recent)

    panel = items(establishment)

    assert panel["received"].value == "2 passeports reçus"
    assert panel["sent"].value == "1 passeport envoyé"


def test_the_panel_counts_the_manual_authorisations_waiting(establishment, other_establishment):
    authorisation(left_student(establishment))
    authorisation(left_student(establishment), status=ManualAuthorisation.Status.CANCELLED)
    authorisation(left_student(other_establishment))

    assert items(establishment)["manual"].value == "1 autorisation en attente de l'équipe technique"


def test_the_principal_gets_no_link_to_the_administrators_pages(establishment):
    admin, principal = items(establishment), items(establishment, role=Role.PRINCIPAL)

    assert admin["siecle"].url and admin["manual"].url
    assert principal["siecle"].url == principal["manual"].url == ""
    assert principal["received"].url == admin["received"].url != ""


@pytest.mark.parametrize("role", [Role.TEACHER, Role.STUDENT])
def test_teachers_and_students_get_no_status_panel(establishment, role):
    assert dashboard.status_panel(establishment, now=NOW, role=role) == []


@pytest.mark.parametrize("size", [1, 20])
def test_the_panel_takes_a_fixed_number_of_queries(establishment, size, django_assert_max_num_queries):
    for _ in range(size):
        StudentFactory(establishment=establishment, ine="" if size > 1 else "123456789AB")
        TransferFactory(destination_establishment=establishment, created_at=NOW)
        TransferFactory(origin_establishment=establishment, created_at=NOW)
        authorisation(left_student(establishment))
        applied_import(establishment, NOW)

    # 5 + one COUNT for each of transfers.waiting's two items (issue 13, docs/transfers.md §9).
    with django_assert_max_num_queries(7):
        panel = dashboard.status_panel(establishment, now=NOW, role=Role.ADMINISTRATOR)

    assert len(panel) == 8


# --- the roles' sections -------------------------------------------------------------------------


def test_the_teachers_classes_count_active_students(establishment, teacher, other_establishment):
    StudentFactory.create_batch(2, establishment=establishment, class_code="2GA2")
    StudentFactory(establishment=establishment, class_code="1AGORA")
    StudentFactory(establishment=establishment, class_code="")
    left_student(establishment, class_code="TERM")
    StudentFactory(establishment=other_establishment, class_code="VOISINE")

    classes = dashboard.home_sections(establishment, teacher, now=NOW)["classes"]

    assert [(c.class_code, c.students) for c in classes] == [("", 1), ("1AGORA", 1), ("2GA2", 2)]


def test_the_students_passport_says_which_school_produced_its_entries(
    establishment, other_establishment, student_user
):
    student = StudentFactory(establishment=establishment, user=student_user)
    PassportEntryFactory.create_batch(2, student=student)
    for _ in range(3):
        PassportEntryFactory(
            student=student, produced_uai=other_establishment.uai, produced_by=other_establishment.name
        )

    summary = dashboard.home_sections(establishment, student_user, now=NOW)["passport"]

    assert summary.student == student and summary.entries == 5
    assert [(o.own, o.name, o.entries) for o in summary.origins] == [
        (True, establishment.name, 2),
        (False, other_establishment.name, 3),
    ]


def test_a_student_account_without_a_record_has_no_passport(establishment, student_user):
    summary = dashboard.home_sections(establishment, student_user, now=NOW)["passport"]

    assert (summary.student, summary.origins) == (None, [])
