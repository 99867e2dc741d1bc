"""Receivers of the authentication signals: the session's start, the security log, and the e-mail
to the owner of a locked account."""

from __future__ import annotations

import logging
import time

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.mail import send_mail
from django.dispatch import receiver
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from cerisepro.security import AxesRequest, client_ip, new_locks
from cerisepro.site import site_url
from establishments.models import User

from . import otp
from .password_reset import render_plain_text, school_administrators
from .sessions import session_start

security_log = logging.getLogger("cerisepro.security")


def _user_id(username: str | None) -> int | None:
    if not username:
        return None
    return User.objects.filter(username=username).values_list("pk", flat=True).first()


def _ip(request: HttpRequest | None) -> str | None:
    return client_ip(request) if request is not None else None


@receiver(user_logged_in, dispatch_uid="accounts-session-start")
def on_login(sender, request: HttpRequest, user: User, **kwargs) -> None:
    session_start(request, time.time(), otp.second_factor_required(user))
    security_log.info("event=login user=%s ip=%s", user.pk, _ip(request))


@receiver(user_login_failed, dispatch_uid="accounts-login-failed")
def on_login_failed(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    # The user's id, never the typed username: it is often the person's name.
    security_log.warning(
        "event=login_failed user=%s ip=%s locked=%s",
        _user_id(credentials.get("username")),
        _ip(request),
        bool(getattr(request, "axes_locked_out", False)),
    )


@receiver(user_locked_out, dispatch_uid="accounts-locked-out")
def on_locked_out(
    sender, request: AxesRequest, username: str | None, ip_address: str | None, **kwargs
) -> None:
    fresh = new_locks(request, getattr(request, "axes_credentials", None))
    if "ip_address" in fresh:
        security_log.warning("event=address_locked ip=%s", ip_address)
    if "username" in fresh:
        user = User.objects.filter(username=username).first() if username else None
        security_log.warning("event=account_locked user=%s ip=%s", user.pk if user else None, ip_address)
        if user is not None and user.is_active and user.email:
            lockout_email_send(user, request)


def lockout_email_send(user: User, request: HttpRequest | None = None) -> None:
    """Tell the owner their account is locked: nothing an intruder typed, no address; the
    "Mot de passe oublié ?" link and the names of the school's administrators (sent to the
    account's own address only: docs/accounts.md §Lockout)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    subject = render_to_string("accounts/email_locked_subject.txt").strip()
    context = {
        "minutes": minutes,
        "reset_url": site_url(request) + reverse("password_reset"),
        "administrators": school_administrators(user),
    }
    body = render_plain_text("accounts/email_locked.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except Exception as error:  # a mail server down must not turn the lockout page into an error
        # The error's class only: SMTP errors quote the recipient's address.
        security_log.warning("event=lockout_email_failed user=%s error=%s", user.pk, type(error).__name__)
