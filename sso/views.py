"""Pages of the connectors: *Paramètres › Connexion*, the links and the ENT export's import (school
pages, through ``school_view``); the ENT and ProConnect logins and the logout (public).

Views parse input and call one service (sso/services.py, sso/ent_export.py); the protocols are
python-cas's and Authlib's (sso/cas.py, sso/oidc.py). docs/connexion.md says the rules.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods
from joserfc.errors import JoseError

from accounts.reauth import recent_authentication_required
from cerisepro.site import absolute_url
from cerisepro.views import LogoutView as BaseLogoutView
from establishments.access import ADMIN_ONLY, STAFF_ROLES, SchoolRequest, school_view
from establishments.models import Establishment, User
from establishments.validators import normalize_uai

from . import cas, ent_export, oidc, services
from .backends import CONNECTOR_BACKEND
from .forms import CasLinkForm, CasLinkRemoveForm, EntChooseForm, EntExportForm, LoginSettingsForm
from .models import CasLink, CasLinkImport

security_log = logging.getLogger("cerisepro.security")
SAVED = _("Modifications enregistrées.")
# Session keys: where to go after the connector's round trip, and how the session was opened
# (for the single logout).
NEXT_KEY = "sso_next"
CAS_UAI_KEY = "sso_cas_uai"
CAS_LOGOUT_KEY = "sso_cas_logout"
LINKS_PER_PAGE = 50


def _remember_next(request: HttpRequest) -> None:
    target = request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        request.session[NEXT_KEY] = target
    else:
        request.session.pop(NEXT_KEY, None)


def _refusal(request: HttpRequest, message: str, status: int, *, ent_down: bool = False) -> HttpResponse:
    context = {"message": message, "ent_down": ent_down}
    return render(request, "sso/login_refused.html", context, status=status)


# --- Paramètres › Connexion -------------------------------------------------------------------


def _render_tab(request: SchoolRequest, context: dict, status: int = 200) -> HttpResponse:
    context |= {"establishment": request.establishment, "tab": "connexion", "can_write": request.can_write}
    return render(request, "sso/settings_connexion.html", context, status=status)


@require_http_methods(["GET", "POST"])
@school_view(read=STAFF_ROLES, write=ADMIN_ONLY)
@recent_authentication_required  # another CAS server could log anyone linked in
def settings_connexion(request: SchoolRequest) -> HttpResponse:
    establishment = request.establishment
    current = services.login_settings(establishment)
    initial = {"mode": current.mode, "known_ent": current.known_ent, "cas_server_url": current.cas_server_url}
    form = LoginSettingsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.login_settings_update(establishment, request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, SAVED)
            return redirect("settings-connexion", uai=establishment.uai)
    if not request.can_write:
        for field in form.fields.values():
            field.disabled = True
    service_url = absolute_url(reverse("sso-cas-login", args=[establishment.uai]), request)
    context = {
        "form": form,
        "current": current,
        "service_url": service_url,
        "links_count": CasLink.objects.filter(establishment=establishment).count(),
    }
    return _render_tab(request, context, 400 if form.errors else 200)


def _links_page_url(request: SchoolRequest) -> str:
    page = request.GET.get("page", "")
    url = reverse("sso-links", args=[request.establishment.uai])
    return f"{url}?page={page}" if page.isdigit() else url


def _link_target(request: SchoolRequest, form: CasLinkForm | CasLinkRemoveForm) -> User | None:
    """The user the form names (``None`` if it names none); 404 for anyone not of the establishment."""
    form.is_valid()
    user_id = form.cleaned_data.get("user")
    if user_id is None:
        return None
    target = services.establishment_user(request.establishment, user_id)
    if target is None:
        raise Http404
    return target


@require_http_methods(["GET", "POST"])
@school_view(read=ADMIN_ONLY, write=ADMIN_ONLY)
@recent_authentication_required  # a link lets an ENT identity into the account
def cas_links(request: SchoolRequest) -> HttpResponse:
    establishment = request.establishment
    form: CasLinkForm | None = None
    if request.method == "POST" and request.POST.get("action") == "remove":
        target = _link_target(request, CasLinkRemoveForm(request.POST))
        if target is not None and services.cas_link_remove(establishment, request.user, target):
            messages.success(request, _("Lien avec l'ENT supprimé."))
        return redirect(_links_page_url(request))
    if request.method == "POST":
        form = CasLinkForm(request.POST)
        target = _link_target(request, form)
        if target is not None and form.is_valid():
            try:
                services.cas_link_set(establishment, request.user, target, form.cleaned_data["cas_user"])
            except ValidationError as error:
                form.add_error("cas_user", error)
            else:
                messages.success(request, SAVED)
                return redirect(_links_page_url(request))
    users = establishment.users.select_related("cas_link").order_by("role", "last_name", "first_name", "pk")
    page = Paginator(users, LINKS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "form": form,
        # The row whose identifier was refused shows the error (cleaned_data keeps "user").
        "failed_user": form.cleaned_data.get("user") if form is not None else None,
        "establishment": establishment,
        "tab": "connexion",
        "can_write": True,
    }
    return render(request, "sso/links.html", context, status=400 if form is not None else 200)


@require_http_methods(["GET", "POST"])
@school_view(read=ADMIN_ONLY, write=ADMIN_ONLY)
def cas_links_import(request: SchoolRequest) -> HttpResponse:
    establishment = request.establishment
    bound = request.method == "POST"
    form = EntExportForm(request.POST if bound else None, request.FILES if bound else None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["export"]
        try:
            record = ent_export.preview_create(
                establishment,
                request.user,
                upload.read(ent_export.MAX_BYTES + 1),
                upload.name or "",
                timezone.now(),
            )
        except ValidationError as error:
            form.add_error("export", error)
        else:
            return redirect("sso-links-import-preview", uai=establishment.uai, record=record.public_id)
    context = {
        "form": form,
        "headers": ent_export.accepted_headers_text(),
        "establishment": establishment,
        "tab": "connexion",
        "can_write": True,
    }
    return render(request, "sso/import.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@school_view(read=ADMIN_ONLY, write=ADMIN_ONLY)
@recent_authentication_required
def cas_links_import_preview(request: SchoolRequest, record: str) -> HttpResponse:
    establishment = request.establishment
    try:
        preview = get_object_or_404(CasLinkImport, establishment=establishment, public_id=record)
    except ValidationError:  # not a UUID
        raise Http404 from None
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "confirm":
        count = ent_export.preview_apply(preview, request.user)
        messages.success(request, _("%(count)s comptes reliés à l'ENT.") % {"count": count})
        return redirect("sso-links", uai=establishment.uai)
    if action == "cancel":
        preview.delete()
        messages.info(request, _("Import annulé : aucun lien n'a été créé."))
        return redirect("sso-links-import", uai=establishment.uai)
    status = 400 if request.method == "POST" else 200
    context = {
        "record": preview,
        "rows": {category: preview.preview.get(category, []) for category in ent_export.CATEGORIES},
        "establishment": establishment,
        "tab": "connexion",
        "can_write": True,
    }
    return render(request, "sso/import_preview.html", context, status=status)


# --- The ENT (CAS) login ---------------------------------------------------------------------


@require_GET
def ent_choose(request: HttpRequest) -> HttpResponse:
    """ "Se connecter avec l'ENT": the establishment first (its UAI), then its ENT."""
    form = EntChooseForm(request.GET if "uai" in request.GET else None)
    if form.is_bound and form.is_valid():
        establishment = Establishment.objects.filter(uai=normalize_uai(form.cleaned_data["uai"])).first()
        if establishment is not None and services.login_settings(establishment).uses_ent:
            # A link, not a redirect: the CSP's form-action 'self' stops a form's redirect to the ENT.
            target = reverse("sso-cas-login", args=[establishment.uai])
            next_url = request.GET.get("next", "")
            ent_url = f"{target}?{urlencode({'next': next_url})}" if next_url else target
            return render(request, "sso/ent_choose.html", {"chosen": establishment, "ent_url": ent_url})
        # The same words for an unknown UAI and for a school without ENT login.
        form.add_error("uai", _("Cet établissement ne propose pas la connexion par l'ENT sur cerisepro."))
    return render(request, "sso/ent_choose.html", {"form": form}, status=400 if form.errors else 200)


def _ent_establishment(uai: str) -> Establishment:
    establishment = Establishment.objects.filter(uai=uai).first()
    if establishment is None or not services.login_settings(establishment).uses_ent:
        raise Http404
    return establishment


@csrf_exempt  # the ENT's single-logout POST carries no CSRF token (other POSTs are checked below)
@require_http_methods(["GET", "POST"])
def cas_login(request: HttpRequest, uai: str) -> HttpResponse:
    """The service URL given to the ENT: sends to the CAS login, takes the ticket back, and
    receives the ENT's single-logout ``logoutRequest``."""
    establishment = _ent_establishment(uai)
    server_url = services.login_settings(establishment).cas_server_url
    service_url = absolute_url(reverse("sso-cas-login", args=[uai]), request)
    if request.method == "POST":
        logout_request = request.POST.get("logoutRequest", "")
        if not logout_request:
            # Only the ENT's logoutRequest is exempt from the CSRF check: any other POST passes it.
            return csrf_protect(_not_a_logout_request)(request)
        services.cas_single_logout(establishment, logout_request)
        return HttpResponse(status=200)
    ticket = request.GET.get("ticket", "")
    if not ticket:
        _remember_next(request)
        return redirect(cas.login_url(server_url, service_url))
    try:
        user = services.cas_ticket_user(establishment, ticket, service_url)
    except cas.CasUnavailable:
        message = _("L'ENT ne répond pas pour le moment : réessayez dans quelques minutes.")
        return _refusal(request, message, 503, ent_down=True)
    if user is None:
        message = _(
            "L'ENT n'a pas confirmé votre connexion, ou votre compte ENT n'est relié à aucun compte "
            "cerisepro de cet établissement. Réessayez, ou demandez à l'administrateur de "
            "l'établissement de relier votre compte."
        )
        return _refusal(request, message, 403)
    next_url = request.session.get(NEXT_KEY) or reverse("home")
    login(request, user, backend=CONNECTOR_BACKEND)
    request.session[CAS_UAI_KEY] = establishment.uai
    services.cas_session_record(request, establishment, ticket, timezone.now())
    security_log.info("event=cas_login user=%s uai=%s", user.pk, establishment.uai)
    return redirect(next_url)


