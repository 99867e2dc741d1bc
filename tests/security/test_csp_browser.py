"""In a real browser: every page of every role, and the admin pages, satisfy the strict
Content-Security-Policy — no refused script, style, image, frame or form.

The pages carry the hostile data of :mod:`tests.security.scene`, so an inline ``<script>`` that
escaped the escaping would show up here too, as a violation or a JavaScript error.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.browser import browser_page, login, logout  # noqa: F401

from .otp import current_code, totp_device
from .scene import hostile_school

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber}`);
});
"""


def watch_violations(page) -> list[str]:
    violations: list[str] = []
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            or "Refused to" in message.text
            or message.text.startswith("CSP violation")
            else None
        ),
    )
    page.on("dialog", lambda dialog: violations.append(f"{page.url}: a script ran: {dialog.message}"))
    return violations


def visit(page, live_server, paths: list[str]) -> None:
    for path in paths:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status < 400, f"{path}: {response.status}"
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy + ";" and "unsafe" not in policy
        page.wait_for_load_state("load")


def test_the_school_pages_of_every_role_satisfy_the_policy(browser_page, live_server):  # noqa: F811
    scene = hostile_school()
    page = browser_page
    violations = watch_violations(page)
    uai, student = scene.school.uai, scene.student.public_id
    entry = scene.student.passport_entries.first().public_id
    visit(page, live_server, [reverse("login")])

    login(page, live_server, scene.admin.username)
    visit(
        page,
        live_server,
        [
            reverse("establishment-home", args=[uai]),
            reverse("settings-details", args=[uai]),
            reverse("settings-logo", args=[uai]),
            reverse("settings-transfers", args=[uai]),
            reverse("siecle-import", args=[uai]),
            reverse("siecle-import-preview", args=[uai, scene.preview.public_id]),
            reverse("manual-transfers", args=[uai]),
            reverse("transfer-history", args=[uai]),
            reverse("student-list", args=[uai]),
            reverse("passport", args=[uai, student]),
            reverse("password_change", args=[]),
        ],
    )
    logout(page)

    login(page, live_server, scene.principal.username)
    visit(
        page,
        live_server,
        [reverse("settings-transfers", args=[uai]), reverse("transfer-history", args=[uai])],
    )
    page.get_by_text("Afficher les chiffres").click()  # the chart's table, in <details>
    logout(page)

    login(page, live_server, scene.teacher.username)
    visit(
        page,
        live_server,
        [
            reverse("student-list", args=[uai]),
            reverse("passport", args=[uai, student]),
            reverse("passport-entry-create", args=[uai, student, "fiche"]),
            reverse("passport-entry-edit", args=[uai, student, entry]),
        ],
    )
    logout(page)

    login(page, live_server, scene.student_user.username)
    visit(
        page,
        live_server,
        [reverse("passport", args=[uai, student]), reverse("passport-print", args=[uai, student])],
    )

    assert violations == []


def test_the_manual_transfer_lookup_script_runs_under_the_policy(browser_page, live_server):  # noqa: F811
    scene = hostile_school()
    page = browser_page
    violations = watch_violations(page)
    login(page, live_server, scene.admin.username)
    visit(page, live_server, [reverse("manual-transfers", args=[scene.school.uai])])

    page.locator("[data-uai-input]").first.fill("0920131T")

    page.locator("[data-uai-name]", has_text=scene.other.name).first.wait_for()

    assert violations == []


def test_the_second_factor_pages_satisfy_the_policy(browser_page, live_server, teacher, establishment):  # noqa: F811
    """Enrolment (with its QR code), the recovery codes, the code page at login and the
    re-authentication page, clicked through as a teacher would."""
    import re
    import time
    from base64 import b32decode

    from accounts.sessions import AUTHENTICATED_AT

    from .otp import code_for_key

    page = browser_page
    violations = watch_violations(page)
    login(page, live_server, teacher.username)
    visit(page, live_server, [reverse("otp-setup")])
    assert page.get_by_role("img", name="Code QR de configuration").evaluate("img => img.naturalWidth") > 100
    secret = re.sub(r"\s", "", page.locator("code").inner_text())
    key = b32decode(secret + "=" * (-len(secret) % 8)).hex()
    page.get_by_label("Code affiché par l'application").fill(code_for_key(key))
    page.get_by_role("button", name="Activer").click()
    assert page.get_by_role("list", name="Codes de secours").locator("li").count() == 10
    logout(page)

    login(page, live_server, teacher.username)
    assert reverse("otp-verify") in page.url
    page.get_by_label("Code de vérification").fill(code_for_key(key, offset_steps=1))
    page.get_by_role("button", name="Vérifier").click()
    page.wait_for_load_state()
    assert reverse("otp-verify") not in page.url

    # A stale session: the password change's sibling, the recovery codes, asks to confirm.
    from django.contrib.sessions.models import Session

    for session in Session.objects.all():
        data = session.get_decoded()
        data[AUTHENTICATED_AT] = int(time.time()) - 3600
        Session.objects.filter(pk=session.pk).update(session_data=Session.objects.encode(data))
    visit(page, live_server, [reverse("otp-setup")])
    page.get_by_role("button", name="Générer de nouveaux codes de secours").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Confirmez votre identité").is_visible()

    assert violations == []


