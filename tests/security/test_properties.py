"""Property-based tests (hypothesis): the identifier validators and the SIECLE parser, on any input,
answer only with their documented outcomes, never with an unexpected exception."""

from __future__ import annotations

import io
import string
import zipfile

from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from establishments.validators import (
    CNIL_RE,
    check_letter,
    is_valid_uai,
    normalize_cnil_number,
    normalize_uai,
    validate_cnil_number,
    validate_uai,
)
from students import ine
from students.siecle import Nomenclature, SiecleExport, SiecleFileError, read_nomenclature, read_student_file
from students.synthetic import make_students, mef_labels, render_export, render_nomenclature, zip_export

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARSER = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = {ine.RNIE, ine.BEA, ine.BEA_BAD_KEY, ine.APPRENTICE, ine.UNUSUAL, ine.INVALID}
UAI_LIKE = st.text(alphabet=string.digits + string.ascii_letters + " \t", max_size=12)
SEVEN_DIGITS = st.from_regex(r"\A[0-9]{7}\Z")
TEN_DIGITS = st.from_regex(r"\A[0-9]{10}\Z")
OTHER_LETTER = st.sampled_from(string.ascii_uppercase)


# --- UAI ---------------------------------------------------------------------------------------


@FAST
@given(st.one_of(st.text(), UAI_LIKE))
@example("0750654D")
@example("0750654d ")
@example("٠٧٥٠٦٥٤D")  # Arabic-Indic digits are not digits of a UAI
def test_validate_uai_accepts_or_refuses_with_a_uai_code_only(value):
    try:
        validate_uai(value)
    except ValidationError as error:
        assert error.code in ("uai_format", "uai_key") and error.messages[0]
        assert not is_valid_uai(value)
    else:
        assert is_valid_uai(value)
        uai = normalize_uai(value)
        assert len(uai) == 8 and uai[:7].isascii() and uai[:7].isdigit()


@FAST
@given(SEVEN_DIGITS)
def test_seven_digits_and_their_check_letter_make_a_valid_uai(digits):
    validate_uai(digits + check_letter(digits))


@FAST
@given(SEVEN_DIGITS, OTHER_LETTER)
def test_any_other_letter_is_refused_naming_the_expected_one(digits, letter):
    expected = check_letter(digits)
    if letter == expected:
        return
    try:
        validate_uai(digits + letter)
    except ValidationError as error:
        assert error.code == "uai_key" and expected in error.messages[0]
    else:
        raise AssertionError(f"{digits}{letter} accepted")


@FAST
@given(st.text())
def test_normalize_uai_is_idempotent(value):
    assert normalize_uai(normalize_uai(value)) == normalize_uai(value)


# --- CNIL declaration number --------------------------------------------------------------------


@FAST
@given(st.text())
@example("1929152 V0")
@example("1929152\u00a0v 12")
def test_validate_cnil_number_accepts_or_refuses_with_its_code_only(value):
    try:
        validate_cnil_number(value)
    except ValidationError as error:
        assert error.code == "cnil_format" and error.messages[0]
    else:
        assert CNIL_RE.match(normalize_cnil_number(value))


@FAST
@given(st.from_regex(r"\A[0-9]{6,8}( ?[vV] ?[0-9]{1,2})?\Z"))
def test_every_documented_cnil_number_is_accepted(value):
    validate_cnil_number(value)


@FAST
@given(st.text())
def test_normalize_cnil_number_is_idempotent(value):
    assert normalize_cnil_number(normalize_cnil_number(value)) == normalize_cnil_number(value)


# --- INE ----------------------------------------------------------------------------------------


@FAST
@given(st.one_of(st.none(), st.text(), st.text(alphabet=string.digits + "ABJKa ", max_size=13)))
def test_every_text_gets_exactly_one_ine_kind(value):
    normalized = ine.normalize_ine(value)
    assert ine.normalize_ine(normalized) == normalized
    kind = ine.ine_kind(normalized)
    assert kind in KINDS
    if kind != ine.INVALID:
        assert len(normalized) == 11 and normalized.isascii()


@FAST
@given(TEN_DIGITS, OTHER_LETTER)
def test_an_ine_bea_is_trusted_only_with_its_check_letter(digits, letter):
    expected = ine.BEA if letter == check_letter(digits) else ine.BEA_BAD_KEY
    assert ine.ine_kind(digits + letter) == expected


# --- SIECLE parser ------------------------------------------------------------------------------

VALID_EXPORT = render_export("0750654D", make_students(3, seed=3))
VALID_NOMENCLATURE = render_nomenclature(list(mef_labels())[:3])


def assert_clear_outcome(read, data: bytes, filename: str) -> None:
    """Either the file is read, or it is refused with a French and an English message."""
    try:
        result = read(data, filename)
    except SiecleFileError as error:
        assert error.message.strip() and error.english.strip()
        assert str(error) == error.message
    else:
        assert isinstance(result, SiecleExport | Nomenclature)


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """A valid file with a few random edits: flipped bytes, cut, inserted or deleted spans."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if edit == "flip" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif edit == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif edit == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif edit == "truncate":
            del data[position:]
    return bytes(data)


def zipped(xml: bytes, member: str) -> bytes:
    return zip_export(xml, member=member)


FILE_NAMES = st.sampled_from(["", "ElevesSansAdresses.xml", "export.zip", "../../etc/passwd", "é.xml"])


@PARSER
@given(st.binary(max_size=2048), FILE_NAMES)
@example(b"", "")
@example(b"PK\x03\x04", "export.zip")
@example(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><BEE_ELEVES/>', "")
@example(b"\xff\xfe<\x00B\x00", "")
def test_arbitrary_bytes_are_read_or_refused_clearly(data, filename):
    assert_clear_outcome(read_student_file, data, filename)
    assert_clear_outcome(read_nomenclature, data, filename)


@PARSER
@given(mutated(VALID_EXPORT), FILE_NAMES)
def test_a_damaged_student_export_is_read_or_refused_clearly(data, filename):
    assert_clear_outcome(read_student_file, data, filename)


@PARSER
@given(mutated(VALID_EXPORT))
def test_a_damaged_export_inside_its_zip_is_read_or_refused_clearly(data):
    assert_clear_outcome(read_student_file, zipped(data, "ElevesSansAdresses.xml"), "export.zip")


@PARSER
@given(mutated(zip_export(VALID_EXPORT)))
def test_a_damaged_zip_is_read_or_refused_clearly(data):
    assert_clear_outcome(read_student_file, data, "export.zip")


@PARSER
@given(mutated(VALID_NOMENCLATURE))
def test_a_damaged_nomenclature_is_read_or_refused_clearly(data):
    assert_clear_outcome(read_nomenclature, data, "Nomenclature.xml")


@PARSER
@given(
    st.lists(
        st.sampled_from(["ElevesSansAdresses.xml", "Nomenclature.xml", "../x.xml", "a/b.xml", "x.txt"]),
        max_size=3,
        unique=True,
    )
)
def test_a_zip_with_any_members_is_read_or_refused_clearly(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in members:
            archive.writestr(member, VALID_EXPORT)
    assert_clear_outcome(read_student_file, buffer.getvalue(), "export.zip")


def test_the_valid_files_used_above_are_read():
    assert len(read_student_file(VALID_EXPORT).students) == 3
    assert read_nomenclature(VALID_NOMENCLATURE).labels
