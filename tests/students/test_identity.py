"""The identity rules of a SIECLE import (docs/identity.md): a child's records never reach another child.

Each test imports files as a school would, then asserts what the school (or the child) would see:
which record holds which passport, what the preview lists, what was recorded.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from establishments.models import Role
from students.models import PassportEntry, SiecleImport, Student
from students.services import import_siecle_export
from students.siecle import SiecleFileError
from students.synthetic import make_students, render_export

from ..factories import PassportEntryFactory, UserFactory
from ..transfers.factories import TransferFactory

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 1, 10, 0, tzinfo=PARIS)
EARLIER = NOW - timedelta(days=30)


def students_of(count=6, seed=1, **kwargs):
    return make_students(count, seed, leaving_ratio=0, without_ine_ratio=0, inactive_ratio=0, **kwargs)


def export_of(establishment, students, *, exported_at=None, **kwargs) -> bytes:
    return render_export(establishment.uai, students, exported_at=exported_at, **kwargs)


def run_import(establishment, students, now=NOW, **kwargs):
    # Each file is exported at the moment it is imported, as a school does.
    data = export_of(establishment, students, exported_at=now)
    return import_siecle_export(establishment, data, "ElevesSansAdresses.xml", now=now, **kwargs)


def students_table():
    return list(Student.objects.order_by("pk").values())


def record_of(row) -> Student:
    return Student.objects.get(siecle_id=row.siecle_id)


# --- the reproduced scenario ----------------------------------------------------------------------


def test_a_file_whose_siecle_ids_name_other_children_never_gives_them_the_old_records(
    establishment, other_establishment, client_for
):
    # The demo school holds twelve students; one has a student account and a bilan.
    old_rows = students_of(12, seed=1)
    run_import(establishment, old_rows, now=EARLIER)
    adam = record_of(old_rows[0])
    account = UserFactory(username="adam", establishment=establishment, role=Role.STUDENT)
    adam.user = account
    adam.save()
    bilan = PassportEntryFactory(
        student=adam, kind="bilan", title="Bilan de Adam", produced_uai=establishment.uai
    )
    gone = TransferFactory(
        origin_establishment=establishment,
        origin_student=adam,
        destination_establishment=other_establishment,
        student_name=adam.display_name,
    )
    # Another export (another seed) reuses the same SIECLE ids for six other children.
    new_rows = [
        dataclasses.replace(row, siecle_id=old.siecle_id)
        for row, old in zip(students_of(6, seed=2, id_offset=500), old_rows[:6], strict=True)
    ]

    outcome = run_import(establishment, [*new_rows, *old_rows[6:]])

    assert (outcome.record.created, outcome.record.updated, outcome.record.deactivated) == (6, 0, 6)
    adam.refresh_from_db()
    assert (adam.ine, adam.last_name, adam.birth_date) == (
        old_rows[0].ine,
        old_rows[0].last_name,
        old_rows[0].birth_date,
    )
    assert not adam.is_active and adam.siecle_id == ""
    assert list(adam.passport_entries.all()) == [bilan]
    newcomer = Student.objects.get(ine=new_rows[0].ine)
    assert newcomer.pk != adam.pk and newcomer.user is None and not newcomer.passport_entries.exists()
    assert newcomer.siecle_id == old_rows[0].siecle_id
    # The child's account never opens the newcomer's passport: having left, the child can no longer
    # log in here at all (issue 12, docs/accounts.md "Student accounts"); the bilan stays on its record.
    page = client_for(account).get(reverse("my-passport", args=[establishment.uai]), follow=True)
    assert page.redirect_chain[-1][0].startswith(reverse("login"))
    assert "Bilan de Adam" not in page.content.decode()
    assert new_rows[0].last_name not in page.content.decode()
    # The history keeps the name it had.
    gone.refresh_from_db()
    assert gone.student_name == adam.display_name
    # The preview and the record say what happened.
    assert len(outcome.plan.reassigned) == 6
    assert outcome.record.reassigned_siecle_ids[0]["siecle_id"] == old_rows[0].siecle_id


def test_the_preview_lists_siecle_ids_that_now_name_another_child(establishment, admin_user, client_for):
    old_rows = students_of(3, seed=1)
    run_import(establishment, old_rows, now=EARLIER)
    other = dataclasses.replace(students_of(1, seed=2, id_offset=500)[0], siecle_id=old_rows[0].siecle_id)
    data = export_of(establishment, [other, *old_rows[1:]], exported_at=NOW)
    client = client_for(admin_user)

    response = client.post(
        reverse("siecle-import", args=[establishment.uai]),
        {"export": SimpleUploadedFile("ElevesSansAdresses.xml", data)},
        follow=True,
    )

    html = response.content.decode()
    assert "Identifiants SIECLE attribués à un autre élève (1)" in html
    assert other.last_name in html and old_rows[0].last_name in html


# --- rule 1: matching an existing record ------------------------------------------------------------


def test_the_same_siecle_id_with_another_ine_is_another_child(establishment):
    rows = students_of(4)
    run_import(establishment, rows, now=EARLIER)
    before = record_of(rows[0])
    rows[0] = dataclasses.replace(rows[0], ine="070832327JA")

    outcome = run_import(establishment, rows)

    before.refresh_from_db()
    assert not before.is_active and before.ine == students_of(4)[0].ine
    assert Student.objects.get(ine="070832327JA").pk != before.pk
    assert (outcome.record.created, outcome.record.deactivated) == (1, 1)


def test_the_same_siecle_id_without_ine_and_another_birth_date_is_another_child(establishment):
    rows = students_of(4)
    rows[0] = dataclasses.replace(rows[0], ine="")
    run_import(establishment, rows, now=EARLIER)
    before = record_of(rows[0])
    rows[0] = dataclasses.replace(rows[0], birth_date=date(2001, 1, 1), last_name="ROGER")

    run_import(establishment, rows)

    before.refresh_from_db()
    assert not before.is_active and before.birth_date != date(2001, 1, 1)
    assert Student.objects.filter(last_name="ROGER", is_active=True).count() == 1


def test_the_same_siecle_id_and_identity_fills_in_a_missing_ine_and_lists_it(establishment):
    rows = students_of(4)
    with_ine = rows[0]
    rows[0] = dataclasses.replace(rows[0], ine="")
    run_import(establishment, rows, now=EARLIER)
    before = record_of(rows[0])
    rows[0] = with_ine

    outcome = run_import(establishment, rows)

    before.refresh_from_db()
    assert before.ine == with_ine.ine and before.is_active
    assert outcome.record.identity_changes == [
        {
            "student_id": before.pk,
            "siecle_id": with_ine.siecle_id,
            "name": f"{with_ine.last_name} {with_ine.first_name}",
            "field": "ine",
            "old": "",
            "new": with_ine.ine,
        }
    ]


@pytest.mark.parametrize("corrected", ["last_name", "birth_date"])
def test_the_same_ine_with_one_identity_field_corrected_is_the_same_child(establishment, corrected):
    rows = students_of(4)
    run_import(establishment, rows, now=EARLIER)
    before = record_of(rows[0])
    value = "NOUVEAU-NOM" if corrected == "last_name" else date(2009, 2, 3)
    rows[0] = dataclasses.replace(rows[0], **{corrected: value})

    outcome = run_import(establishment, rows)

    before.refresh_from_db()
    assert getattr(before, corrected) == value and before.is_active
    assert [change["field"] for change in outcome.record.identity_changes] == [corrected]
    assert outcome.record.created == 0


def test_the_same_ine_with_another_name_and_birth_date_is_refused_and_changes_nothing(establishment):
    rows = students_of(4)
    run_import(establishment, rows, now=EARLIER)
    before = students_table()
    rows[0] = dataclasses.replace(rows[0], last_name="ROGER", first_name="Dylan", birth_date=date(2009, 9, 9))

    with pytest.raises(SiecleFileError) as error:
        run_import(establishment, rows)

    assert "portent l'INE d'un élève déjà enregistré" in error.value.message
    assert f"élève n° {rows[0].siecle_id}" in error.value.message
    assert students_table() == before
    refused = SiecleImport.objects.get(status="refuse")
    assert "INE" in refused.error


def test_two_students_whose_ine_were_swapped_are_refused_in_the_preview_not_a_server_error(
    establishment, admin_user, client_for
):
    rows = students_of(4)
    run_import(establishment, rows, now=EARLIER)
    before = students_table()
    rows[0], rows[1] = (
        dataclasses.replace(rows[0], ine=rows[1].ine),
        dataclasses.replace(rows[1], ine=rows[0].ine),
    )
    data = export_of(establishment, rows, exported_at=NOW)

    response = client_for(admin_user).post(
        reverse("siecle-import", args=[establishment.uai]),
        {"export": SimpleUploadedFile("ElevesSansAdresses.xml", data)},
    )

    assert response.status_code == 400
    assert "un échange d&#x27;INE entre deux élèves en est la cause habituelle" in response.content.decode()
    assert students_table() == before
    assert SiecleImport.objects.filter(status="refuse").count() == 1


def test_two_students_whose_siecle_ids_were_swapped_keep_their_own_records(establishment):
    rows = students_of(4)
    run_import(establishment, rows, now=EARLIER)
    first, second = record_of(rows[0]), record_of(rows[1])
    rows[0], rows[1] = (
        dataclasses.replace(rows[0], siecle_id=rows[1].siecle_id),
        dataclasses.replace(rows[1], siecle_id=rows[0].siecle_id),
    )

    outcome = run_import(establishment, rows)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.ine, first.siecle_id) == (rows[0].ine, rows[0].siecle_id)
    assert (second.ine, second.siecle_id) == (rows[1].ine, rows[1].siecle_id)
    assert (outcome.record.created, outcome.record.updated, outcome.record.deactivated) == (0, 2, 0)


def test_a_reduced_export_without_ine_or_birth_date_never_erases_them(establishment):
    rows = students_of(4)
    run_import(establishment, rows, now=EARLIER)
    reduced = [dataclasses.replace(row, ine="") for row in rows]
    reduced[0] = dataclasses.replace(reduced[0], class_code="1GA1")

    outcome = run_import(establishment, reduced)

    assert {s.ine for s in Student.objects.all()} == {row.ine for row in rows}
    assert Student.objects.filter(is_active=True).count() == 4
    assert outcome.record.without_ine == 0 and outcome.record.identity_changes == []
    assert record_of(rows[0]).class_code == "1GA1"


# --- rule 2: corrections and updates are shown -------------------------------------------------------


def test_the_preview_lists_identity_corrections_and_what_each_update_changes(
    establishment, admin_user, client_for
):
    rows = students_of(5)
    run_import(establishment, rows, now=EARLIER)
    rows[0] = dataclasses.replace(rows[0], last_name="DUPONT-MARTIN")
    rows[1] = dataclasses.replace(rows[1], class_code="TGA9")
    rows[2] = dataclasses.replace(rows[2], class_code="TGA9")
    data = export_of(establishment, rows, exported_at=NOW)
    client = client_for(admin_user)

    response = client.post(
        reverse("siecle-import", args=[establishment.uai]),
        {"export": SimpleUploadedFile("ElevesSansAdresses.xml", data)},
        follow=True,
    )

    html = response.content.decode()
    assert "Corrections d'identité (1)" in html
    assert "Nom corrigé" in html and "DUPONT-MARTIN" in html
    assert "Classe : 2 élèves" in html and "TGA9" in html
    assert "Nom : 1 élève" in html


def test_the_applied_import_records_how_many_students_each_field_changed_for(establishment):
    rows = students_of(5)
    run_import(establishment, rows, now=EARLIER)
    rows[1] = dataclasses.replace(rows[1], class_code="TGA9", first_name="Zoé")

    outcome = run_import(establishment, rows)

    assert outcome.record.field_changes == {"class_code": 1, "first_name": 1}


# --- rule 4: counts match what is stored --------------------------------------------------------------


def test_an_invalid_ine_that_is_not_stored_is_counted_without_ine_everywhere(
    establishment, admin_user, client_for, tmp_path, capsys
):
    rows = students_of(3)
    rows[0] = dataclasses.replace(rows[0], ine="12345")
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(export_of(establishment, rows, exported_at=NOW))

    call_command("import_siecle", establishment.uai, str(path), "--at", "2026-10-01T10:00", "--dry-run")
    assert "1 without INE" in capsys.readouterr().out
    response = client_for(admin_user).post(
        reverse("siecle-import", args=[establishment.uai]),
        {"export": SimpleUploadedFile("ElevesSansAdresses.xml", path.read_bytes())},
        follow=True,
    )
    assert "<strong>1</strong> sans INE" in response.content.decode()
    call_command("import_siecle", establishment.uai, str(path), "--at", "2026-10-01T10:00")

    assert "1 without INE" in capsys.readouterr().out
    assert SiecleImport.objects.get(status="applique").without_ine == 1
    assert Student.objects.filter(ine="").count() == 1


# --- rule 5: an older export never undoes a newer one -------------------------------------------------


def older_and_newer(establishment):
    rows = students_of(6)
    arrival = students_of(1, seed=7, id_offset=500)[0]
    older = export_of(establishment, rows, exported_at=EARLIER)
    newer = export_of(establishment, [*rows[1:], arrival], exported_at=NOW)
    return rows, arrival, older, newer


def test_the_import_records_the_date_and_school_year_of_the_export(establishment):
    outcome = run_import(establishment, students_of(2))

    assert outcome.record.exported_at == NOW
    assert outcome.record.school_year == 2025


def test_an_export_older_than_the_last_import_is_refused_on_the_command_unless_allowed(
    establishment, tmp_path
):
    rows, arrival, older, newer = older_and_newer(establishment)
    import_siecle_export(establishment, older, "old.xml", now=EARLIER)
    import_siecle_export(establishment, newer, "new.xml", now=NOW)
    before = students_table()
    path = tmp_path / "old.xml"
    path.write_bytes(older)

    with pytest.raises(CommandError, match="before the last imported file .*--allow-older"):
        call_command("import_siecle", establishment.uai, str(path), "--at", "2026-10-02T10:00")
    assert students_table() == before
    assert SiecleImport.objects.filter(status="refuse").count() == 1

    call_command("import_siecle", establishment.uai, str(path), "--at", "2026-10-02T10:00", "--allow-older")
    assert record_of(rows[0]).is_active and not Student.objects.get(ine=arrival.ine).is_active


def test_an_older_export_asks_for_a_confirmation_on_the_page(establishment, admin_user, client_for):
    rows, arrival, older, newer = older_and_newer(establishment)
    import_siecle_export(establishment, older, "old.xml", now=EARLIER)
    import_siecle_export(establishment, newer, "new.xml", now=NOW)
    before = students_table()
    client = client_for(admin_user)
    preview = client.post(
        reverse("siecle-import", args=[establishment.uai]),
        {"export": SimpleUploadedFile("old.xml", older)},
        follow=True,
    )
    assert "avant le dernier fichier importé" in preview.content.decode()
    url = preview.redirect_chain[-1][0]

    refused = client.post(url, {})

    assert refused.status_code == 400 and "Exportez à nouveau le fichier" in refused.content.decode()
    assert students_table() == before
    client.post(url, {"allow_older": "on"})
    assert record_of(rows[0]).is_active


def test_a_newer_export_needs_no_confirmation(establishment):
    rows, _arrival, older, newer = older_and_newer(establishment)
    import_siecle_export(establishment, older, "old.xml", now=EARLIER)

    outcome = import_siecle_export(establishment, newer, "new.xml", now=NOW)

    assert outcome.record.status == "applique" and not record_of(rows[0]).is_active


# --- rule 9: refusals are recorded whatever the entry point --------------------------------------------


def test_a_file_refused_on_the_command_is_recorded_with_its_name_hash_and_error(
    establishment, other_establishment, tmp_path
):
    path = tmp_path / "Autre.xml"
    path.write_bytes(export_of(other_establishment, students_of(2)))

    with pytest.raises(CommandError):
        call_command("import_siecle", establishment.uai, str(path), "--at", "2026-10-01T10:00")

    refused = SiecleImport.objects.get()
    assert (refused.status, refused.file_name, refused.user) == ("refuse", "Autre.xml", None)
    assert "0750655E" in refused.error and len(refused.sha256) == 64
    assert not Student.objects.exists()


def test_a_dry_run_that_is_refused_records_nothing(establishment, other_establishment, tmp_path):
    path = tmp_path / "Autre.xml"
    path.write_bytes(export_of(other_establishment, students_of(2)))

    with pytest.raises(CommandError):
        call_command("import_siecle", establishment.uai, str(path), "--dry-run")

    assert not SiecleImport.objects.exists()


def test_a_confirmation_refused_for_mass_deactivation_is_recorded_and_the_preview_kept(
    establishment, admin_user, client_for
):
    rows = students_of(6)
    run_import(establishment, rows, now=EARLIER)
    client = client_for(admin_user)
    preview = client.post(
        reverse("siecle-import", args=[establishment.uai]),
        {
            "export": SimpleUploadedFile(
                "ElevesSansAdresses.xml", export_of(establishment, rows[:2], exported_at=NOW)
            )
        },
        follow=True,
    )

    client.post(preview.redirect_chain[-1][0], {})

    assert SiecleImport.objects.filter(status="refuse").count() == 1
    assert SiecleImport.objects.filter(status="apercu").count() == 1
    assert PassportEntry.objects.count() == 0 and Student.objects.filter(is_active=True).count() == 6
