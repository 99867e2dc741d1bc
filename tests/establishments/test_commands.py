"""Operator command ``create_establishment`` (the ``demo`` command: tests/demo/test_demo.py)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import reverse

from establishments.models import Establishment, Role, User

from ..factories import EstablishmentFactory

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STRONG_PASSWORD = "une-cerise-rouge-2026"


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_registers_an_establishment_with_a_normalised_uai(db):
    output = run("create_establishment", " 0920131t ", "Lycée Auguste-Renoir", "--email", "ce@renoir.fr")

    establishment = Establishment.objects.get()
    assert (establishment.uai, establishment.name, establishment.email) == (
        "0920131T",
        "Lycée Auguste-Renoir",
        "ce@renoir.fr",
    )
    assert not establishment.transfer_enabled
    assert output == "Created establishment 0920131T (Lycée Auguste-Renoir)\n"


def test_it_creates_an_administrator_who_can_log_in(db, client):
    output = run(
        "create_establishment",
        "0752387M",
        "Lycée Test",
        "--email",
        "ce@test.fr",
        "--admin-username",
        "admin-0752387m",
        "--admin-password",
        STRONG_PASSWORD,
    )

    user = User.objects.get(username="admin-0752387m")
    assert "Created administrator admin-0752387m" in output
    assert (user.establishment.uai, user.role) == ("0752387M", Role.ADMINISTRATOR)
    assert (
        authenticate(RequestFactory().post("/"), username="admin-0752387m", password=STRONG_PASSWORD) == user
    )
    client.post(reverse("login"), {"username": "admin-0752387m", "password": STRONG_PASSWORD})
    assert client.get(reverse("settings-details", kwargs={"uai": "0752387M"})).status_code == 200


def test_an_administrator_without_password_cannot_log_in_until_one_is_set(db):
    run("create_establishment", "0752387M", "Lycée Test", "--email", "ce@test.fr", "--admin-username", "adm")

    assert not User.objects.get(username="adm").has_usable_password()


@pytest.mark.parametrize(
    "args,message",
    [
        (["0750001A", "Lycée", "--email", "a@b.fr"], "uai: 0750001A has a wrong check letter (expected U)"),
        (
            ["075065", "Lycée", "--email", "a@b.fr"],
            "uai: must be 7 digits followed by a letter, e.g. 0750654D",
        ),
        (["0750654D", "Lycée", "--email", "pas-un-email"], "email: is invalid"),
        (["0750654D", " ", "--email", "a@b.fr"], "name: is required"),
        (
            ["0750654D", "Lycée", "--email", "a@b.fr", "--admin-username", "a", "--admin-password", "x"],
            "password: This password is too short. It must contain at least 12 characters; "
            "password: This password is too common",
        ),
        (
            ["0750654D", "Lycée", "--email", "a@b.fr", "--admin-password", "x"],
            "--admin-password needs --admin-username",
        ),
    ],
)
def test_it_refuses_bad_input_with_a_one_line_english_error_and_creates_nothing(args, message, db):
    with pytest.raises(CommandError) as caught:
        run("create_establishment", *args)

    assert str(caught.value) == message
    assert not Establishment.objects.exists()
    assert not User.objects.exists()


def test_it_refuses_a_uai_that_is_already_registered(db):
    EstablishmentFactory(uai="0750654D", name="Henri-IV")

    with pytest.raises(CommandError, match=r"^uai: already exists$"):
        run("create_establishment", "0750654d", "Doublon", "--email", "a@b.fr")

    assert Establishment.objects.get().name == "Henri-IV"


def test_a_taken_admin_username_leaves_no_half_registered_establishment(db, admin_user):
    with pytest.raises(CommandError, match=r"^username: already exists$"):
        run(
            "create_establishment",
            "0920131T",
            "Renoir",
            "--email",
            "a@b.fr",
            "--admin-username",
            admin_user.username,
            "--admin-password",
            STRONG_PASSWORD,
        )

    assert not Establishment.objects.filter(uai="0920131T").exists()


def test_the_command_line_exits_non_zero_with_one_english_line_on_stderr(tmp_path):
    env = os.environ | {
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "cerisepro.settings",
        "LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=PROJECT_ROOT, env=env, check=True, timeout=60)

    result = subprocess.run(
        [*manage, "create_establishment", "0750001A", "Lycée", "--email", "a@b.fr"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr == "CommandError: uai: 0750001A has a wrong check letter (expected U)\n"
