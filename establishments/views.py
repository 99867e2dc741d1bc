"""School pages of the establishments app: home and the *Paramètres* module."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.reauth import recent_authentication_required

from . import dashboard, hooks, services
from .access import ADMIN_ONLY, ALL_ROLES, STAFF_ROLES, AuthenticatedRequest, SchoolRequest, school_view
from .forms import DetailsForm, ImageDeleteForm, ImageForm, TransferForm
from .models import Role

SAVED = _("Modifications enregistrées.")
IMAGE_SLUGS = {"logo": "logo", "cachet": "stamp"}


@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    establishment = request.user.establishment
    if establishment is None:
        if request.user.is_staff:
            return redirect("admin:index")
        raise PermissionDenied
    return redirect("establishment-home", uai=establishment.uai)


@require_GET
@school_view(read=ALL_ROLES)
def establishment_home(request: SchoolRequest) -> HttpResponse:
    context = dashboard.home_context(request.establishment, request.user, now=timezone.now())
    return render(request, "establishments/home.html", context)


@require_GET
@school_view(read=STAFF_ROLES)
def settings_index(request: SchoolRequest) -> HttpResponse:
    tab = "settings-details" if request.user.role == Role.ADMINISTRATOR else "settings-transfers"
    return redirect(tab, uai=request.establishment.uai)


def _render_tab(request: SchoolRequest, tab: str, context: dict, status: int = 200) -> HttpResponse:
    context |= {"establishment": request.establishment, "tab": tab, "can_write": request.can_write}
    return render(request, f"establishments/settings_{tab}.html", context, status=status)


@require_http_methods(["GET", "POST"])
@school_view(read=STAFF_ROLES, write=ADMIN_ONLY)
def settings_details(request: SchoolRequest) -> HttpResponse:
    establishment = request.establishment
    # A ModelForm writes the submitted values into its instance while validating: give it a copy,
    # so that a refused form never shows its unsaved name in the page header.
    form = DetailsForm(request.POST if request.method == "POST" else None, instance=copy.copy(establishment))
    if request.method == "POST" and form.is_valid():
        services.establishment_update_details(establishment, request.user, form.cleaned_data)
        messages.success(request, SAVED)
        return redirect("settings-details", uai=establishment.uai)
    if not request.can_write:
        for field in form.fields.values():
            field.disabled = True
    status = 400 if form.errors else 200
    return _render_tab(request, "details", {"form": form}, status)


@require_http_methods(["GET", "POST"])
@school_view(read=STAFF_ROLES, write=ADMIN_ONLY)
def settings_logo(request: SchoolRequest) -> HttpResponse:
    establishment = request.establishment
    forms = {kind: ImageForm(initial={"kind": kind}, prefix=kind) for kind in ("logo", "stamp")}
    if request.method == "POST":
        if "delete" in request.POST:
            delete_form = ImageDeleteForm(request.POST)
            if delete_form.is_valid():
                kind = delete_form.cleaned_data["kind"]
                if services.establishment_delete_image(establishment, request.user, kind):
                    messages.success(request, _("Image supprimée."))
                return redirect("settings-logo", uai=establishment.uai)
            raise Http404
        # Each upload form carries its prefixed hidden field ("logo-kind" or "stamp-kind").
        kind = next((kind for kind in forms if f"{kind}-kind" in request.POST), None)
        if kind is None:
            raise Http404
        form = ImageForm(request.POST, request.FILES, prefix=kind)
        forms[kind] = form
        if form.is_valid():
            try:
                services.establishment_set_image(
                    establishment, request.user, kind, form.cleaned_data["image"]
                )
            except ValidationError as error:
                form.add_error("image", error)
            else:
                messages.success(request, SAVED)
                return redirect("settings-logo", uai=establishment.uai)
    status = 400 if any(form.errors for form in forms.values()) else 200
    return _render_tab(request, "logo", {"forms": forms}, status)


@require_http_methods(["GET", "POST"])
@school_view(read=STAFF_ROLES, write=STAFF_ROLES)
@recent_authentication_required  # turning transfers on sends passports to other schools
def settings_transfers(request: SchoolRequest) -> HttpResponse:
    establishment = request.establishment
    initial = {
        "cnil_declaration_number": establishment.cnil_declaration_number,
        "transfer_enabled": "oui" if establishment.transfer_enabled else "non",
        "transfer_reminders_enabled": "oui" if establishment.transfer_reminders_enabled else "non",
    }
    form = TransferForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.establishment_set_transfer(
                establishment,
                request.user,
                enabled=form.cleaned_data["transfer_enabled"],
                cnil_number=form.cleaned_data["cnil_declaration_number"],
                now=timezone.now(),
                reminders=form.cleaned_data["transfer_reminders_enabled"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, SAVED)
            return redirect("settings-transfers", uai=establishment.uai)
    status = 400 if form.errors else 200
    context = {"form": form, **hooks.transfers_tab_context(establishment)}
    return _render_tab(request, "transfers", context, status)


@require_GET
@school_view(read=ALL_ROLES)
def establishment_image(request: SchoolRequest, kind: str) -> FileResponse:
    """Send the establishment's logo or stamp to its own members only."""
    field = IMAGE_SLUGS.get(kind)
    image = getattr(request.establishment, field) if field else None
    if not image:
        raise Http404
    content_type = "image/png" if image.name.endswith(".png") else "image/jpeg"
    try:
        file = image.open("rb")
    except FileNotFoundError:
        # The database names a file the media folder lost (restored backup, manual cleanup).
        raise Http404 from None
    response = FileResponse(file, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Disposition"] = "inline"
    return response
