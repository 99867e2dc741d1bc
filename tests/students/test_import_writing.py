"""How an import writes new students (one COPY on PostgreSQL, one executemany on SQLite): every
column exactly as read, whatever the characters, on both databases (run this file with
DATABASE_URL=postgres://… for the COPY). BENCHMARKS.md says why it is written without model
instances."""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import unicodedata
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from students.identity import SYNCED_FIELDS, comparable_name
from students.mef import diploma_of
from students.models import Student
from students.services import NEW_STUDENT_COLUMNS, import_siecle_export
from students.siecle import SiecleFileError
from students.synthetic import make_students, render_export

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 1, 10, 0, tzinfo=PARIS)
AWKWARD_NAMES = [
    ('O"BRIEN, Jr', 'Anne "Nanou"'),
    ("D'ARTAGNAN", "Jean-\\Louis"),
    ("NGUYỄN;THỊ", "Ça,va"),
    ("", "Prénom,seul"),
]


def run_import(establishment, data, **kwargs):
    return import_siecle_export(establishment, data, "ElevesSansAdresses.xml", now=NOW, **kwargs)


def test_new_students_are_stored_exactly_as_read_whatever_their_characters(establishment):
    students = make_students(len(AWKWARD_NAMES) + 2, seed=21, without_ine_ratio=0, leaving_ratio=0)
    for index, (last_name, first_name) in enumerate(AWKWARD_NAMES):
        students[index] = dataclasses.replace(students[index], last_name=last_name, first_name=first_name)
    students[-1] = dataclasses.replace(students[-1], ine="", class_code='1MELEC,"A"', left_on=None)

    outcome = run_import(establishment, render_export(establishment.uai, students))

    stored = {s.siecle_id: s for s in Student.objects.filter(establishment=establishment)}
    assert outcome.record.created == len(students) == len(stored)
    for student in students:
        row = stored[student.siecle_id]
        diploma = diploma_of(student.mef_code)
        assert (row.last_name, row.first_name, row.ine, row.class_code) == (
            student.last_name,
            student.first_name,
            student.ine,
            student.class_code,
        )
        assert (row.birth_date, row.entered_on, row.mef_code) == (
            student.birth_date,
            student.entered_on,
            student.mef_code,
        )
        assert (row.diploma_level, row.diploma_specialite) == (diploma.level, diploma.specialite)
        assert (row.origin, row.created_at, row.created_by_import_id) == ("siecle", NOW, outcome.record.pk)
        assert row.is_active and row.deactivated_at is None and row.user_id is None


def test_a_student_who_left_before_the_import_is_created_inactive_by_it(establishment):
    students = make_students(3, seed=22, leaving_ratio=0)
    students[0] = dataclasses.replace(students[0], left_on=NOW.date() - timedelta(days=3))

    outcome = run_import(establishment, render_export(establishment.uai, students))

    left = Student.objects.get(siecle_id=students[0].siecle_id)
    assert (left.is_active, left.deactivated_at, left.deactivated_by_import_id) == (
        False,
        NOW,
        outcome.record.pk,
    )
    assert Student.objects.filter(is_active=True).count() == 2


def test_new_students_get_distinct_random_version_4_public_ids(establishment):
    run_import(establishment, render_export(establishment.uai, make_students(300, seed=23)))

    ids = [uuid.UUID(str(value)) for value in Student.objects.values_list("public_id", flat=True)]
    assert len(set(ids)) == 300
    assert {(value.version, value.variant) for value in ids} == {(4, uuid.RFC_4122)}
    # Random, not counted: no two ids share their first 48 bits.
    assert len({value.int >> 80 for value in ids}) == 300


def test_every_synced_column_is_written_for_a_new_student():
    # A new synced field must reach the insert of new students too, not only the updates.
    assert set(SYNCED_FIELDS) <= set(NEW_STUDENT_COLUMNS)
    assert len(NEW_STUDENT_COLUMNS) == len(set(NEW_STUDENT_COLUMNS))


def test_a_reimport_changes_only_what_changed(establishment):
    students = make_students(20, seed=24, leaving_ratio=0, inactive_ratio=0)
    run_import(establishment, render_export(establishment.uai, students))
    students[3] = dataclasses.replace(students[3], class_code="TGA9", birth_date=date(2008, 1, 2))

    outcome = run_import(establishment, render_export(establishment.uai, students))

    assert (outcome.record.updated, outcome.record.unchanged) == (1, 19)
    assert outcome.record.field_changes == {"class_code": 1, "birth_date": 1}
    changed = Student.objects.get(siecle_id=students[3].siecle_id)
    assert (changed.class_code, changed.birth_date) == ("TGA9", date(2008, 1, 2))


@pytest.mark.parametrize("refused", [False, True])
def test_the_garbage_collector_is_back_on_after_an_import(establishment, refused):
    data = render_export(establishment.uai if not refused else "0750001A", make_students(5, seed=25))

    if refused:
        with pytest.raises(SiecleFileError):
            run_import(establishment, data)
    else:
        run_import(establishment, data)

    assert gc.isenabled()


def test_the_applied_import_records_the_file_s_sha256_hashed_while_it_was_parsed(establishment):
    data = render_export(establishment.uai, make_students(50, seed=26))

    outcome = run_import(establishment, data)

    assert outcome.record.sha256 == hashlib.sha256(data).hexdigest()


def test_an_ascii_last_name_compares_as_the_general_rule_says():
    # comparable_name's ASCII fast path must give what NFKD + letters and digits + casefold give.
    def general(name: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", name) if c.isalnum()).casefold()

    names = [f"Le{chr(code)}Bo-Euf" for code in range(128)] + ["D'ARTAGNAN", "  ", "o'brien 2"]
    assert [comparable_name(name) for name in names] == [general(name) for name in names]
    assert comparable_name("LEFÈVRE-Dupré") == comparable_name("Lefevre Dupre") == "lefevredupre"
