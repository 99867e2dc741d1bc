"""Faults 1, 2 and 5: several worker processes at once, a process killed mid-run, a task twice.

Each test runs real OS processes against the test PostgreSQL database and ends by checking that
every pair was decided once and every destination passport is whole, with no entry twice.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.transfers.test_matching import paris
from transfers.models import MatchingRun, Transfer
from transfers.tasks import run_matching_task

from .conftest import backend_gone, child_script, wait_for
from .data import assert_each_pair_decided_once_with_a_whole_passport, students_who_moved

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

AT = "2026-11-10T09:00"  # NOW, as operators type it
PAIRS = 40


def _moved(count: int = PAIRS):
    return students_who_moved(count, left_at=paris(2026, 9, 5), arrived_at=paris(2026, 9, 8))


def _moved_recently(count: int = PAIRS):
    """For tasks, which run as of the real clock."""
    now = timezone.now()
    return students_who_moved(count, left_at=now - timedelta(days=10), arrived_at=now - timedelta(days=7))


def _together() -> str:
    """A moment a little ahead, for children to start at once after loading Django."""
    return str(time.time() + 4)


def _finish(processes, timeout: float = 120) -> None:
    for process in processes:
        process.wait(timeout=timeout)


# --- 1. two worker processes at the same moment ------------------------------------------------


def test_two_run_transfers_processes_at_once_decide_each_pair_once(spawn):
    _, new = _moved()

    processes = [spawn("manage.py", "run_transfers", "--at", AT, "--batch-size", "1") for _ in range(2)]
    _finish(processes)

    for process in processes:
        # The one that finds the other running says so and exits 1 (docs/operations.md); it did nothing.
        assert process.returncode == 0 or "another matching run is in progress" in process.errors()
    assert 0 in [p.returncode for p in processes], [p.errors() for p in processes]
    assert_each_pair_decided_once_with_a_whole_passport(new, pairs=PAIRS)
    assert sum(MatchingRun.objects.values_list("pairs_decided", flat=True)) == PAIRS


def test_without_the_advisory_lock_three_processes_still_decide_each_pair_once(spawn):
    """Correctness rests on the row locks and the unique constraint, not on the advisory lock."""
    _, new = _moved()
    start = _together()

    processes = [
        spawn(child_script(), "run", "--at", AT, "--batch-size", "2", "--without-lock", "--start-at", start)
        for _ in range(3)
    ]
    _finish(processes)

    assert [p.returncode for p in processes] == [0, 0, 0], [p.errors() for p in processes]
    assert_each_pair_decided_once_with_a_whole_passport(new, pairs=PAIRS)
    runs = MatchingRun.objects.all()
    assert {run.status for run in runs} == {"termine"}
    assert sum(run.pairs_decided for run in runs) == PAIRS


# --- 2. a worker process killed with SIGKILL in the middle of a run ----------------------------


def test_a_run_killed_mid_batch_leaves_no_partial_passport_and_the_next_run_finishes(spawn, tmp_path):
    _, new = _moved(5)
    marker = tmp_path / "in-batch-2"
    child = spawn(child_script(), "run", "--at", AT, "--batch-size", "1",
                  "--hang-in-batch", "2", "--marker", str(marker))  # fmt: skip
    wait_for(marker.exists, what="the second batch to be written, uncommitted")

    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    wait_for(lambda: backend_gone(int(marker.read_text())), what="PostgreSQL to drop the dead client")

    assert child.returncode == -signal.SIGKILL
    assert Transfer.objects.count() == 1, "only the first, committed batch is there"
    killed = MatchingRun.objects.get()
    assert killed.status == "en_cours", "nobody was left to record the end of the killed run"
    assert (killed.pairs_decided, killed.transfers_done) == (1, 1), "its committed batch is counted"

    call_command("run_transfers", "--at", AT, "--batch-size", "1")

    assert_each_pair_decided_once_with_a_whole_passport(new, pairs=5)
    assert MatchingRun.objects.exclude(pk=killed.pk).get().pairs_decided == 4
    killed.refresh_from_db()
    assert killed.status == "en_cours", "a recent run may still be alive: only an hour-old one is closed"


# --- 5. beat firing twice; a task delivered twice (late acks) ----------------------------------


def test_beat_firing_twice_runs_two_tasks_at_once_and_does_the_work_once(spawn):
    _, new = _moved_recently()
    start = _together()

    processes = [spawn(child_script(), "task", "--start-at", start) for _ in range(2)]
    _finish(processes)

    assert [p.returncode for p in processes] == [0, 0], [p.errors() for p in processes]
    results = sorted((json.loads(p.output()) for p in processes), key=lambda r: -r["pairs"])
    assert results[0] == {"run": results[0]["run"], "status": "termine", "pairs": PAIRS}
    assert results[1]["pairs"] == 0 and results[1]["status"] in ("termine", "ignore")
    assert_each_pair_decided_once_with_a_whole_passport(new, pairs=PAIRS)


@pytest.fixture
def redis_broker(redis_url, celery_broker):
    """Publish from the test on Redis, on a queue of its own."""
    celery_broker(redis_url)
    return redis_url, f"reliability-{uuid.uuid4().hex[:8]}"


def _worker(spawn, redis_url: str, queue: str, *hooks: str):
    return spawn(child_script(), "worker", "--queue", queue, "--visibility-timeout", "1", *hooks,
                 env={"CELERY_BROKER_URL": redis_url})  # fmt: skip


def _publish(queue: str, task_id: str) -> None:
    run_matching_task.apply_async(kwargs={"trigger": "beat"}, queue=queue, task_id=task_id)


def _finished_runs() -> int:
    return MatchingRun.objects.exclude(status="en_cours").count()


@pytest.mark.redis
def test_the_same_message_delivered_twice_to_a_real_worker_does_the_work_once(spawn, redis_broker):
    redis_url, queue = redis_broker
    _, new = _moved_recently()
    task_id = str(uuid.uuid4())
    _publish(queue, task_id)
    _publish(queue, task_id)  # the same message again, as after a lost acknowledgement

    worker = _worker(spawn, redis_url, queue)
    wait_for(lambda: _finished_runs() == 2, timeout=60, what="the worker to run both deliveries")
    worker.terminate()

    assert_each_pair_decided_once_with_a_whole_passport(new, pairs=PAIRS)
    assert sorted(MatchingRun.objects.values_list("pairs_decided", flat=True)) == [0, PAIRS]


@pytest.mark.redis
def test_a_worker_killed_mid_task_gets_its_message_redelivered_and_finished_once(
    spawn, redis_broker, tmp_path
):
    """acks_late: the message of a worker killed mid-task goes back to the queue for another."""
    redis_url, queue = redis_broker
    _, new = _moved_recently(5)
    marker = tmp_path / "in-batch-1"
    first = _worker(spawn, redis_url, queue, "--hang-in-batch", "1", "--marker", str(marker))
    _publish(queue, str(uuid.uuid4()))
    wait_for(marker.exists, timeout=60, what="the first worker to be mid-task")

    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    wait_for(lambda: backend_gone(int(marker.read_text())), what="PostgreSQL to drop the dead worker")
    assert not Transfer.objects.exists(), "the killed batch was rolled back whole"
    time.sleep(1.5)  # past the visibility timeout: the unacknowledged message is due again

    second = _worker(spawn, redis_url, queue)
    wait_for(lambda: _finished_runs() == 1, timeout=60, what="the second worker to run the message again")
    second.terminate()

    assert_each_pair_decided_once_with_a_whole_passport(new, pairs=5)
    assert MatchingRun.objects.get(status="termine").pairs_decided == 5
