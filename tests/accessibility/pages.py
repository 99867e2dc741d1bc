"""The pages each persona reaches, on one school with data on every page, and the admin's main pages.

The scene is the one of the Content-Security-Policy tests (:mod:`tests.security.scene`): every
free-text field is hostile, every page has rows, a preview, a chart, an authorisation waiting.
"""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from django.urls import reverse

from tests.browser import login
from tests.security.otp import current_code, totp_device
from tests.security.scene import Scene

STAFF_PASSWORD = "correct-horse-battery-staple"


def school_pages(scene: Scene) -> dict[str, list[str]]:
    """Persona → the school pages it can open (each returns 200 for it)."""
    uai, student = scene.school.uai, scene.student.public_id
    entry = scene.student.passport_entries.first().public_id
    sent = scene.school.transfers_sent.first()
    common = [reverse("password_change"), reverse("otp-setup"), reverse("accessibility")]
    admin = [
        reverse("establishment-home", args=[uai]),
        reverse("settings-details", args=[uai]),
        reverse("settings-logo", args=[uai]),
        reverse("settings-transfers", args=[uai]),
        reverse("siecle-import", args=[uai]),
        reverse("siecle-import-preview", args=[uai, scene.preview.public_id]),
        reverse("manual-transfers", args=[uai]),
        reverse("transfer-history", args=[uai]),
        reverse("transfer-waiting", args=[uai]),
        reverse("student-list", args=[uai]),
        reverse("passport", args=[uai, student]),
        reverse("passport-print", args=[uai, student]),
    ]
    admin.append(reverse("transfer-report", args=[uai, sent.public_id]))
    # Paramètres › Utilisateurs: the list, the creation form and a user's page (docs/accounts.md).
    users = [reverse("settings-users", args=[uai]), reverse("settings-user", args=[uai, scene.teacher.pk])]
    admin += [*users, reverse("settings-user-create", args=[uai])]
    # The fiches de connexion of the student's class, logins only (docs/accounts.md "Student accounts");
    # the sheet with the passwords, a POST's answer, is audited in tests/students/test_browser_accounts.py.
    classe = urlencode({"classe": scene.student.class_code})
    login_sheet = f"{reverse('student-login-sheet', args=[uai])}?{classe}"
    admin.append(login_sheet)
    # "Mot de passe oublié ?", its answer, a link no longer valid, and the page after a reset.
    password_reset = [
        reverse("password_reset"),
        reverse("password_reset_done"),
        reverse("password_reset_confirm", args=["MQ", "lien-perime"]),
        reverse("password_reset_complete"),
    ]
    # Paramètres › Connexion, the links, the ENT export's import and its preview (docs/connexion.md);
    # the school logs in through an ENT, so the login page shows its button.
    connexion = reverse("settings-connexion", args=[uai])
    admin += [
        connexion,
        reverse("sso-links", args=[uai]),
        reverse("sso-links-import", args=[uai]),
        reverse("sso-links-import-preview", args=[uai, _ent_export_preview(scene).public_id]),
    ]
    ent_pages = [reverse("sso-ent-choose"), f"{reverse('sso-ent-choose')}?{urlencode({'uai': uai})}"]
    return {
        "anonyme": [reverse("login"), reverse("accessibility"), *password_reset, *ent_pages],
        "administrateur": admin + common,
        "chef": [
            reverse("establishment-home", args=[uai]),
            reverse("settings-details", args=[uai]),
            reverse("settings-transfers", args=[uai]),
            reverse("transfer-history", args=[uai]),
            reverse("transfer-waiting", args=[uai]),
            reverse("student-list", args=[uai]),
            login_sheet,
            *users,
            connexion,
            *common,
        ],
        "enseignant": [
            reverse("establishment-home", args=[uai]),
            reverse("student-list", args=[uai]),
            login_sheet,
            reverse("passport", args=[uai, student]),
            reverse("passport-entry-create", args=[uai, student, "fiche"]),
            reverse("passport-entry-edit", args=[uai, student, entry]),
            *common,
        ],
        "eleve": [
            reverse("establishment-home", args=[uai]),
            reverse("passport", args=[uai, student]),
            reverse("passport-print", args=[uai, student]),
            *common,
        ],
    }


