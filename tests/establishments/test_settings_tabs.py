"""The *Paramètres* tabs as their users see them: messages, saved values, audit log, roles."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

from establishments.models import AuditLogEntry

from ..factories import PASSWORD

SAVED = "Modifications enregistrées."
REQUIRED = "Ce champ est obligatoire."

DETAILS = {
    "name": "Lycée professionnel Henri-IV",
    "email": "ce.0750654d@ac-paris.fr",
    "phone": "01 44 41 21 21",
    "address": "23 rue Clovis",
    "postal_code": "75005",
    "city": "Paris",
    "academy": "Paris",
    "website": "https://henri4.example.org",
    "uses_siecle": "on",
}


def url(name, establishment):
    return reverse(name, kwargs={"uai": establishment.uai})


def field_errors(response, field):
    """The French error messages shown in the block of one form field."""
    html = response.content.decode()
    match = re.search(
        rf'<div class="field has-error">(?:(?!<div class="field).)*?id="id_{field}"(.*?)</div>', html, re.S
    )
    assert match, f"no error shown next to {field}"
    return re.findall(r'<p class="error" role="alert">(.*?)</p>', match.group(0))


def png_bytes(color="red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buffer, format="PNG")
    return buffer.getvalue()


# Établissement ---------------------------------------------------------------------------------


def test_the_administrator_saves_the_details_and_sees_a_confirmation(client_for, admin_user, establishment):
    response = client_for(admin_user).post(url("settings-details", establishment), DETAILS, follow=True)

    assert response.status_code == 200
    assert SAVED in response.content.decode()
    establishment.refresh_from_db()
    assert establishment.email == "ce.0750654d@ac-paris.fr"
    assert establishment.city == "Paris"
    assert establishment.website == "https://henri4.example.org"


def test_saving_the_details_records_each_changed_field_old_and_new(client_for, admin_user, establishment):
    old_email = establishment.email

    client_for(admin_user).post(url("settings-details", establishment), DETAILS | {"uses_siecle": ""})

    entry = AuditLogEntry.objects.get(establishment=establishment)
    assert entry.user == admin_user
    assert entry.username == "admin"
    assert entry.action == "Établissement modifié"
    assert entry.changes["email"] == [old_email, "ce.0750654d@ac-paris.fr"]
    assert entry.changes["city"] == ["", "Paris"]
    assert entry.changes["uses_siecle"] == [True, False]
    assert "name" not in entry.changes  # unchanged fields are not logged


def test_saving_unchanged_details_writes_no_audit_entry(client_for, admin_user, establishment):
    data = {"name": establishment.name, "email": establishment.email, "uses_siecle": "on"}

    response = client_for(admin_user).post(url("settings-details", establishment), data, follow=True)

    assert SAVED in response.content.decode()
    assert not AuditLogEntry.objects.exists()


def test_a_website_without_scheme_is_saved_as_https(client_for, admin_user, establishment):
    client_for(admin_user).post(url("settings-details", establishment), DETAILS | {"website": "henri4.fr"})

    establishment.refresh_from_db()
    assert establishment.website == "https://henri4.fr"


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("name", "", REQUIRED),
        ("name", "   ", REQUIRED),
        ("email", "", REQUIRED),
        ("email", "secretariat@", "Saisissez une adresse e-mail valide."),
        ("website", "http://exa mple", "Saisissez une URL valide."),
    ],
)
def test_an_invalid_detail_is_refused_with_a_french_error_next_to_its_field(
    field, value, message, client_for, admin_user, establishment
):
    before = (establishment.name, establishment.email, establishment.website)

    response = client_for(admin_user).post(url("settings-details", establishment), DETAILS | {field: value})

    assert response.status_code == 400
    assert message in field_errors(response, field)
    assert SAVED not in response.content.decode()
    establishment.refresh_from_db()
    assert (establishment.name, establishment.email, establishment.website) == before
    assert establishment.city == ""  # the valid fields of a refused form are not saved either
    assert not AuditLogEntry.objects.exists()


def test_a_refused_form_does_not_show_its_unsaved_name_in_the_header(client_for, admin_user, establishment):
    response = client_for(admin_user).post(
        url("settings-details", establishment), DETAILS | {"name": "Nom pas enregistré", "email": ""}
    )

    html = response.content.decode()
    assert response.status_code == 400
    nav = html.split('<nav class="main-nav"', 1)[1].split("</nav>", 1)[0]
    assert "Lycée professionnel Henri-IV" in nav
    assert "Nom pas enregistré" not in nav
    assert 'value="Nom pas enregistré"' in html  # the form keeps what was typed


def test_the_uai_is_shown_read_only_and_a_posted_uai_changes_nothing(client_for, admin_user, establishment):
    client = client_for(admin_user)

    page = client.get(url("settings-details", establishment)).content.decode()
    client.post(url("settings-details", establishment), DETAILS | {"uai": "0750655E"})

    assert re.search(r'<input id="id_uai" value="0750654D" readonly>', page)
    establishment.refresh_from_db()
    assert establishment.uai == "0750654D"
    assert "uai" not in AuditLogEntry.objects.get().changes


def test_the_principal_reads_the_details_tab_with_disabled_fields_and_no_button(
    client_for, principal, establishment
):
    response = client_for(principal).get(url("settings-details", establishment))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Vous consultez cet onglet en lecture seule" in html
    assert re.search(
        r'<input type="text" name="name" value="Lycée professionnel Henri-IV"[^>]*disabled', html
    )
    assert "Valider</button>" not in html


@pytest.mark.parametrize("tab", ["settings-details", "settings-logo"])
def test_the_principal_may_not_change_the_details_or_the_images(tab, client_for, principal, establishment):
    data = DETAILS | {"logo-kind": "logo", "logo-image": ContentFile(png_bytes(), "l.png")}

    response = client_for(principal).post(url(tab, establishment), data)

    assert response.status_code == 403
    establishment.refresh_from_db()
    assert establishment.city == ""
    assert not establishment.logo
    assert not AuditLogEntry.objects.exists()


@pytest.mark.parametrize("tab", ["settings-details", "settings-logo", "settings-transfers"])
@pytest.mark.parametrize("persona", ["teacher", "student_user"])
def test_teachers_and_students_are_refused_every_tab(tab, persona, request, client_for, establishment):
    client = client_for(request.getfixturevalue(persona))

    assert client.get(url(tab, establishment)).status_code == 403
    response = client.post(url(tab, establishment), DETAILS | {"transfer_enabled": "non"})
    assert response.status_code == 403
    assert "Votre rôle ne permet pas d'accéder à cette page." in response.content.decode()
    establishment.refresh_from_db()
    assert establishment.city == ""


@pytest.mark.parametrize("tab", ["settings-details", "settings-logo", "settings-transfers"])
def test_another_schools_administrator_gets_not_found(tab, client_for, outsider, establishment):
    client = client_for(outsider)

    response = client.post(url(tab, establishment), DETAILS | {"transfer_enabled": "non"})

    assert response.status_code == 404
    assert client.get(url(tab, establishment)).status_code == 404
    establishment.refresh_from_db()
    assert establishment.city == ""


@pytest.mark.parametrize("tab", ["settings-details", "settings-logo", "settings-transfers"])
def test_an_anonymous_visitor_is_sent_to_the_login_page(tab, client, establishment):
    response = client.post(url(tab, establishment), DETAILS)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url(tab, establishment)}"


def test_the_settings_entry_opens_the_tab_each_role_can_change(
    client_for, admin_user, principal, establishment
):
    assert client_for(admin_user).get(url("settings", establishment))["Location"] == url(
        "settings-details", establishment
    )
    assert client_for(principal).get(url("settings", establishment))["Location"] == url(
        "settings-transfers", establishment
    )


# Logo --------------------------------------------------------------------------------------------


def test_uploading_a_logo_confirms_shows_the_preview_and_is_audited(client_for, admin_user, establishment):
    client = client_for(admin_user)

    response = client.post(
        url("settings-logo", establishment),
        {"logo-kind": "logo", "logo-image": ContentFile(png_bytes(), "logo.png")},
        follow=True,
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert SAVED in html
    assert f'src="/etablissements/{establishment.uai}/images/logo/?v=' in html
    assert "Remplacer</button>" in html
    establishment.refresh_from_db()
    assert establishment.logo.name.endswith(".png")
    entry = AuditLogEntry.objects.get()
    assert (entry.action, entry.changes, entry.user) == ("Logo remplacé", {"logo": "remplacé"}, admin_user)


def test_uploading_a_stamp_leaves_the_logo_alone(client_for, admin_user, establishment):
    client_for(admin_user).post(
        url("settings-logo", establishment),
        {"stamp-kind": "stamp", "stamp-image": ContentFile(png_bytes(), "cachet.png")},
    )

    establishment.refresh_from_db()
    assert establishment.stamp
    assert not establishment.logo
    assert AuditLogEntry.objects.get().changes == {"stamp": "remplacé"}
    assert AuditLogEntry.objects.get().action == "Cachet remplacé"


def test_deleting_the_stamp_confirms_and_is_audited(client_for, admin_user, establishment):
    establishment.stamp.save("cachet.png", ContentFile(png_bytes()))

    response = client_for(admin_user).post(
        url("settings-logo", establishment), {"kind": "stamp", "delete": "1"}, follow=True
    )

    html = response.content.decode()
    assert "Image supprimée." in html
    assert "Aucun cachet enregistré." in html
    establishment.refresh_from_db()
    assert not establishment.stamp
    entry = AuditLogEntry.objects.get()
    assert (entry.action, entry.changes) == ("Cachet supprimé", {"stamp": "supprimé"})


def test_submitting_the_logo_form_without_a_file_asks_for_one(client_for, admin_user, establishment):
    response = client_for(admin_user).post(url("settings-logo", establishment), {"logo-kind": "logo"})

    assert response.status_code == 400
    assert REQUIRED in field_errors(response, "logo-image")


def test_the_principal_sees_the_logo_tab_read_only(client_for, principal, establishment):
    establishment.logo.save("logo.png", ContentFile(png_bytes()))

    response = client_for(principal).get(url("settings-logo", establishment))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'alt="Logo de l\'établissement"' in html
    assert 'type="file"' not in html
    assert "Supprimer" not in html
    assert "Vous consultez cet onglet en lecture seule" in html


# Transferts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["admin_user", "principal"])
def test_administrator_and_principal_turn_transfers_on_with_a_cnil_number(
    persona, request, client_for, establishment
):
    user = request.getfixturevalue(persona)

    response = client_for(user).post(
        url("settings-transfers", establishment),
        {"cnil_declaration_number": " 1929152  V0 ", "transfer_enabled": "oui"},
        follow=True,
    )

    html = response.content.decode()
    assert SAVED in html
    assert "Transfert activé — modifié le" in html
    establishment.refresh_from_db()
    assert establishment.transfer_enabled
    assert establishment.cnil_declaration_number == "1929152 V0"
    assert establishment.transfer_changed_by == user
    assert establishment.transfer_changed_at is not None
    entry = AuditLogEntry.objects.get()
    assert entry.action == "Transfert modifié"
    assert entry.user == user
    assert entry.changes == {"transfer_enabled": [False, True], "cnil_declaration_number": ["", "1929152 V0"]}


def test_the_page_says_who_changed_the_transfer_switch(client_for, principal, admin_user, establishment):
    client_for(principal).post(
        url("settings-transfers", establishment),
        {"cnil_declaration_number": "2003574 v0", "transfer_enabled": "oui"},
    )

    html = client_for(admin_user).get(url("settings-transfers", establishment)).content.decode()

    assert re.search(r"Transfert activé — modifié le \d\d/\d\d/\d{4} à \d\d:\d\d par Camille Martin\.", html)


def test_turning_transfers_off_keeps_the_cnil_number(client_for, principal, admin_user, establishment):
    establishment.transfer_enabled = True
    establishment.cnil_declaration_number = "1679866 v 0"
    establishment.transfer_changed_by = admin_user
    establishment.save()

    response = client_for(principal).post(
        url("settings-transfers", establishment),
        {"cnil_declaration_number": "1679866 v 0", "transfer_enabled": "non"},
        follow=True,
    )

    assert SAVED in response.content.decode()
    establishment.refresh_from_db()
    assert not establishment.transfer_enabled
    assert establishment.cnil_declaration_number == "1679866 v 0"
    assert establishment.transfer_changed_by == principal
    assert AuditLogEntry.objects.get().changes == {"transfer_enabled": [True, False]}


def test_transfer_oui_without_a_cnil_number_is_refused_next_to_the_number(
    client_for, admin_user, establishment
):
    response = client_for(admin_user).post(
        url("settings-transfers", establishment), {"cnil_declaration_number": "", "transfer_enabled": "oui"}
    )

    assert response.status_code == 400
    errors = field_errors(response, "cnil_declaration_number")
    assert any("numéro de déclaration CNIL" in error for error in errors)
    establishment.refresh_from_db()
    assert not establishment.transfer_enabled
    assert establishment.transfer_changed_by is None
    assert not AuditLogEntry.objects.exists()


def test_a_malformed_cnil_number_is_refused_next_to_its_field(client_for, admin_user, establishment):
    response = client_for(admin_user).post(
        url("settings-transfers", establishment),
        {"cnil_declaration_number": "CNIL-12", "transfer_enabled": "oui"},
    )

    assert response.status_code == 400
    errors = field_errors(response, "cnil_declaration_number")
    assert any("6 à 8 chiffres" in error for error in errors)
    establishment.refresh_from_db()
    assert (establishment.transfer_enabled, establishment.cnil_declaration_number) == (False, "")


def test_the_transfer_question_must_be_answered(client_for, admin_user, establishment):
    response = client_for(admin_user).post(
        url("settings-transfers", establishment), {"cnil_declaration_number": "1929152 V0"}
    )

    assert response.status_code == 400
    assert REQUIRED in response.content.decode()
    establishment.refresh_from_db()
    assert establishment.cnil_declaration_number == ""


def test_the_transfers_tab_shows_the_current_state(client_for, principal, establishment):
    response = client_for(principal).get(url("settings-transfers", establishment))

    html = response.content.decode()
    assert "Transfert désactivé." in html
    assert re.search(r'<input type="radio" name="transfer_enabled" value="non"[^>]*checked', html)
    assert "Vous consultez cet onglet en lecture seule" not in html
    assert "Valider</button>" in html


# Login, logout and password ----------------------------------------------------------------------


def test_the_login_page_is_in_french(client, db):
    html = client.get(reverse("login")).content.decode()

    assert "<h1>Connexion</h1>" in html
    assert "Nom d’utilisateur" in html
    assert "Mot de passe" in html
    assert "Se connecter</button>" in html


def test_a_wrong_password_is_refused_with_a_french_message(client, admin_user):
    response = client.post(reverse("login"), {"username": "admin", "password": "pas-le-bon"})

    assert response.status_code == 200
    assert "Saisissez un nom d’utilisateur et un mot de passe valides." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logging_in_leads_to_the_users_establishment(client, admin_user, establishment):
    response = client.post(reverse("login"), {"username": "admin", "password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("establishment-home", kwargs={"uai": "0750654D"})
    assert "<h1>Lycée professionnel Henri-IV</h1>" in response.content.decode()


def test_logging_out_is_a_post_that_ends_the_session(client_for, admin_user, establishment):
    client = client_for(admin_user)

    response = client.post(reverse("logout"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("login")
    assert "_auth_user_id" not in client.session
    assert client.get(url("settings-details", establishment)).status_code == 302


def test_the_header_offers_a_logout_button_in_french(client_for, teacher, establishment):
    html = client_for(teacher).get(url("establishment-home", establishment)).content.decode()

    assert f'action="{reverse("logout")}"' in html
    assert "Se déconnecter</button>" in html


def test_a_user_changes_their_password_in_french(client_for, teacher):
    client = client_for(teacher)
    new_password = "une-cerise-sur-le-gateau-2026"

    form = client.get(reverse("password_change")).content.decode()
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
        follow=True,
    )

    assert "Changer de mot de passe" in form
    assert "Ancien mot de passe" in form
    assert "Votre nouveau mot de passe est enregistré." in response.content.decode()
    teacher.refresh_from_db()
    assert teacher.check_password(new_password)


def test_a_wrong_old_password_is_refused_in_french(client_for, teacher):
    response = client_for(teacher).post(
        reverse("password_change"),
        {"old_password": "faux", "new_password1": "x-Y-z-123456789", "new_password2": "x-Y-z-123456789"},
    )

    assert "Votre ancien mot de passe est incorrect." in response.content.decode()
    teacher.refresh_from_db()
    assert teacher.check_password(PASSWORD)
