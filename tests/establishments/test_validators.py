"""UAI and CNIL declaration numbers, on the real examples of docs/formats.md."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from establishments.validators import (
    check_letter,
    is_valid_uai,
    normalize_cnil_number,
    normalize_uai,
    validate_cnil_number,
    validate_uai,
)


@pytest.mark.parametrize("uai", ["0750654D", "0750655E", "0920131T", "0752387M"])
def test_it_accepts_the_uai_of_real_establishments(uai):
    validate_uai(uai)
    assert is_valid_uai(uai)


def test_it_refuses_a_uai_with_a_wrong_check_letter_and_names_the_expected_one():
    with pytest.raises(ValidationError) as caught:
        validate_uai("0750001A")
    assert caught.value.code == "uai_key"
    assert "0750001A" in caught.value.messages[0]
    assert "la lettre attendue est U" in caught.value.messages[0]
    assert not is_valid_uai("0750001A")


def test_the_check_letter_skips_i_o_and_q():
    # 7 % 23 = 7 → H (A–H), 8 → J: the alphabet has no I.
    assert check_letter("0000007") == "H"
    assert check_letter("0000008") == "J"
    assert check_letter("0750001") == "U"


@pytest.mark.parametrize(
    "uai",
    [
        "",
        "075065D",  # 6 digits
        "07506544D",  # 8 digits
        "0750654",  # no letter
        "0750654DD",
        "A750654D",
        "0750 654D",
        "0750654-",
        "0750654é",
    ],
)
def test_it_refuses_a_uai_of_the_wrong_format_in_french(uai):
    with pytest.raises(ValidationError) as caught:
        validate_uai(uai)
    assert caught.value.code == "uai_format"
    assert caught.value.messages == [
        "Le code UAI doit comporter 7 chiffres suivis d'une lettre (par exemple 0750654D)."
    ]
    assert not is_valid_uai(uai)


@pytest.mark.parametrize("raw", [" 0750654d ", "0750654d", "\t0750654D\n"])
def test_it_normalises_a_uai_with_strip_and_upper_case_before_validating(raw):
    assert normalize_uai(raw) == "0750654D"
    validate_uai(raw)
    assert is_valid_uai(raw)


def test_a_missing_uai_normalises_to_an_empty_string():
    assert normalize_uai(None) == ""


@pytest.mark.parametrize(
    "number,normalised",
    [
        ("1929152 V0", "1929152 V0"),
        ("2003574 v0", "2003574 v0"),
        ("1679866 v 0", "1679866 v 0"),
        ("1679866V12", "1679866V12"),
        ("123456", "123456"),
        ("12345678", "12345678"),
        ("  1929152   V0 ", "1929152 V0"),
    ],
)
def test_it_accepts_cnil_numbers_of_six_to_eight_digits_with_an_optional_version(number, normalised):
    assert normalize_cnil_number(number) == normalised
    validate_cnil_number(number)


@pytest.mark.parametrize(
    "number",
    [
        "",
        "12345",  # 5 digits
        "123456789",  # 9 digits
        "1929152 V",  # version without its number
        "1929152 V123",
        "1929152 W0",
        "1929152-V0",
        "CNIL 1929152",
        "1929152 V0 bis",
    ],
)
def test_it_refuses_a_malformed_cnil_number_with_an_example_in_french(number):
    with pytest.raises(ValidationError) as caught:
        validate_cnil_number(number)
    assert caught.value.code == "cnil_format"
    assert "6 à 8 chiffres" in caught.value.messages[0]
    assert "« 1929152 V0 »" in caught.value.messages[0]
