"""Linking accounts from the ENT's export: reading the file as ENTs write it, the preview, the
confirmation, and bad files changing nothing (docs/connexion.md §Import)."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from establishments.models import AuditLogEntry, Role
from sso import ent_export
from sso.models import CasLink, CasLinkImport
from tests.factories import StudentFactory, UserFactory

from .conftest import text

HEADER = "Nom;Prénom;Date de naissance;Classe;Identifiant\n"


@pytest.fixture
def people(establishment):
    def student(last, first, born, klass, username):
        user = UserFactory(username=username, establishment=establishment, role=Role.STUDENT)
        return StudentFactory(
            establishment=establishment,
            last_name=last,
            first_name=first,
            birth_date=born,
            class_code=klass,
            user=user,
        )

    return {
        "lea": student("Dupont", "Léa", datetime.date(2008, 5, 17), "2GA2", "lea"),
        # Two Hugo Martin born the same day, in two classes; and two Inès Petit in the same class.
        "hugo_a": student("Martin", "Hugo", datetime.date(2008, 1, 2), "2GA1", "hugo-a"),
        "hugo_b": student("Martin", "Hugo", datetime.date(2008, 1, 2), "2GA2", "hugo-b"),
        "ines_a": student("Petit", "Inès", datetime.date(2007, 3, 3), "1MV", "ines-a"),
        "ines_b": student("Petit", "Inès", datetime.date(2007, 3, 3), "1MV", "ines-b"),
        "teacher": UserFactory(
            username="mme-roux",
            establishment=establishment,
            role=Role.TEACHER,
            last_name="Roux",
            first_name="Anne",
            email="anne.roux@ac-dijon.fr",
        ),
    }


def _preview(establishment, content: str | bytes):
    data = content.encode("utf-8") if isinstance(content, str) else content
    return ent_export.preview_build(establishment, ent_export.parse(data))


def _logins(rows):
    return sorted(row["login"] for row in rows)


def test_students_match_on_name_and_birth_date_and_staff_on_name(establishment, people):
    preview = _preview(
        establishment,
        HEADER
        + "DUPONT;Lea;17/05/2008;2GA2;lea.dupont\n"  # accents and case ignored
        + "Roux;Anne;;;anne.roux\n"
        + "Dupont;Léa;18/05/2008;2GA2;lea.dupont2\n"  # another birth date: not Léa
        + "Inconnu;Paul;01/01/2008;2GA2;paul.inconnu\n",
    )
    assert [(row["login"], row["user"]) for row in preview["to_link"]] == [
        ("lea.dupont", people["lea"].user.pk),
        ("anne.roux", people["teacher"].pk),
    ]
    assert _logins(preview["not_found"]) == ["lea.dupont2", "paul.inconnu"]


def test_the_class_tells_namesakes_apart_and_true_homonyms_are_left_for_a_person(establishment, people):
    preview = _preview(
        establishment,
        HEADER + "Martin;Hugo;02/01/2008;2GA1;hugo.martin1\nPetit;Inès;03/03/2007;1MV;ines.petit\n",
    )
    assert [(row["login"], row["user"]) for row in preview["to_link"]] == [
        ("hugo.martin1", people["hugo_a"].user.pk)
    ]
    assert _logins(preview["homonyms"]) == ["ines.petit"]


def test_two_rows_naming_one_account_are_both_left_for_a_person(establishment, people):
    preview = _preview(establishment, HEADER + "Dupont;Léa;17/05/2008;;lea1\nDupont;Léa;17/05/2008;;lea2\n")
    assert preview["to_link"] == [] and _logins(preview["homonyms"]) == ["lea1", "lea2"]


def test_an_email_column_must_agree_for_staff(establishment, people):
    header = "nom;prenom;mail;login\n"
    preview = _preview(establishment, header + "Roux;Anne;autre@ac-dijon.fr;a.roux\n")
    assert preview["to_link"] == [] and _logins(preview["not_found"]) == ["a.roux"]
    preview = _preview(establishment, header + "Roux;Anne;Anne.Roux@ac-dijon.fr;a.roux\n")
    assert _logins(preview["to_link"]) == ["a.roux"]


def test_already_linked_accounts_and_identifiers_are_shown_not_changed(establishment, people):
    CasLink.objects.create(establishment=establishment, user=people["lea"].user, cas_user="lea.dupont")
    CasLink.objects.create(establishment=establishment, user=people["hugo_a"].user, cas_user="hugo.old")
    preview = _preview(
        establishment,
        HEADER
        + "Dupont;Léa;17/05/2008;;lea.dupont\nMartin;Hugo;02/01/2008;2GA1;hugo.new\nRoux;Anne;;;lea.dupont2\n",
    )
    assert _logins(preview["already_linked"]) == ["hugo.new", "lea.dupont"]
    assert _logins(preview["to_link"]) == ["lea.dupont2"]


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-8"),
        lambda text: b"\xef\xbb\xbf" + text.encode("utf-8"),
        lambda text: text.encode("cp1252"),
        lambda text: text.replace("\n", "\r\n").encode("cp1252"),
    ],
    ids=["utf-8", "utf-8-bom", "windows-1252", "windows-1252-crlf"],
)
def test_the_file_is_read_in_the_encodings_ents_write(establishment, people, encode):
    preview = _preview(
        establishment, encode("NOM;PRÉNOM;NÉ(E) LE;CLASSE;LOGIN\nDupont;Léa;17/05/2008;2GA2;léa.dupont\n")
    )
    assert _logins(preview["to_link"]) == ["léa.dupont"]


@pytest.mark.parametrize(
    "content,message",
    [
        ("Nom;Prénom;Classe\nDupont;Léa;2GA2\n", "Colonnes manquantes"),
        ("Nom,Prénom,Identifiant\nDupont,Léa,lea\n", "séparées par des « ; »"),
        (HEADER + "Dupont;Léa;17/05/2008;;lea\nRoux;Anne;;;lea\n", "figure déjà ligne 2"),
        (HEADER + "Dupont;Léa;2008-17-05;;lea\n", "Ligne 2 : date de naissance illisible"),
        (HEADER + "Dupont;Léa;17/05/2008;;\n", "Ligne 2 : l'identifiant ENT est vide"),
        (HEADER, "aucune ligne"),
        ("", "vide"),
    ],
    ids=["columns", "separator", "duplicate", "date", "empty-login", "no-rows", "empty"],
)
def test_bad_files_are_refused_in_french(content, message):
    with pytest.raises(ValidationError) as refused:
        ent_export.parse(content.encode("utf-8"))
    assert message in " ".join(refused.value.messages)


def test_utf16_and_undecodable_files_are_refused():
    for data in (
        "Nom;Prénom;Identifiant\n".encode("utf-16"),
        b"Nom;Pr\x81nom\x8d;Identifiant\n\x90;\x9d;x\n",
    ):
        with pytest.raises(ValidationError):
            ent_export.parse(data)


# --- The pages -------------------------------------------------------------------------------


def _upload(client, establishment, content: bytes, name="export-ent.csv"):
    url = reverse("sso-links-import", args=[establishment.uai])
    return client.post(url, {"export": SimpleUploadedFile(name, content, content_type="text/csv")})


def test_the_administrator_previews_then_confirms_and_the_import_is_recorded(
    client_for, admin_user, establishment, people
):
    client = client_for(admin_user)
    content = (HEADER + "Dupont;Léa;17/05/2008;2GA2;lea.dupont\nPetit;Inès;03/03/2007;1MV;ines\n").encode(
        "cp1252"
    )
    response = _upload(client, establishment, content)
    assert response.status_code == 302
    preview = client.get(response.headers["Location"])
    page = text(preview)
    assert "1 compte à relier" in page and "1 homonyme" in page and "lea.dupont" in page
    assert not CasLink.objects.exists()  # nothing before the confirmation
    confirmed = client.post(response.headers["Location"], {"action": "confirm"})
    assert confirmed.status_code == 302
    assert CasLink.objects.get().user == people["lea"].user
    assert not CasLinkImport.objects.exists()
    entry = AuditLogEntry.objects.get(action="Liens ENT importés")
    assert entry.changes == {"fichier": "export-ent.csv", "liens créés": 1, "lignes non reliées": 1}


def test_a_bad_file_shows_a_french_message_and_changes_nothing(client_for, admin_user, establishment, people):
    response = _upload(client_for(admin_user), establishment, b"Nom;Classe\nDupont;2GA2\n")
    assert response.status_code == 400
    assert "Colonnes manquantes" in text(response)
    assert not CasLinkImport.objects.exists() and not CasLink.objects.exists()


def test_a_link_made_by_hand_meanwhile_is_kept_at_confirmation(client_for, admin_user, establishment, people):
    client = client_for(admin_user)
    location = _upload(
        client, establishment, (HEADER + "Dupont;Léa;17/05/2008;;lea.dupont\n").encode()
    ).headers["Location"]
    CasLink.objects.create(establishment=establishment, user=people["lea"].user, cas_user="set.by.hand")
    client.post(location, {"action": "confirm"})
    assert CasLink.objects.get().cas_user == "set.by.hand"


def test_cancelling_a_preview_links_nothing(client_for, admin_user, establishment, people):
    client = client_for(admin_user)
    location = _upload(
        client, establishment, (HEADER + "Dupont;Léa;17/05/2008;;lea.dupont\n").encode()
    ).headers["Location"]
    client.post(location, {"action": "cancel"})
    assert not CasLink.objects.exists() and not CasLinkImport.objects.exists()


def test_another_establishments_preview_is_not_found(
    client_for, outsider, establishment, people, other_establishment
):
    record = CasLinkImport.objects.create(establishment=establishment, created_at=timezone.now())
    url = reverse("sso-links-import-preview", args=[other_establishment.uai, record.public_id])
    assert client_for(outsider).get(url).status_code == 404


def test_an_abandoned_preview_is_deleted_a_day_later(admin_user, establishment, people):
    now = timezone.now()
    old = CasLinkImport.objects.create(
        establishment=establishment, created_at=now - datetime.timedelta(days=2)
    )
    ent_export.preview_create(
        establishment, admin_user, (HEADER + "Dupont;Léa;17/05/2008;;x\n").encode(), "f.csv", now
    )
    assert not CasLinkImport.objects.filter(pk=old.pk).exists()


def test_a_student_without_an_account_is_not_found_and_the_preview_says_why(establishment, people):
    StudentFactory(
        establishment=establishment,
        last_name="Sanscompte",
        first_name="Noé",
        birth_date=datetime.date(2008, 9, 9),
    )
    preview = _preview(establishment, HEADER + "Sanscompte;Noé;09/09/2008;2GA2;noe.s\n")
    (row,) = preview["not_found"]
    assert "sans compte cerisepro" in row["note"]
