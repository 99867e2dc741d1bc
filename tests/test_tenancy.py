"""Every URL of the project × every persona → the expected status.

Adding a URL without an entry here fails ``test_every_url_has_an_entry``: a page cannot ship
without its tenancy being pinned. A stranger gets 404, a member without the role 403.
"""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from PIL import Image

from .factories import PassportEntryFactory, SiecleImportFactory, StudentFactory
from .transfers.factories import TransferFactory

PERSONAS = ("anonymous", "administrator", "principal", "teacher", "student", "outsider", "staff")


def _statuses(anonymous, administrator, principal, teacher, student, outsider, staff):
    return dict(
        zip(PERSONAS, (anonymous, administrator, principal, teacher, student, outsider, staff), strict=True)
    )


# Settings tabs: administrator and principal read; others are refused.
SETTINGS_GET = _statuses(302, 200, 200, 403, 403, 404, 404)
# Writes with an empty form: the administrator gets the form back with errors (400).
ADMIN_WRITE = _statuses(302, 400, 403, 403, 403, 404, 404)
ADMIN_ONLY_GET = _statuses(302, 200, 403, 403, 403, 404, 404)
ADMIN_WRITE_ONLY = _statuses(302, 400, 403, 403, 403, 404, 404)
MEMBERS_GET = _statuses(302, 200, 200, 200, 200, 404, 404)


def no_kwargs(ctx):
    return {}


def import_kwargs(ctx):
    return {"uai": ctx["establishment"].uai, "record": ctx["siecle_import"].public_id}


def uai_kwargs(ctx):
    return {"uai": ctx["establishment"].uai}


def user_kwargs(ctx):
    return {"uai": ctx["establishment"].uai, "user_id": ctx["teacher"].pk}


