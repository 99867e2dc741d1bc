"""Sessions: an idle session ends; sensitive actions need the password typed again."""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.sessions import AUTHENTICATED_AT, LAST_ACTIVITY
from transfers.models import ManualAuthorisation

from ..factories import PASSWORD
from ..transfers.manual_factories import CFA_UAI, cfa, left_student
from .otp import current_code, totp_device

pytestmark = pytest.mark.django_db


def login(client: Client, username: str) -> None:
    assert client.post(reverse("login"), {"username": username, "password": PASSWORD}).status_code == 302


def age_session(client: Client, key: str, minutes: float) -> None:
    session = client.session
    session[key] = int(time.time() - minutes * 60)
    session.save()


# --- Idle timeout ------------------------------------------------------------------------------------


def test_a_session_idle_for_thirty_minutes_ends_with_a_french_message(client, admin_user):
    login(client, "admin")
    page = reverse("student-list", args=[admin_user.establishment.uai])
    age_session(client, LAST_ACTIVITY, settings.SESSION_IDLE_MINUTES + 1)

    response = client.get(page)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={page}"
    assert "_auth_user_id" not in client.session
    login_page = client.get(response["Location"]).content.decode()
    assert "Votre session a expiré après 30 minutes d&#x27;inactivité" in login_page


def test_activity_keeps_the_session_alive(client, admin_user):
    login(client, "admin")
    page = reverse("student-list", args=[admin_user.establishment.uai])
    age_session(client, LAST_ACTIVITY, settings.SESSION_IDLE_MINUTES - 1)
    assert client.get(page).status_code == 200

    age_session(client, AUTHENTICATED_AT, 120)  # long after the login, but active meanwhile
    assert client.session[LAST_ACTIVITY] >= time.time() - 5
    assert client.get(page).status_code == 200


def test_the_idle_timeout_is_configurable(client, admin_user, settings):
    settings.SESSION_IDLE_MINUTES = 5
    login(client, "admin")
    age_session(client, LAST_ACTIVITY, 6)

    assert client.get(reverse("home"))["Location"].startswith(reverse("login"))


# --- Re-authentication: the transfer switch -----------------------------------------------------------


def transfers_tab(establishment) -> str:
    return reverse("settings-transfers", args=[establishment.uai])


SWITCH_ON = {"cnil_declaration_number": "1929152 V0", "transfer_enabled": "oui"}


def test_right_after_login_the_switch_turns_without_asking_again(client, admin_user, establishment):
    login(client, "admin")

    response = client.post(transfers_tab(establishment), SWITCH_ON)

    assert response.status_code == 302
    establishment.refresh_from_db()
    assert establishment.transfer_enabled


def test_a_stale_login_asks_for_the_password_before_turning_the_switch(client, admin_user, establishment):
    login(client, "admin")
    age_session(client, AUTHENTICATED_AT, settings.REAUTHENTICATION_MINUTES + 1)

    response = client.post(transfers_tab(establishment), SWITCH_ON)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Confirmez votre identité" in page
    assert '<label for="id_reauth-password">Mot de passe' in page
    assert '<input type="hidden" name="cnil_declaration_number" value="1929152 V0">' in page
    assert '<input type="hidden" name="transfer_enabled" value="oui">' in page
    establishment.refresh_from_db()
    assert not establishment.transfer_enabled


def test_the_right_password_applies_the_change_that_was_asked(client, admin_user, establishment):
    login(client, "admin")
    age_session(client, AUTHENTICATED_AT, settings.REAUTHENTICATION_MINUTES + 1)

    response = client.post(transfers_tab(establishment), SWITCH_ON | {"reauth-password": PASSWORD})

    assert response.status_code == 302
    establishment.refresh_from_db()
    assert establishment.transfer_enabled and establishment.cnil_declaration_number == "1929152 V0"
    # …and for the next minutes, no new question.
    assert (
        client.post(transfers_tab(establishment), SWITCH_ON | {"transfer_enabled": "non"}).status_code == 302
    )


