from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import AuditLogEntry, Establishment, User


@admin.register(Establishment)
class EstablishmentAdmin(admin.ModelAdmin):
    list_display = ("uai", "name", "city", "email", "uses_siecle", "transfer_enabled")
    list_filter = ("transfer_enabled", "uses_siecle", "academy")
    search_fields = ("uai", "name", "city")
    readonly_fields = ("transfer_changed_by", "transfer_changed_at", "created_at")
    fieldsets = (
        (None, {"fields": ("uai", "name", "email", "phone", "website", "uses_siecle")}),
        (_("Adresse"), {"fields": ("address", "postal_code", "city", "academy")}),
        (_("Images"), {"fields": ("logo", "stamp")}),
        (
            _("Transfert"),
            {
                "fields": (
                    "transfer_enabled",
                    "cnil_declaration_number",
                    "transfer_changed_by",
                    "transfer_changed_at",
                    "created_at",
                )
            },
        ),
    )


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "last_name", "first_name", "establishment", "role", "is_staff", "is_active")
    list_filter = ("role", "is_staff", "is_active")
    search_fields = ("username", "first_name", "last_name", "email", "establishment__uai")
    list_select_related = ("establishment",)
    autocomplete_fields = ("establishment",)
    fieldsets = BaseUserAdmin.fieldsets + ((_("Établissement"), {"fields": ("establishment", "role")}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        (_("Établissement"), {"fields": ("establishment", "role")}),
    )


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(admin.ModelAdmin):
    """Read-only: the journal is written by the services, never edited by hand."""

    list_display = ("created_at", "establishment", "username", "action", "changes")
    list_filter = ("action",)
    search_fields = ("establishment__uai", "establishment__name", "username")
    list_select_related = ("establishment",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