def test_the_watcher_sees_a_violation(browser_page, live_server):  # noqa: F811
    """The control: without it, a watcher that sees nothing would pass every test above."""
    page = browser_page
    violations = watch_violations(page)
    visit(page, live_server, [reverse("login")])

    page.evaluate("document.head.appendChild(document.createElement('script')).textContent = 'alert(3)'")
    page.wait_for_timeout(200)

    assert violations and "script-src" in " ".join(violations)


def test_the_lockout_page_satisfies_the_policy(browser_page, live_server, admin_user):  # noqa: F811
    page = browser_page
    violations = watch_violations(page)
    for _ in range(5):
        login(page, live_server, admin_user.username, "pas-le-bon-mot-de-passe")

    assert "Connexion temporairement bloquée" in page.content()
    assert violations == []


def test_the_admin_pages_satisfy_the_policy(browser_page, live_server):  # noqa: F811
    scene = hostile_school()
    page = browser_page
    violations = watch_violations(page)
    device = totp_device(scene.staff)
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.get_by_label("Nom d’utilisateur").fill(scene.staff.username)
    page.get_by_label("Mot de passe").fill("correct-horse-battery-staple")
    page.get_by_role("button", name="Connexion").click()
    page.wait_for_load_state()
    assert reverse("otp-verify") in page.url, "the admin asks for the second factor"
    page.get_by_label("Code de vérification").fill(current_code(device))
    page.get_by_role("button", name="Vérifier").click()
    page.wait_for_load_state()

    visit(
        page,
        live_server,
        [
            reverse("admin:index"),
            reverse("admin:establishments_establishment_changelist"),
            reverse("admin:establishments_establishment_change", args=[scene.school.pk]),
            reverse("admin:establishments_establishment_add"),
            reverse("admin:establishments_user_changelist"),
            reverse("admin:establishments_user_change", args=[scene.teacher.pk]),
            reverse("admin:establishments_user_add"),
            reverse("admin:auth_user_password_change", args=[scene.teacher.pk]),
            reverse("admin:establishments_auditlogentry_changelist"),
            reverse("admin:admin_logentry_changelist"),
            reverse("admin:students_student_changelist"),
            reverse("admin:students_student_change", args=[scene.student.pk]),
            reverse("admin:students_siecleimport_changelist"),
            reverse("admin:transfers_transfer_changelist"),
            reverse("admin:transfers_transfer_change", args=[scene.forceable_transfer_pk]),
            reverse("admin:transfers_transfer_force", args=[scene.forceable_transfer_pk]),
            reverse("admin:transfers_transfer_diagnostic"),
            reverse("admin:transfers_matchingrun_changelist"),
            reverse("admin:transfers_manualauthorisation_changelist"),
            reverse("admin:transfers_manualauthorisation_change", args=[scene.pending_authorisation.pk]),
            reverse("admin:transfers_manualauthorisation_cancel", args=[scene.pending_authorisation.pk]),
        ],
    )
    visit(page, live_server, [reverse("admin:transfers_transfer_diagnostic")])
    page.get_by_label("INE", exact=False).fill(scene.student.ine)
    page.get_by_role("button", name="Diagnostiquer").click()
    page.wait_for_load_state()
    # Widgets that run the admin's scripts: the user list's "select all" and action bar.
    visit(page, live_server, [reverse("admin:establishments_user_changelist")])
    page.locator("#action-toggle").check()

    assert violations == []
