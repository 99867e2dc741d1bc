"""Invisible and control characters never reach a stored name, code or passport entry.

A right-to-left override (U+202E) makes "0750654D" display as "D4560570" and can hide part of a
name; zero-width characters make two identical-looking names differ; control characters break the
CSV and the printed passport. They are stripped from SIECLE files and from every form.
"""

from __future__ import annotations

import unicodedata

import pytest

from cerisepro.text import strip_unsafe_characters
from establishments.forms import DetailsForm, TransferForm
from students.models import EntryKind
from students.passport.forms import FORMS
from students.siecle import read_nomenclature, read_student_file

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
BIDI_CONTROLS = [
    chr(code) for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060"]
CONTROLS = [
    chr(code)
    for code in (*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F, *range(0x80, 0x85), *range(0x86, 0xA0))
]


# --- The function ---------------------------------------------------------------------------------


@pytest.mark.parametrize("character", BIDI_CONTROLS + ZERO_WIDTH + CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_each_unsafe_character_is_removed(character):
    assert strip_unsafe_characters(f"DU{character}PONT") == "DUPONT"


def test_every_invisible_format_character_is_removed():
    format_characters = "".join(
        chr(code) for code in range(0x110000) if unicodedata.category(chr(code)) == "Cf"
    )

    assert strip_unsafe_characters(f"A{format_characters}B") == "AB"


def test_a_right_to_left_override_no_longer_reverses_a_uai():
    assert strip_unsafe_characters(f"{RLO}0750654D") == "0750654D"


def test_line_breaks_and_tabs_become_spaces_in_single_line_text():
    assert (
        strip_unsafe_characters("JEAN\tPIERRE\nMARIE\r\nLOU\u2028ANNE\x85ZOÉ")
        == "JEAN PIERRE MARIE  LOU ANNE ZOÉ"
    )


def test_multi_line_text_keeps_its_tabs_and_line_breaks_as_newlines():
    text = "Accueil\tdu public\r\nStandard\rCourrier\u2028Fin\x00"

    assert strip_unsafe_characters(text, multiline=True) == "Accueil\tdu public\nStandard\nCourrier\nFin"


def test_text_is_nfc_normalised():
    assert strip_unsafe_characters("Zoe\u0301 LEBŒUF") == "Zoé LEBŒUF"


def test_a_zero_width_character_between_a_letter_and_its_accent_does_not_stop_normalisation():
    assert strip_unsafe_characters("Zoe\u200b\u0301") == "Zoé"


@pytest.mark.parametrize(
    "value",
    [
        "LEBŒUF",
        "D'ALMEIDA",
        "MARTIN-DUBOIS",
        "Maëlys",
        "NGUYỄN",
        "حداد",
        "כהן",
        "Ørsted",
        "ŁUKASZ",
        "JEAN PIERRE",
    ],
)
def test_ordinary_names_in_any_script_are_kept_as_they_are(value):
    assert strip_unsafe_characters(value) == value


# --- SIECLE files -----------------------------------------------------------------------------------


def siecle_file(
    *, uai: str = "0750654D", eleve_id: str = "1", class_code: str = "2GA2", **fields: str
) -> bytes:
    values = {
        "ID_NATIONAL": "070832327JA",
        "NOM_DE_FAMILLE": "LEBŒUF",
        "PRENOM": "Zoé",
        "DATE_NAISS": "12/12/2008",
        "CODE_MEF": "24732403310",
        **fields,
    }
    children = "".join(f"<{tag}>{value}</{tag}>" for tag, value in values.items())
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<BEE_ELEVES VERSION="3.0">\n'
        f"<PARAMETRES><UAJ>{uai}</UAJ><DATE_EXPORT>20/10/2025</DATE_EXPORT></PARAMETRES>\n"
        f'<DONNEES><ELEVES>\n<ELEVE ELEVE_ID="{eleve_id}">{children}</ELEVE>\n</ELEVES>\n<STRUCTURES>\n'
        f'<STRUCTURES_ELEVE ELEVE_ID="{eleve_id}"><STRUCTURE><CODE_STRUCTURE>{class_code}</CODE_STRUCTURE>'
        "<TYPE_STRUCTURE>D</TYPE_STRUCTURE></STRUCTURE></STRUCTURES_ELEVE>\n</STRUCTURES></DONNEES></BEE_ELEVES>\n"
    )
    return xml.encode("utf-8")


def test_a_siecle_row_with_a_right_to_left_override_in_its_name_is_read_without_it():
    data = siecle_file(NOM_DE_FAMILLE=f"LEB{RLO}ŒUF", PRENOM=f"Zo{RLO}é")

    [student] = read_student_file(data).students

    assert (student.last_name, student.first_name) == ("LEBŒUF", "Zoé")


def test_every_text_field_of_a_siecle_row_is_read_without_unsafe_characters():
    data = siecle_file(
        uai=f"{RLO}0750654D",
        eleve_id="18\u200b16400",
        class_code="2GA2\u2066",
        ID_NATIONAL="070832327JA\u200b",
        NOM_DE_FAMILLE="",
        NOM_USAGE="DUPONT\u200f",
        PRENOM="Jean\nPierre",
        CODE_MEF="\ufeff24732403310",
    )

    export = read_student_file(data)

    [student] = export.students
    assert export.uai == "0750654D"
    assert (student.siecle_id, student.ine, student.class_code, student.mef_code) == (
        "1816400",
        "070832327JA",
        "2GA2",
        "24732403310",
    )
    # The usual name stands in for the empty family name (with its warning), cleaned like the rest.
    assert (student.first_name, student.last_name) == ("Jean Pierre", "DUPONT")
    assert export.warnings == [
        "Élève n° 1816400 : nom de famille absent, le nom d'usage (NOM_USAGE) le remplace."
    ]


def test_a_name_made_only_of_invisible_characters_counts_as_missing():
    export = read_student_file(siecle_file(PRENOM="\u200b\u202e"))

    assert export.students[0].first_name == ""
    assert "Élève n° 1 : identité incomplète (manque : prénom)" in export.warnings[0]


def test_a_name_decomposed_by_another_tool_is_read_composed():
    [student] = read_student_file(siecle_file(PRENOM="Zoe\u0301")).students

    assert student.first_name == "Zoé"


def test_nomenclature_labels_are_read_without_unsafe_characters():
    xml = (
        "<BEE_NOMENCLATURES><PARAMETRES><UAJ>0750654D\u202e</UAJ></PARAMETRES><DONNEES><MEFS>"
        f'<MEF CODE_MEF="24732403310"><LIBELLE_LONG>BAC PRO{RLO} GA</LIBELLE_LONG></MEF>'
        "</MEFS></DONNEES></BEE_NOMENCLATURES>"
    )

    nomenclature = read_nomenclature(xml.encode("utf-8"))

    assert (nomenclature.uai, nomenclature.labels) == ("0750654D", {"24732403310": "BAC PRO GA"})


# --- Forms ------------------------------------------------------------------------------------------

DAY = "2025-10-01"
FORM_CASES = [
    (DetailsForm, {"name": "Lycée", "email": "ce.0750654d@example.org"}, "name", f"Lycée {RLO}Henri-IV", "Lycée Henri-IV"),
    (DetailsForm, {"name": "Lycée", "email": "x@example.org"}, "email", "ce.0750654d\u200b@example.org", "ce.0750654d@example.org"),
    (DetailsForm, {"name": "Lycée", "email": "x@example.org"}, "phone", "01\u202a 44 32 12 00", "01 44 32 12 00"),
    (DetailsForm, {"name": "Lycée", "email": "x@example.org"}, "address", "23 rue\u2028Clovis\x07", "23 rue Clovis"),
    (DetailsForm, {"name": "Lycée", "email": "x@example.org"}, "postal_code", "\u200e75005", "75005"),
    (DetailsForm, {"name": "Lycée", "email": "x@example.org"}, "city", "PARIS\u2069", "PARIS"),
    (DetailsForm, {"name": "Lycée", "email": "x@example.org"}, "academy", "Pa\u00adris", "Paris"),
    (DetailsForm, {"name": "Lycée", "email": "x@example.org"}, "website", "https://henri4\u2066.fr", "https://henri4.fr"),
    (TransferForm, {"transfer_enabled": "non"}, "cnil_declaration_number", "1929152\u200b V0", "1929152 V0"),
    (FORMS[EntryKind.FICHE], {"title": "t", "occurred_on": DAY, "description": "d"}, "title", f"Accueil{RLO} du public", "Accueil du public"),
    (FORMS[EntryKind.FICHE], {"title": "t", "occurred_on": DAY, "description": "d"}, "place", "Mairie\u200d", "Mairie"),
    (FORMS[EntryKind.FICHE], {"title": "t", "occurred_on": DAY}, "description", "Accueil\r\n\tStandard\u202e\x00", "Accueil\n\tStandard"),
    (FORMS[EntryKind.FICHE], {"title": "t", "occurred_on": DAY, "description": "d"}, "competencies", "Accueillir\u2067\nOrienter", "Accueillir\nOrienter"),
    (FORMS[EntryKind.EVALUATION], {"title": "t", "level": "acquis", "occurred_on": DAY, "evaluator": "M. X"}, "title", "Courrier\u061c", "Courrier"),
    (FORMS[EntryKind.EVALUATION], {"title": "t", "level": "acquis", "occurred_on": DAY}, "evaluator", f"M. {RLO}DUPONT", "M. DUPONT"),
    (FORMS[EntryKind.BILAN], {"occurred_on": DAY, "end_on": DAY, "description": "d"}, "title", "Bilan\ufeff T1", "Bilan T1"),
    (FORMS[EntryKind.BILAN], {"occurred_on": DAY, "end_on": DAY, "title": "t"}, "description", f"Bonne{RLO} progression\r\n", "Bonne progression"),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("form_class", "data", "field", "typed", "stored"),
    FORM_CASES,
    ids=[f"{case[0].__name__}.{case[2]}" for case in FORM_CASES],
)
def test_each_form_strips_unsafe_characters_from_its_text(form_class, data, field, typed, stored):
    form = form_class(data={**data, field: typed})

    assert form.is_valid(), form.errors
    assert form.cleaned_data[field] == stored


@pytest.mark.django_db
def test_the_length_limit_of_a_form_field_counts_the_text_without_invisible_characters():
    form = DetailsForm(data={"name": "A" * 200 + "\u200b" * 5, "email": "x@example.org"})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["name"] == "A" * 200
