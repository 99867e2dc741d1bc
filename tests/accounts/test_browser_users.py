"""In a real browser: the administrator creates a teacher, who chooses a password from the e-mail
and logs in; then someone who forgot their password resets it from the login page."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse
from playwright.sync_api import expect

from establishments.models import Role, User

from .. import browser
from ..browser import login, logout
from ..security.scene import hostile_school
from ..security.test_csp_browser import visit, watch_violations

pytestmark = pytest.mark.browser
browser_page = browser.browser_page  # the fixture, made visible to this module

NEW_PASSWORD = "une-phrase-de-passe-pour-la-rentree"
LINK = re.compile(r"https?://\S+/mot-de-passe-oublie/\S+/\S+/")


def link_in(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(0)


def choose_password(page, link: str) -> None:
    page.goto(link)
    page.get_by_label(re.compile(r"^Nouveau mot de passe")).fill(NEW_PASSWORD)
    page.get_by_label("Confirmation du nouveau mot de passe").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Enregistrer le mot de passe").click()
    expect(page.get_by_role("heading", name="Mot de passe enregistré")).to_be_visible()


def test_the_administrator_creates_a_teacher_who_then_logs_in(
    browser_page, live_server, admin_user, establishment
):
    page = browser_page
    mail.outbox.clear()
    login(page, live_server, "admin")
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Paramètres"
    ).click()
    page.get_by_role("navigation", name="Onglets des paramètres").get_by_role(
        "link", name="Utilisateurs"
    ).click()
    page.get_by_role("link", name="Créer un utilisateur").click()

    page.get_by_role("textbox", name="Nom", exact=True).fill("Durand")
    page.get_by_label("Prénom").fill("Claire")
    page.get_by_label("Adresse e-mail").fill("claire.durand@ac-paris.fr")
    page.get_by_label("Identifiant de connexion").fill("c.durand")
    page.get_by_label("Rôle").select_option(label="Enseignant")
    page.get_by_role("button", name="Créer le compte").click()

    expect(page.get_by_role("status")).to_contain_text("Compte créé : Claire Durand recevra")
    expect(page.get_by_role("cell", name="c.durand")).to_be_visible()
    logout(page)
    assert [message.to for message in mail.outbox] == [["claire.durand@ac-paris.fr"]]

    choose_password(page, link_in(mail.outbox[0]))
    page.get_by_role("link", name="Se connecter").click()
    login(page, live_server, "c.durand", NEW_PASSWORD)

    expect(page.get_by_text("Claire Durand · Enseignant")).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Élèves")
    ).to_be_visible()
    teacher = User.objects.get(username="c.durand")
    assert (teacher.role, teacher.establishment_id, teacher.last_login is not None) == (
        Role.TEACHER,
        establishment.pk,
        True,
    )


def test_a_forgotten_password_is_reset_from_the_login_page(browser_page, live_server, teacher):
    teacher.email = "prof@ac-paris.fr"
    teacher.save()
    page = browser_page
    mail.outbox.clear()
    page.goto(f"{live_server.url}/connexion/")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    page.get_by_label("Adresse e-mail").fill("prof@ac-paris.fr")
    page.get_by_role("button", name="Recevoir le lien").click()
    expect(page.get_by_role("heading", name="Consultez votre messagerie")).to_be_visible()

    choose_password(page, link_in(mail.outbox[0]))
    login(page, live_server, "prof", NEW_PASSWORD)

    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_the_users_and_reset_pages_satisfy_the_content_security_policy(browser_page, live_server):
    scene = hostile_school()  # every user is named <script>alert(1)</script>
    page = browser_page
    violations = watch_violations(page)
    visit(
        page,
        live_server,
        [
            reverse("password_reset"),
            reverse("password_reset_done"),
            reverse("password_reset_confirm", args=["MQ", "lien-perime"]),
            reverse("password_reset_complete"),
        ],
    )
    login(page, live_server, scene.admin.username)
    uai = scene.school.uai
    visit(
        page,
        live_server,
        [
            reverse("settings-users", args=[uai]),
            reverse("settings-user-create", args=[uai]),
            reverse("settings-user", args=[uai, scene.teacher.pk]),
        ],
    )

    assert violations == []