# name → (kwargs builder, GET statuses, POST statuses or None when the URL takes no POST)
MATRIX = {
    "home": (no_kwargs, _statuses(302, 302, 302, 302, 302, 302, 302), None),
    "login": (no_kwargs, _statuses(200, 200, 200, 200, 200, 200, 200), None),
    # The accessibility statement is public.
    "accessibility": (no_kwargs, _statuses(200, 200, 200, 200, 200, 200, 200), None),
    "logout": (no_kwargs, _statuses(405, 405, 405, 405, 405, 405, 405), None),
    "password_change": (no_kwargs, _statuses(302, 200, 200, 200, 200, 200, 200), None),
    "password_change_done": (no_kwargs, _statuses(302, 200, 200, 200, 200, 200, 200), None),
    # --- accounts: the second factor ---
    # Without a code awaited (the test client's logins are verified), the code page sends on.
    "otp-verify": (
        no_kwargs,
        _statuses(302, 302, 302, 302, 302, 302, 302),
        _statuses(302, 302, 302, 302, 302, 302, 302),
    ),
    # Every user may set up a second factor (staff must); an empty POST has no action: back to the page.
    "otp-setup": (
        no_kwargs,
        _statuses(302, 200, 200, 200, 200, 200, 200),
        _statuses(302, 302, 302, 302, 302, 302, 302),
    ),
    # --- accounts: "Mot de passe oublié ?" (public; an empty form is refused: 400) ---
    "password_reset": (
        no_kwargs,
        _statuses(200, 200, 200, 200, 200, 200, 200),
        _statuses(400, 400, 400, 400, 400, 400, 400),
    ),
    "password_reset_done": (no_kwargs, _statuses(200, 200, 200, 200, 200, 200, 200), None),
    # A made-up link: "Ce lien n'est plus valable" (200), whoever asks.
    "password_reset_confirm": (
        lambda ctx: {"uidb64": "MQ", "token": "made-up-token"},
        _statuses(200, 200, 200, 200, 200, 200, 200),
        _statuses(200, 200, 200, 200, 200, 200, 200),
    ),
    "password_reset_complete": (no_kwargs, _statuses(200, 200, 200, 200, 200, 200, 200), None),
    # --- accounts: Paramètres › Utilisateurs (the administrator writes, the principal reads) ---
    "settings-users": (uai_kwargs, SETTINGS_GET, _statuses(405, 405, 405, 405, 405, 405, 405)),
    "settings-user-create": (uai_kwargs, ADMIN_ONLY_GET, ADMIN_WRITE_ONLY),
    "settings-user": (user_kwargs, SETTINGS_GET, ADMIN_WRITE),
    # Empty POSTs: the teacher is deactivated, then e-mailed a reset link (302 back to their page).
    "settings-user-active": (
        user_kwargs,
        _statuses(405, 405, 405, 405, 405, 405, 405),
        _statuses(302, 302, 403, 403, 403, 404, 404),
    ),
    "settings-user-password": (
        user_kwargs,
        _statuses(405, 405, 405, 405, 405, 405, 405),
        _statuses(302, 302, 403, 403, 403, 404, 404),
    ),
    "establishment-home": (uai_kwargs, MEMBERS_GET, None),
    "settings": (uai_kwargs, _statuses(302, 302, 302, 403, 403, 404, 404), None),
    "settings-details": (uai_kwargs, SETTINGS_GET, ADMIN_WRITE),
    "settings-logo": (uai_kwargs, SETTINGS_GET, _statuses(302, 404, 403, 403, 403, 404, 404)),
    "settings-transfers": (uai_kwargs, SETTINGS_GET, _statuses(302, 400, 400, 403, 403, 404, 404)),
    "establishment-image": (
        lambda ctx: {"uai": ctx["establishment"].uai, "kind": "logo"},
        MEMBERS_GET,
        None,
    ),
    # --- students: list and SIECLE import ---
    "student-list": (uai_kwargs, _statuses(302, 200, 200, 200, 403, 404, 404), None),
    "siecle-import": (uai_kwargs, ADMIN_ONLY_GET, ADMIN_WRITE_ONLY),
    "siecle-import-preview": (import_kwargs, ADMIN_ONLY_GET, _statuses(302, 400, 403, 403, 403, 404, 404)),
    "siecle-import-cancel": (
        import_kwargs,
        _statuses(405, 405, 405, 405, 405, 405, 405),
        _statuses(302, 302, 403, 403, 403, 404, 404),
    ),
    # --- students: accounts (docs/accounts.md "Student accounts") ---
    # Only administrators create accounts; an empty POST goes back to the list with an error.
    "student-accounts-create": (
        uai_kwargs,
        _statuses(405, 405, 405, 405, 405, 405, 405),
        _statuses(302, 302, 403, 403, 403, 404, 404),
    ),
    # The class's logins (no passwords) for the school's staff; without ?classe= back to the list.
    "student-login-sheet": (
        uai_kwargs,
        _statuses(302, 302, 302, 302, 403, 404, 404),
        _statuses(405, 405, 405, 405, 405, 405, 405),
    ),
    # --- students: passport ---
    # Everyone of the establishment reads a passport (a student only their own); teachers write.
    "passport": (
        lambda ctx: {"uai": ctx["establishment"].uai, "student": ctx["student"].public_id},
        MEMBERS_GET,
        None,
    ),
    "passport-print": (
        lambda ctx: {"uai": ctx["establishment"].uai, "student": ctx["student"].public_id},
        MEMBERS_GET,
        None,
    ),
    "passport-entry-create": (
        lambda ctx: {"uai": ctx["establishment"].uai, "student": ctx["student"].public_id, "kind": "fiche"},
        _statuses(302, 403, 403, 200, 403, 404, 404),
        _statuses(302, 403, 403, 400, 403, 404, 404),
    ),
    "passport-entry-edit": (
        lambda ctx: {
            "uai": ctx["establishment"].uai,
            "student": ctx["student"].public_id,
            "entry": ctx["entry"].public_id,
        },
        _statuses(302, 403, 403, 200, 403, 404, 404),
        _statuses(302, 403, 403, 400, 403, 404, 404),
    ),
    # Sends the student to their own passport; other roles have none.
    "my-passport": (uai_kwargs, _statuses(302, 403, 403, 403, 302, 404, 404), None),
    # --- transfers ---
    # Manual-transfer authorisations belong to the administrator (docs/architecture.md "Who uses it"); an empty POST is
    # refused with the form's errors (400).
    "manual-transfers": (
        uai_kwargs,
        _statuses(302, 200, 403, 403, 403, 404, 404),
        _statuses(302, 400, 403, 403, 403, 404, 404),
    ),
    "manual-transfers-uai": (uai_kwargs, _statuses(302, 200, 403, 403, 403, 404, 404), None),
    # The history (page and CSV export) is for the principal and the administrator (docs/transfers.md);
    # it is read-only.
    "transfer-history": (uai_kwargs, SETTINGS_GET, _statuses(405, 405, 405, 405, 405, 405, 405)),
    "transfer-history-csv": (uai_kwargs, SETTINGS_GET, _statuses(405, 405, 405, 405, 405, 405, 405)),
    # "En attente" (docs/transfers.md §9): read-only, for the principal and the administrator.
    "transfer-waiting": (uai_kwargs, SETTINGS_GET, _statuses(405, 405, 405, 405, 405, 405, 405)),
    # "Signaler une erreur" on a row the establishment sent; an empty message is allowed (302).
    "transfer-report": (
        lambda ctx: {"uai": ctx["establishment"].uai, "transfer": ctx["sent"].public_id},
        SETTINGS_GET,
        _statuses(302, 302, 302, 403, 403, 404, 404),
    ),
    # --- sso: the ENT and ProConnect logins (docs/connexion.md) ---
    # Public: choosing the establishment, and its service URL (ctx's school uses the ENT): without
    # a ticket it sends to the ENT; a POST without logoutRequest is refused.
    "sso-ent-choose": (no_kwargs, _statuses(200, 200, 200, 200, 200, 200, 200), None),
    # After the logout of a session the ENT opened; otherwise back to the login page.
    "sso-ent-logout": (no_kwargs, _statuses(302, 302, 302, 302, 302, 302, 302), None),
    "sso-cas-login": (
        uai_kwargs,
        _statuses(302, 302, 302, 302, 302, 302, 302),
        _statuses(400, 400, 400, 400, 400, 400, 400),
    ),
    # ProConnect is not configured in the test settings: no such pages.
    "sso-proconnect-login": (no_kwargs, _statuses(404, 404, 404, 404, 404, 404, 404), None),
    "sso-proconnect-callback": (no_kwargs, _statuses(404, 404, 404, 404, 404, 404, 404), None),
    # Paramètres › Connexion: the principal reads; links and imports are the administrator's.
    "settings-connexion": (uai_kwargs, SETTINGS_GET, ADMIN_WRITE),
    "sso-links": (uai_kwargs, ADMIN_ONLY_GET, ADMIN_WRITE_ONLY),
    "sso-links-import": (uai_kwargs, ADMIN_ONLY_GET, ADMIN_WRITE_ONLY),
    "sso-links-import-preview": (
        lambda ctx: {"uai": ctx["establishment"].uai, "record": ctx["ent_import"].public_id},
        ADMIN_ONLY_GET,
        ADMIN_WRITE_ONLY,
    ),
}


