"""The Celery app round-trips ``cerisepro.ping`` through a real worker, on Redis and on the embedded
filesystem broker.

The worker is ``celery -A cerisepro worker`` in a subprocess, with the project's settings plus a
result backend (production ignores results). It consumes a queue of its own, so tests running at the
same time on the same Redis never take each other's messages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery import Celery

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULT_TIMEOUT = 12

WORKER_SETTINGS = """
import json, os
from cerisepro.settings import *  # noqa

CELERY_RESULT_BACKEND = os.environ["TEST_RESULT_BACKEND"]
CELERY_TASK_IGNORE_RESULT = False
CELERY_BROKER_TRANSPORT_OPTIONS = json.loads(os.environ["TEST_TRANSPORT_OPTIONS"])
"""


@contextmanager
def worker(tmp_path: Path, broker: str, backend: str, queue: str, transport_options: dict) -> Iterator[None]:
    (tmp_path / "worker_settings.py").write_text(WORKER_SETTINGS)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(PROJECT_ROOT)]),
        "DJANGO_SETTINGS_MODULE": "worker_settings",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": broker,
        "TEST_RESULT_BACKEND": backend,
        "TEST_TRANSPORT_OPTIONS": json.dumps(transport_options),
    }
    command = [sys.executable, "-m", "celery", "-A", "cerisepro", "worker", "--pool", "solo"]
    command += ["--queues", queue, "--without-gossip", "--without-mingle", "--without-heartbeat"]
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def send_ping(broker: str, backend: str, queue: str, transport_options: dict, tmp_path: Path) -> str:
    client = Celery("test-client", broker=broker, backend=backend)
    client.conf.broker_transport_options = transport_options
    try:
        result = client.send_task("cerisepro.ping", queue=queue)
        try:
            return result.get(timeout=RESULT_TIMEOUT)
        except Exception:
            print((tmp_path / "worker.log").read_text())  # shown by pytest when the test fails
            raise
    finally:
        client.close()


@pytest.mark.redis
def test_a_worker_answers_ping_through_redis(redis_url, tmp_path, monkeypatch):
    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    queue = f"test-ping-{uuid.uuid4().hex}"

    with worker(tmp_path, redis_url, redis_url, queue, {}):
        answer = send_ping(redis_url, redis_url, queue, {}, tmp_path)

    assert answer == "pong"


def test_a_worker_answers_ping_through_the_embedded_filesystem_broker(tmp_path, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    queue_folder, results = tmp_path / "broker" / "queue", tmp_path / "results"
    for folder in (queue_folder, results):
        folder.mkdir(parents=True)
    options = {
        "data_folder_in": str(queue_folder),
        "data_folder_out": str(queue_folder),
        "processed_folder": str(tmp_path / "broker" / "processed"),
        # kombu keeps the exchange bindings in ./control unless told otherwise
        "control_folder": str(tmp_path / "broker" / "control"),
        "store_processed": False,
    }
    backend = f"file://{results}"

    with worker(tmp_path, "filesystem://", backend, "celery", options):
        answer = send_ping("filesystem://", backend, "celery", options, tmp_path)

    assert answer == "pong"
    assert list(queue_folder.iterdir()) == []  # the message was consumed, not left behind
    assert not (PROJECT_ROOT / "control").exists()
