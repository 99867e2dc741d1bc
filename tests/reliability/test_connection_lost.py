"""Fault 4: the job's database connection dropped in the middle of a run (PostgreSQL)."""

from __future__ import annotations

import psycopg2
import pytest
from django.db import connection

from tests.transfers.test_matching import NOW, paris
from transfers import run as job
from transfers.models import MatchingRun, Transfer
from transfers.run import run_matching

from .data import assert_each_pair_decided_once_with_a_whole_passport, students_who_moved

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _terminate(pid: int) -> None:
    """What a database restart or a network cut does to the job: from another connection."""
    db = connection.settings_dict
    other = psycopg2.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"]
    )
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        other.commit()
    finally:
        other.close()


@pytest.fixture
def connection_cut_in_second_batch(monkeypatch):
    real_copy, calls = job.copy_passports, []

    def copy_with_the_connection_cut(transfers, *, now):
        calls.append(1)
        if len(calls) == 2:
            _terminate(connection.connection.info.backend_pid)
        real_copy(transfers, now=now)

    monkeypatch.setattr(job, "copy_passports", copy_with_the_connection_cut)
    return lambda: monkeypatch.setattr(job, "copy_passports", real_copy)


def test_a_run_whose_connection_is_cut_is_recorded_failed_and_the_next_finishes(
    require_postgres, connection_cut_in_second_batch
):
    _, new = students_who_moved(4, left_at=paris(2026, 9, 5), arrived_at=paris(2026, 9, 8))

    with pytest.raises(Exception) as raised:
        run_matching(NOW, batch_size=1)

    failed = MatchingRun.objects.get()
    assert failed.status == "echec"
    assert failed.finished_at is not None
    assert failed.pairs_decided == 1
    assert type(raised.value).__name__ in failed.errors[0]
    assert Transfer.objects.count() == 1, "the batch cut in the middle was rolled back whole"

    connection_cut_in_second_batch()  # the database is back
    second = run_matching(NOW, batch_size=1)

    assert (second.status, second.pairs_decided) == ("termine", 3)
    assert_each_pair_decided_once_with_a_whole_passport(new, pairs=4)
