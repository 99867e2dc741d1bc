"""The establishment's users, as its administrator manages them (*Paramètres › Utilisateurs*).

The rules as implemented: docs/accounts.md §Users. Student accounts are not made here: they come
from the student list (docs/accounts.md §Student accounts).
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.base_user import BaseUserManager
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from establishments.access import SCHOOL_STAFF
from establishments.models import Establishment, Role, User
from establishments.services import audit_record, user_create

from .password_reset import password_email_send

# The roles an administrator gives on this page; students get theirs from the student list.
STAFF_USER_ROLES = (Role.ADMINISTRATOR, Role.PRINCIPAL, Role.TEACHER)
# Logins are typed on phones and read aloud: ASCII letters, digits, dot, hyphen, underscore.
LOGIN_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{2,149}")
EDITABLE_FIELDS = ("first_name", "last_name", "email", "role")


def email_taken_error() -> ValidationError:
    # The same words whoever holds the address, at this school or another: no oracle of where
    # an address is used (docs/accounts.md §Users).
    return ValidationError(
        {"email": _("Cette adresse e-mail est déjà utilisée par un autre compte.")}, code="email_taken"
    )


def login_taken_error() -> ValidationError:
    return ValidationError(
        {"username": _("Cet identifiant est déjà utilisé : choisissez-en un autre.")}, code="login_taken"
    )


def establishment_staff_users(establishment: Establishment) -> QuerySet[User]:
    """The establishment's administrators, principals and teachers, by name."""
    return establishment.users.filter(role__in=SCHOOL_STAFF).order_by("last_name", "first_name", "username")


def establishment_staff_user(establishment: Establishment, user_id: int) -> User | None:
    """One of them, or ``None``: another school's user is never found (the view answers 404)."""
    return establishment_staff_users(establishment).filter(pk=user_id).first()


def grantable_roles(actor: User) -> tuple[str, ...]:
    """The roles ``actor`` may give: an administrator gives the three staff roles, nobody else any."""
    return STAFF_USER_ROLES if actor.is_active and actor.role == Role.ADMINISTRATOR else ()


def _check_actor(actor: User, establishment: Establishment) -> None:
    if not grantable_roles(actor) or actor.establishment_id != establishment.pk:
        raise PermissionDenied


def _check_role(actor: User, role: str) -> None:
    if role not in grantable_roles(actor):
        raise ValidationError({"role": _("Vous ne pouvez pas attribuer ce rôle.")}, code="role_not_grantable")


def normalise_login(username: str) -> str:
    login = username.strip().lower()
    if not LOGIN_PATTERN.fullmatch(login):
        raise ValidationError(
            {
                "username": _(
                    "L'identifiant doit compter au moins 3 caractères : lettres sans accent, "
                    "chiffres, point, tiret ou tiret bas."
                )
            },
            code="login_invalid",
        )
    return login


def normalise_email(email: str) -> str:
    email = BaseUserManager.normalize_email(email.strip())
    if not email:
        raise ValidationError(
            {
                "email": _(
                    "Indiquez l'adresse e-mail de l'utilisateur : elle sert à choisir son mot de passe."
                )
            },
            code="email_required",
        )
    return email


def _check_email_free(email: str, *, except_user: User | None = None) -> None:
    # Case-insensitive, over every establishment: a reset e-mail must name one account only.
    others = User.objects.filter(email__iexact=email)
    if except_user is not None:
        others = others.exclude(pk=except_user.pk)
    if others.exists():
        raise email_taken_error()


def _lock_establishment(establishment: Establishment) -> Establishment:
    # Serialises the changes of one school's users: two administrators demoting each other at
    # the same moment must not both succeed and leave the school without one.
    return Establishment.objects.select_for_update().get(pk=establishment.pk)


def _check_not_last_administrator(user: User) -> None:
    """Refuse to take away the last active administrator of ``user``'s establishment."""
    if not (user.is_active and user.role == Role.ADMINISTRATOR):
        return
    others = User.objects.filter(
        establishment=user.establishment, role=Role.ADMINISTRATOR, is_active=True
    ).exclude(pk=user.pk)
    if not others.exists():
        raise ValidationError(
            _(
                "C'est le dernier administrateur actif de l'établissement : nommez d'abord un autre "
                "administrateur."
            ),
            code="last_administrator",
        )


