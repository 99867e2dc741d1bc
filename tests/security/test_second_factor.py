"""The second factor (TOTP and recovery codes): mandatory for technical staff and the admin,
offered to school users, asked at login once enrolled."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import otp

from ..factories import PASSWORD, StaffFactory
from .otp import code_for_key, current_code, totp_device

pytestmark = pytest.mark.django_db


def password_login(client: Client, username: str, url: str = "login", **data):
    return client.post(reverse(url), {"username": username, "password": PASSWORD, **data})


def enter_code(client: Client, code: str, next_url: str = ""):
    return client.post(reverse("otp-verify"), {"otp_token": code, "next": next_url})


# --- Technical staff ---------------------------------------------------------------------------


def test_staff_without_a_device_are_sent_to_the_enrolment_page_and_kept_there(client, staff_user):
    password_login(client, "support")

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("otp-setup"))
    assert client.get(reverse("admin:establishments_establishment_changelist")).status_code == 302
    page = client.get(reverse("otp-setup")).content.decode()
    assert "obligatoire pour l'équipe technique" in page


def test_the_admin_login_leads_to_the_code_page_then_to_the_admin(client, staff_user):
    device = totp_device(staff_user)

    response = password_login(client, "support", "admin:login", next=reverse("admin:index"))
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("otp-verify"))

    response = enter_code(client, current_code(device), reverse("admin:index"))

    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_wrong_code_keeps_the_admin_closed(client, staff_user):
    device = totp_device(staff_user)
    password_login(client, "support")

    response = enter_code(client, "000000" if current_code(device) != "000000" else "111111")

    assert response.status_code == 400
    assert "Code incorrect" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302


def test_the_admin_site_itself_refuses_an_unverified_staff_session(rf, staff_user):
    from django.contrib import admin

    request = rf.get("/admin/")
    request.user = staff_user
    staff_user.is_verified = lambda: False

    assert admin.site.has_permission(request) is False
    staff_user.is_verified = lambda: True
    assert admin.site.has_permission(request) is True


def test_a_staff_session_ends_its_verification_when_the_device_is_removed(client, staff_user):
    client.force_login(staff_user)  # verified (tests/conftest.py)
    assert client.get(reverse("admin:index")).status_code == 200

    TOTPDevice.objects.filter(user=staff_user).delete()

    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("otp-setup"))


def test_staff_cannot_turn_the_second_factor_off(client, staff_user):
    client.force_login(staff_user)

    client.post(reverse("otp-setup"), {"action": "disable"})

    assert TOTPDevice.objects.filter(user=staff_user).exists()


def test_staff_do_not_see_the_secrets_of_other_staff_in_the_admin(client, staff_user):
    colleague = StaffFactory(username="collegue")
    device = totp_device(colleague)
    otp.recovery_codes_reset(colleague)
    client.force_login(staff_user)

    page = client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk])).content.decode()

    assert device.key not in page
    assert client.get(reverse("admin:otp_totp_totpdevice_config", args=[device.pk])).status_code == 403
    static = colleague.staticdevice_set.get()
    page = client.get(reverse("admin:otp_static_staticdevice_change", args=[static.pk])).content.decode()
    assert not any(token.token in page for token in static.token_set.all())


# --- Enrolment ------------------------------------------------------------------------------------


def enrol(client: Client) -> tuple[str, list[str]]:
    """Go through the enrolment page as a user would: read the key, type the code."""
    page = client.get(reverse("otp-setup")).content.decode()
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", page).group(1).replace(" ", "")
    from base64 import b32decode

    key = b32decode(secret + "=" * (-len(secret) % 8)).hex()
    response = client.post(reverse("otp-setup"), {"action": "enrol", "otp_token": code_for_key(key)})
    assert response.status_code == 200, response.content.decode()
    codes = re.findall(r"<li><code>([a-z2-7]{4} [a-z2-7]{4})</code></li>", response.content.decode())
    return key, codes


def test_a_school_user_is_offered_the_second_factor_with_a_qr_code(client, teacher):
    client.force_login(teacher)

    page = client.get(reverse("otp-setup")).content.decode()

    assert "Activer la double authentification" in page
    assert 'src="data:image/png;base64,' in page
    assert 'alt="Code QR de configuration' in page
    assert '<label for="id_otp_token">Code affiché par l&#x27;application' in page


def test_enrolment_shows_ten_recovery_codes_once(client, teacher):
    client.force_login(teacher)

    _key, codes = enrol(client)

    assert len(codes) == 10 and len(set(codes)) == 10
    status = client.get(reverse("otp-setup")).content.decode()
    assert "est <strong>activée</strong>" in status and "<strong>10</strong> sur 10" in status
    assert not any(code in status for code in codes)


def test_a_wrong_code_does_not_enrol(client, teacher):
    client.force_login(teacher)
    client.get(reverse("otp-setup"))

    response = client.post(reverse("otp-setup"), {"action": "enrol", "otp_token": "12345"})

    assert response.status_code == 400
    assert "Code incorrect" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=teacher).exists()


def test_once_enrolled_the_login_asks_for_the_code(client, teacher):
    client.force_login(teacher)
    key, _codes = enrol(client)
    client.logout()

    password_login(client, "prof")
    student_list = reverse("student-list", args=[teacher.establishment.uai])
    response = client.get(student_list)
    assert response.status_code == 302 and response["Location"].startswith(reverse("otp-verify"))
    page = client.get(response["Location"]).content.decode()
    assert '<label for="id_otp_token">Code de vérification' in page

    response = enter_code(client, code_for_key(key, offset_steps=1), student_list)

    assert response["Location"] == student_list
    assert client.get(student_list).status_code == 200


def test_a_code_cannot_be_used_twice(client, teacher):
    client.force_login(teacher)
    key, _codes = enrol(client)
    client.logout()
    password_login(client, "prof")
    code = code_for_key(key, offset_steps=1)
    enter_code(client, code)
    client.logout()
    password_login(client, "prof")

    assert enter_code(client, code).status_code == 400


def test_a_recovery_code_logs_in_once(client, teacher):
    client.force_login(teacher)
    _key, codes = enrol(client)
    client.logout()

    password_login(client, "prof")
    response = enter_code(client, codes[0].upper())  # typed in capitals, with its space
    assert response.status_code == 302
    assert "il vous en reste 9" in client.get(response["Location"], follow=True).content.decode()
    client.logout()

    password_login(client, "prof")
    assert enter_code(client, codes[0]).status_code == 400


def test_new_recovery_codes_replace_the_old_ones(client, teacher):
    client.force_login(teacher)
    _key, old_codes = enrol(client)

    response = client.post(reverse("otp-setup"), {"action": "codes"})

    new_codes = re.findall(r"<li><code>([a-z2-7]{4} [a-z2-7]{4})</code></li>", response.content.decode())
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    stored = set(StaticToken.objects.filter(device__user=teacher).values_list("token", flat=True))
    assert stored == {code.replace(" ", "") for code in new_codes}


def test_repeated_wrong_codes_are_slowed_down(client, teacher):
    client.force_login(teacher)
    enrol(client)
    client.logout()
    password_login(client, "prof")
    for _ in range(3):
        enter_code(client, "999999")
    TOTPDevice.objects.filter(user=teacher).update(throttling_failure_timestamp=timezone.now())

    response = enter_code(client, "999999")

    assert "Trop de codes erronés" in response.content.decode()


def test_a_school_user_can_turn_the_second_factor_off(client, teacher):
    client.force_login(teacher)
    enrol(client)

    client.post(reverse("otp-setup"), {"action": "disable"})
    client.logout()

    password_login(client, "prof")
    assert client.get(reverse("student-list", args=[teacher.establishment.uai])).status_code == 200
    assert not TOTPDevice.objects.filter(user=teacher).exists()


def test_the_code_page_is_held_until_the_code_is_given(client, teacher):
    totp_device(teacher)
    password_login(client, "prof")

    for name in ("password_change", "otp-setup", "home"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("otp-verify"))
    assert client.post(reverse("logout")).status_code == 302


def test_the_code_page_ignores_a_next_that_leaves_the_site(client, teacher):
    device = totp_device(teacher)
    password_login(client, "prof")

    response = enter_code(client, current_code(device), "https://evil.example/")

    assert response["Location"] == reverse("home")


def test_the_verification_gives_a_new_session_id(client, teacher):
    device = totp_device(teacher)
    password_login(client, "prof")
    before = client.session.session_key

    enter_code(client, current_code(device))

    assert client.session.session_key != before


def test_the_qr_code_encodes_the_otpauth_address(teacher):
    key = otp.new_totp_key()

    url = otp.totp_setup_url(teacher, key)

    assert url.startswith("otpauth://totp/cerisepro%3Aprof?secret=") and "issuer=cerisepro" in url
    assert otp.qr_code_data_uri(url).startswith("data:image/png;base64,")
