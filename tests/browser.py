"""Playwright (sync API) driving Debian's headless Chromium against pytest-django's ``live_server``.

Use it from a test module with::

    from tests.browser import browser_page, login  # noqa: F401

``browser_page`` skips when Chromium or Playwright is missing, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.db import connections
from django.urls import reverse

from .conftest import require_service
from .factories import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _playwright_installed() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def browser_page(live_server, monkeypatch):
    """A fresh French-speaking page in headless Chromium; fails the test on a JavaScript error."""
    require_service("Chromium", Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing (apt-get install chromium)")
    require_service("Playwright", _playwright_installed(), "pip install -r requirements-dev.txt")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, and Django's ORM refuses to run
    # inside one; the test code stays synchronous, so this is safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 900})
            page.set_default_timeout(10_000)
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
        finally:
            browser.close()
            # ORM calls made while Playwright's event loop runs use connections of their own
            # context: close them, or PostgreSQL refuses to drop the test database.
            connections.close_all()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def login(page, live_server, username: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a user would."""
    page.goto(f"{live_server.url}{reverse('login')}")
    page.get_by_label("Nom d’utilisateur").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()


def logout(page) -> None:
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_load_state()
