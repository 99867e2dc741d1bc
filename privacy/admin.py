"""The right-of-access export, an action of the students' admin (Django admin › Élèves).

It is added to :class:`students.admin.StudentAdmin` from here so that the students app does not
depend on the privacy app; the privacy app comes after students in ``INSTALLED_APPS``, so the admin
class exists when this module is imported.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpResponse
from django.utils import timezone

from students.admin import StudentAdmin

from .right_of_access import export_student_data


@admin.action(description="Exporter les données (JSON)")
def export_data(modeladmin, request, queryset):
    """Right of access: the selected students' records as a JSON download, each export audited."""
    students = list(queryset.select_related("establishment", "user"))
    documents = export_student_data(students, user=request.user, now=timezone.now())
    body = documents[0] if len(documents) == 1 else {"students": documents}
    # The file is named by the opaque id, never by the student's name.
    name = f"eleve-{students[0].public_id}" if len(students) == 1 else "eleves"
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return response


StudentAdmin.actions = (*StudentAdmin.actions, export_data)
