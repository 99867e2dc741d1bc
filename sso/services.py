"""Business rules of the connectors: an establishment's login mode (audited), the links between ENT
identifiers and local users (audited), and which local user a connector identity is
(docs/connexion.md)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from establishments.models import Establishment, Role, User
from establishments.services import audit_record
from students.models import Student

from . import cas
from .models import CasLink, CasSession, LoginMode, LoginSettings, StaffEmailAllowance

logger = logging.getLogger(__name__)
security_log = logging.getLogger("cerisepro.security")

# Roles that keep their local password when the establishment logs in through the ENT only: they
# must still get in when the ENT is down, and re-authenticate before sensitive actions
# (docs/connexion.md §Modes).
PASSWORD_KEPT_ROLES = frozenset({Role.ADMINISTRATOR, Role.PRINCIPAL})
CAS_USER_MAX_LENGTH = 255
# The session's key for the digest of the ticket that opened it (single logout).
CAS_TICKET_KEY = "sso_cas_ticket"


def login_settings(establishment: Establishment) -> LoginSettings:
    """The establishment's login settings; an unsaved "local passwords" row when it has none."""
    found = LoginSettings.objects.filter(establishment=establishment).first()
    return found or LoginSettings(establishment=establishment, mode=LoginMode.LOCAL)


def password_login_allowed(user: User) -> bool:
    """May ``user`` log in with a password? Not a teacher or student of an "ENT only" school."""
    if user.establishment_id is None or user.role in PASSWORD_KEPT_ROLES:
        return True
    return not LoginSettings.objects.filter(
        establishment_id=user.establishment_id, mode=LoginMode.ENT
    ).exists()


def known_ents() -> dict[str, tuple[str, str]]:
    return dict(settings.CERISEPRO_KNOWN_ENTS)


