"""A first import on PostgreSQL writes its students while the file is read (docs/siecle-import.md,
"A first import"): what it stores is what the whole file says, and a refusal found late in the
file leaves the establishment as it was.

The pieces are made small here (two students a piece, three a statement) so that a few students
already go through several pieces and COPY statements before the file is read to its end.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import DataError

from students import services
from students.models import SiecleImport, Student
from students.siecle import SiecleFileError, read_classes_ahead, read_student_file
from students.synthetic import make_students, render_export, zip_export

pytestmark = pytest.mark.postgres

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 1, 10, 0, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _small_pieces(monkeypatch, require_postgres):
    monkeypatch.setattr(services, "STUDENTS_PER_PIECE", 2)
    monkeypatch.setattr(services, "STUDENTS_PER_STATEMENT", 3)


def spy_on_pieces(monkeypatch) -> dict[str, int]:
    """Counts the pieces of COPY text sent before read_student_file returned."""
    counts = {"pieces": 0, "read": 0}
    real_send, real_read = services._BackgroundCopy.send, services.read_student_file

    def send(self, text, students):
        counts["pieces"] += 0 if counts["read"] else 1
        return real_send(self, text, students)

    def read(*args, **kwargs):
        export = real_read(*args, **kwargs)
        counts["read"] = 1
        return export

    monkeypatch.setattr(services._BackgroundCopy, "send", send)
    monkeypatch.setattr(services, "read_student_file", read)
    return counts


def students_of(count, seed=5):
    return make_students(count, seed=seed, without_ine_ratio=0, leaving_ratio=0.1)


def run_import(establishment, data, **kwargs):
    return services.import_siecle_export(establishment, data, "ElevesSansAdresses.xml", now=NOW, **kwargs)


def stored(establishment) -> dict[str, tuple]:
    columns = ("ine", "last_name", "first_name", "birth_date", "class_code", "mef_code", "is_active")
    return {s.siecle_id: tuple(getattr(s, c) for c in columns) for s in establishment.students.all()}


def expected(students) -> dict[str, tuple]:
    today = NOW.date()
    return {
        s.siecle_id: (
            s.ine,
            s.last_name,
            s.first_name,
            s.birth_date,
            s.class_code,
            s.mef_code,
            not ((s.left_on is not None and s.left_on <= today) or s.class_code.lower() == "inactifs"),
        )
        for s in students
    }


def test_a_first_import_stores_every_student_with_the_class_the_file_gives(establishment, monkeypatch):
    students = students_of(23)
    sent_while_read = spy_on_pieces(monkeypatch)

    outcome = run_import(establishment, render_export(establishment.uai, students))

    assert outcome.record.created == 23
    assert sent_while_read["pieces"] >= 5  # written while the file was read, not after it
    assert stored(establishment) == expected(students)
    # What read_student_file reads, the foreign keys checked as they are written, then deferred again.
    assert set(establishment.students.values_list("created_by_import", flat=True)) == {outcome.record.pk}


def test_a_first_import_from_a_zip_stores_the_same_students(establishment):
    students = students_of(17)

    run_import(establishment, zip_export(render_export(establishment.uai, students)))

    assert stored(establishment) == expected(students)


def test_a_class_read_ahead_that_differs_from_the_file_is_never_stored(establishment, caplog):
    # The look-ahead reads ELEVE_ID=" 1003 " as it is; the file's reading trims it. Its guess for that
    # student ("no class") is then wrong, and the rows already written are written again.
    students = students_of(12)
    data = render_export(establishment.uai, students)
    first = students[1]
    assert first.class_code
    data = data.replace(
        f'<STRUCTURES_ELEVE ELEVE_ID="{first.siecle_id}"'.encode(),
        f'<STRUCTURES_ELEVE ELEVE_ID=" {first.siecle_id} "'.encode(),
    )
    assert read_classes_ahead(data).get(first.siecle_id) is None

    with caplog.at_level("WARNING", logger="students.services"):
        outcome = run_import(establishment, data)

    assert "classes read ahead differ" in caplog.text  # the rows sent were rolled back and written again
    assert outcome.record.created == 12
    assert stored(establishment) == expected(students)
    assert Student.objects.get(establishment=establishment, siecle_id=first.siecle_id).class_code == (
        first.class_code
    )


def test_a_refusal_found_after_students_were_written_leaves_no_student(establishment):
    students = students_of(15)
    students[-1] = dataclasses.replace(students[-1], birth_date=date(1850, 1, 1))  # refused, at the end

    with pytest.raises(SiecleFileError, match="date de naissance"):
        run_import(establishment, render_export(establishment.uai, students))

    assert not establishment.students.exists()
    assert SiecleImport.objects.get(establishment=establishment).status == SiecleImport.Status.REFUSED
    # The connection is usable and the same establishment imports a good file at once.
    good = students_of(15, seed=6)
    run_import(establishment, render_export(establishment.uai, good))
    assert stored(establishment) == expected(good)


def test_another_schools_file_is_refused_after_reading_and_nothing_is_kept(
    establishment, other_establishment
):
    students = students_of(11)

    with pytest.raises(SiecleFileError):
        run_import(establishment, render_export(other_establishment.uai, students))

    assert not Student.objects.exists()


def test_a_failure_of_the_database_while_writing_fails_the_import_cleanly(establishment, monkeypatch):
    real_line = services._CopyLine.__call__

    def broken(self, row, public_id):
        line = real_line(self, row, public_id)
        return line.replace(",", ",,", 1) if row.siecle_id == students[7].siecle_id else line

    students = students_of(14)
    monkeypatch.setattr(services._CopyLine, "__call__", broken)

    with pytest.raises(DataError, match="extra data after last expected column"):  # as Django raises it
        run_import(establishment, render_export(establishment.uai, students))

    assert not establishment.students.exists()
    monkeypatch.setattr(services._CopyLine, "__call__", real_line)
    run_import(establishment, render_export(establishment.uai, students))
    assert stored(establishment) == expected(students)


def test_an_establishment_that_has_students_is_not_written_while_read(establishment, monkeypatch):
    run_import(establishment, render_export(establishment.uai, students_of(5)))
    monkeypatch.setattr(services, "_BackgroundCopy", None)  # a second import must not use it

    students = students_of(9, seed=8)
    run_import(establishment, render_export(establishment.uai, students), confirm_mass_deactivation=True)

    active = {k: v for k, v in stored(establishment).items() if v[-1]}
    assert active == {k: v for k, v in expected(students).items() if v[-1]}


# --- the look-ahead on its own --------------------------------------------------------------


def classes_read(data: bytes) -> dict[str, str]:
    return {s.siecle_id: s.class_code for s in read_student_file(data).students if s.class_code}


@pytest.mark.parametrize("wrap", [lambda xml: xml, zip_export], ids=["xml", "zip"])
def test_the_classes_read_ahead_are_those_of_the_whole_file(wrap):
    data = render_export("0750654D", make_students(40, seed=9))

    assert read_classes_ahead(wrap(data)) == classes_read(data)


def test_a_class_with_accents_is_read_ahead_in_the_files_encoding():
    students = make_students(3, seed=10)
    students[0] = dataclasses.replace(students[0], class_code="2NDE PRO ÉLEC")
    data = render_export("0750654D", students)  # ISO-8859-15, as SIECLE writes it

    assert read_classes_ahead(data)[students[0].siecle_id] == "2NDE PRO ÉLEC"


@pytest.mark.parametrize(
    "data",
    [
        render_export("0750654D", make_students(3, seed=11)).decode("iso-8859-15").encode("utf-16"),
        render_export("0750654D", make_students(3, seed=11)).replace(b"</STRUCTURES>", b""),
        render_export("0750654D", make_students(3, seed=11)).replace(b"<STRUCTURES>", b"<STRUCTURES>&x;"),
        b"PK\x03\x04 not a zip",
    ],
    ids=["utf-16", "no-end-tag", "undefined-entity", "broken-zip"],
)
def test_what_cannot_be_read_ahead_gives_no_guess(data):
    assert read_classes_ahead(data) is None
