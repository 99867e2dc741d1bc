"""Django admin of establishments and users; the audit of technical staff's actions.

Every admin action is recorded twice: in Django's own admin log (``LogEntry``, every add, change,
deletion and custom action, read-only under "Journal de l'administration technique"), and, when the
object belongs to establishments, in their journal (``AuditLogEntry``), so that a school's history
shows what technical staff changed for it. Reads (lists, the eligibility diagnostic) are not
recorded: they would put INEs into a log (docs/privacy.md).
"""

from __future__ import annotations

from functools import partial

from django import forms
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import FieldDoesNotExist
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.http import HttpRequest
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .access import signed_in_user
from .images import sanitize_image
from .models import AuditLogEntry, Establishment, User
from .services import IMAGE_FIELDS, audit_record, image_storage


def audited_establishments(obj, fields: tuple[str, ...] = ("establishment",)) -> list[Establishment]:
    """The establishments whose journal records a change to ``obj``, read from its ``fields``."""
    if isinstance(obj, Establishment):
        return [obj]
    found = (getattr(obj, field, None) for field in fields)
    return list(dict.fromkeys(e for e in found if isinstance(e, Establishment)))


class AuditedAdmin(admin.ModelAdmin):
    """Writes technical staff's admin actions to the journal of the establishments concerned.

    Django calls ``log_addition``/``log_change``/``log_deletions`` for its own forms, deletions and
    bulk actions; the project's custom admin views call ``log_change``/``log_addition`` too.
    """

    # The fields that tie an object to the establishments whose journal records the change; an
    # admin whose model names them otherwise (transfers' origin and destination) says so.
    audited_fields: tuple[str, ...] = ("establishment",)

    def log_addition(self, request: HttpRequest, obj, message):
        entry = super().log_addition(request, obj, message)
        self._audit(request, obj, "ajouté", entry)
        return entry

    def log_change(self, request: HttpRequest, obj, message):
        entry = super().log_change(request, obj, message)
        self._audit(request, obj, "modifié", entry)
        return entry

    def log_deletions(self, request: HttpRequest, queryset):
        entries = super().log_deletions(request, queryset)
        for obj, entry in zip(queryset, entries, strict=False):
            if not isinstance(obj, Establishment):  # its journal goes with it; LogEntry stays
                self._audit(request, obj, "supprimé", entry)
        return entries

    def _audit(self, request: HttpRequest, obj, verb: str, entry: LogEntry) -> None:
        # The object by its model and id, never its name: the journal must not collect students'
        # names (the admin log keeps the representation for staff).
        changes = {
            "objet": f"{obj._meta.verbose_name} n°{obj.pk}",
            "détail": entry.get_change_message() if entry else "",
        }
        action = f"Administration technique : {obj._meta.verbose_name} {verb}"
        user = signed_in_user(request)
        for establishment in audited_establishments(obj, self.audited_fields):
            audit_record(establishment, user, action[:100], changes)


class ReadOnlyAdmin(AuditedAdmin):
    """Rows written by the services only: staff read them, and act through the services' buttons."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    """Django's record of every admin action (who, when, what), read-only."""

    list_display = ("action_time", "user", "content_type", "object_id", "action_flag", "change_message")
    list_filter = ("action_flag", "content_type")
    search_fields = ("user__username", "object_id")
    list_select_related = ("user", "content_type")
    date_hierarchy = "action_time"


class EstablishmentAdminForm(forms.ModelForm):
    """The logo and stamp go through the same checks and re-encoding as on the school's page."""

    class Meta:
        model = Establishment
        fields = ("logo", "stamp")  # the admin adds the fieldsets' fields (with its formfield overrides)

    def _clean_image(self, field: str):
        upload = self.cleaned_data.get(field)
        if isinstance(upload, UploadedFile):
            return sanitize_image(upload)  # a French ValidationError, shown next to the field
        return upload  # unchanged (the stored file) or cleared (False)

    def clean_logo(self):
        return self._clean_image("logo")

    def clean_stamp(self):
        return self._clean_image("stamp")


