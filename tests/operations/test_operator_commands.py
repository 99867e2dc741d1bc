"""Operator commands answer a bad date, a lost database or a constraint with one English line.

Support scripts read the exit code and the last line of stderr (README "Operator interface"); a
traceback there is a bug, and so is a purge that runs as of a date that has not come yet.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import ManagementUtility, call_command
from django.db import IntegrityError, OperationalError
from django.utils import timezone

from students.models import Student
from students.synthetic import make_students, render_export
from tests.factories import EstablishmentFactory, StudentFactory

pytestmark = pytest.mark.django_db

COMMANDS_WITH_AT = [
    ["run_transfers"],
    ["purge_students", "--dry-run"],
    ["import_siecle", "0750654D", "file.xml"],
]


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch):
    # run_from_argv closes every connection when it ends, which would end the test's transaction.
    monkeypatch.setattr("django.db.connections.close_all", lambda: None)


def run(capsys, *args) -> tuple[int, str]:
    """Run a command as the shell does: exit code and what stderr printed."""
    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", *args]).execute()
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS_WITH_AT)
@pytest.mark.parametrize("at", ["0001-01-01T00:00", "9999-12-31T23:59", "yesterday"])
def test_a_bad_at_is_one_english_line(establishment, capsys, command, at):
    code, err = run(capsys, *command, "--at", at)

    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("CommandError: --at must be"), err


@pytest.mark.parametrize(
    "error", [OperationalError("server closed the connection unexpectedly\nDETAIL: x"), IntegrityError("dup")]
)
def test_a_lost_database_or_a_constraint_is_one_english_line(establishment, capsys, monkeypatch, error):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr("transfers.management.commands.run_transfers.run_matching", fail)

    code, err = run(capsys, "run_transfers")

    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "connection lost" in lines[0] or "integrity error" in lines[0]


def test_an_import_whose_write_fails_is_one_line_and_changes_nothing(
    establishment, capsys, monkeypatch, tmp_path
):
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(render_export(establishment.uai, make_students(3, 1)))

    def fail(*args, **kwargs):
        raise IntegrityError("duplicate key value violates unique constraint\nDETAIL: Key (ine)=(123) exists")

    # Both ways of writing new students: after the file is read, and while it is (a first import
    # on PostgreSQL, docs/siecle-import.md).
    monkeypatch.setattr("students.services._insert_many", fail)
    monkeypatch.setattr("students.services._BackgroundCopy.send", fail)

    code, err = run(capsys, "import_siecle", establishment.uai, str(path))

    assert (
        code == 1
        and err.strip()
        == "CommandError: integrity error, nothing was changed: duplicate key value violates unique constraint"
    )
    assert not Student.objects.exists()


def test_a_purge_as_of_a_future_date_is_refused(capsys):
    school = EstablishmentFactory()
    StudentFactory(establishment=school, is_active=False, deactivated_at=timezone.now() - timedelta(days=365))
    future = (timezone.now() + timedelta(days=3 * 366)).strftime("%Y-%m-%dT%H:%M")

    code, err = run(capsys, "purge_students", "--at", future)

    assert code == 1 and "--at is in the future" in err
    assert Student.objects.count() == 1


def test_a_large_purge_needs_confirm(capsys, settings, monkeypatch):
    monkeypatch.setattr("privacy.management.commands.purge_students.CONFIRM_ABOVE", 2)
    school = EstablishmentFactory()
    long_ago = timezone.now() - timedelta(days=4 * 366)
    for _ in range(3):
        StudentFactory(establishment=school, is_active=False, deactivated_at=long_ago, created_at=long_ago)

    code, err = run(capsys, "purge_students")
    assert code == 1 and "run again with --confirm" in err
    assert Student.objects.count() == 3

    call_command("purge_students", "--confirm")
    assert Student.objects.count() == 0
