"""In a real browser: the administrator fills in *Paramètres*, then the principal uses *Transferts*."""

from __future__ import annotations

import os
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from establishments.models import AuditLogEntry

from .. import browser
from ..browser import login, logout

pytestmark = pytest.mark.browser
browser_page = browser.browser_page  # the fixture, made visible to this module

SAVED = "Modifications enregistrées."


def open_settings_tab(page, tab: str) -> None:
    page.get_by_role("navigation", name="Onglets des paramètres").get_by_role("link", name=tab).click()
    page.wait_for_load_state()


def test_the_administrator_then_the_principal_set_up_the_establishment(
    browser_page, live_server, admin_user, principal, establishment, tmp_path, settings
):
    page = browser_page
    settings.MEDIA_ROOT = str(tmp_path / "media")
    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 60), (176, 23, 58)).save(logo)

    login(page, live_server, "admin")
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Paramètres"
    ).click()
    expect(page.get_by_role("heading", name="Établissement")).to_be_visible()
    expect(page.get_by_label("UAI")).to_have_value("0750654D")
    page.get_by_role("textbox", name="Nom", exact=True).fill("Lycée professionnel Henri-IV — Paris")
    page.get_by_label("Adresse e-mail").fill("ce.0750654d@ac-paris.fr")
    page.get_by_label("Ville").fill("Paris")
    page.get_by_label("Site web").fill("henri4.example.org")
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_role("status")).to_have_text(SAVED)
    expect(page.get_by_label("Site web")).to_have_value("https://henri4.example.org")

    open_settings_tab(page, "Logo")
    logo_block = page.locator("#image-logo")
    logo_block.locator('input[type="file"]').set_input_files(str(logo))
    logo_block.get_by_role("button", name="Valider").click()
    expect(page.get_by_role("status")).to_have_text(SAVED)
    preview = page.get_by_role("img", name="Logo de l'établissement")
    expect(preview).to_have_js_property("naturalWidth", 120)  # the image really loaded (retried)

    open_settings_tab(page, "Transferts")
    page.get_by_label("Numéro de déclaration CNIL").fill("1929152 V0")
    page.get_by_role("group", name="Souhaitez-vous activer le transfert").get_by_label("Oui").check()
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_role("status")).to_have_text(SAVED)
    expect(
        page.get_by_text(re.compile(r"Transfert activé — modifié le .* par Camille Martin"))
    ).to_be_visible()
    logout(page)

    login(page, live_server, "chef")
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Paramètres"
    ).click()
    expect(page.get_by_role("heading", name="Transfert des passeports professionnels")).to_be_visible()
    expect(page.get_by_label("Numéro de déclaration CNIL")).to_have_value("1929152 V0")
    page.get_by_role("group", name="Souhaitez-vous activer le transfert").get_by_label("Non").check()
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_role("status")).to_have_text(SAVED)
    expect(page.get_by_text("Transfert désactivé")).to_be_visible()

    open_settings_tab(page, "Logo")
    expect(page.get_by_text("Vous consultez cet onglet en lecture seule")).to_be_visible()
    expect(page.get_by_role("img", name="Logo de l'établissement")).to_be_visible()
    expect(page.locator('input[type="file"]')).to_have_count(0)
    expect(page.get_by_role("button", name="Supprimer")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "principal-logo-tab.png"), full_page=True)
    if os.environ.get("KEEP_SCREENSHOT"):
        Image.open(tmp_path / "principal-logo-tab.png").save(os.environ["KEEP_SCREENSHOT"])

    establishment.refresh_from_db()
    assert establishment.name == "Lycée professionnel Henri-IV — Paris"
    assert establishment.logo
    assert (establishment.transfer_enabled, establishment.cnil_declaration_number) == (False, "1929152 V0")
    assert establishment.transfer_changed_by == principal
    actions = list(AuditLogEntry.objects.order_by("id").values_list("action", "username"))
    assert actions == [
        ("Établissement modifié", "admin"),
        ("Logo remplacé", "admin"),
        ("Transfert modifié", "admin"),
        ("Transfert modifié", "chef"),
    ]


def test_a_refused_upload_shows_its_french_error_in_the_browser(
    browser_page, live_server, admin_user, establishment, tmp_path, settings
):
    page = browser_page
    settings.MEDIA_ROOT = str(tmp_path / "media")
    fake = tmp_path / "logo.png"
    fake.write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")

    login(page, live_server, "admin")
    page.goto(f"{live_server.url}/etablissements/{establishment.uai}/parametres/logo/")
    page.locator("#image-logo input[type=file]").set_input_files(str(fake))
    page.locator("#image-logo").get_by_role("button", name="Valider").click()

    expect(page.locator("#image-logo").get_by_role("alert")).to_have_text(
        "Les images SVG ne sont pas acceptées : enregistrez l'image au format PNG ou JPEG."
    )
    expect(page.get_by_text("Aucun logo enregistré.")).to_be_visible()
    establishment.refresh_from_db()
    assert not establishment.logo
