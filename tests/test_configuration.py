"""Configuration from the environment, checked the way an operator starts the app: in a new process.

Each run gets a minimal environment and sets DEBUG explicitly, so neither the developer's shell nor
the project's ``.env`` file decides the outcome.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, tmp_path: Path, **env: str | None) -> subprocess.CompletedProcess:
    """Run manage.py; a variable given as None is left out of the environment."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "cerisepro.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "SECRET_KEY": "",
        "DEBUG": "false",
    } | env
    environment = {name: value for name, value in environment.items() if value is not None}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def skip_if_dot_env_sets(variable: str) -> None:
    # settings.py always reads the project's .env: a developer's own value there hides the default.
    dot_env = PROJECT_ROOT / ".env"
    lines = dot_env.read_text().splitlines() if dot_env.exists() else []
    if any(line.strip().startswith(f"{variable}=") and line.strip() != f"{variable}=" for line in lines):
        pytest.skip(f"{dot_env} sets {variable}")


def strong_key() -> str:
    return secrets.token_urlsafe(64)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="no-key"),
        pytest.param("short-secret", id="short-key"),
        pytest.param("a" * 64, id="long-but-not-random"),
        pytest.param("django-insecure-" + "x7Qp" * 16, id="django-insecure-prefix"),
    ],
)
def test_production_refuses_to_start_without_a_real_secret_key(key, tmp_path):
    result = manage("check", tmp_path=tmp_path, SECRET_KEY=key)

    assert result.returncode != 0
    assert "SECRET_KEY must be set to a random value of at least 50 characters" in result.stderr


def test_production_starts_with_a_long_random_secret_key(tmp_path):
    result = manage("check", tmp_path=tmp_path, SECRET_KEY=strong_key())

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_development_mode_runs_without_a_secret_key(tmp_path):
    result = manage("check", tmp_path=tmp_path, DEBUG="true")

    assert result.returncode == 0, result.stderr


def test_the_deployment_check_passes_with_production_values(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        tmp_path=tmp_path,
        SECRET_KEY=strong_key(),
        ALLOWED_HOSTS="cerisepro.example.org",
    )

    assert result.returncode == 0, result.stdout + result.stderr


def settings_seen(tmp_path: Path, **env: str | None) -> dict:
    code = (
        "import json; from django.conf import settings; from cerisepro.celery import app; "
        "db = settings.DATABASES['default']; "
        "print(json.dumps({'engine': db['ENGINE'], 'name': db['NAME'], 'host': db['HOST'], "
        "'port': db['PORT'], 'broker': app.conf.broker_url, "
        "'transport_options': app.conf.broker_transport_options, 'debug': settings.DEBUG}))"
    )
    result = manage("shell", "-c", code, tmp_path=tmp_path, SECRET_KEY=strong_key(), **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_database_url_selects_postgresql(tmp_path):
    seen = settings_seen(tmp_path, DATABASE_URL="postgres://cerisepro:secret@db.example.org:5433/cerisepro")

    assert seen["engine"] == "django.db.backends.postgresql"
    assert (seen["name"], seen["host"], seen["port"]) == ("cerisepro", "db.example.org", 5433)


def test_without_database_url_the_app_uses_sqlite_under_var(tmp_path):
    skip_if_dot_env_sets("DATABASE_URL")
    seen = settings_seen(tmp_path, DEBUG="true", DATABASE_URL=None)

    assert seen["engine"] == "django.db.backends.sqlite3"
    assert seen["name"] == str(PROJECT_ROOT / "var" / "db.sqlite3")


def test_the_celery_app_uses_the_redis_broker_url(tmp_path):
    seen = settings_seen(tmp_path, CELERY_BROKER_URL="redis://redis.example.org:6380/2")

    assert seen["broker"] == "redis://redis.example.org:6380/2"
    assert seen["transport_options"] == {"socket_connect_timeout": 3}  # fail fast when Redis is down


def test_the_celery_app_defaults_to_the_embedded_filesystem_broker(tmp_path):
    skip_if_dot_env_sets("CELERY_BROKER_URL")
    seen = settings_seen(tmp_path, DEBUG="true", CELERY_BROKER_URL=None)

    assert seen["broker"] == "filesystem://"
    assert seen["transport_options"]["data_folder_in"] == str(PROJECT_ROOT / "var" / "broker" / "queue")
    assert seen["debug"] is True
