"""Choosing a password through a link sent by e-mail: "Mot de passe oublié ?" on the login page,
the welcome e-mail of a new account and a reset by the school's administrator; and the throttling
of the public form.

The rules as implemented: docs/accounts.md §Password reset.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.mail import send_mail
from django.template import Context, engines
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from cerisepro.site import site_url
from establishments.models import Role, User

security_log = logging.getLogger("cerisepro.security")

# The e-mails of this module, by kind: (subject template, body template).
EMAILS = {
    "forgotten": ("registration/password_reset_subject.txt", "registration/password_reset_email.txt"),
    "welcome": ("accounts/users_email_welcome_subject.txt", "accounts/users_email_welcome.txt"),
    "reset": ("accounts/users_email_reset_subject.txt", "accounts/users_email_reset.txt"),
}


def render_plain_text(template_name: str, context: dict) -> str:
    """A plain-text e-mail: rendered without HTML escaping (never shown as HTML), so that
    "Lycée d'Arsonval" is not written "Lycée d&#x27;Arsonval"."""
    template = engines["django"].get_template(template_name)
    return template.template.render(Context(context, autoescape=False))  # type: ignore[attr-defined]


def password_link(user: User, base_url: str = "") -> str:
    """A link to choose a password: valid once (the token changes with the password and the last
    login) and for ``PASSWORD_RESET_TIMEOUT`` seconds."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return (base_url or site_url()) + reverse("password_reset_confirm", args=[uid, token])


def school_administrators(user: User) -> list[str]:
    """The names of the active administrators of ``user``'s school, ``user`` excepted: whom to ask
    when the password is lost. Only ever shown to the account's owner (docs/accounts.md §Lockout)."""
    if user.establishment_id is None:
        return []
    administrators = (
        User.objects.filter(establishment_id=user.establishment_id, role=Role.ADMINISTRATOR, is_active=True)
        .exclude(pk=user.pk)
        .order_by("last_name", "first_name", "username")
    )
    return [administrator.get_full_name() or administrator.username for administrator in administrators]


def password_email_send(user: User, *, kind: str, base_url: str = "") -> bool:
    """Send one of the password e-mails to ``user``; False (and a log line) when it could not go."""
    subject_template, body_template = EMAILS[kind]
    hours = settings.PASSWORD_RESET_TIMEOUT // 3600
    context = {
        "user": user,
        "establishment": user.establishment,
        "link": password_link(user, base_url),
        "login_url": (base_url or site_url()) + reverse("login"),
        "hours": hours,
        "days": hours // 24,
        "administrators": school_administrators(user),
    }
    subject = " ".join(render_plain_text(subject_template, context).split())
    try:
        send_mail(subject, render_plain_text(body_template, context), None, [user.email])
    except Exception as error:  # a mail server down must not turn the page into an error
        # The error's class only: SMTP errors quote the recipient's address.
        security_log.warning(
            "event=password_email_failed user=%s kind=%s error=%s", user.pk, kind, type(error).__name__
        )
        return False
    security_log.info("event=password_email_sent user=%s kind=%s", user.pk, kind)
    return True


def password_reset_users(email: str) -> list[User]:
    """Who gets a "Mot de passe oublié" e-mail for ``email``: the active accounts with that address.

    Unlike Django's form, an account without a usable password is included: a new account whose
    welcome link expired, or one its administrator reset, chooses its password this way."""
    users = User.objects.filter(email__iexact=email.strip(), is_active=True).select_related("establishment")
    return [user for user in users if user.email.casefold() == email.strip().casefold()]


# --- Throttling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResetThrottle:
    """Whether a "Mot de passe oublié" request may send an e-mail."""

    client_blocked: bool  # too many requests from this client: the form says so (429)
    address_blocked: bool  # too many for this address: the usual answer, but no e-mail


def _counter_key(scope: str, value: str, window: int, now: float) -> str:
    # Hashed: the cache never holds an e-mail address; one counter per fixed window.
    digest = hashlib.sha256(value.casefold().encode()).hexdigest()[:32]
    return f"password-reset:{scope}:{digest}:{int(now // window)}"


def _count(key: str, window: int) -> int:
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return 1


def password_reset_throttle(email: str, client: str | None, now: float) -> ResetThrottle:
    """Count one request for ``email`` from ``client`` and say what is over its limit.

    ``PASSWORD_RESET_PER_ADDRESS`` requests per address and ``PASSWORD_RESET_PER_CLIENT`` per
    client address, per window of ``PASSWORD_RESET_WINDOW_MINUTES``, counted in the default cache
    (whether or not an account has the address, so the limit tells nothing about it)."""
    window = settings.PASSWORD_RESET_WINDOW_MINUTES * 60
    client_count = _count(_counter_key("client", client or "unknown", window, now), window)
    if client_count > settings.PASSWORD_RESET_PER_CLIENT:
        return ResetThrottle(client_blocked=True, address_blocked=False)
    address_count = _count(_counter_key("address", email.strip(), window, now), window)
    return ResetThrottle(
        client_blocked=False, address_blocked=address_count > settings.PASSWORD_RESET_PER_ADDRESS
    )


def password_reset_request(email: str, client: str | None, now: float, base_url: str = "") -> ResetThrottle:
    """ "Mot de passe oublié" for ``email``: e-mail a link to each active account with that address,
    unless a limit is reached. The caller answers the same whether or not an account was found."""
    throttle = password_reset_throttle(email, client, now)
    if throttle.client_blocked or throttle.address_blocked:
        security_log.warning(
            "event=password_reset_throttled scope=%s ip=%s",
            "client" if throttle.client_blocked else "address",
            client,
        )
        return throttle
    users = password_reset_users(email)
    security_log.info("event=password_reset_requested ip=%s accounts=%s", client, len(users))
    for user in users:
        password_email_send(user, kind="forgotten", base_url=base_url)
    return throttle


def password_reset_completed(user: User) -> None:
    """The user chose a new password through a link: that proves they read the account's mailbox,
    so the account's login lock (django-axes, per username) is lifted; an address's lock stays."""
    AxesProxyHandler.reset_attempts(username=user.get_username())
    security_log.info("event=password_reset_completed user=%s", user.pk)
