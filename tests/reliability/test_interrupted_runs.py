"""A run killed before it could record its end is closed as failed by the next run, an hour on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.transfers.test_matching import NOW
from transfers.models import MatchingRun
from transfers.run import run_matching

pytestmark = pytest.mark.django_db


def _running_since(delta: timedelta) -> MatchingRun:
    return MatchingRun.objects.create(started_at=timezone.now() - delta, as_of=NOW, trigger="beat")


def test_the_next_run_marks_a_run_left_running_for_over_an_hour_as_interrupted():
    killed = _running_since(timedelta(hours=1, minutes=1))

    run = run_matching(NOW)

    killed.refresh_from_db()
    assert killed.status == "echec"
    assert killed.finished_at == run.started_at
    assert killed.errors == [f"interrompu : arrêté avant sa fin, travail repris par l'exécution {run.pk}"]
    assert run.status == "termine"


def test_a_run_started_less_than_an_hour_ago_may_still_be_working_and_is_left_alone():
    recent = _running_since(timedelta(minutes=59))

    run_matching(NOW)

    recent.refresh_from_db()
    assert (recent.status, recent.finished_at, recent.errors) == ("en_cours", None, [])


def test_finished_runs_are_never_touched():
    old = _running_since(timedelta(days=2))
    old.status, old.finished_at = "termine", old.started_at + timedelta(minutes=3)
    old.save()

    run_matching(NOW)

    old.refresh_from_db()
    assert (old.status, old.errors) == ("termine", [])