def cas_server_url_clean(url: str) -> str:
    """A CAS server's base address, ending with "/" (python-cas joins "login", "p3/serviceValidate"
    and "logout" to it). https only, unless ``SSO_ALLOW_HTTP`` (development and tests)."""
    url = url.strip()
    parts = urlsplit(url)
    schemes = ("https", "http") if settings.SSO_ALLOW_HTTP else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValidationError(
            _("Saisissez l'adresse https du serveur CAS de l'ENT, par exemple https://ent.example.fr/cas/."),
            code="cas_url_scheme",
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError(
            _("L'adresse du serveur CAS ne doit contenir ni identifiant, ni paramètres (?…), ni ancre (#…)."),
            code="cas_url_parts",
        )
    path = parts.path if parts.path.endswith("/") else f"{parts.path}/"
    return f"{parts.scheme}://{parts.netloc}{path}"


@transaction.atomic
def login_settings_update(
    establishment: Establishment, user: User, *, mode: str, known_ent: str, cas_server_url: str
) -> dict[str, list[Any]]:
    """Save *Paramètres › Connexion*; returns (and records) the changes.

    A CAS server on another host is another identity provider: its identifiers may name other
    people, so the establishment's links are removed with the change (recorded too).
    """
    if known_ent:
        if known_ent not in known_ents():
            raise ValidationError({"known_ent": _("Choisissez un ENT de la liste.")}, code="unknown_ent")
        cas_server_url = known_ents()[known_ent][1]
    if cas_server_url:
        cas_server_url = cas_server_url_clean(cas_server_url)
    if mode != LoginMode.LOCAL and not cas_server_url:
        raise ValidationError(
            {
                "cas_server_url": _(
                    "Choisissez votre ENT dans la liste ou saisissez l'adresse de son serveur CAS."
                )
            },
            code="cas_url_required",
        )
    Establishment.objects.select_for_update().get(pk=establishment.pk)
    current = login_settings(establishment)
    before = {"mode": current.mode, "known_ent": current.known_ent, "cas_server_url": current.cas_server_url}
    after = {"mode": mode, "known_ent": known_ent, "cas_server_url": cas_server_url}
    changes: dict[str, list[Any]] = {f: [before[f], after[f]] for f in after if before[f] != after[f]}
    if not changes:
        return changes
    old_host = urlsplit(before["cas_server_url"]).netloc
    if old_host and old_host != urlsplit(cas_server_url).netloc:
        removed, _details = CasLink.objects.filter(establishment=establishment).delete()
        if removed:
            changes["liens ENT supprimés"] = [removed, 0]
    LoginSettings.objects.update_or_create(establishment=establishment, defaults=after)
    audit_record(establishment, user, "Connexion modifiée", changes)
    logger.info("Login mode of establishment %s set to %s", establishment.uai, mode)
    return changes


def cas_user_clean(cas_user: str) -> str:
    cas_user = cas_user.strip()
    if not cas_user or len(cas_user) > CAS_USER_MAX_LENGTH:
        raise ValidationError(
            _("Saisissez l'identifiant ENT (255 caractères au plus)."), code="cas_user_invalid"
        )
    return cas_user


def establishment_user(establishment: Establishment, user_id: int) -> User | None:
    """A user of this establishment (never technical staff, never another school's user)."""
    return establishment.users.filter(pk=user_id).first()


@transaction.atomic
def cas_link_set(establishment: Establishment, actor: User, target: User, cas_user: str) -> None:
    """Link ``target`` (a user of the establishment) to an ENT identifier, replacing its link."""
    assert target.establishment_id == establishment.pk
    cas_user = cas_user_clean(cas_user)
    taken = CasLink.objects.filter(establishment=establishment, cas_user=cas_user).exclude(user=target)
    if taken.exists():
        raise ValidationError(
            _(
                "Cet identifiant ENT est déjà relié à un autre compte de l'établissement : "
                "retirez d'abord ce lien."
            ),
            code="cas_user_taken",
        )
    previous = CasLink.objects.filter(user=target).first()
    if previous is not None and previous.cas_user == cas_user:
        return
    try:
        with transaction.atomic():
            CasLink.objects.update_or_create(
                user=target,
                defaults={"establishment": establishment, "cas_user": cas_user, "created_by": actor},
            )
    except IntegrityError:  # linked meanwhile by another administrator
        raise ValidationError(
            _("Cet identifiant ENT vient d'être relié à un autre compte : rechargez la page."),
            code="cas_user_taken",
        ) from None
    # The user by id, and no identifier: ENT logins are often "prenom.nom" (docs/privacy.md).
    change = "remplacé" if previous is not None else "défini"
    audit_record(establishment, actor, "Lien ENT modifié", {"utilisateur": target.pk, "lien ENT": change})


@transaction.atomic
def cas_link_remove(establishment: Establishment, actor: User, target: User) -> bool:
    deleted, _details = CasLink.objects.filter(establishment=establishment, user=target).delete()
    if deleted:
        audit_record(
            establishment, actor, "Lien ENT supprimé", {"utilisateur": target.pk, "lien ENT": "supprimé"}
        )
    return bool(deleted)


def cas_user_resolve(establishment: Establishment, cas_user: str) -> User | None:
    """The local user an ENT identifier validated by *this* establishment's CAS server logs in.

    The link is (establishment, identifier) → user and the user must still belong to the
    establishment: an identifier linked elsewhere opens nothing here. Inactive accounts, and
    students whose record a SIECLE import deactivated, are refused as by the password login.
    """
    link = (
        CasLink.objects.select_related("user")
        .filter(establishment=establishment, cas_user=cas_user, user__establishment=establishment)
        .first()
    )
    if link is None or not link.user.is_active:
        return None
    user = link.user
    if user.role == Role.STUDENT and Student.objects.filter(user=user, is_active=False).exists():
        return None
    return user


def staff_for_email(email: str, subject: str, now: datetime) -> User | None:
    """The staff account a superuser allowed ``email`` to open through ProConnect, or ``None``.

    The first login binds ProConnect's ``sub`` to the allowance; later ones must carry it.
    """
    with transaction.atomic():
        allowance = (
            StaffEmailAllowance.objects.select_for_update()
            .select_related("user")
            .filter(email=email.strip().lower(), user__is_staff=True, user__is_active=True)
            .first()
        )
        if allowance is None or not subject:
            return None
        if allowance.subject and allowance.subject != subject:
            security_log.warning("event=proconnect_subject_mismatch user=%s", allowance.user_id)
            return None
        allowance.subject = subject
        allowance.last_login_at = now
        allowance.save(update_fields=["subject", "last_login_at"])
        return allowance.user


def cas_ticket_user(establishment: Establishment, ticket: str, service_url: str) -> User | None:
    """The local user a service ticket logs in, or ``None`` (refused ticket, or no link here).

    Raises :class:`cas.CasUnavailable` when the ENT does not answer.
    """
    current = login_settings(establishment)
    if not current.uses_ent:
        return None
    validation = cas.ticket_validate(current.cas_server_url, service_url, ticket)
    if validation.user is None:
        security_log.warning("event=cas_ticket_refused uai=%s", establishment.uai)
        return None
    user = cas_user_resolve(establishment, validation.user)
    if user is None:
        # Neither the identifier nor whether it is linked in another establishment is logged.
        security_log.warning("event=cas_identity_not_linked uai=%s", establishment.uai)
    return user


def cas_session_record(
    request: HttpRequest, establishment: Establishment, ticket: str, now: datetime
) -> None:
    """Remember which session the ticket opened (single logout); forget those older than a session.

    The session keeps the ticket's digest: its key changes at the second factor, the digest stays
    (``sso.middleware.SingleLogoutMiddleware``)."""
    lifetime = timedelta(seconds=settings.SESSION_COOKIE_AGE) + timedelta(hours=1)
    CasSession.objects.filter(created_at__lt=now - lifetime).delete()
    digest = cas.ticket_digest(ticket)
    request.session[CAS_TICKET_KEY] = digest
    CasSession.objects.update_or_create(
        ticket_digest=digest,
        defaults={
            "establishment": establishment,
            "session_key": request.session.session_key or "",
            "created_at": now,
        },
    )


def cas_session_open(digest: str) -> bool:
    return CasSession.objects.filter(ticket_digest=digest).exists()


def cas_single_logout(establishment: Establishment, logout_request: str) -> bool:
    """End the session the ENT's ``logoutRequest`` names (CAS single logout). Only a session opened
    by a ticket of this establishment's ENT can be ended this way."""
    ticket = cas.logout_request_ticket(logout_request)
    if not ticket:
        return False
    found = CasSession.objects.filter(
        establishment=establishment, ticket_digest=cas.ticket_digest(ticket)
    ).first()
    if found is None:
        return False
    # The row's removal ends the session at its next request, whatever its key is by then; the
    # session under the key it had at the login is deleted at once.
    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore  # noqa: N806
    SessionStore(session_key=found.session_key).delete()
    found.delete()
    security_log.info("event=cas_single_logout uai=%s", establishment.uai)
    return True
