"""axe-core (the engine bundled by axe-playwright-python) on every page each persona reaches, and
on the admin's main pages: no violation of impact *serious* or *critical* (RGAA / WCAG 2.1 AA).

Each test prints the count of every rule it saw, minor and moderate ones included, so that they can
be tracked: run ``pytest tests/accessibility -s`` to read them.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.browser import browser_page  # noqa: F401
from tests.security.scene import hostile_school

from .axe import audit, summary
from .pages import admin_pages, log_in_as, log_in_to_the_admin, school_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PERSONAS = ("anonyme", "administrateur", "chef", "enseignant", "eleve")


def audit_pages(page, live_server, paths: list[str]) -> tuple[Counter, list[str]]:
    counts: Counter = Counter()
    blocking: list[str] = []
    for path in paths:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, f"{path}: {response.status}"
        for violation in audit(page):
            counts[f"{violation['id']} ({violation['impact']})"] += len(violation["nodes"])
            if violation["impact"] in ("serious", "critical"):
                targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:3])
                blocking.append(f"{path}: {violation['id']} ({violation['impact']}): {targets}")
    return counts, blocking


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_page_of_each_persona_has_no_serious_violation(persona, browser_page, live_server):  # noqa: F811
    scene = hostile_school()
    log_in_as(browser_page, live_server, scene, persona)

    counts, blocking = audit_pages(browser_page, live_server, school_pages(scene)[persona])

    print(summary(f"axe, {persona}", counts))
    assert blocking == [], "\n".join(blocking)


def test_the_admin_main_pages_have_no_serious_violation(browser_page, live_server):  # noqa: F811
    scene = hostile_school()
    log_in_to_the_admin(browser_page, live_server, scene)

    counts, blocking = audit_pages(browser_page, live_server, admin_pages(scene))

    print(summary("axe, admin", counts))
    assert blocking == [], "\n".join(blocking)


def test_axe_sees_a_serious_violation(browser_page, live_server):  # noqa: F811
    """The control: an image without a text alternative and an unlabelled field are reported."""
    browser_page.goto(f"{live_server.url}/connexion/")
    browser_page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/x.png\"><input type=\"text\">')"
    )

    ids = {
        violation["id"] for violation in audit(browser_page) if violation["impact"] in ("serious", "critical")
    }

    assert {"image-alt", "label"} <= ids