def _not_a_logout_request(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=400)


class LogoutView(BaseLogoutView):
    """The project's logout; a session opened by the ENT then goes on to the ENT's ``/logout``
    (CAS single logout, as far as the protocol goes: the ENT ends its own session and may tell
    its other services), through :func:`ent_logout`."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        uai = request.session.get(CAS_UAI_KEY)
        response = super().post(request, *args, **kwargs)
        if uai:
            request.session[CAS_LOGOUT_KEY] = uai  # in the new, anonymous session
            return redirect("sso-ent-logout")
        return response


@require_GET
def ent_logout(request: HttpRequest) -> HttpResponse:
    """After cerisepro's logout, the ENT's: a page that goes on to the ENT's ``/logout`` at once
    (meta refresh) and links to it. Not a redirect: the logout is a form, and the CSP's
    ``form-action 'self'`` stops a form's redirect to another site."""
    uai = request.session.pop(CAS_LOGOUT_KEY, None)
    establishment = Establishment.objects.filter(uai=uai).first() if uai else None
    current = services.login_settings(establishment) if establishment else None
    if current is None or not current.uses_ent:
        return redirect("login")
    logout_url = cas.logout_url(current.cas_server_url, absolute_url(reverse("login"), request))
    return render(request, "sso/ent_logout.html", {"logout_url": logout_url})


