"""A run's counters follow its committed batches: a run killed mid-way shows what it committed."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.reliability.data import students_who_moved
from transfers import run as job
from transfers.models import MatchingRun

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 10, 9, 0, tzinfo=PARIS)


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the run catches it."""


def test_a_run_stopped_after_its_second_batch_shows_the_two_batches_it_committed(db, monkeypatch):
    students_who_moved(
        4, left_at=datetime(2026, 10, 1, tzinfo=PARIS), arrived_at=datetime(2026, 10, 2, tzinfo=PARIS)
    )
    real_process_batch = job._process_batch
    calls = []

    def process_then_die(run, ids, now):
        calls.append(ids)
        if len(calls) == 3:
            raise Killed
        return real_process_batch(run, ids, now)

    monkeypatch.setattr(job, "_process_batch", process_then_die)

    with pytest.raises(Killed):
        job.run_matching(NOW, batch_size=1)

    run = MatchingRun.objects.get()
    assert (run.status, run.pairs_decided, run.transfers_done) == ("en_cours", 2, 2)
    assert run.entries_copied == 6 and run.counts == {"transfert": 2}
