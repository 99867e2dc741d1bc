"""Synthetic SIECLE exports: realistic, reproducible, and read back exactly by the parser."""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from datetime import date, datetime

import pytest
from django.core.management import CommandError, call_command

from students.ine import ine_kind
from students.mef import diploma_of
from students.siecle import PARIS, read_nomenclature, read_student_file
from students.synthetic import make_students, mef_labels, render_export, render_nomenclature, zip_export

UAI = "0750654D"


def as_read(student) -> tuple:
    """The fields the parser gives back, from a synthetic student."""
    return (
        student.siecle_id,
        student.ine,
        student.last_name,
        student.first_name,
        student.birth_date,
        student.class_code,
        student.mef_code,
        student.left_on,
        student.entered_on,
    )


def parsed(student) -> tuple:
    return (
        student.siecle_id,
        student.ine,
        student.last_name,
        student.first_name,
        student.birth_date,
        student.class_code,
        student.mef_code,
        student.left_on,
        student.entered_on,
    )


def test_an_export_reads_back_as_the_same_students():
    students = make_students(500, seed=7)

    export = read_student_file(render_export(UAI, students), "ElevesSansAdresses.xml")

    assert export.uai == UAI
    assert export.school_year == 2025
    assert [parsed(student) for student in export.students] == [as_read(student) for student in students]


def test_the_ratios_are_exact_counts():
    students = make_students(1000, seed=3, leaving_ratio=0.05, without_ine_ratio=0.02, inactive_ratio=0.01)

    export = read_student_file(render_export(UAI, students))

    today = date(2025, 11, 1)
    assert export.without_ine == 20
    assert sum(1 for student in export.students if student.in_inactive_class) == 10
    assert sum(1 for student in export.students if student.left_on and student.left_on <= today) == 50
    assert sum(1 for student in export.students if student.has_left(today)) == 60
    assert export.warnings == ["20 élèves sans INE : ils ne pourront pas être transférés."]


def test_announced_departures_are_in_the_future():
    students = make_students(200, seed=3, leaving_ratio=0, future_leaving_ratio=0.1)

    left_on = [student.left_on for student in students if student.left_on]

    assert len(left_on) == 20
    assert all(day > date(2026, 5, 31) for day in left_on)


def test_the_same_seed_gives_the_same_file():
    assert render_export(UAI, make_students(300, seed=11)) == render_export(UAI, make_students(300, seed=11))


def test_another_seed_gives_other_students():
    first, second = make_students(300, seed=11), make_students(300, seed=12)

    assert [as_read(student) for student in first] != [as_read(student) for student in second]
    assert not {student.ine for student in first if student.ine} & {student.ine for student in second}


def test_two_seeds_for_one_school_never_give_one_eleve_id_to_two_students():
    first, second = make_students(300, seed=11), make_students(300, seed=12)

    assert not {student.siecle_id for student in first} & {student.siecle_id for student in second}


def test_the_same_seed_gives_the_same_eleve_ids():
    ids = [student.siecle_id for student in make_students(300, seed=11)]

    assert ids == [student.siecle_id for student in make_students(300, seed=11)]
    assert len(set(ids)) == 300


def test_eleve_ids_look_like_siecle_ids_and_fit_their_column():
    students = make_students(50, seed=67_599, id_offset=9_999_950)

    assert all(student.siecle_id.isdigit() and len(student.siecle_id) <= 20 for student in students)


def test_an_id_offset_gives_other_ines_and_ids_with_the_same_seed():
    first, second = make_students(300, seed=11), make_students(300, seed=11, id_offset=300)

    assert not {student.ine for student in first if student.ine} & {student.ine for student in second}
    assert not {student.siecle_id for student in first} & {student.siecle_id for student in second}


def test_students_look_like_a_lycee_professionnel():
    students = make_students(2000, seed=5)

    assert {ine_kind(student.ine) for student in students if student.ine} == {"rnie"}
    levels = Counter(diploma_of(student.mef_code).level for student in students)
    assert {"CAP", "BAC PRO"} <= set(levels)
    assert levels["BAC PRO"] > levels["CAP"]
    assert {"2GA1", "TCAP1", "1MELEC2", "Inactifs"} <= {student.class_code for student in students}
    assert any(student.groups for student in students)
    assert any(set(student.last_name) & set("ÉÈÇŒ") for student in students)


