"""The ``demo`` command: the quick start's schools, users, imports and one transfer."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from establishments.models import Establishment, Role, User
from students.models import Student
from transfers.models import Transfer


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_demo_creates_the_demo_establishment_and_prints_the_logins(db, client):
    output = run("demo")

    establishment = Establishment.objects.get(uai="0750654D")
    roles = dict(establishment.users.values_list("username", "role"))
    assert roles == {
        "lp-henri4-admin": Role.ADMINISTRATOR,
        "lp-henri4-chef": Role.PRINCIPAL,
        "lp-henri4-prof": Role.TEACHER,
        "lp-henri4-eleve": Role.STUDENT,
    }
    assert "cerise-demo-2026" in output
    assert "lp-henri4-chef" in output and "lp-renoir-chef" in output
    # Through the login form: django-axes checks every authentication against its request.
    response = client.post(reverse("login"), {"username": "lp-henri4-prof", "password": "cerise-demo-2026"})
    assert response.status_code == 302 and "_auth_user_id" in client.session


def test_demo_shows_a_student_whose_passport_moved_to_another_school(db):
    run("demo")

    row = Transfer.objects.get()
    assert (row.origin_establishment.uai, row.destination_establishment.uai, row.done) == (
        "0750654D",
        "0920131T",
        True,
    )
    assert row.entries_copied == 3
    assert Student.objects.get(user__username="lp-henri4-eleve").passport_entries.count() == 3


def test_demo_run_twice_duplicates_nothing(db):
    first = run("demo")
    User.objects.filter(username="lp-henri4-prof").update(first_name="Changé")

    second = run("demo")

    assert second == first
    assert Establishment.objects.count() == 2
    assert User.objects.count() == 9
    assert Transfer.objects.count() == 1
    assert User.objects.get(username="lp-henri4-prof").first_name == "Changé"


def test_every_demo_administrator_has_an_e_mail_address(db):
    run("demo")

    administrators = User.objects.filter(role=Role.ADMINISTRATOR)
    assert sorted(administrators.values_list("email", flat=True)) == [
        "lp-henri4-admin@example.org",
        "lp-renoir-admin@example.org",
    ]


def test_the_transfer_e_mails_of_the_demo_reach_both_administrators(
    db, celery_conf, django_capture_on_commit_callbacks
):
    celery_conf(task_always_eager=True)  # the e-mails' task runs in the worker of `make run`
    with django_capture_on_commit_callbacks(execute=True):
        run("demo")

    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == ["lp-henri4-admin@example.org", "lp-renoir-admin@example.org"]


@pytest.mark.parametrize(
    ("username", "uai", "entries"),
    [("lp-henri4-eleve", "0750654D", 3), ("lp-renoir-eleve", "0920131T", 3)],
)
def test_each_school_has_a_student_login_linked_to_their_record(db, client, username, uai, entries):
    output = run("demo")

    student = Student.objects.get(user__username=username)
    assert student.establishment.uai == uai and student.is_active
    assert student.passport_entries.count() == entries
    assert username in output
    response = client.post(reverse("login"), {"username": username, "password": "cerise-demo-2026"})
    assert response.status_code == 302 and "_auth_user_id" in client.session


def test_the_arrived_students_home_page_says_their_entries_came_from_henri_iv(db, client):
    run("demo")
    client.force_login(User.objects.get(username="lp-renoir-eleve"))

    content = client.get(reverse("establishment-home", args=["0920131T"])).content.decode()

    assert "3 produites par Lycée professionnel Henri-IV (démo) (0750654D)" in content


def test_the_demo_prints_a_technical_staff_login(db):
    output = run("demo")

    staff = User.objects.get(username="cerise-support")
    assert staff.is_staff and staff.is_active and staff.establishment is None
    assert staff.check_password("cerise-demo-2026")
    assert "Technical staff (/admin/)" in output and "cerise-support" in output