def _ent_export_preview(scene: Scene):
    """The school on an ENT, and the preview of an export naming its (hostile) student and a stranger."""
    from django.utils import timezone

    from sso import ent_export
    from sso.models import LoginMode, LoginSettings

    LoginSettings.objects.update_or_create(
        establishment=scene.school,
        defaults={"mode": LoginMode.BOTH, "cas_server_url": "https://ent.example.org/cas/"},
    )
    student = scene.student
    born = student.birth_date.strftime("%d/%m/%Y") if student.birth_date else ""
    rows = [
        ["Nom", "Prénom", "Date de naissance", "Classe", "Identifiant"],
        [student.last_name, student.first_name, born, student.class_code, "eleve.ent"],
        ["Inconnu", "<b>Paul</b>", "01/01/2008", "2GA2", "paul.inconnu"],
    ]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    return ent_export.preview_create(scene.school, scene.admin, data, "export-ent.csv", timezone.now())


def persona_user(scene: Scene, persona: str):
    return {
        "administrateur": scene.admin,
        "chef": scene.principal,
        "enseignant": scene.teacher,
        "eleve": scene.student_user,
    }.get(persona)


def admin_pages(scene: Scene) -> list[str]:
    """The Django admin's index, each change list and the project's own admin pages."""
    return [
        reverse("admin:index"),
        reverse("admin:establishments_establishment_changelist"),
        reverse("admin:establishments_establishment_change", args=[scene.school.pk]),
        reverse("admin:establishments_user_changelist"),
        reverse("admin:establishments_user_change", args=[scene.teacher.pk]),
        reverse("admin:establishments_auditlogentry_changelist"),
        reverse("admin:students_student_changelist"),
        reverse("admin:students_student_change", args=[scene.student.pk]),
        reverse("admin:students_siecleimport_changelist"),
        reverse("admin:transfers_transfer_changelist"),
        reverse("admin:transfers_transfer_change", args=[scene.forceable_transfer_pk]),
        reverse("admin:transfers_transfer_force", args=[scene.forceable_transfer_pk]),
        reverse("admin:transfers_transfer_diagnostic"),
        reverse("admin:transfers_matchingrun_changelist"),
        reverse("admin:transfers_matchingrun_national"),
        reverse("admin:transfers_transfer_undo", args=[scene.school.transfers_sent.get().pk]),
        reverse("admin:transfers_reminder_changelist"),
        reverse("admin:transfers_reminder_waiting"),
        reverse("admin:transfers_manualauthorisation_changelist"),
        reverse("admin:transfers_manualauthorisation_change", args=[scene.pending_authorisation.pk]),
        # The connectors (docs/connexion.md): the ProConnect allow-list, the schools' modes and links.
        reverse("admin:sso_staffemailallowance_changelist"),
        reverse("admin:sso_staffemailallowance_add"),
        reverse("admin:sso_loginsettings_changelist"),
        reverse("admin:sso_caslink_changelist"),
    ]


def log_in_as(page, live_server, scene: Scene, persona: str) -> None:
    user = persona_user(scene, persona)
    if user is not None:
        login(page, live_server, user.username)


def log_in_to_the_admin(page, live_server, scene: Scene) -> None:
    """The staff login, with its second factor, as in the browser tests of the admin."""
    device = totp_device(scene.staff)
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.get_by_label("Nom d’utilisateur").fill(scene.staff.username)
    page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    page.wait_for_load_state()
    page.get_by_label("Code de vérification").fill(current_code(device))
    page.get_by_role("button", name="Vérifier").click()
    page.wait_for_load_state()
