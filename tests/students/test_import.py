"""Applying SIECLE exports to an establishment: the service, the page and the command."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from students.models import PassportEntry, SiecleImport, Student
from students.services import import_siecle_export
from students.siecle import SiecleFileError
from students.synthetic import make_students, render_export, render_nomenclature, zip_export

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 1, 10, 0, tzinfo=PARIS)
TODAY = NOW.date()


def export_of(establishment, students, **kwargs) -> bytes:
    return render_export(establishment.uai, students, **kwargs)


def students_of(count=10, seed=1, **kwargs):
    return make_students(count, seed, leaving_ratio=0, without_ine_ratio=0, inactive_ratio=0, **kwargs)


def snapshot():
    """Everything an import may change, to prove a refused import changed nothing."""
    return (
        list(Student.objects.order_by("pk").values()),
        PassportEntry.objects.count(),
        SiecleImport.objects.exclude(status="refuse").count(),
    )


def run_import(establishment, data, now=NOW, **kwargs):
    return import_siecle_export(establishment, data, "ElevesSansAdresses.xml", now=now, **kwargs)


# --- the rules -------------------------------------------------------------------------------


def test_a_first_import_creates_every_student_with_its_class_and_diploma(establishment):
    students = students_of(5)
    outcome = run_import(establishment, export_of(establishment, students))

    assert outcome.record.created == 5
    created = Student.objects.get(siecle_id=students[0].siecle_id)
    assert (created.ine, created.last_name, created.class_code) == (
        students[0].ine,
        students[0].last_name,
        students[0].class_code,
    )
    assert created.origin == "siecle" and created.is_active and created.created_at == NOW
    assert created.diploma_specialite == students[0].mef_code[3:8]


@pytest.mark.parametrize(
    "left_on,active", [(TODAY - timedelta(days=1), False), (TODAY, False), (TODAY + timedelta(days=1), True)]
)
def test_date_sortie_deactivates_once_reached(establishment, left_on, active):
    students = students_of(2)
    run_import(establishment, export_of(establishment, students), now=NOW - timedelta(days=30))
    students[0] = dataclasses.replace(students[0], left_on=left_on)

    outcome = run_import(establishment, export_of(establishment, students))

    student = Student.objects.get(siecle_id=students[0].siecle_id)
    assert student.is_active is active
    assert outcome.record.deactivated == (0 if active else 1)
    if not active:
        assert student.deactivated_at == NOW and student.deactivated_by_import == outcome.record


def test_a_student_in_the_inactifs_pseudo_class_is_deactivated(establishment):
    students = students_of(3)
    run_import(establishment, export_of(establishment, students), now=NOW - timedelta(days=1))
    students[1] = dataclasses.replace(students[1], class_code="Inactifs")

    run_import(establishment, export_of(establishment, students))

    assert not Student.objects.get(siecle_id=students[1].siecle_id).is_active


def test_a_student_missing_from_the_file_is_deactivated_never_deleted(establishment):
    students = students_of(4)
    run_import(establishment, export_of(establishment, students), now=NOW - timedelta(days=1))

    outcome = run_import(establishment, export_of(establishment, students[:3]))

    gone = Student.objects.get(siecle_id=students[3].siecle_id)
    assert (gone.is_active, outcome.record.deactivated, Student.objects.count()) == (False, 1, 4)


def test_a_student_who_comes_back_is_reactivated_not_duplicated(establishment):
    students = students_of(3)
    run_import(establishment, export_of(establishment, students), now=NOW - timedelta(days=20))
    run_import(establishment, export_of(establishment, students[:2]), now=NOW - timedelta(days=10))

    outcome = run_import(establishment, export_of(establishment, students))

    back = Student.objects.get(siecle_id=students[2].siecle_id)
    assert (back.is_active, back.deactivated_at, outcome.record.reactivated) == (True, None, 1)
    assert Student.objects.count() == 3


def test_changes_in_the_file_update_the_student(establishment):
    students = students_of(3)
    run_import(establishment, export_of(establishment, students), now=NOW - timedelta(days=1))
    students[0] = dataclasses.replace(students[0], class_code="1MELEC", last_name="NOUVEAU-NOM")

    outcome = run_import(establishment, export_of(establishment, students))

    updated = Student.objects.get(siecle_id=students[0].siecle_id)
    assert (updated.class_code, updated.last_name) == ("1MELEC", "NOUVEAU-NOM")
    assert (outcome.record.updated, outcome.record.unchanged) == (1, 2)


def test_reimporting_the_same_file_changes_nothing_and_says_so(establishment, capsys, tmp_path):
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(export_of(establishment, students_of(5)))
    call_command("import_siecle", establishment.uai, str(path), "--at", "2026-10-01T10:00")
    before = snapshot()[0]

    call_command("import_siecle", establishment.uai, str(path), "--at", "2026-10-01T10:00")

    out = capsys.readouterr().out
    assert "No change: the establishment's students already match this file." in out
    assert snapshot()[0] == before
    assert SiecleImport.objects.order_by("-pk").first().status == "inchange"


def test_the_nomenclature_gives_the_readable_formation(establishment):
    students = students_of(2)
    labels = render_nomenclature({s.mef_code for s in students}, uai=establishment.uai)

    run_import(establishment, export_of(establishment, students), nomenclature=labels)

    assert Student.objects.exclude(mef_label="").count() == 2


def test_a_file_of_another_establishment_is_refused_and_changes_nothing(establishment, other_establishment):
    before = snapshot()
    with pytest.raises(SiecleFileError) as error:
        run_import(establishment, export_of(other_establishment, students_of(3)))
    assert "Ce fichier concerne l'établissement 0750655E" in error.value.message
    assert snapshot() == before


def test_deactivating_more_than_half_needs_a_confirmation(establishment):
    students = students_of(10)
    run_import(establishment, export_of(establishment, students), now=NOW - timedelta(days=1))
    before = snapshot()

    with pytest.raises(SiecleFileError) as error:
        run_import(establishment, export_of(establishment, students[:4]))
    assert "plus de la moitié" in error.value.message
    assert snapshot() == before

    outcome = run_import(
        establishment, export_of(establishment, students[:4]), confirm_mass_deactivation=True
    )
    assert outcome.record.deactivated == 6


def test_students_without_ine_are_imported_and_counted(establishment):
    students = students_of(4)
    students[0] = dataclasses.replace(students[0], ine="")

    outcome = run_import(establishment, export_of(establishment, students))

    assert outcome.record.without_ine == 1
    assert Student.objects.filter(ine="").count() == 1


@pytest.mark.postgres
def test_the_import_uses_the_same_number_of_queries_for_50_and_500_students(
    require_postgres, establishment, other_establishment
):
    # PostgreSQL: SQLite caps the parameters of one statement, so its batches are smaller.
    def queries_for(target, count, seed):
        data = render_export(target.uai, students_of(count, seed=seed))
        with CaptureQueriesContext(connection) as context:
            run_import(target, data)
        return len(context.captured_queries)

    assert queries_for(establishment, 50, 1) == queries_for(other_establishment, 500, 2)


# --- the real samples ------------------------------------------------------------------------


def test_the_dossiersco_sample_imports_its_student(establishment, samples_dir):
    establishment.uai = "0752387M"
    establishment.save()
    students = (samples_dir / "dossiersco-eleves-avec-adresses.xml").read_bytes()
    # The published pair is inconsistent: its Nomenclature is another school's (UAJ 0140070A).
    nomenclature = (samples_dir / "dossiersco-nomenclature.xml").read_bytes()
    with pytest.raises(SiecleFileError, match="La nomenclature concerne l'établissement 0140070A"):
        run_import(establishment, students, nomenclature=nomenclature)
    assert not Student.objects.exists()

    run_import(establishment, students, nomenclature=nomenclature, override_uai=True)

    student = Student.objects.get()
    assert (student.ine, student.last_name, student.class_code, student.mef_code) == (
        "070832327JA",
        "ISSILAHI",
        "3 A",
        "10310019110",
    )


def test_the_pix_sample_is_refused_for_its_invalid_uaj_unless_overridden(establishment, samples_dir):
    data = (samples_dir / "pix-registrations-no-longer-in-school.xml").read_bytes()
    with pytest.raises(SiecleFileError, match="123ABC"):
        run_import(establishment, data)
    assert not Student.objects.exists()

    outcome = run_import(establishment, data, override_uai=True)

    by_id = {s.siecle_id: s for s in Student.objects.all()}
    assert outcome.record.created == 5 and outcome.record.without_ine == 1
    assert not by_id["0002"].is_active, "Inactifs pseudo-class"
    assert by_id["0003"].ine == ""
    assert by_id["0004"].class_code == "", "a group is not a class"
    assert not by_id["0005"].is_active, "DATE_SORTIE 01/09/2019 reached"
    assert by_id["0001"].is_active


# --- bad input: nothing changes ----------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def bad_files(establishment):
    good = export_of(establishment, students_of(3)).decode("iso-8859-15")
    duplicate = students_of(2)
    duplicate[1] = dataclasses.replace(duplicate[1], ine=duplicate[0].ine)
    return {
        "not-xml": b"NOM;PRENOM\nMARTIN;Lea\n",
        "truncated": good[: len(good) // 2].encode("iso-8859-15"),
        "wrong-root": b'<?xml version="1.0"?><HTML><BODY/></HTML>',
        "nomenclature": render_nomenclature(["24731001110"]),
        "xxe": (
            b'<?xml version="1.0"?><!DOCTYPE BEE_ELEVES [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<BEE_ELEVES><PARAMETRES><UAJ>&x;</UAJ></PARAMETRES></BEE_ELEVES>"
        ),
        "entity-bomb": (
            b'<?xml version="1.0"?><!DOCTYPE B [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;">]><BEE_ELEVES><PARAMETRES><UAJ>&c;</UAJ></PARAMETRES></BEE_ELEVES>'
        ),
        "undeclared-latin1": good.replace('encoding="ISO-8859-15"', "").encode("iso-8859-15"),
        "zip-without-students": _zip({"Nomenclature.xml": b"<BEE_NOMENCLATURES/>"}),
        "zip-with-two": _zip(
            {"ElevesSansAdresses.xml": good.encode("iso-8859-15"), "a/ElevesAvecAdresses.xml": b"x"}
        ),
        "zip-slip": _zip({"../ElevesSansAdresses.xml": good.encode("iso-8859-15")}),
        "empty": b"",
        "duplicate-ine": export_of(establishment, duplicate),
        "impossible-date": good.replace("<DATE_NAISS>", "<DATE_NAISS>31/02/", 1).encode("iso-8859-15"),
    }


BAD = [
    "not-xml",
    "truncated",
    "wrong-root",
    "nomenclature",
    "xxe",
    "entity-bomb",
    "undeclared-latin1",
    "zip-without-students",
    "zip-with-two",
    "zip-slip",
    "empty",
    "duplicate-ine",
    "impossible-date",
]


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_file_is_refused_by_the_service_and_changes_nothing(establishment, kind):
    run_import(establishment, export_of(establishment, students_of(3, seed=9)), now=NOW - timedelta(days=1))
    before = snapshot()

    with pytest.raises(SiecleFileError) as error:
        run_import(establishment, bad_files(establishment)[kind])

    assert error.value.message and error.value.english
    assert snapshot() == before


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_file_on_the_command_exits_with_an_english_error(establishment, kind, tmp_path):
    path = tmp_path / "export.xml"
    path.write_bytes(bad_files(establishment)[kind])
    before = snapshot()

    with pytest.raises(CommandError) as error:
        call_command("import_siecle", establishment.uai, str(path))

    assert "\n" not in str(error.value) and str(error.value).isascii()
    assert snapshot() == before


@pytest.mark.parametrize("kind", ["not-xml", "xxe", "zip-slip", "duplicate-ine"])
def test_a_bad_file_on_the_page_shows_a_french_error_and_is_logged_as_refused(
    establishment, admin_user, client_for, kind
):
    before = snapshot()
    upload = SimpleUploadedFile("ElevesSansAdresses.xml", bad_files(establishment)[kind])

    response = client_for(admin_user).post(
        reverse("siecle-import", args=[establishment.uai]), {"export": upload}
    )

    assert response.status_code == 400
    refused = SiecleImport.objects.get(status="refuse")
    assert escape(refused.error) in response.content.decode()
    assert snapshot() == before


# --- the page ----------------------------------------------------------------------------------


def test_the_administrator_previews_then_confirms_an_import(establishment, admin_user, client_for):
    client = client_for(admin_user)
    students = students_of(3)
    upload = SimpleUploadedFile(
        "ExportXML_ElevesSansAdresses.zip", zip_export(export_of(establishment, students))
    )

    response = client.post(reverse("siecle-import", args=[establishment.uai]), {"export": upload})
    preview = client.get(response["Location"])

    page = preview.content.decode()
    assert "Aperçu de l'import" in page and "Élèves qui seront créés" in page
    assert students[0].last_name in page
    assert not Student.objects.exists(), "nothing applied before the confirmation"

    done = client.post(response["Location"], follow=True)

    assert "Import terminé : 3 élèves créés" in done.content.decode()
    assert Student.objects.count() == 3
    assert SiecleImport.objects.get(status="applique").created == 3


def test_the_page_asks_for_confirmation_before_deactivating_half_the_students(
    establishment, admin_user, client_for
):
    students = students_of(6)
    run_import(establishment, export_of(establishment, students), now=NOW - timedelta(days=1))
    client = client_for(admin_user)
    upload = SimpleUploadedFile("e.xml", export_of(establishment, students[:2]))
    preview_url = client.post(reverse("siecle-import", args=[establishment.uai]), {"export": upload})[
        "Location"
    ]

    refused = client.post(preview_url, {})
    assert refused.status_code == 400 and "plus de la moitié" in refused.content.decode()
    assert Student.objects.filter(is_active=True).count() == 6

    client.post(preview_url, {"confirm_mass_deactivation": "on"})
    assert Student.objects.filter(is_active=True).count() == 2


def test_cancelling_a_preview_changes_nothing(establishment, admin_user, client_for):
    client = client_for(admin_user)
    upload = SimpleUploadedFile("e.xml", export_of(establishment, students_of(2)))
    preview_url = client.post(reverse("siecle-import", args=[establishment.uai]), {"export": upload})[
        "Location"
    ]

    response = client.post(preview_url + "abandonner/", follow=True)

    assert "Import abandonné" in response.content.decode()
    assert not Student.objects.exists()
    assert SiecleImport.objects.get().status == "abandonne"
    assert SiecleImport.objects.get().pending_content is None


def test_the_page_lists_past_imports_with_their_counts(establishment, admin_user, client_for):
    run_import(establishment, export_of(establishment, students_of(4)), user=admin_user)

    page = client_for(admin_user).get(reverse("siecle-import", args=[establishment.uai])).content.decode()

    assert "ElevesSansAdresses.xml" in page and "Appliqué" in page


def test_a_principal_cannot_import(establishment, principal, client_for):
    upload = SimpleUploadedFile("e.xml", export_of(establishment, students_of(2)))
    response = client_for(principal).post(
        reverse("siecle-import", args=[establishment.uai]), {"export": upload}
    )
    assert response.status_code == 403
    assert not Student.objects.exists()


def test_the_import_of_a_date_in_the_future_is_accepted(establishment):
    students = students_of(1, school_year=2026)
    run_import(
        establishment, export_of(establishment, students, exported_at=datetime(2026, 9, 30, tzinfo=PARIS))
    )
    assert Student.objects.get().birth_date < date(2026, 1, 1)
