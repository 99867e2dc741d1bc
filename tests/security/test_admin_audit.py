"""The Django admin is for technical staff only, and every admin action is recorded: in Django's
admin log, and in the journal of the establishments it concerns."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.urls import reverse

from establishments.models import AuditLogEntry, Role
from transfers.models import ManualAuthorisation, Transfer

from ..factories import StaffFactory, UserFactory
from ..transfers.manual_factories import authorisation, cfa, left_student, passport, refused_for_diploma

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def journal(establishment) -> list[tuple[str, str, str]]:
    return [
        (e.username, e.action, e.changes["objet"])
        for e in AuditLogEntry.objects.filter(establishment=establishment).order_by("id")
    ]


def test_a_school_user_who_is_not_staff_never_reaches_the_admin(client, admin_user):
    client.force_login(admin_user)

    response = client.get(reverse("admin:establishments_establishment_changelist"))

    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_permission_cannot_force_a_transfer(client, establishment, other_establishment):
    row = refused_for_diploma(left_student(other_establishment), left_student(establishment))
    client.force_login(StaffFactory(username="stagiaire", is_superuser=False))

    response = client.post(reverse("admin:transfers_transfer_force", args=[row.pk]))

    assert response.status_code == 403


def test_changing_an_establishment_in_the_admin_is_recorded_in_its_journal(staff_client, establishment):
    url = reverse("admin:establishments_establishment_change", args=[establishment.pk])
    data = {
        "uai": establishment.uai,
        "name": "Nouveau nom",
        "email": establishment.email,
        "uses_siecle": "on",
        "cnil_declaration_number": "",
    }

    response = staff_client.post(url, data)

    assert response.status_code == 302
    assert journal(establishment) == [
        ("support", "Administration technique : établissement modifié", f"établissement n°{establishment.pk}")
    ]
    entry = AuditLogEntry.objects.get()
    assert "Nom" in entry.changes["détail"]
    assert LogEntry.objects.get().action_flag == CHANGE


def test_adding_a_school_user_in_the_admin_is_recorded(staff_client, establishment):
    data = {
        "username": "nouveau-prof",
        "password1": "une-cerise-sur-le-gateau-2026",
        "password2": "une-cerise-sur-le-gateau-2026",
        "usable_password": "true",
        "establishment": establishment.pk,
        "role": Role.TEACHER,
    }

    response = staff_client.post(reverse("admin:establishments_user_add"), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert [a for _u, a, _o in journal(establishment)] == ["Administration technique : utilisateur ajouté"]
    assert LogEntry.objects.get().action_flag == ADDITION


def test_changing_a_users_password_in_the_admin_is_recorded(staff_client, teacher):
    url = reverse("admin:auth_user_password_change", args=[teacher.pk])
    data = {"password1": "une-cerise-sur-le-gateau-2026", "password2": "une-cerise-sur-le-gateau-2026"}

    staff_client.post(url, data)

    assert [a for _u, a, _o in journal(teacher.establishment)] == [
        "Administration technique : utilisateur modifié"
    ]


def test_a_bulk_deletion_in_the_admin_is_recorded_for_each_user(staff_client, establishment):
    users = [UserFactory(establishment=establishment, role=Role.TEACHER) for _ in range(2)]
    data = {"action": "delete_selected", "_selected_action": [u.pk for u in users], "post": "yes"}

    response = staff_client.post(reverse("admin:establishments_user_changelist"), data)

    assert response.status_code == 302
    assert [a for _u, a, _o in journal(establishment)] == [
        "Administration technique : utilisateur supprimé"
    ] * 2
    assert LogEntry.objects.filter(action_flag=DELETION).count() == 2


def test_forcing_a_transfer_is_recorded_for_both_schools(staff_client, establishment, other_establishment):
    for school in (establishment, other_establishment):
        school.transfer_enabled, school.cnil_declaration_number = True, "1929152"
        school.save()
    origin = left_student(other_establishment)
    passport(origin)
    row = refused_for_diploma(origin, left_student(establishment, is_active=True, deactivated_at=None))

    response = staff_client.post(reverse("admin:transfers_transfer_force", args=[row.pk]))

    assert response.status_code == 302
    forced = Transfer.objects.latest("id")  # the row the service wrote
    for school in (establishment, other_establishment):
        assert journal(school) == [
            ("support", "Administration technique : transfert modifié", f"transfert n°{forced.pk}")
        ]
    assert "Transfert forcé." in AuditLogEntry.objects.first().changes["détail"]


def test_cancelling_a_manual_authorisation_is_recorded(staff_client, establishment):
    pending = authorisation(left_student(establishment), destination_uai=cfa().uai)

    staff_client.post(
        reverse("admin:transfers_manualauthorisation_cancel", args=[pending.pk]), {"reason": "Doublon"}
    )

    assert ManualAuthorisation.objects.get().status == ManualAuthorisation.Status.CANCELLED
    assert [(a, AuditLogEntry.objects.get().changes["détail"]) for _u, a, _o in journal(establishment)] == [
        (
            "Administration technique : autorisation de transfert manuel modifié",
            "Autorisation annulée : Doublon",
        )
    ]


def test_running_the_matching_job_from_the_admin_is_recorded_in_the_admin_log(staff_client):
    response = staff_client.post(reverse("admin:transfers_matchingrun_run"))

    assert response.status_code == 302
    entry = LogEntry.objects.get()
    assert (entry.user.username, entry.action_flag) == ("support", ADDITION)
    assert entry.get_change_message() == "Rapprochement lancé depuis l'administration."


def test_the_admin_log_is_shown_read_only_to_staff(staff_client, establishment):
    staff_client.post(reverse("admin:transfers_matchingrun_run"))

    changelist = staff_client.get(reverse("admin:admin_logentry_changelist"))
    change = staff_client.post(reverse("admin:admin_logentry_change", args=[LogEntry.objects.get().pk]), {})

    assert changelist.status_code == 200 and "Rapprochement lancé" in changelist.content.decode()
    assert change.status_code == 403
    assert staff_client.get(reverse("admin:admin_logentry_add")).status_code == 403


def test_the_journal_never_names_the_student(staff_client, establishment):
    pending = authorisation(left_student(establishment, last_name="ZÉBULON"), destination_uai=cfa().uai)

    staff_client.post(
        reverse("admin:transfers_manualauthorisation_cancel", args=[pending.pk]), {"reason": "Doublon"}
    )

    assert "ZÉBULON" not in str(AuditLogEntry.objects.get().changes)