def test_names_with_accents_and_oe_are_written_in_iso_8859_15():
    xml = render_export(UAI, make_students(2000, seed=5))

    assert xml.startswith(b'<?xml version="1.0" encoding="ISO-8859-15"?>\n<BEE_ELEVES VERSION="3.0">')
    assert "LEBŒUF".encode("iso-8859-15") in xml
    assert "Chloé".encode("iso-8859-15") in xml


def test_values_are_escaped():
    [student] = make_students(1, seed=1)
    student.last_name, student.first_name = "D'ALMEIDA & <FILS>", 'Zoé "Zozo"'

    [read] = read_student_file(render_export(UAI, [student])).students

    assert (read.last_name, read.first_name) == ("D'ALMEIDA & <FILS>", 'Zoé "Zozo"')


def test_the_export_time_is_written_in_paris_time():
    exported_at = datetime(2025, 10, 20, 6, 30, tzinfo=PARIS)

    export = read_student_file(render_export(UAI, make_students(3, seed=1), exported_at=exported_at))

    assert export.exported_at == exported_at


def test_the_export_with_addresses_reads_back_too():
    students = make_students(50, seed=2)

    export = read_student_file(
        zip_export(render_export(UAI, students, with_addresses=True), "ElevesAvecAdresses.xml")
    )

    assert export.file_name == "ElevesAvecAdresses.xml"
    assert len(export.students) == 50


def test_a_zipped_export_reads_back():
    data = zip_export(render_export(UAI, make_students(50, seed=2)))

    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["ElevesSansAdresses.xml"]
    assert len(read_student_file(data).students) == 50


def test_the_nomenclature_names_every_mef_used():
    codes = {student.mef_code for student in make_students(500, seed=9)}

    nomenclature = read_nomenclature(render_nomenclature(codes, uai=UAI))

    assert nomenclature.uai == UAI
    assert nomenclature.labels == {code: mef_labels()[code] for code in codes}
    assert "BAC PRO GESTION-ADMINISTRATION" in nomenclature.labels.values()


def test_twenty_thousand_students_render_and_parse():
    students = make_students(20_000, seed=1)

    export = read_student_file(render_export(UAI, students))

    assert len(export.students) == 20_000
    assert len({student.ine for student in export.students if student.ine}) == 20_000 - export.without_ine


# --- The generate_siecle command -------------------------------------------------------------------


def test_the_command_writes_a_zip_and_its_nomenclature(tmp_path):
    output, nomenclature = tmp_path / "export.zip", tmp_path / "Nomenclature.xml"

    call_command(
        "generate_siecle",
        UAI,
        "40",
        "--seed",
        "3",
        "--zip",
        f"--output={output}",
        f"--nomenclature={nomenclature}",
    )

    export = read_student_file(output.read_bytes())
    assert (export.uai, len(export.students)) == (UAI, 40)
    assert {student.mef_code for student in export.students} <= set(
        read_nomenclature(nomenclature.read_bytes()).labels
    )


def test_the_command_is_reproducible(tmp_path):
    call_command("generate_siecle", UAI, "10", "--seed", "5", f"--output={tmp_path / 'a.xml'}")
    call_command("generate_siecle", UAI, "10", "--seed", "5", f"--output={tmp_path / 'b.xml'}")

    assert (tmp_path / "a.xml").read_bytes() == (tmp_path / "b.xml").read_bytes()


def test_the_command_gives_two_files_of_one_school_distinct_eleve_ids_with_two_seeds(tmp_path):
    call_command("generate_siecle", UAI, "30", "--seed", "1", f"--output={tmp_path / 'a.xml'}")
    call_command("generate_siecle", UAI, "30", "--seed", "2", f"--output={tmp_path / 'b.xml'}")

    first, second = (read_student_file((tmp_path / name).read_bytes()) for name in ("a.xml", "b.xml"))

    assert not {s.siecle_id for s in first.students} & {s.siecle_id for s in second.students}


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["0750001A", "10"], "invalid UAI '0750001A'"),
        ([UAI, "-1"], "COUNT must be zero or more"),
        ([UAI, "10", "--output=/nonexistent/folder/x.xml"], "cannot write /nonexistent/folder/x.xml"),
    ],
)
def test_the_command_refuses_bad_arguments_in_one_line(arguments, error):
    with pytest.raises(CommandError, match=error) as caught:
        call_command("generate_siecle", *arguments)

    assert "\n" not in str(caught.value)
