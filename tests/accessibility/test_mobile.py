"""On a phone (390 × 844, an iPhone 12–15): every school page fits the screen's width, its title and
its main action are visible without scrolling sideways, and the navigation folds behind "Menu"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.browser import browser_page  # noqa: F401
from tests.security.scene import hostile_school

from .pages import log_in_as, school_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
PERSONAS = ("anonyme", "administrateur", "chef", "enseignant", "eleve")

# The right edge of the page's title and of its main action (the first primary button), or None.
RIGHT_EDGES = """() => {
  const right = (selector) => {
    const element = document.querySelector(selector);
    return element ? element.getBoundingClientRect().right : null;
  };
  return {title: right("h1"), action: right("main button.primary, main .print-button:not([hidden])")};
}"""


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_page_fits_a_phone_screen(persona, browser_page, live_server):  # noqa: F811
    scene = hostile_school()
    page = browser_page
    log_in_as(page, live_server, scene, persona)
    page.set_viewport_size(PHONE)
    too_wide = []

    for path in school_pages(scene)[persona]:
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        edges = page.evaluate(RIGHT_EDGES)
        if width > PHONE["width"]:
            too_wide.append(f"{path}: page {width} px wide")
        for name, right in edges.items():
            if right is not None and right > PHONE["width"]:
                too_wide.append(f"{path}: {name} ends at {right:.0f} px")

    assert too_wide == []


def test_the_navigation_folds_behind_a_menu_button_on_a_phone(browser_page, live_server):  # noqa: F811
    scene = hostile_school()
    page = browser_page
    log_in_as(page, live_server, scene, "administrateur")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}{reverse('transfer-history', args=[scene.school.uai])}")
    menu = page.get_by_role("button", name="Menu")
    transfers = page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Transferts"
    )

    assert menu.get_attribute("aria-expanded") == "false" and not transfers.is_visible()
    menu.click()
    assert menu.get_attribute("aria-expanded") == "true"
    assert transfers.is_visible() and transfers.get_attribute("aria-current") == "page"


def test_the_navigation_is_open_on_a_computer_screen(browser_page, live_server):  # noqa: F811
    scene = hostile_school()
    page = browser_page
    log_in_as(page, live_server, scene, "administrateur")
    page.goto(f"{live_server.url}{reverse('settings-transfers', args=[scene.school.uai])}")

    nav = page.get_by_role("navigation", name="Navigation principale")
    assert nav.get_by_role("link", name="Paramètres").is_visible()
    assert nav.get_by_role("link", name="Paramètres").get_attribute("aria-current") == "true"
    assert page.get_by_role("button", name="Menu").is_hidden()
    tabs = page.get_by_role("navigation", name="Onglets des paramètres")
    assert tabs.get_by_role("link", name="Import SIECLE").is_visible()


def test_a_keyboard_user_can_skip_to_the_content(browser_page, live_server):  # noqa: F811
    scene = hostile_school()
    page = browser_page
    log_in_as(page, live_server, scene, "enseignant")
    page.goto(f"{live_server.url}{reverse('student-list', args=[scene.school.uai])}")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Aller au contenu")
    assert skip.evaluate("link => link === document.activeElement") and skip.is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"
