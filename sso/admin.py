"""The Django admin of the connectors: superusers allow the addresses ProConnect may log staff in
with; staff read the establishments' login settings and links (changed by the schools)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from establishments.access import signed_in_user
from establishments.admin import AuditedAdmin, ReadOnlyAdmin

from .models import CasLink, LoginSettings, StaffEmailAllowance


@admin.register(StaffEmailAllowance)
class StaffEmailAllowanceAdmin(AuditedAdmin):
    """Only a superuser adds, changes or removes an allowed address (docs/connexion.md §ProConnect)."""

    list_display = ("email", "user", "created_by", "created_at", "last_login_at")
    search_fields = ("email", "user__username")
    readonly_fields = ("subject", "created_by", "created_at", "last_login_at")
    fields = ("email", "user", "subject", "created_by", "created_at", "last_login_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return signed_in_user(request).is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return signed_in_user(request).is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return signed_in_user(request).is_superuser

    def save_model(self, request: HttpRequest, obj: StaffEmailAllowance, form, change: bool) -> None:
        if not change:
            obj.created_by = signed_in_user(request)
        if change and "email" in form.changed_data:
            obj.subject = ""  # another address: the next login binds its own identifier
        super().save_model(request, obj, form, change)


@admin.register(LoginSettings)
class LoginSettingsAdmin(ReadOnlyAdmin):
    list_display = ("establishment", "mode", "cas_server_url", "changed_at")
    list_filter = ("mode",)


@admin.register(CasLink)
class CasLinkAdmin(ReadOnlyAdmin):
    list_display = ("establishment", "user", "created_at")
    list_select_related = ("establishment", "user")
    # Search by establishment only: the ENT identifier often spells a pupil's name.
    search_fields = ("establishment__uai",)
