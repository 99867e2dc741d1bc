"""Reading a SIECLE export as a stream: every student of a large file, in the sections SIECLE uses,
with what was read freed as the parse goes (docs/siecle-format.md). The reading is written for
speed (BENCHMARKS.md, "SIECLE import"); these tests pin what it must still do."""

from __future__ import annotations

import gc
import sys
import unicodedata
from datetime import date

import pytest

from cerisepro.text import strip_unsafe_characters
from students import siecle
from students.siecle import SiecleFileError, read_student_file
from students.synthetic import make_students, render_export

from .test_siecle_parser import division, eleve, export_xml


def test_a_file_of_several_freed_batches_gives_every_student_with_its_class():
    # More than two batches of elements freed together, in each section (ELEVES, OPTIONS, STRUCTURES).
    count = 2 * siecle._FREED_TOGETHER + 37
    students = make_students(count, seed=5, without_ine_ratio=0)

    export = read_student_file(render_export("0750654D", students, with_addresses=True))

    assert [row.siecle_id for row in export.students] == [s.siecle_id for s in students]
    assert [row.class_code for row in export.students] == [s.class_code for s in students]
    assert [row.ine for row in export.students] == [s.ine for s in students]
    assert [row.birth_date for row in export.students] == [s.birth_date for s in students]


def test_the_last_of_repeated_tags_wins_and_a_path_is_read_below_the_first_child_that_has_it():
    repeated = eleve(
        "1",
        "070832327JA",
        PRENOM="Zoé</PRENOM><PRENOM>Chloé",
        SCOLARITE_AN_DERNIER="<CODE_MEF>1</CODE_MEF></SCOLARITE_AN_DERNIER>"
        "<SCOLARITE_AN_DERNIER><CODE_RNE>0750001a</CODE_RNE></SCOLARITE_AN_DERNIER>"
        "<SCOLARITE_AN_DERNIER><CODE_RNE>0750002B</CODE_RNE>",
    )

    [student] = read_student_file(export_xml(repeated, division("1", "2GA2")).encode("iso-8859-15")).students

    assert student.first_name == "Chloé"
    assert student.previous_uai == "0750001A"


def test_an_eleve_outside_the_eleves_section_is_neither_read_nor_kept():
    stray = export_xml(eleve("1", "070832327JA") + "<AUTRES>" + eleve("2", "070832328KB") + "</AUTRES>")

    export = read_student_file(stray.encode("iso-8859-15"))

    assert [student.siecle_id for student in export.students] == ["1"]


def test_a_date_read_again_from_the_cache_is_the_same_date_and_a_bad_one_is_still_refused():
    same_day = "".join(eleve(str(n), DATE_NAISS="01/02/2009") for n in range(1, 4))
    export = read_student_file(export_xml(same_day).encode("iso-8859-15"))

    assert {student.birth_date for student in export.students} == {date(2009, 2, 1)}
    bad_again = eleve("1", DATE_NAISS="31/02/2009") + eleve("2", DATE_NAISS="31/02/2009")
    with pytest.raises(SiecleFileError, match="n° 1 est impossible"):
        read_student_file(export_xml(bad_again).encode("iso-8859-15"))


@pytest.mark.parametrize("refused", [False, True])
def test_the_garbage_collector_is_back_on_after_a_file_is_read_or_refused(refused):
    data = b"<BEE_ELEVES><PARAMETRES/>" if refused else export_xml(eleve("1")).encode("iso-8859-15")

    if refused:
        with pytest.raises(SiecleFileError):
            read_student_file(data)
    else:
        read_student_file(data)

    assert gc.isenabled()


def test_the_garbage_collector_stays_off_when_the_caller_had_turned_it_off():
    gc.disable()
    try:
        with siecle.gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_printable_text_is_cleaned_by_its_nfc_step_alone_as_the_parser_assumes():
    # siecle._clean skips strip_unsafe_characters for printable text: nothing printable is removed.
    changed = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if (char := chr(code)).isprintable()
        and strip_unsafe_characters(char) != unicodedata.normalize("NFC", char)
    ]

    assert changed == []
    assert siecle._clean(" Le\u0301a ") == "Léa" and siecle._clean("Lé\u202ea\u200b") == "Léa"


def _strict(chunk: bytes) -> bytes | None:
    try:
        return siecle._decode_iso_8859_15(chunk).encode("utf-8")
    except UnicodeDecodeError:
        return None


def _fast(chunk: bytes) -> bytes | None:
    try:
        return siecle._iso_8859_15_to_utf8(chunk)
    except UnicodeDecodeError:
        return None


@pytest.mark.parametrize("around", [b"", "LEBŒUF ".encode("iso-8859-15"), "N° ".encode("iso-8859-15") * 70])
def test_iso_8859_15_is_read_as_its_strict_table_reads_it_byte_for_byte(around):
    # The fast way (through ISO-8859-1) gives the table's letters and refuses its C1 controls.
    for byte in range(256):
        chunk = b"<NOM>" + around + bytes([byte]) + around + b"</NOM>"
        assert _fast(chunk) == _strict(chunk), hex(byte)
    assert _fast("€ Š š Ž ž Œ œ Ÿ °".encode("iso-8859-15")) == "€ Š š Ž ž Œ œ Ÿ °".encode()
