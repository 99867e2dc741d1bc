"""The login's second step, the page where a user sets up (or changes) the second factor, and
"Mot de passe oublié ?"."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp import DEVICE_ID_SESSION_KEY, user_has_device
from django_otp import login as otp_login
from django_otp.middleware import is_verified

from cerisepro.security import client_ip
from cerisepro.site import site_url
from establishments.access import AuthenticatedRequest

from . import otp
from .forms import EnrolForm, PasswordResetRequestForm, SecondFactorForm
from .password_reset import password_reset_completed, password_reset_request
from .reauth import recent_authentication_required
from .sessions import VERIFY, mark_authenticated, second_factor_awaited, second_factor_done

security_log = logging.getLogger("cerisepro.security")
SETUP_KEY = "cerisepro_totp_setup_key"


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("home")


def _verified(request: HttpRequest, device) -> None:
    request.session.cycle_key()  # a new session id once the second step is passed
    otp_login(request, device)
    second_factor_done(request)
    mark_authenticated(request, time.time())


@require_http_methods(["GET", "POST"])
@login_required
def otp_verify(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    next_url = _next_url(request)
    if is_verified(user) or second_factor_awaited(request) != VERIFY:
        return redirect(next_url)
    if not user_has_device(user):  # removed by technical staff meanwhile
        second_factor_done(request)
        return redirect(next_url)
    form = SecondFactorForm(user, request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        verification = form.verification
        assert verification is not None  # set by the form's clean_otp_token, which accepted the code
        _verified(request, verification.device)
        security_log.info(
            "event=second_factor_verified user=%s recovery_code=%s", user.pk, verification.is_recovery_code
        )
        if verification.is_recovery_code:
            messages.warning(
                request,
                _(
                    "Vous vous êtes connecté avec un code de secours ; il vous en reste %(count)s. "
                    "Générez-en de nouveaux depuis la page « Double authentification »."
                )
                % {"count": otp.recovery_codes_left(user)},
            )
        return redirect(next_url)
    if form.errors:
        security_log.warning("event=second_factor_failed user=%s", user.pk)
    status = 400 if form.errors else 200
    return render(request, "accounts/otp_verify.html", {"form": form, "next": next_url}, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@recent_authentication_required
def otp_setup(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    enrolled = otp.has_totp(user)
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "codes" and enrolled:
        security_log.info("event=recovery_codes_renewed user=%s", user.pk)
        return _show_codes(request, otp.recovery_codes_reset(user), first=False)
    if action == "disable" and enrolled and not user.is_staff:
        otp.second_factor_remove(user)
        request.session.pop(DEVICE_ID_SESSION_KEY, None)
        security_log.info("event=second_factor_removed user=%s", user.pk)
        messages.success(request, _("La double authentification est désactivée pour votre compte."))
        return redirect("otp-setup")
    if request.method == "POST" and action != "enrol":
        return redirect("otp-setup")  # an unknown action, or one that does not apply
    if enrolled and action is None and not request.GET.get("remplacer"):
        status = {"codes_left": otp.recovery_codes_left(user), "mandatory": user.is_staff}
        return render(request, "accounts/otp_status.html", status)
    key = request.session.get(SETUP_KEY) or otp.new_totp_key()
    request.session[SETUP_KEY] = key
    form = EnrolForm(user, key, request.POST if action == "enrol" else None)
    if form.is_bound and form.is_valid():
        del request.session[SETUP_KEY]
        codes = form.recovery_codes
        assert codes is not None  # set by the form's clean_otp_token, which accepted the code
        _verified(request, otp.totp_device(user))
        security_log.info("event=second_factor_enrolled user=%s replaced=%s", user.pk, enrolled)
        return _show_codes(request, codes, first=True)
    context = {
        "form": form,
        "qr_code": otp.qr_code_data_uri(otp.totp_setup_url(user, key)),
        "secret": otp.secret_for_display(key),
        "mandatory": user.is_staff,
        "replacing": enrolled,
    }
    return render(request, "accounts/otp_enrol.html", context, status=400 if form.errors else 200)


def _show_codes(request: HttpRequest, codes: list[str], *, first: bool) -> HttpResponse:
    # Shown once, in the answer to the POST: never stored in the session, never shown again.
    grouped = [f"{code[:4]} {code[4:]}" for code in codes]
    next_url = reverse("admin:index") if request.user.is_staff else reverse("home")
    return render(
        request, "accounts/recovery_codes.html", {"codes": grouped, "first": first, "next": next_url}
    )


# --- "Mot de passe oublié ?" (docs/accounts.md §Password reset) -----------------------------------


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """Ask for a link by e-mail. The answer is the same whether or not an account has the address
    (and whether or not its own limit is reached); only a client over its limit is told so."""
    form = PasswordResetRequestForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        throttle = password_reset_request(
            form.cleaned_data["email"], client_ip(request), time.time(), base_url=site_url(request)
        )
        if not throttle.client_blocked:
            return redirect("password_reset_done")
        form.add_error(
            None,
            _(
                "Trop de demandes de réinitialisation depuis votre réseau : réessayez dans "
                "%(minutes)s minutes, ou demandez à l'administrateur cerisepro de votre établissement."
            )
            % {"minutes": settings.PASSWORD_RESET_WINDOW_MINUTES},
        )
        return render(request, "registration/password_reset_form.html", {"form": form}, status=429)
    status = 400 if form.errors else 200
    return render(request, "registration/password_reset_form.html", {"form": form}, status=status)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's page behind the link, which refuses a link used once already or too old; here also
    the link of an account deactivated since. The account's login lock is lifted once the new
    password is saved; the user then logs in (no automatic login: the second factor stays asked)."""

    success_url = reverse_lazy("password_reset_complete")

    def get_user(self, uidb64: str):
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form):
        response = super().form_valid(form)
        password_reset_completed(form.user)
        return response
