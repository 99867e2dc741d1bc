"""Initial passwords: set by an administrator, printed once, replaced at the first login.

The password is generated here, hashed into ``User.password`` and handed back to the caller to be
printed; it is stored nowhere else. An :class:`~accounts.models.InitialPassword` row marks the
account, and :class:`InitialPasswordMiddleware` keeps its sessions on the password change page until
the user has chosen their own (docs/accounts.md, "Student accounts").
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.hashers import check_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.functional import cached_property
from django.utils.translation import gettext as _

from establishments.models import User

from .models import InitialPassword

# Lower-case letters and digits without the ones read one for another on paper (l/1/i, o/0):
# 31 symbols, 12 of them ≈ 59 bits, by groups of four for dictation ("k7wq-m3xp-r9tf").
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GROUPS, GROUP_LENGTH = 3, 4
MAX_DRAWS = 20  # a refused draw is rare (one resembling the login): 20 refusals mean a setting
# The session remembers whether its user still has to change the password, from the login on: no
# query per page for everybody who has nothing to change.
MUST_CHANGE = "cerisepro_initial_password"


def generate_initial_password(user: User) -> str:
    """A random password, readable on paper, that passes the project's password validators.

    14 characters (hyphens included) meet the 12-character rule; a draw that some validator still
    refuses (e.g. one that resembled the login) is simply drawn again.
    """
    for _attempt in range(MAX_DRAWS):
        password = "-".join(
            "".join(secrets.choice(ALPHABET) for _char in range(GROUP_LENGTH)) for _group in range(GROUPS)
        )
        try:
            validate_password(password, user)
        except ValidationError:
            continue
        return password
    # Only a configuration change can get here (e.g. a longer minimum length): say so, never loop.
    raise RuntimeError(
        "AUTH_PASSWORD_VALIDATORS refuse every initial password: see accounts/initial_passwords.py"
    )


def _fingerprint(user: User) -> str:
    return salted_hmac("accounts.initial_passwords", user.password).hexdigest()


def initial_password_set(user: User, *, by: User | None) -> str:
    """Give ``user`` a new initial password (saved, hashed) and return it in clear, to be printed."""
    password = generate_initial_password(user)
    user.set_password(password)
    user.save(update_fields=["password"])
    InitialPassword.objects.update_or_create(
        user=user, defaults={"fingerprint": _fingerprint(user), "created_by": by}
    )
    return password


def must_change_password(user: User) -> bool:
    """Whether ``user`` still logs in with the initial password they were given.

    Once the password hash has changed (the password change page, a reset by e-mail, the admin),
    the mark is stale: it is deleted. A hash upgraded by Django at login (a new hasher setting)
    changes it too; the user then keeps the printed password, which the validators accepted.
    """
    mark = InitialPassword.objects.filter(user=user).only("fingerprint").first()
    if mark is None:
        return False
    if mark.fingerprint != _fingerprint(user):
        mark.delete()
        return False
    return True


Handler = Callable[[HttpRequest], HttpResponseBase]


class InitialPasswordMiddleware:
    """Sends a session whose user has an initial password to the password change page.

    Only that page, its confirmation, logout, the second factor's pages and the accessibility
    statement stay open meanwhile. Placed after ``SecondFactorMiddleware``: the second factor, when
    there is one, comes first.
    """

    def __init__(self, get_response: Handler):
        self.get_response = get_response

    @cached_property
    def open_paths(self) -> set[str]:
        names = (
            "password_change",
            "password_change_done",
            "logout",
            "otp-verify",
            "otp-setup",
            "accessibility",
        )
        return {reverse(name) for name in names}

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        user = request.user
        # The open pages first: no query on them.
        if (
            request.path_info not in self.open_paths
            and user.is_authenticated
            and self._must_change(request, user)
        ):
            messages.warning(
                request,
                _(
                    "Première connexion : choisissez votre propre mot de passe. Saisissez d'abord "
                    "le mot de passe initial de votre fiche de connexion."
                ),
            )
            return redirect("password_change")
        return self.get_response(request)

    def _must_change(self, request: HttpRequest, user: User) -> bool:
        if request.session.get(MUST_CHANGE) is False:
            return False
        # True (until the password changes), or unknown (a session opened before this rule).
        must = must_change_password(user)
        request.session[MUST_CHANGE] = must
        return must


@receiver(user_logged_in, dispatch_uid="accounts-initial-password")
def remember_at_login(sender, request: HttpRequest, user: User, **kwargs) -> None:
    """The login answers the question for the whole session: pages cost no query for users
    with nothing to change (connected by ``AccountsConfig.ready``).

    Only a login through the password form can have used the initial password: a session opened
    by the ENT or ProConnect (docs/connexion.md), which typed none, is not held on the page.
    """
    typed_a_password = request.path_info == reverse("login")
    request.session[MUST_CHANGE] = typed_a_password and must_change_password(user)


class NotTheInitialPasswordValidator:
    """Refuses the initial password as the new one: typing it again would change the hash, hence
    lift the obligation, while the printed sheet still opened the account (docs/accounts.md)."""

    def validate(self, password: str, user: User | None = None) -> None:
        if user is None or user.pk is None or not must_change_password(user):
            return
        # hashers.check_password, not user.check_password: no re-hash saved as a side effect.
        if check_password(password, user.password):
            raise ValidationError(
                _(
                    "Choisissez un mot de passe différent du mot de passe initial de votre fiche "
                    "de connexion."
                ),
                code="password_is_initial",
            )

    def get_help_text(self) -> str:
        return _("Votre mot de passe ne doit pas être celui de votre fiche de connexion.")
