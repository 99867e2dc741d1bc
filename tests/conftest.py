"""Shared fixtures: a test establishment with one user per role, an outsider, and staff.

Tests that need PostgreSQL, Redis or a browser call :func:`require_service`: outside CI they skip
when the service is missing; under ``CI=true`` they fail, so CI can never go green without them.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from django.contrib.auth.signals import user_logged_in
from django.db import connection

from establishments.models import Role

from .factories import EstablishmentFactory, StaffFactory, UserFactory

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "samples" / "siecle"


def require_service(name: str, available: bool, why: str) -> None:
    if available:
        return
    message = f"{name} is required: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: failing instead of skipping)")
    pytest.skip(message)


def tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (the history's monthly counts, throttling counters):
    database ids are reused from one test to the next."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def require_postgres():
    require_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        f"set DATABASE_URL=postgres://… (the test runs on {connection.vendor})",
    )


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL") or os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        url = "redis://127.0.0.1:6379/15"
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition("@")[2].partition(":")
    require_service("Redis", tcp_open(host or "127.0.0.1", int(port or 6379)), f"no server at {url}")
    return url


@pytest.fixture
def samples_dir():
    require_service("shared/samples/siecle", SAMPLES_DIR.is_dir(), f"{SAMPLES_DIR} is missing")
    return SAMPLES_DIR


@pytest.fixture
def establishment(db):
    return EstablishmentFactory(uai="0750654D", name="Lycée professionnel Henri-IV")


@pytest.fixture
def other_establishment(db):
    return EstablishmentFactory(uai="0750655E", name="Lycée Louis-le-Grand")


@pytest.fixture
def admin_user(establishment):
    return UserFactory(username="admin", establishment=establishment, role=Role.ADMINISTRATOR)


@pytest.fixture
def principal(establishment):
    return UserFactory(username="chef", establishment=establishment, role=Role.PRINCIPAL)


@pytest.fixture
def teacher(establishment):
    return UserFactory(username="prof", establishment=establishment, role=Role.TEACHER)


@pytest.fixture
def student_user(establishment):
    return UserFactory(username="eleve", establishment=establishment, role=Role.STUDENT)


@pytest.fixture
def outsider(other_establishment):
    """The administrator of another establishment."""
    return UserFactory(username="autre", establishment=other_establishment, role=Role.ADMINISTRATOR)


@pytest.fixture
def staff_user(db):
    return StaffFactory(username="support")


def verify_second_factor_on_force_login(sender, request, user, **kwargs):
    """``client.force_login(user)`` (and ``client.login``) also passes the second factor.

    Technical staff must have a verified TOTP device to use the admin (SECURITY.md): a staff user
    logged in by the test client gets a device if they have none, and the session is marked as
    verified with it, so that tests of admin pages keep logging staff in with ``force_login``.
    Users who enrolled a device themselves are verified the same way. Real logins (a POST to the
    login form) go through a view, whose request has a path: they are left alone, so the tests of
    the second factor see the real flow.
    """
    if request.path:
        return
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.sessions import second_factor_done

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None and user.is_staff:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    if device is not None:
        request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        second_factor_done(request)


@pytest.fixture(autouse=True)
def _second_factor_for_test_logins():
    user_logged_in.connect(verify_second_factor_on_force_login, dispatch_uid="tests-force-login-otp")
    yield
    user_logged_in.disconnect(dispatch_uid="tests-force-login-otp")


@pytest.fixture
def personas(admin_user, principal, teacher, student_user, outsider, staff_user):
    return {
        "anonymous": None,
        "administrator": admin_user,
        "principal": principal,
        "teacher": teacher,
        "student": student_user,
        "outsider": outsider,
        "staff": staff_user,
    }


@pytest.fixture
def client_for(client):
    """``client_for(user)`` returns the test client logged in as that user (or anonymous)."""

    def login(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return login


@pytest.fixture
def celery_conf(monkeypatch):
    """``celery_conf(**settings)`` overrides the Celery app's settings for one test, then restores them.

    A ``broker_url`` also goes to CELERY_BROKER_URL: Celery reads that variable before its own
    configuration, and child processes inherit it.
    """
    import kombu.pools

    from cerisepro.celery import app

    saved: dict = {}

    def reset_connections():
        # The app keeps a producer pool bound to the broker it first connected to.
        app._pool, app.amqp._producer_pool = None, None
        kombu.pools.reset()

    def override(**values):
        for key in values:
            saved.setdefault(key, app.conf.get(key))
        if "broker_url" in values:
            monkeypatch.setenv("CELERY_BROKER_URL", values["broker_url"])
        app.conf.update(values)
        reset_connections()

    yield override
    app.conf.update(saved)
    reset_connections()


# The browser fixture, available to every test module (it needs require_service above).
from .browser import browser_page  # noqa: E402,F401
