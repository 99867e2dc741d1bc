"""The ``demo`` command: the quick start's schools, users, imports and one transfer."""

from __future__ import annotations

import io

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
    assert User.objects.count() == 7
    assert Transfer.objects.count() == 1
    assert User.objects.get(username="lp-henri4-prof").first_name == "Changé"