def test_a_wrong_password_changes_nothing_and_says_so_next_to_the_field(client, admin_user, establishment):
    login(client, "admin")
    age_session(client, AUTHENTICATED_AT, settings.REAUTHENTICATION_MINUTES + 1)

    response = client.post(transfers_tab(establishment), SWITCH_ON | {"reauth-password": "pas-le-bon"})

    assert response.status_code == 400
    assert re.search(
        r'id="id_reauth-password".*?<p class="error" role="alert">Mot de passe incorrect',
        response.content.decode(),
        re.S,
    )
    establishment.refresh_from_db()
    assert not establishment.transfer_enabled


def test_wrong_confirmation_passwords_count_towards_the_lockout(client, admin_user, establishment):
    login(client, "admin")
    age_session(client, AUTHENTICATED_AT, settings.REAUTHENTICATION_MINUTES + 1)
    statuses = [
        client.post(transfers_tab(establishment), SWITCH_ON | {"reauth-password": "pas-le-bon"}).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]

    assert statuses[-1] == 429
    response = client.post(transfers_tab(establishment), SWITCH_ON | {"reauth-password": PASSWORD})
    assert response.status_code == 429
    establishment.refresh_from_db()
    assert not establishment.transfer_enabled


def test_an_enrolled_user_also_gives_a_code(client, principal, establishment):
    device = totp_device(principal)
    login(client, "chef")
    client.post(reverse("otp-verify"), {"otp_token": current_code(device)})
    age_session(client, AUTHENTICATED_AT, settings.REAUTHENTICATION_MINUTES + 1)

    asked = client.post(transfers_tab(establishment), SWITCH_ON | {"reauth-password": PASSWORD})
    assert (
        asked.status_code == 400
        and '<label for="id_reauth-otp_token">Code de vérification' in asked.content.decode()
    )
    response = client.post(
        transfers_tab(establishment),
        SWITCH_ON | {"reauth-password": PASSWORD, "reauth-otp_token": current_code(device, offset_steps=1)},
    )

    assert response.status_code == 302
    establishment.refresh_from_db()
    assert establishment.transfer_enabled


def test_reading_the_tab_needs_no_confirmation(client, admin_user, establishment):
    login(client, "admin")
    age_session(client, AUTHENTICATED_AT, settings.REAUTHENTICATION_MINUTES + 1)

    assert client.get(transfers_tab(establishment)).status_code == 200


def test_a_stranger_gets_404_before_any_confirmation(client, outsider, establishment):
    login(client, "autre")
    age_session(client, AUTHENTICATED_AT, settings.REAUTHENTICATION_MINUTES + 1)

    assert client.post(transfers_tab(establishment), SWITCH_ON).status_code == 404


# --- Re-authentication: a manual authorisation ---------------------------------------------------


def test_a_manual_authorisation_needs_a_recent_password(client, admin_user, establishment):
    cfa()
    student = left_student(establishment, last_name="MARTIN")
    page = reverse("manual-transfers", args=[establishment.uai])
    data = {"selected": [str(student.public_id)], f"uai_{student.public_id.hex}": CFA_UAI, "consent": "on"}
    login(client, "admin")
    age_session(client, AUTHENTICATED_AT, settings.REAUTHENTICATION_MINUTES + 1)

    asked = client.post(page, data)
    assert asked.status_code == 200 and "Confirmez votre identité" in asked.content.decode()
    assert f'name="selected" value="{student.public_id}"' in asked.content.decode()
    assert not ManualAuthorisation.objects.exists()

    response = client.post(page, data | {"reauth-password": PASSWORD})

    assert response.status_code == 302
    assert ManualAuthorisation.objects.get().destination_uai == CFA_UAI


# --- Re-authentication: the second factor's own settings -----------------------------------------


def test_renewing_recovery_codes_needs_a_recent_password_and_code(client, teacher):
    device = totp_device(teacher)
    login(client, "prof")
    client.post(reverse("otp-verify"), {"otp_token": current_code(device)})
    age_session(client, AUTHENTICATED_AT, settings.REAUTHENTICATION_MINUTES + 1)

    response = client.post(reverse("otp-setup"), {"action": "codes"})

    assert "Confirmez votre identité" in response.content.decode()
    assert not teacher.staticdevice_set.exists()