def project_url_names(resolver=None, namespace=""):
    """Every named URL of the project, the Django admin's excepted (it is staff-only as a whole)."""
    names = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            names |= project_url_names(pattern, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            assert pattern.name, f"URL {pattern.pattern} has no name: name it and add it to MATRIX"
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def test_every_url_has_an_entry():
    assert project_url_names() == set(MATRIX)


@pytest.fixture
def ctx(establishment, other_establishment, student_user, teacher):
    """Objects the URLs point to, all belonging to the test establishment."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    establishment.logo.save("logo.png", ContentFile(buffer.getvalue()))
    student = StudentFactory(establishment=establishment, user=student_user)
    return {
        "establishment": establishment,
        "teacher": teacher,
        "student": student,
        "entry": PassportEntryFactory(student=student, author=teacher),
        "siecle_import": SiecleImportFactory(establishment=establishment),
        "sent": TransferFactory(
            origin_establishment=establishment, destination_establishment=other_establishment
        ),
        **_sso_objects(establishment),
    }


def _sso_objects(establishment):
    """The establishment logs in through an ENT, and has an ENT export's preview."""
    from django.utils import timezone

    from sso.models import CasLinkImport, LoginMode, LoginSettings

    LoginSettings.objects.create(
        establishment=establishment, mode=LoginMode.BOTH, cas_server_url="https://ent.example.org/cas/"
    )
    preview = CasLinkImport.objects.create(establishment=establishment, created_at=timezone.now())
    return {"ent_import": preview}


def _cases(method):
    for name, (_kwargs, get_statuses, post_statuses) in MATRIX.items():
        statuses = get_statuses if method == "get" else post_statuses
        if statuses:
            for persona in PERSONAS:
                yield pytest.param(name, persona, statuses[persona], id=f"{method}-{name}-{persona}")


@pytest.mark.parametrize("name,persona,expected", list(_cases("get")))
def test_get(name, persona, expected, personas, client_for, ctx):
    url = reverse(name, kwargs=MATRIX[name][0](ctx))
    response = client_for(personas[persona]).get(url)
    assert response.status_code == expected


@pytest.mark.parametrize("name,persona,expected", list(_cases("post")))
def test_post(name, persona, expected, personas, client_for, ctx):
    url = reverse(name, kwargs=MATRIX[name][0](ctx))
    response = client_for(personas[persona]).post(url, {})
    assert response.status_code == expected


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_django_admin_is_for_technical_staff_only(persona, personas, client_for):
    response = client_for(personas[persona]).get(reverse("admin:index"))
    assert response.status_code == (200 if persona == "staff" else 302)