def _delete_files_on_commit(names: dict[str, str]) -> None:
    # Once the change commits, as the school's page does (establishments.services): a rolled-back
    # change keeps its file.
    for field, name in names.items():
        if name:
            transaction.on_commit(partial(image_storage(field).delete, name))


@admin.register(Establishment)
class EstablishmentAdmin(AuditedAdmin):
    form = EstablishmentAdminForm
    list_display = ("uai", "name", "city", "email", "uses_siecle", "transfer_enabled")
    list_filter = ("transfer_enabled", "uses_siecle", "academy")
    search_fields = ("uai", "name", "city")
    readonly_fields = ("transfer_changed_by", "transfer_changed_at", "created_at")
    # Django 6 will assume https for a website typed without a scheme; do it now.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
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

    def save_model(self, request: HttpRequest, obj: Establishment, form, change: bool) -> None:
        before = Establishment.objects.filter(pk=obj.pk).values(*IMAGE_FIELDS).first() if change else None
        super().save_model(request, obj, form, change)
        if before:
            # A replaced or cleared logo or stamp leaves no file behind.
            replaced = {f: name for f, name in before.items() if name and name != getattr(obj, f).name}
            _delete_files_on_commit(replaced)

    def delete_model(self, request: HttpRequest, obj: Establishment) -> None:
        names = {field: getattr(obj, field).name for field in IMAGE_FIELDS}
        super().delete_model(request, obj)
        _delete_files_on_commit(names)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        doomed = [{field: getattr(obj, field).name for field in IMAGE_FIELDS} for obj in queryset]
        super().delete_queryset(request, queryset)
        for names in doomed:
            _delete_files_on_commit(names)


@admin.register(User)
class UserAdmin(AuditedAdmin, BaseUserAdmin):
    list_display = ("username", "last_name", "first_name", "establishment", "role", "is_staff", "is_active")
    list_filter = ("role", "is_staff", "is_active")
    search_fields = ("username", "first_name", "last_name", "email", "establishment__uai")
    list_select_related = ("establishment",)
    autocomplete_fields = ("establishment",)
    # Set by Django at each login and at creation; read-only (their split date/time inputs also had
    # no label of their own, RGAA 11.1).
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Établissement"), {"fields": ("establishment", "role")}),
    )
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        (_("Établissement"), {"fields": ("establishment", "role")}),
    )


# Journal words that read better than the field's own name ("Transfert : désactivé → activé").
JOURNAL_LABELS = {"transfer_enabled": "transfert", "student": "élève", "signalement": "signalement"}


def _field_label(field: str) -> str:
    if field in JOURNAL_LABELS:
        return JOURNAL_LABELS[field]
    try:
        model_field = Establishment._meta.get_field(field)
    except FieldDoesNotExist:
        return field.replace("_", " ")
    return str(getattr(model_field, "verbose_name", field))


def _value_word(field: str, value: object) -> str:
    if isinstance(value, bool):
        if field == "transfer_enabled":
            return "activé" if value else "désactivé"
        return "oui" if value else "non"
    return "(vide)" if value in (None, "") else str(value)


def readable_changes(changes: object) -> str:
    """The journal's changes as a sentence: "Transfert : désactivé → activé ; Ville : (vide) → Niort"."""
    if not isinstance(changes, dict):
        return str(changes)
    parts = []
    for field, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            old, new = (_value_word(field, item) for item in value)
            parts.append(f"{capfirst(_field_label(field))} : {old} → {new}")
        else:
            parts.append(f"{capfirst(_field_label(field))} : {_value_word(field, value)}")
    return " ; ".join(parts) or "—"


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    """Read-only: the journal is written by the services, never edited by hand."""

    list_display = ("created_at", "establishment", "username", "action", "modifications")

    @admin.display(description=_("modifications"))
    def modifications(self, entry: AuditLogEntry) -> str:
        return readable_changes(entry.changes)

    list_filter = ("action",)
    search_fields = ("establishment__uai", "establishment__name", "username")
    list_select_related = ("establishment",)
    date_hierarchy = "created_at"
