"""INE kinds, on the examples of docs/formats.md."""

from __future__ import annotations

import pytest

from students.ine import ine_kind, normalize_ine


@pytest.mark.parametrize(
    ("ine", "kind"),
    [
        ("070832327JA", "rnie"),
        ("0494004062M", "bea"),
        ("0113014881M", "bea"),
        ("0494004062A", "bea_bad_key"),
        ("1234A12345B", "apprentice"),
        ("00000000123", "unusual"),
        ("", "invalid"),
        ("12345", "invalid"),
        ("070832327JA1", "invalid"),
        ("0708 2327JA", "invalid"),
        ("07083232éJA", "invalid"),
    ],
)
def test_each_kind_of_ine_is_recognised(ine, kind):
    assert ine_kind(ine) == kind


def test_normalising_strips_spaces_and_upper_cases():
    assert normalize_ine("  070832327ja \n") == "070832327JA"


def test_normalising_nothing_gives_an_empty_ine():
    assert normalize_ine(None) == ""
