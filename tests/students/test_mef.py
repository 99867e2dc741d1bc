"""Diplomas of MEF codes and "changement de diplôme" (docs/formats.md)."""

from __future__ import annotations

import pytest

from students.mef import Diploma, diploma_of, same_diploma

BAC_PRO_GA_YEAR_1 = "24732403310"
BAC_PRO_GA_YEAR_2 = "24732403320"
BAC_PRO_MELEC_YEAR_2 = "24725511320"
CAP_GA_YEAR_1 = "24032403210"


@pytest.mark.parametrize(
    ("code", "diploma"),
    [
        ("24022106210", Diploma("CAP", "22106")),
        ("24532403310", Diploma("BAC PRO", "32403")),
        (BAC_PRO_GA_YEAR_2, Diploma("BAC PRO", "32403")),
        ("31231210210", Diploma("BTS", "31210")),
        ("32031210210", Diploma("BTS", "31210")),  # 320: the BTS in two years
        ("32931210210", Diploma("BTS", "31210")),
        ("33031210210", Diploma("330", "31210")),  # past 31x–32x: not a BTS
        ("10310019110", Diploma("103", "10019")),
    ],
)
def test_the_diploma_is_the_level_of_the_dispositif_and_the_specialite(code, diploma):
    assert diploma_of(code) == diploma


@pytest.mark.parametrize("code", ["", "123456789", "12341234", "247324033100"])
def test_a_code_that_is_not_eleven_characters_has_no_diploma(code):
    assert diploma_of(code) is None


def test_moving_up_a_year_keeps_the_diploma():
    assert same_diploma(BAC_PRO_GA_YEAR_1, BAC_PRO_GA_YEAR_2)


def test_repeating_a_year_keeps_the_diploma():
    assert same_diploma(BAC_PRO_GA_YEAR_2, BAC_PRO_GA_YEAR_2)


def test_another_specialite_is_another_diploma():
    assert not same_diploma(BAC_PRO_GA_YEAR_2, BAC_PRO_MELEC_YEAR_2)


def test_a_cap_and_a_bac_pro_of_the_same_specialite_are_different_diplomas():
    assert not same_diploma(CAP_GA_YEAR_1, BAC_PRO_GA_YEAR_1)


def test_two_dispositifs_of_the_same_level_give_the_same_diploma():
    assert same_diploma("24532403310", "24732403320")


def test_a_bts_in_two_years_and_another_bts_of_the_same_specialite_are_the_same_diploma():
    assert same_diploma("31131210110", "32031210220")


def test_an_unreadable_code_never_matches_another_one():
    assert not same_diploma("123456789", BAC_PRO_GA_YEAR_1)
    assert not same_diploma("", "")


def test_the_same_unreadable_code_is_the_same_enrolment():
    assert same_diploma("12341234", "12341234")


@pytest.mark.django_db
def test_students_stored_with_a_31x_32x_dispositif_as_their_level_become_bts():
    from importlib import import_module

    from django.apps import apps

    from tests.factories import StudentFactory

    migration = import_module("students.migrations.0006_bts_dispositifs_31x_32x")
    two_years = StudentFactory(mef_code="32031210210", diploma_level="320", diploma_specialite="31210")
    one_year = StudentFactory(mef_code="31131210110", diploma_level="BTS", diploma_specialite="31210")
    other = StudentFactory(mef_code="33031210210", diploma_level="330", diploma_specialite="31210")

    migration.bts_level_for_31x_32x(apps, None)

    for student in (two_years, one_year, other):
        student.refresh_from_db()
    assert (two_years.diploma_level, one_year.diploma_level, other.diploma_level) == ("BTS", "BTS", "330")
