"""The Celery application. Tasks live in each app's ``tasks.py``; schedules in settings."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cerisepro.settings")

app = Celery("cerisepro")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="cerisepro.ping")
def ping() -> str:
    """Answer "pong": lets operators and tests check that a worker consumes the broker."""
    return "pong"
