"""Paramètres › Connexion and the links page: who may change what, what is recorded."""

from __future__ import annotations

from django.urls import reverse

from establishments.models import AuditLogEntry, Role
from sso.models import CasLink, LoginMode, LoginSettings
from tests.factories import UserFactory

from .conftest import text

KNOWN = "https://cas.eclat-bfc.fr/"


def _url(establishment):
    return reverse("settings-connexion", args=[establishment.uai])


def test_the_administrator_chooses_a_known_ent_and_the_change_is_recorded(
    client_for, admin_user, establishment
):
    client = client_for(admin_user)
    response = client.post(
        _url(establishment), {"mode": "mixte", "known_ent": "eclat-bfc", "cas_server_url": ""}
    )
    assert response.status_code == 302
    current = LoginSettings.objects.get(establishment=establishment)
    assert (current.mode, current.cas_server_url) == (LoginMode.BOTH, KNOWN)
    entry = AuditLogEntry.objects.get(establishment=establishment, action="Connexion modifiée")
    assert entry.user == admin_user
    assert entry.changes["mode"] == ["local", "mixte"] and entry.changes["cas_server_url"] == ["", KNOWN]
    assert "Modifications enregistrées." in text(client.get(_url(establishment)))


def test_the_page_gives_the_service_url_to_declare_at_the_ent(client_for, admin_user, establishment):
    page = text(client_for(admin_user).get(_url(establishment)))
    assert f"http://testserver/etablissements/{establishment.uai}/connexion/ent/" in page


def test_a_typed_address_must_be_https(client_for, admin_user, establishment):
    client = client_for(admin_user)
    response = client.post(
        _url(establishment), {"mode": "ent", "cas_server_url": "http://ent.example.fr/cas"}
    )
    assert response.status_code == 400
    assert "adresse https" in text(response)
    assert not LoginSettings.objects.exists()
    response = client.post(
        _url(establishment), {"mode": "ent", "cas_server_url": "https://ent.example.fr/cas"}
    )
    assert LoginSettings.objects.get().cas_server_url == "https://ent.example.fr/cas/"


def test_plain_http_is_accepted_only_when_the_settings_allow_it(
    client_for, admin_user, establishment, settings
):
    settings.SSO_ALLOW_HTTP = True
    response = client_for(admin_user).post(
        _url(establishment), {"mode": "ent", "cas_server_url": "http://127.0.0.1:8080/cas/"}
    )
    assert response.status_code == 302


def test_an_ent_mode_needs_a_server(client_for, admin_user, establishment):
    response = client_for(admin_user).post(
        _url(establishment), {"mode": "ent", "known_ent": "", "cas_server_url": ""}
    )
    assert response.status_code == 400
    assert "Choisissez votre ENT" in text(response)


def test_the_principal_reads_the_tab_but_cannot_change_it(client_for, principal, establishment):
    client = client_for(principal)
    page = client.get(_url(establishment))
    assert page.status_code == 200 and "lecture seule" in text(page)
    assert client.post(_url(establishment), {"mode": "ent", "known_ent": "eclat-bfc"}).status_code == 403
    assert not LoginSettings.objects.exists()


def test_another_cas_server_host_removes_the_links(client_for, admin_user, establishment, teacher):
    LoginSettings.objects.create(establishment=establishment, mode=LoginMode.BOTH, cas_server_url=KNOWN)
    CasLink.objects.create(establishment=establishment, user=teacher, cas_user="jdupont")
    client = client_for(admin_user)
    # Another path on the same server keeps them; another server removes them.
    client.post(_url(establishment), {"mode": "mixte", "cas_server_url": "https://cas.eclat-bfc.fr/cas/"})
    assert CasLink.objects.count() == 1
    client.post(_url(establishment), {"mode": "mixte", "cas_server_url": "https://cas.rogue.example/"})
    assert CasLink.objects.count() == 0
    entry = AuditLogEntry.objects.filter(action="Connexion modifiée").first()
    assert entry.changes["liens ENT supprimés"] == [1, 0]


def test_changing_the_connector_asks_for_the_password_when_the_last_one_is_old(
    client_for, admin_user, establishment, settings
):
    import time

    from accounts.sessions import AUTHENTICATED_AT

    client = client_for(admin_user)
    session = client.session
    session[AUTHENTICATED_AT] = int(time.time()) - settings.REAUTHENTICATION_MINUTES * 60 - 5
    session.save()
    response = client.post(
        _url(establishment), {"mode": "ent", "cas_server_url": "https://cas.rogue.example/"}
    )
    assert response.status_code == 200 and "Mot de passe" in text(response)
    assert not LoginSettings.objects.exists()


# --- Links, by hand --------------------------------------------------------------------------


def _links(establishment):
    return reverse("sso-links", args=[establishment.uai])


def test_the_administrator_links_and_unlinks_a_user_by_hand(client_for, admin_user, establishment, teacher):
    client = client_for(admin_user)
    assert (
        client.post(
            _links(establishment), {"action": "set", "user": teacher.pk, "cas_user": "jdupont"}
        ).status_code
        == 302
    )
    assert CasLink.objects.get(user=teacher).cas_user == "jdupont"
    assert client.post(_links(establishment), {"action": "remove", "user": teacher.pk}).status_code == 302
    assert not CasLink.objects.exists()
    actions = list(AuditLogEntry.objects.filter(establishment=establishment).values_list("action", "changes"))
    assert ("Lien ENT supprimé", {"utilisateur": teacher.pk, "lien ENT": "supprimé"}) in actions
    assert ("Lien ENT modifié", {"utilisateur": teacher.pk, "lien ENT": "défini"}) in actions
    # The journal never holds the ENT identifier (often "prenom.nom").
    assert not AuditLogEntry.objects.filter(changes__icontains="jdupont").exists()


def test_one_identifier_links_one_account(client_for, admin_user, establishment, teacher, principal):
    CasLink.objects.create(establishment=establishment, user=teacher, cas_user="jdupont")
    response = client_for(admin_user).post(
        _links(establishment), {"action": "set", "user": principal.pk, "cas_user": "jdupont"}
    )
    assert response.status_code == 400
    assert "déjà relié à un autre compte" in text(response)
    assert not CasLink.objects.filter(user=principal).exists()


def test_a_user_of_another_establishment_cannot_be_linked(
    client_for, admin_user, establishment, outsider, staff_user
):
    client = client_for(admin_user)
    for user in (outsider, staff_user):
        response = client.post(_links(establishment), {"action": "set", "user": user.pk, "cas_user": "x"})
        assert response.status_code == 404
        assert client.post(_links(establishment), {"action": "remove", "user": user.pk}).status_code == 404
    assert not CasLink.objects.exists()


def test_the_links_page_lists_only_the_establishments_users(
    client_for, admin_user, establishment, outsider, teacher
):
    CasLink.objects.create(establishment=establishment, user=teacher, cas_user="jdupont")
    page = text(client_for(admin_user).get(_links(establishment)))
    assert "jdupont" in page and "(prof)" in page
    assert "(autre)" not in page


def test_the_same_identifier_may_be_linked_in_two_establishments(establishment, other_establishment, db):
    a = UserFactory(username="a", establishment=establishment, role=Role.TEACHER)
    b = UserFactory(username="b", establishment=other_establishment, role=Role.TEACHER)
    CasLink.objects.create(establishment=establishment, user=a, cas_user="jdupont")
    CasLink.objects.create(establishment=other_establishment, user=b, cas_user="jdupont")
    assert CasLink.objects.count() == 2
