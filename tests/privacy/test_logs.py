"""Privacy 12: above DEBUG, the logs carry no student name and no INE (docs/privacy.md).

Every logger is captured at INFO and above, whatever its configuration, during the life of a
student: imports (command and page, including a refused file and a broker that is down), the
matching run that transfers the passport (after the import and by hand), and the retention purge.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from privacy.retention import purge_expired_students
from students.models import Student
from students.services import import_siecle_export
from students.synthetic import make_students, render_export
from tests.factories import EstablishmentFactory, PassportEntryFactory, UserFactory
from transfers.models import Transfer

pytestmark = pytest.mark.django_db


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.levelname} {record.name} {text}")


@pytest.fixture
def every_log():
    """Attach to the root logger and to every logger that does not propagate, at INFO."""
    capture, root = Capture(), logging.getLogger()
    loggers = [root] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    levels = {logger: logger.level for logger in loggers}
    for logger in loggers:
        logger.addHandler(capture)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
    yield capture
    for logger, level in levels.items():
        logger.removeHandler(capture)
        logger.setLevel(level)


def _identifiers(students) -> set[str]:
    found = set()
    for student in students:
        found |= {student.last_name, student.first_name, student.ine}
        found |= {student.last_name.title(), student.last_name.lower()}
    return {value for value in found if value and len(value) >= 3}


def test_imports_runs_and_purges_log_no_name_and_no_ine(
    every_log, celery_conf, client_for, tmp_path, django_capture_on_commit_callbacks
):
    old = EstablishmentFactory(uai="0750654D", transfer_enabled=True, cnil_declaration_number="1929152")
    new = EstablishmentFactory(uai="0920131T", transfer_enabled=True, cnil_declaration_number="2003574")
    admin = UserFactory(establishment=old, role="administrateur")
    students = make_students(30, seed=12, leaving_ratio=0.1, without_ine_ratio=0.05)
    moving = students[:5]
    earlier = timezone.now() - timedelta(days=60)
    celery_conf(task_always_eager=True)
    with django_capture_on_commit_callbacks(execute=True):
        import_siecle_export(old, render_export(old.uai, students), "a.xml", now=earlier)
        for student in Student.objects.filter(establishment=old, ine__in=[s.ine for s in moving]):
            PassportEntryFactory(student=student)
        arrivals = [
            dataclasses.replace(s, siecle_id=f"99{n}", previous_uai=old.uai) for n, s in enumerate(moving)
        ]
        arrivals_file = tmp_path / "arrivals.xml"
        arrivals_file.write_bytes(render_export(new.uai, arrivals))
        call_command("import_siecle", new.uai, str(arrivals_file), "--at", earlier.isoformat())

        # The old school's next file, through the page: refused once (wrong school), then applied.
        client = client_for(admin)
        wrong = SimpleUploadedFile("autre.xml", render_export(new.uai, students))
        client.post(reverse("siecle-import", args=[old.uai]), {"export": wrong})
        upload = SimpleUploadedFile("ElevesSansAdresses.xml", render_export(old.uai, students[5:]))
        preview = client.post(reverse("siecle-import", args=[old.uai]), {"export": upload})["Location"]
        client.get(preview)
        client.post(preview, follow=True)
    assert Transfer.objects.filter(done=True).count() == 5, "the after-import run transferred them"

    celery_conf(task_always_eager=False, broker_url="redis://127.0.0.1:1/0")  # the broker goes down
    with django_capture_on_commit_callbacks(execute=True):
        import_siecle_export(old, render_export(old.uai, students[6:]), "b.xml", now=timezone.now())
    call_command("run_transfers")
    purge_expired_students(timezone.now() + timedelta(days=4 * 366))

    logged = "\n".join(every_log.lines)
    assert "SIECLE import" in logged and "Matching run" in logged and "could not be queued" in logged
    assert "Retention purge" in logged
    leaked = sorted(value for value in _identifiers(students) if value in logged)
    assert not leaked, f"{leaked} logged:\n{logged}"
