"""Real-world files through both entry points: the administrator's page and ``import_siecle``.

The parser's own tests prove each rule on bytes; these prove what a school secretary and an
operator see for the same files: the students stored, the French message or the English line, the
refusal recorded, and nothing changed by a refused file (docs/siecle-format.md, docs/identity.md).
"""

from __future__ import annotations

import dataclasses

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from students.models import SiecleImport, Student
from students.synthetic import make_students, render_export, render_nomenclature

from .test_real_world_files import mac_zip

ROWS = make_students(3, 31, leaving_ratio=0, without_ine_ratio=0, inactive_ratio=0)
AT = "2026-10-01T10:00"


def base_xml(establishment, rows=ROWS) -> str:
    return render_export(establishment.uai, rows).decode("iso-8859-15")


def on_page(client, establishment, data: bytes, name="ElevesSansAdresses.xml", nomenclature=None):
    """Upload then confirm, as the administrator does; returns (applied, the pages' text)."""
    files = {"export": SimpleUploadedFile(name, data)}
    if nomenclature is not None:
        files["nomenclature"] = SimpleUploadedFile("Nomenclature.xml", nomenclature)
    response = client.post(reverse("siecle-import", args=[establishment.uai]), files)
    if response.status_code != 302:
        return False, response.content.decode()
    preview = client.get(response["Location"]).content.decode()
    client.post(response["Location"], {"confirm_mass_deactivation": "on"})
    return True, preview


def on_command(
    establishment, data: bytes, tmp_path, capsys, name="ElevesSansAdresses.xml", nomenclature=None
):
    path = tmp_path / name
    path.write_bytes(data)
    args = [establishment.uai, str(path), "--at", AT, "--confirm-mass-deactivation"]
    if nomenclature is not None:
        (tmp_path / "Nomenclature.xml").write_bytes(nomenclature)
        args += ["--nomenclature", str(tmp_path / "Nomenclature.xml")]
    try:
        call_command("import_siecle", *args)
    except CommandError as error:
        return False, str(error)
    return True, capsys.readouterr().out


@pytest.fixture(params=["page", "command"])
def submit(request, establishment, admin_user, client_for, tmp_path, capsys):
    """``submit(data, **kw)`` through the page (as the administrator) or through the command."""
    if request.param == "page":
        client = client_for(admin_user)
        return lambda data, **kw: on_page(client, establishment, data, **kw)
    return lambda data, **kw: on_command(establishment, data, tmp_path, capsys, **kw)


def students_table():
    return list(Student.objects.order_by("pk").values())


def assert_refused_and_recorded(before, refusals_before=0):
    assert students_table() == before
    assert SiecleImport.objects.filter(status="refuse").count() == refusals_before + 1


# --- accepted, as real tools write them -------------------------------------------------------------


def test_a_zip_made_by_macos_imports(submit, establishment):
    data = mac_zip({"ElevesSansAdresses.xml": render_export(establishment.uai, ROWS)}, folder="Export SIECLE")

    applied, _text = submit(data, name="Export SIECLE.zip")

    assert applied and Student.objects.count() == 3


def test_utf8_under_the_old_declaration_is_stored_without_mojibake(submit, establishment):
    rows = [dataclasses.replace(ROWS[0], first_name="Grégory", last_name="LEFÈVRE"), *ROWS[1:]]
    data = base_xml(establishment, rows).encode("utf-8")  # still declares ISO-8859-15

    applied, text = submit(data)

    assert applied
    assert Student.objects.get(siecle_id=rows[0].siecle_id).first_name == "Grégory"
    assert not Student.objects.filter(first_name__contains="Ã").exists()
    assert "mais contient de l'UTF-8" in text.replace("&#x27;", "'")


def test_a_name_with_a_right_to_left_override_is_stored_without_it(submit, establishment):
    rows = [dataclasses.replace(ROWS[0], last_name="MARTIN\u202eNIDRAC"), *ROWS[1:]]

    applied, _text = submit(render_export(establishment.uai, rows))

    assert applied and Student.objects.get(siecle_id=rows[0].siecle_id).last_name == "MARTINNIDRAC"


def test_an_empty_last_name_takes_the_usual_name_and_an_incomplete_identity_is_warned(submit, establishment):
    xml = base_xml(establishment)
    first, second = ROWS[0], ROWS[1]
    xml = xml.replace(
        f"<NOM_DE_FAMILLE>{_escaped(first.last_name)}</NOM_DE_FAMILLE>\n        <NOM_USAGE></NOM_USAGE>",
        "<NOM_DE_FAMILLE></NOM_DE_FAMILLE>\n        <NOM_USAGE>USAGE</NOM_USAGE>",
        1,
    )
    xml = xml.replace(f"<PRENOM>{_escaped(second.first_name)}</PRENOM>", "<PRENOM></PRENOM>", 1)

    applied, text = submit(xml.encode("iso-8859-15"))

    assert applied
    assert Student.objects.get(siecle_id=first.siecle_id).last_name == "USAGE"
    assert "NOM_USAGE" in text and first.siecle_id in text
    assert "identité incomplète" in text.lower() and second.siecle_id in text


def _escaped(value: str) -> str:
    return value.replace("&", "&amp;").replace("'", "&#x27;")


# --- refused, with the reason, and nothing changed ----------------------------------------------------


def test_an_unsupported_encoding_is_refused_naming_it(submit, establishment):
    before = students_table()
    data = (
        base_xml(establishment)
        .replace('encoding="ISO-8859-15"', 'encoding="EBCDIC-FOO"')
        .encode("iso-8859-15")
    )

    applied, text = submit(data)

    assert not applied and "EBCDIC-FOO" in text
    assert_refused_and_recorded(before)


def test_a_nomenclature_of_another_school_is_refused(submit, establishment):
    before = students_table()
    nomenclature = render_nomenclature([ROWS[0].mef_code], uai="0750655E")

    applied, text = submit(render_export(establishment.uai, ROWS), nomenclature=nomenclature)

    assert not applied and "0750655E" in text
    assert_refused_and_recorded(before)


def test_an_eleve_id_longer_than_its_column_is_refused_naming_the_row(submit, establishment):
    before = students_table()
    rows = [dataclasses.replace(ROWS[0], siecle_id="1" * 25), *ROWS[1:]]

    applied, text = submit(render_export(establishment.uai, rows))

    assert not applied and "1" * 20 in text
    assert_refused_and_recorded(before)


def test_a_birth_date_of_9999_is_refused(submit, establishment):
    before = students_table()
    xml = base_xml(establishment).replace(
        f"<DATE_NAISS>{ROWS[0].birth_date:%d/%m/%Y}", "<DATE_NAISS>31/12/9999", 1
    )

    applied, text = submit(xml.encode("iso-8859-15"))

    assert not applied and "31/12/9999" in text
    assert_refused_and_recorded(before)