# --- ProConnect (OpenID Connect) for technical staff ---------------------------------------------


@require_GET
def proconnect_login(request: HttpRequest) -> HttpResponseBase:
    if not oidc.configured():
        raise Http404
    _remember_next(request)
    callback = absolute_url(reverse("sso-proconnect-callback"), request)
    try:
        return oidc.client().authorize_redirect(request, callback, **oidc.authorize_params())
    except (requests.RequestException, ValueError, KeyError):
        return _refusal(request, _("ProConnect ne répond pas pour le moment : réessayez plus tard."), 503)


@require_GET
def proconnect_callback(request: HttpRequest) -> HttpResponse:
    if not oidc.configured():
        raise Http404
    refused = _("La connexion par ProConnect a échoué : recommencez depuis la page de connexion.")
    try:
        app = oidc.client()
        claims = oidc.agent_claims(app, app.authorize_access_token(request))
    except (
        AuthlibBaseError,
        JoseError,
        oidc.UserinfoRefused,
        requests.RequestException,
        ValueError,
        KeyError,
    ) as error:
        # Wrong state, nonce, audience, issuer or signature, a refused code, a provider down.
        security_log.warning("event=proconnect_refused error=%s", type(error).__name__)
        return _refusal(request, refused, 403)
    email, subject = str(claims.get("email") or ""), str(claims.get("sub") or "")
    user = services.staff_for_email(email, subject, timezone.now()) if email else None
    if user is None:
        security_log.warning("event=proconnect_unknown_email")  # never the address itself
        message = _(
            "Cette adresse n'est pas autorisée à se connecter à cerisepro par ProConnect. "
            "Un superutilisateur doit l'autoriser dans l'administration."
        )
        return _refusal(request, message, 403)
    next_url = request.session.get(NEXT_KEY) or reverse("admin:index")
    login(request, user, backend=CONNECTOR_BACKEND)  # the local second factor follows (accounts/)
    security_log.info("event=proconnect_login user=%s acr=%s", user.pk, str(claims.get("acr", ""))[:40])
    request.session["sso_proconnect_at"] = int(time.time())
    return redirect(next_url)
