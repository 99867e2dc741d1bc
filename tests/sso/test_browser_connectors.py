"""In a real browser, against the test's CAS server and OpenID provider: the administrator sets up
the ENT and links a teacher, who then logs in through the ENT; a staff member through ProConnect."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sso.models import CasLink, StaffEmailAllowance
from tests import browser
from tests.browser import login, logout
from tests.factories import StaffFactory

pytestmark = pytest.mark.browser
browser_page = browser.browser_page  # the fixture, made visible to this module


def test_the_administrator_sets_up_the_ent_and_a_teacher_logs_in_through_it(
    browser_page, live_server, cas_server, admin_user, teacher, establishment
):
    page = browser_page
    login(page, live_server, "admin")
    page.goto(f"{live_server.url}/etablissements/{establishment.uai}/parametres/")
    page.get_by_role("navigation", name="Onglets des paramètres").get_by_role(
        "link", name="Connexion"
    ).click()
    page.get_by_label("ENT et mots de passe cerisepro (période de transition)").check()
    page.get_by_label("Adresse du serveur CAS (si l'ENT n'est pas dans la liste)").fill(cas_server.server_url)
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_text("Modifications enregistrées.")).to_be_visible()
    expect(
        page.get_by_text(f"{live_server.url}/etablissements/{establishment.uai}/connexion/ent/")
    ).to_be_visible()

    page.get_by_role("link", name="Voir et modifier les liens, compte par compte").click()
    page.get_by_label("Identifiant ENT de prof").fill("jdupont")
    page.get_by_role("button", name="Enregistrer l'identifiant de prof").click()
    expect(page.get_by_text("Modifications enregistrées.")).to_be_visible()
    assert CasLink.objects.get().user == teacher
    logout(page)

    page.get_by_role("link", name="Se connecter avec l'ENT").click()
    page.get_by_label("UAI de votre établissement").fill(establishment.uai)
    page.get_by_role("button", name="Continuer vers l'ENT").click()
    page.get_by_role("link", name="Continuer vers l'ENT").click()
    page.get_by_label("Identifiant ENT").fill("jdupont")  # the ENT's own login page
    page.get_by_role("button", name="Connexion ENT").click()
    page.wait_for_load_state()
    expect(page.get_by_role("navigation", name="Navigation principale")).to_contain_text(establishment.name)
    assert page.url.startswith(live_server.url)

    logout(page)
    expect(page.get_by_text("Déconnecté de l'ENT")).to_be_visible()
    assert cas_server.logouts == [f"{live_server.url}/connexion/"]


def test_a_staff_member_logs_in_through_proconnect_then_sets_up_the_second_factor(
    browser_page, live_server, oidc_provider, db
):
    page = browser_page
    StaffEmailAllowance.objects.create(email="agent@numerique.gouv.fr", user=StaffFactory(username="agent"))
    page.goto(f"{live_server.url}/connexion/")
    page.get_by_role("link", name="Se connecter avec ProConnect").click()
    page.wait_for_load_state()
    expect(page.get_by_label("Code affiché par l'application")).to_be_visible()
    assert page.url.startswith(f"{live_server.url}/compte/double-authentification/")
