"""*Paramètres › Utilisateurs*: the establishment's administrators, principals and teachers.

The administrator writes, the principal reads (docs/accounts.md §Users). Every page goes through
``school_view``; a user of another establishment is not found (404).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from cerisepro.site import site_url
from establishments.access import ADMIN_ONLY, STAFF_ROLES, SchoolRequest, school_view
from establishments.models import User

from . import users
from .forms import StaffUserForm
from .reauth import recent_authentication_required

SAVED = _("Modifications enregistrées.")


def _render(request: SchoolRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    context |= {
        "establishment": request.establishment,
        "tab": "users",
        "can_write": request.can_write,
        "link_days": settings.PASSWORD_RESET_TIMEOUT // 86400,
    }
    return render(request, f"accounts/{template}.html", context, status=status)


def _staff_user(request: SchoolRequest, user_id: int) -> User:
    user = users.establishment_staff_user(request.establishment, user_id)
    if user is None:
        raise Http404
    return user


@require_http_methods(["GET", "HEAD"])
@school_view(read=STAFF_ROLES, write=ADMIN_ONLY)
def user_list(request: SchoolRequest) -> HttpResponse:
    staff = users.establishment_staff_users(request.establishment)
    return _render(request, "users", {"staff_users": staff})


@require_http_methods(["GET", "POST"])
@school_view(read=ADMIN_ONLY, write=ADMIN_ONLY)
@recent_authentication_required  # gives access to the school's data, administrators included
def user_create(request: SchoolRequest) -> HttpResponse:
    roles = users.grantable_roles(request.user)
    form = StaffUserForm(request.POST if request.method == "POST" else None, roles=roles, with_login=True)
    if request.method == "POST" and form.is_valid():
        try:
            created = users.staff_user_create(
                request.establishment, request.user, **form.cleaned_data, base_url=site_url(request)
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("Compte créé : %(name)s recevra à %(email)s un lien pour choisir son mot de passe.")
                % {"name": created.get_full_name(), "email": created.email},
            )
            return redirect("settings-users", uai=request.establishment.uai)
    status = 400 if form.errors else 200
    return _render(request, "users_form", {"form": form, "creating": True}, status)


@require_http_methods(["GET", "POST"])
@school_view(read=STAFF_ROLES, write=ADMIN_ONLY)
@recent_authentication_required  # a role change gives or takes away the administration
def user_edit(request: SchoolRequest, user_id: int) -> HttpResponse:
    user = _staff_user(request, user_id)
    roles = users.grantable_roles(request.user) or (user.role,)
    initial = {field: getattr(user, field) for field in users.EDITABLE_FIELDS}
    form = StaffUserForm(
        request.POST if request.method == "POST" else None, initial=initial, roles=roles, with_login=False
    )
    if request.method == "POST" and form.is_valid():
        try:
            changes = users.staff_user_update(request.establishment, request.user, user, form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if changes:
                messages.success(request, SAVED)
            return redirect("settings-user", uai=request.establishment.uai, user_id=user.pk)
    if not request.can_write:
        for field in form.fields.values():
            field.disabled = True
    status = 400 if form.errors else 200
    return _render(request, "users_form", {"form": form, "edited": user, "creating": False}, status)


def _refusal(request: SchoolRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


@require_POST
@school_view(read=ADMIN_ONLY, write=ADMIN_ONLY)
@recent_authentication_required
def user_set_active(request: SchoolRequest, user_id: int) -> HttpResponse:
    user = _staff_user(request, user_id)
    active = request.POST.get("active") == "oui"
    try:
        changed = users.staff_user_set_active(request.establishment, request.user, user, active=active)
    except ValidationError as error:
        _refusal(request, error)
    else:
        if changed:
            text = _("Compte réactivé.") if active else _("Compte désactivé : il ne peut plus se connecter.")
            messages.success(request, text)
    return redirect("settings-user", uai=request.establishment.uai, user_id=user.pk)


@require_POST
@school_view(read=ADMIN_ONLY, write=ADMIN_ONLY)
@recent_authentication_required
def user_reset_password(request: SchoolRequest, user_id: int) -> HttpResponse:
    user = _staff_user(request, user_id)
    try:
        users.staff_user_reset_password(request.establishment, request.user, user, base_url=site_url(request))
    except ValidationError as error:
        _refusal(request, error)
    else:
        messages.success(
            request,
            _(
                "Mot de passe réinitialisé : l'ancien ne fonctionne plus, et un lien pour en choisir un "
                "nouveau a été envoyé à %(email)s."
            )
            % {"email": user.email},
        )
    return redirect("settings-user", uai=request.establishment.uai, user_id=user.pk)