def staff_user_create(
    establishment: Establishment,
    actor: User,
    *,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    role: str,
    base_url: str = "",
) -> User:
    """Create an administrator, principal or teacher of ``establishment``, without a password: once
    the account is committed, an e-mail gives the user a link to choose it (``base_url``: the
    site's address for the link, when ``SITE_URL`` is not set)."""
    _check_actor(actor, establishment)
    _check_role(actor, role)
    username, email = normalise_login(username), normalise_email(email)
    if User.objects.filter(username__iexact=username).exists():
        raise login_taken_error()
    _check_email_free(email)
    try:
        with transaction.atomic():
            _lock_establishment(establishment)
            user = user_create(
                establishment,
                username=username,
                password=None,
                role=role,
                first_name=first_name.strip(),
                last_name=last_name.strip(),
                email=email,
            )
            audit_record(
                establishment,
                actor,
                "Utilisateur créé",
                {
                    "user_id": user.pk,
                    "username": [None, username],
                    "name": [None, user.get_full_name()],
                    "email": [None, email],
                    "role": [None, role],
                },
            )
            transaction.on_commit(lambda: password_email_send(user, kind="welcome", base_url=base_url))
    except IntegrityError:
        # The same login created at the same moment by someone else.
        raise login_taken_error() from None
    return user


@transaction.atomic
def staff_user_update(
    establishment: Establishment, actor: User, user: User, data: dict[str, Any]
) -> dict[str, list[Any]]:
    """Change a user's names, e-mail or role; returns (and records) the changed fields."""
    _check_actor(actor, establishment)
    _lock_establishment(establishment)
    locked = User.objects.select_for_update().get(pk=user.pk, establishment=establishment)
    after = {
        "first_name": data.get("first_name", locked.first_name).strip(),
        "last_name": data.get("last_name", locked.last_name).strip(),
        "email": normalise_email(data["email"]) if "email" in data else locked.email,
        "role": data.get("role", locked.role),
    }
    changes = {
        field: [getattr(locked, field), value]
        for field, value in after.items()
        if getattr(locked, field) != value
    }
    if not changes:
        return {}
    if "role" in changes:
        _check_role(actor, after["role"])
        if after["role"] != Role.ADMINISTRATOR:
            _check_not_last_administrator(locked)
    if "email" in changes and after["email"].lower() != locked.email.lower():
        _check_email_free(after["email"], except_user=locked)
    for field, (_old, new) in changes.items():
        setattr(locked, field, new)
    locked.save(update_fields=list(changes))
    audit_record(establishment, actor, "Utilisateur modifié", {"user_id": locked.pk, **changes})
    user.refresh_from_db()
    return changes


@transaction.atomic
def staff_user_set_active(establishment: Establishment, actor: User, user: User, *, active: bool) -> bool:
    """Deactivate (the user can no longer log in; nothing is deleted) or reactivate a user.
    Returns whether anything changed."""
    _check_actor(actor, establishment)
    _lock_establishment(establishment)
    locked = User.objects.select_for_update().get(pk=user.pk, establishment=establishment)
    if locked.is_active == active:
        return False
    if not active:
        _check_not_last_administrator(locked)
    locked.is_active = active
    locked.save(update_fields=["is_active"])
    action = "Utilisateur réactivé" if active else "Utilisateur désactivé"
    audit_record(establishment, actor, action, {"user_id": locked.pk, "is_active": [not active, active]})
    user.refresh_from_db()
    return True


@transaction.atomic
def staff_user_reset_password(
    establishment: Establishment, actor: User, user: User, *, base_url: str = ""
) -> None:
    """The administrator resets a password: the current one stops working at once (and with it
    every open session of the user), and the user is e-mailed a link to choose a new one. The
    administrator never knows the password (docs/accounts.md §Users, "Resetting a password")."""
    _check_actor(actor, establishment)
    locked = User.objects.select_for_update().get(pk=user.pk, establishment=establishment)
    if not locked.is_active:
        raise ValidationError(
            _("Ce compte est désactivé : réactivez-le avant de réinitialiser son mot de passe."),
            code="inactive",
        )
    if not locked.email:
        raise ValidationError(
            _("Ce compte n'a pas d'adresse e-mail : ajoutez-en une avant de réinitialiser son mot de passe."),
            code="no_email",
        )
    locked.set_unusable_password()
    locked.save(update_fields=["password"])
    audit_record(
        establishment, actor, "Mot de passe réinitialisé", {"user_id": locked.pk, "password": "lien envoyé"}
    )
    transaction.on_commit(lambda: password_email_send(locked, kind="reset", base_url=base_url))
    user.refresh_from_db()
