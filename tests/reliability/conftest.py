"""Fault tests: real OS processes against the test PostgreSQL database (and Redis).

A child process (``child.py``, or ``manage.py``) reaches the test database through
``DATABASE_URL``; the tests use ``django_db(transaction=True)`` so that it sees their data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("child.py")


def database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{quote(db['USER'] or '', safe='')}{password}@{db['HOST'] or ''}{port}/{db['NAME']}"


@pytest.fixture
def spawn(require_postgres, tmp_path):
    """``spawn(*argv, env=…)`` starts a child Python process on the test database; all are reaped."""
    children: list[subprocess.Popen] = []

    def start(*argv: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        number = len(children)
        child_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cerisepro.settings_test",
            "DATABASE_URL": database_url(),
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        }
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and scripts
            [sys.executable, *argv],
            cwd=ROOT,
            env=child_env,
            stdout=(tmp_path / f"child{number}.out").open("w"),
            stderr=(tmp_path / f"child{number}.err").open("w"),
        )
        process.output = lambda n=number: (tmp_path / f"child{n}.out").read_text()
        process.errors = lambda n=number: (tmp_path / f"child{n}.err").read_text()
        children.append(process)
        return process

    yield start
    for process in children:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def child_script() -> str:
    return str(CHILD)


def wait_for(condition, *, timeout: float = 30.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def backend_gone(pid: int) -> bool:
    """PostgreSQL has noticed the killed client, rolled its transaction back and freed its locks."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 0


@pytest.fixture
def celery_broker(celery_conf):
    """``celery_broker(url, **options)`` points the Celery app at a broker for one test, then back."""

    def use(url: str, **transport_options) -> None:
        celery_conf(broker_url=url, broker_transport_options=transport_options)

    return use


@pytest.fixture
def app_logs(caplog):
    """caplog, also fed by the app's loggers (they do not propagate to the root logger)."""
    import logging

    loggers = [logging.getLogger(name) for name in ("cerisepro", "establishments", "students", "transfers")]
    for logger in loggers:
        logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    yield caplog
    for logger in loggers:
        logger.removeHandler(caplog.handler)
