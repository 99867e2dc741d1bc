"""Django admin of the students app (technical staff): read-mostly views for support.

The right-of-access export is an action the privacy app adds to :class:`StudentAdmin`
(``privacy/admin.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin
from django.http import HttpResponseRedirect

from establishments.admin import ReadOnlyAdmin

from .models import PassportEntry, SiecleImport, Student


@admin.register(SiecleImport)
class SiecleImportAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "establishment", "username", "file_name", "status", "created", "updated",
                    "reactivated", "deactivated", "without_ine")  # fmt: skip
    list_filter = ("status",)
    search_fields = ("establishment__uai", "establishment__name", "file_name", "sha256")
    list_select_related = ("establishment",)
    date_hierarchy = "created_at"
    exclude = ("pending_content", "pending_nomenclature")


class PassportEntryInline(admin.TabularInline):
    model = PassportEntry
    fk_name = "student"
    fields = ("kind", "title", "occurred_on", "author_name", "produced_uai", "source_entry")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Student)
class StudentAdmin(ReadOnlyAdmin):
    list_display = ("last_name", "first_name", "establishment", "class_code", "ine", "origin", "is_active",
                    "created_at", "deactivated_at")  # fmt: skip
    list_filter = ("is_active", "origin")
    actions: Sequence[Callable[..., Any]] = ()  # privacy.admin adds the right-of-access export
    # Exact INE search for support ("why hasn't my student's passport arrived?").
    search_fields = ("=ine", "last_name", "establishment__uai")
    list_select_related = ("establishment",)
    inlines = [PassportEntryInline]
    exclude = ("user",)

    # The search travels by POST and lives in the session (templates/admin/students/student/
    # search_form.html): a GET ?q= would put an INE or a name in the access logs.
    SEARCH_SESSION_KEY = "students_admin_search"

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST" and ("rechercher" in request.POST or "effacer" in request.POST):
            term = "" if "effacer" in request.POST else request.POST.get("recherche", "").strip()[:100]
            request.session[self.SEARCH_SESSION_KEY] = term
            return HttpResponseRedirect(request.path)
        return super().changelist_view(request, extra_context)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        changelist.current_search = request.session.get(self.SEARCH_SESSION_KEY, "")
        return changelist

    def get_search_results(self, request, queryset, search_term):
        # Whatever a URL's ?q= says, only the term posted by this staff member's session counts.
        return super().get_search_results(request, queryset, request.session.get(self.SEARCH_SESSION_KEY, ""))
