"""The security log (``cerisepro.security``): each event is there, with ids, UAIs and paths, and no
student's or user's name or INE at any level above DEBUG."""

from __future__ import annotations

import logging
import sys

import pytest
from django.urls import reverse

from cerisepro.security_log import ExpectedRefusalFilter

from ..factories import PASSWORD, PassportEntryFactory, StudentFactory

pytestmark = pytest.mark.django_db

NAME, FIRST_NAME, INE = "ZYGOMATIQUE", "Philomène", "123456789ZX"


@pytest.fixture
def security_log(caplog):
    """The records of the security logger (it does not propagate to the root, where caplog listens)."""
    logger = logging.getLogger("cerisepro.security")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="cerisepro.security")
    yield caplog
    logger.removeHandler(caplog.handler)


def events(caplog, event: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"event={event} ")]


def assert_no_personal_data(caplog, *extra: str) -> None:
    for record in caplog.records:
        if record.levelno > logging.DEBUG:
            text = record.getMessage() + (record.exc_text or "")
            for secret in (NAME, NAME.lower(), FIRST_NAME, INE, *extra):
                assert secret not in text, f"{secret!r} in {record.name}: {text}"


@pytest.fixture
def student(establishment, teacher):
    student = StudentFactory(establishment=establishment, last_name=NAME, first_name=FIRST_NAME, ine=INE)
    PassportEntryFactory(student=student, author=teacher)
    return student


def test_a_failed_login_is_logged_by_user_id_without_the_username(client, admin_user, security_log):
    admin_user.username = "camille.martin"
    admin_user.save()

    client.post(reverse("login"), {"username": "camille.martin", "password": "pas-le-bon"})

    [line] = events(security_log, "login_failed")
    assert f"user={admin_user.pk} " in line and "ip=127.0.0.1" in line
    assert_no_personal_data(security_log, "camille", "martin")


def test_a_lockout_is_logged_once_with_the_account_id(client, admin_user, security_log):
    for _ in range(7):
        client.post(reverse("login"), {"username": "admin", "password": "pas-le-bon"})

    assert events(security_log, "account_locked") == [
        f"event=account_locked user={admin_user.pk} ip=127.0.0.1"
    ]
    assert len(events(security_log, "login_failed")) == 7
    assert "locked=True" in events(security_log, "login_failed")[-1]


def test_a_successful_login_and_its_second_factor_are_logged(client, teacher, security_log):
    from .otp import current_code, totp_device

    device = totp_device(teacher)
    client.post(reverse("login"), {"username": "prof", "password": PASSWORD})
    client.post(reverse("otp-verify"), {"otp_token": "000000" if current_code(device) != "000000" else "1"})
    type(device).objects.update(throttling_failure_timestamp=None)  # as if the user took a second
    client.post(reverse("otp-verify"), {"otp_token": current_code(device)})

    assert events(security_log, "login") == [f"event=login user={teacher.pk} ip=127.0.0.1"]
    assert events(security_log, "second_factor_failed") == [f"event=second_factor_failed user={teacher.pk}"]
    assert len(events(security_log, "second_factor_verified")) == 1


def test_a_403_on_a_school_page_is_logged(client_for, teacher, establishment, security_log):
    client_for(teacher).get(reverse("settings-transfers", args=[establishment.uai]))

    [line] = events(security_log, "refused")
    assert line == (
        f"event=refused status=403 user={teacher.pk} uai={establishment.uai} method=GET "
        f"path=/etablissements/{establishment.uai}/parametres/transferts/"
    )


def test_a_404_for_another_school_is_logged_with_both_uais(
    client_for, outsider, establishment, student, security_log
):
    client_for(outsider).get(reverse("passport", args=[establishment.uai, student.public_id]))

    [line] = events(security_log, "refused")
    assert "status=404" in line and f"uai={outsider.establishment.uai}" in line
    assert f"/etablissements/{establishment.uai}/eleves/{student.public_id}/" in line
    assert_no_personal_data(security_log)


def test_a_csv_export_is_logged(client_for, principal, establishment, security_log):
    response = client_for(principal).get(reverse("transfer-history-csv", args=[establishment.uai]))
    b"".join(response.streaming_content)

    [line] = events(security_log, "export")
    assert f"user={principal.pk} uai={establishment.uai} staff=False" in line and "type=text/csv" in line


def test_staff_reads_and_exports_of_a_student_are_logged(client_for, staff_user, student, security_log):
    client = client_for(staff_user)
    client.get(reverse("admin:students_student_changelist"), {"q": INE})
    client.get(reverse("admin:students_student_change", args=[student.pk]))
    response = client.post(
        reverse("admin:students_student_changelist"),
        {"action": "export_data", "_selected_action": [student.pk]},
    )

    assert response.status_code == 200 and NAME in response.content.decode()
    reads = events(security_log, "staff_access")
    assert len(reads) == 3
    assert (
        f"user={staff_user.pk} method=GET path=/admin/students/student/{student.pk}/change/ status=200"
        in reads[1]
    )
    assert "method=POST" in reads[2] and "action=export_data selected=1" in reads[2]
    assert "staff=True" in events(security_log, "export")[0]
    assert_no_personal_data(security_log)


def test_school_pages_with_a_student_log_no_name_or_ine(
    client_for, admin_user, teacher, establishment, student, caplog
):
    """Every logger, not only the security log: a search by name, the passport and its print view."""
    caplog.set_level(logging.INFO)
    for name in ("cerisepro", "cerisepro.security", "accounts", "establishments", "students", "transfers"):
        logging.getLogger(name).addHandler(caplog.handler)
    try:
        client = client_for(teacher)
        client.get(reverse("student-list", args=[establishment.uai]), {"q": NAME})
        client.get(reverse("passport", args=[establishment.uai, student.public_id]))
        client.get(reverse("passport-print", args=[establishment.uai, student.public_id]))
        client.get(reverse("passport", args=[establishment.uai, student.public_id]) + f"?{INE}")
        client_for(admin_user).get(reverse("transfer-history-csv", args=[establishment.uai]))
    finally:
        for name in (
            "cerisepro",
            "cerisepro.security",
            "accounts",
            "establishments",
            "students",
            "transfers",
        ):
            logging.getLogger(name).removeHandler(caplog.handler)

    assert caplog.records, "something was logged"
    assert_no_personal_data(caplog)


def test_an_expected_403_is_logged_without_a_traceback(client_for, teacher, establishment, caplog):
    caplog.set_level(logging.WARNING, logger="django.request")

    client_for(teacher).get(reverse("settings-transfers", args=[establishment.uai]))

    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage().startswith("Forbidden (Permission denied): /etablissements/")
    assert record.exc_info is None and not record.exc_text


def test_an_unexpected_error_keeps_its_traceback():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "Internal", (), sys.exc_info()
        )

    assert ExpectedRefusalFilter().filter(record) and record.exc_info is not None


def test_a_path_with_a_newline_cannot_forge_a_log_line(client_for, teacher, establishment, security_log):
    client_for(teacher).get(f"/etablissements/{establishment.uai}/x%0Aevent=login%20user=1/")

    [line] = events(security_log, "refused")
    assert "\n" not in line and "\\n" in line
