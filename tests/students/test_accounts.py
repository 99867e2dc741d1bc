"""Student accounts, the services: logins, initial passwords, the import's effect on accounts and the
backend that refuses a departed student (docs/accounts.md, "Student accounts")."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core import serializers
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.initial_passwords import ALPHABET, must_change_password
from accounts.models import ImportDeactivation, InitialPassword
from establishments.admin import readable_changes
from establishments.models import AuditLogEntry, Role, User
from students.accounts import (
    LOGIN_MAX_LENGTH,
    allocate_logins,
    class_login_cards,
    create_student_accounts,
    login_base,
    sync_accounts_after_import,
)
from students.models import Student
from students.services import import_siecle_export
from students.synthetic import make_students, render_export
from tests.factories import StudentFactory, UserFactory

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 1, 10, 0, tzinfo=PARIS)
LOGIN = re.compile(r"[a-z0-9][a-z0-9.-]*")


def log_in(username: str, password: str):
    """``authenticate`` as the login page calls it (with a request: django-axes needs one)."""
    request = RequestFactory().post("/connexion/")
    return authenticate(request, username=username, password=password)


# --- logins -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first, last, login",
    [
        ("Léa", "DUPONT", "lea.dupont"),
        ("Jean-Baptiste", "LE GALL", "jean-baptiste.le-gall"),
        ("Zoé", "N'DIAYE", "zoe.ndiaye"),
        ("Anaïs", "D’ALEMBERT", "anais.dalembert"),
        ("Œdipe", "CŒUR", "oedipe.coeur"),
        ("François", "NÚÑEZ GARCÍA", "francois.nunez-garcia"),
        ("Ève  Marie", "  MÜLLER--SCHMIDT ", "eve-marie.muller-schmidt"),
        ("", "DUPONT", "dupont"),
        ("李", "王", "eleve"),
    ],
)
def test_a_login_is_the_names_in_plain_ascii(first, last, login):
    assert login_base(first, last) == login


def test_a_very_long_name_gives_a_short_login_without_a_trailing_hyphen():
    login = login_base("Marie-Charlotte-Alexandrine", "DE LA ROCHEFOUCAULD-DOUDEAUVILLE DE BOURBON")

    assert len(login) <= LOGIN_MAX_LENGTH
    assert login.startswith("marie-charlotte") and ".de-la-roche" in login
    assert not login.endswith("-") and ".-" not in login and "-." not in login


@pytest.mark.django_db
def test_homonyms_in_one_batch_get_numbered_logins():
    assert allocate_logins([("Léa", "Dupont"), ("Lea", "DUPONT"), ("Léa", "Dupont")]) == [
        "lea.dupont",
        "lea.dupont2",
        "lea.dupont3",
    ]


def test_a_login_taken_at_another_school_is_not_reused(establishment, other_establishment, admin_user):
    UserFactory(username="Lea.Dupont", establishment=other_establishment, role=Role.STUDENT)
    UserFactory(username="lea.dupont2", establishment=other_establishment, role=Role.TEACHER)
    student = StudentFactory(establishment=establishment, first_name="Léa", last_name="DUPONT")

    outcome = create_student_accounts(establishment, [student], by=admin_user)

    assert [card.login for card in outcome.created] == ["lea.dupont3"]


def test_a_login_never_contains_the_ine_or_the_siecle_id(establishment, admin_user):
    students = [
        StudentFactory(
            establishment=establishment, ine="070832327JA", siecle_id="123456", last_name="MARTIN"
        ),
        StudentFactory(establishment=establishment, ine="1234567890A", siecle_id="98765", first_name="Inès"),
    ]

    outcome = create_student_accounts(establishment, students, by=admin_user)

    by_name = {card.last_name: card.login for card in outcome.created}
    assert by_name == {"MARTIN": "lea.martin", students[1].last_name: f"ines.{students[1].last_name.lower()}"}
    for student in students:
        login = by_name[student.last_name]
        assert LOGIN.fullmatch(login)
        assert student.ine.lower() not in login and student.siecle_id not in login


# --- initial passwords --------------------------------------------------------------------------


def test_each_student_gets_a_readable_password_that_the_validators_accept(establishment, admin_user):
    students = StudentFactory.create_batch(5, establishment=establishment)

    outcome = create_student_accounts(establishment, students, by=admin_user)

    passwords = [card.password for card in outcome.created]
    assert len(set(passwords)) == 5
    for card in outcome.created:
        user = User.objects.get(username=card.login)
        assert re.fullmatch(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}", card.password)
        # The validators as at its creation (once set, it may no longer be chosen again: that is
        # NotTheInitialPasswordValidator's job).
        validate_password(card.password, User(username=user.username, last_name=user.last_name))
        assert (user.role, user.establishment, user.is_active) == (Role.STUDENT, establishment, True)
        assert user.student_record.last_name == card.last_name
        assert log_in(card.login, card.password) == user
        assert must_change_password(user)


def test_the_passwords_are_stored_nowhere_in_clear(establishment, admin_user):
    students = StudentFactory.create_batch(3, establishment=establishment, class_code="1MVA")

    outcome = create_student_accounts(establishment, students, by=admin_user)

    # Every row of every table, the audit log's included, serialised: no password appears in it.
    everything = "".join(serializers.serialize("json", model.objects.all()) for model in apps.get_models())
    for card in outcome.created:
        assert card.password not in everything
        assert card.password.replace("-", "") not in everything
        assert User.objects.get(username=card.login).password.startswith(
            ("pbkdf2_", "argon2", "md5$", "bcrypt")
        )
    entry = AuditLogEntry.objects.get(establishment=establishment)
    assert entry.user == admin_user
    assert sorted(entry.changes["comptes créés"].split(", ")) == sorted(
        card.login for card in outcome.created
    )
    assert readable_changes(entry.changes).startswith("Comptes créés : ")  # the admin's journal


def test_changing_the_password_lifts_the_obligation(establishment, admin_user):
    student = StudentFactory(establishment=establishment)
    create_student_accounts(establishment, [student], by=admin_user)
    user = User.objects.get(student_record=student)

    user.set_password("un mot de passe à moi, bien long")
    user.save()

    assert not must_change_password(user)
    assert not InitialPassword.objects.filter(user=user).exists()


# --- what is created, skipped or reset ----------------------------------------------------------


def test_existing_accounts_are_skipped_unless_reset(establishment, admin_user):
    student = StudentFactory(establishment=establishment)
    first = create_student_accounts(establishment, [student], by=admin_user).created[0]

    again = create_student_accounts(establishment, [student], by=admin_user)
    assert (again.created, again.reset, again.already) == ([], [], [student])
    assert log_in(first.login, first.password) is not None

    reset = create_student_accounts(establishment, [student], by=admin_user, reset=True).reset[0]
    assert reset.login == first.login and reset.password != first.password
    assert log_in(first.login, first.password) is None
    assert log_in(reset.login, reset.password) is not None
    assert User.objects.filter(role=Role.STUDENT).count() == 1


def test_a_password_changed_by_the_student_is_replaced_by_a_reset(establishment, admin_user):
    student = StudentFactory(establishment=establishment)
    create_student_accounts(establishment, [student], by=admin_user)
    user = User.objects.get(student_record=student)
    user.set_password("un mot de passe à moi, bien long")
    user.save()
    assert not must_change_password(user)

    card = create_student_accounts(establishment, [student], by=admin_user, reset=True).reset[0]

    user.refresh_from_db()
    assert must_change_password(user) and log_in(card.login, card.password) == user


def test_departed_students_and_disabled_accounts_are_left_alone(establishment, admin_user):
    departed = StudentFactory(establishment=establishment, is_active=False, deactivated_at=timezone.now())
    disabled_user = UserFactory(establishment=establishment, role=Role.STUDENT, is_active=False)
    disabled = StudentFactory(establishment=establishment, user=disabled_user)

    outcome = create_student_accounts(establishment, [departed, disabled], by=admin_user, reset=True)

    assert (outcome.cards, outcome.departed, outcome.disabled) == ([], [departed], [disabled])
    assert not User.objects.filter(student_record=departed).exists()
    disabled_user.refresh_from_db()
    assert not disabled_user.is_active and not InitialPassword.objects.exists()
    assert not AuditLogEntry.objects.exists()


def test_students_of_another_school_are_refused_and_nothing_is_created(
    establishment, other_establishment, admin_user
):
    ours = StudentFactory(establishment=establishment)
    theirs = StudentFactory(establishment=other_establishment)

    with pytest.raises(ValueError):
        create_student_accounts(establishment, [ours, theirs], by=admin_user)

    assert not User.objects.filter(role=Role.STUDENT).exists()


def test_a_class_sheet_lists_logins_and_never_a_password(establishment, admin_user):
    students = StudentFactory.create_batch(2, establishment=establishment, class_code="TBP1")
    newcomer = StudentFactory(establishment=establishment, class_code="TBP1")
    created = create_student_accounts(establishment, students, by=admin_user).created

    cards, without = class_login_cards(establishment, "TBP1")

    assert sorted(card.login for card in cards) == sorted(card.login for card in created)
    assert all(card.password == "" for card in cards)
    assert without == [newcomer]


# --- the backend: a departed student cannot log in ----------------------------------------------


def test_a_student_whose_record_is_inactive_cannot_log_in(establishment, admin_user):
    student = StudentFactory(establishment=establishment)
    card = create_student_accounts(establishment, [student], by=admin_user).created[0]

    Student.objects.filter(pk=student.pk).update(is_active=False, deactivated_at=timezone.now())

    # The account itself is still active: the backend alone refuses (defence in depth).
    assert User.objects.get(username=card.login).is_active
    assert log_in(card.login, card.password) is None


# --- SIECLE imports disable and re-enable accounts ----------------------------------------------


def students_of(count):
    return make_students(count, 3, leaving_ratio=0, without_ine_ratio=0, inactive_ratio=0)


@pytest.fixture
def import_with_signal(django_capture_on_commit_callbacks, monkeypatch):
    """Run an import and what follows its commit (the matching task is not queued: no broker)."""
    monkeypatch.setattr("transfers.receivers.run_matching_task.apply_async", lambda *args, **kwargs: None)

    def run(establishment, rows, now):
        with django_capture_on_commit_callbacks(execute=True):
            import_siecle_export(establishment, render_export(establishment.uai, rows), "E.xml", now=now)

    return run


def test_an_import_disables_a_departed_student_and_a_later_one_re_enables_it(
    establishment, admin_user, import_with_signal
):
    rows = students_of(3)
    import_with_signal(establishment, rows, NOW - timedelta(days=20))
    leaving = Student.objects.get(siecle_id=rows[2].siecle_id)
    card = create_student_accounts(establishment, [leaving], by=admin_user).created[0]

    import_with_signal(establishment, rows[:2], NOW - timedelta(days=10))

    user = User.objects.get(username=card.login)
    assert not user.is_active and ImportDeactivation.objects.filter(user=user).exists()
    assert log_in(card.login, card.password) is None
    assert User.objects.filter(pk=user.pk).exists()  # disabled, never deleted

    import_with_signal(establishment, rows, NOW)

    user.refresh_from_db()
    assert user.is_active and not ImportDeactivation.objects.exists()
    assert log_in(card.login, card.password) == user


def test_an_account_disabled_for_another_reason_stays_disabled_after_a_reactivation(
    establishment, admin_user, import_with_signal
):
    rows = students_of(2)
    import_with_signal(establishment, rows, NOW - timedelta(days=20))
    student = Student.objects.get(siecle_id=rows[1].siecle_id)
    card = create_student_accounts(establishment, [student], by=admin_user).created[0]
    User.objects.filter(username=card.login).update(is_active=False)  # e.g. by technical staff

    import_with_signal(establishment, rows[:1], NOW - timedelta(days=10))
    import_with_signal(establishment, rows, NOW)

    assert Student.objects.get(pk=student.pk).is_active
    assert not User.objects.get(username=card.login).is_active
    assert log_in(card.login, card.password) is None


def test_an_import_elsewhere_leaves_this_school_s_accounts_alone(
    establishment, other_establishment, admin_user, import_with_signal
):
    departed = StudentFactory(establishment=establishment)
    card = create_student_accounts(establishment, [departed], by=admin_user).created[0]
    Student.objects.filter(pk=departed.pk).update(is_active=False, deactivated_at=timezone.now())

    import_with_signal(other_establishment, students_of(1), NOW)

    assert User.objects.get(username=card.login).is_active  # not this school's import


def test_an_import_that_changes_no_account_costs_two_reads(establishment, admin_user):
    student = StudentFactory(establishment=establishment)
    create_student_accounts(establishment, [student], by=admin_user)

    with CaptureQueriesContext(connection) as queries:
        assert sync_accounts_after_import(establishment.pk, now=NOW) == (0, 0)

    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 2 and all(sql.startswith("SELECT") for sql in statements)


def test_validators_that_refuse_every_initial_password_stop_with_an_error(
    establishment, admin_user, settings
):
    settings.AUTH_PASSWORD_VALIDATORS = [
        {
            "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
            "OPTIONS": {"min_length": 40},
        }
    ]
    student = StudentFactory(establishment=establishment)

    with pytest.raises(RuntimeError):
        create_student_accounts(establishment, [student], by=admin_user)

    assert not User.objects.filter(student_record=student).exists()
