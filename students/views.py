"""School pages of the students app: the student list and the SIECLE import."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from establishments.access import ADMIN_ONLY, SCHOOL_STAFF, SchoolRequest, school_view

from . import selectors, services
from .forms import ImportConfirmForm, SiecleUploadForm, StudentFilterForm
from .models import SiecleImport
from .siecle import SiecleFileError

PAGE_SIZE = 50
IMPORT_TAB = {"tab": "import", "can_write": True}


@require_GET
@school_view(read=SCHOOL_STAFF)
def student_list(request: SchoolRequest) -> HttpResponse:
    establishment = request.establishment
    form = StudentFilterForm(request.GET or None, class_codes=selectors.class_codes(establishment))
    filters = form.cleaned_data if form.is_valid() else {}
    students = selectors.student_search(
        establishment,
        query=filters.get("q", ""),
        class_code=filters.get("classe", ""),
        status=filters.get("statut") or "actifs",
    ).select_related("user")  # the Compte column (docs/accounts.md, "Student accounts")
    page = Paginator(students, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"establishment": establishment, "form": form, "page": page, "query": query.urlencode()}
    # The accounts' actions act on the filtered class; an empty page says what to do next.
    context["class_code"] = filters.get("classe", "")
    context["has_students"] = bool(page.object_list) or establishment.students.exists()
    return render(request, "students/list.html", context)


@require_http_methods(["GET", "POST"])
@school_view(read=ADMIN_ONLY, write=ADMIN_ONLY)
def siecle_import(request: SchoolRequest) -> HttpResponse:
    establishment = request.establishment
    form = SiecleUploadForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    if request.method == "POST" and form.is_valid():
        export, nomenclature = form.cleaned_data["export"], form.cleaned_data["nomenclature"]
        data = export.read()
        try:
            outcome = services.preview_siecle_import(
                establishment,
                data,
                export.name,
                now=timezone.now(),
                user=request.user,
                nomenclature=nomenclature.read() if nomenclature else None,
            )
        except SiecleFileError as error:
            # The service has recorded the refusal; the page only shows it.
            form.add_error("export", error.message)
        else:
            return redirect("siecle-import-preview", uai=establishment.uai, record=outcome.record.public_id)
    return render(
        request,
        "students/import.html",
        {
            "establishment": establishment,
            "form": form,
            "imports": selectors.recent_imports(establishment),
            **IMPORT_TAB,
        },
        status=400 if form.errors else 200,
    )


def _preview_record(request: SchoolRequest, record_id) -> SiecleImport:
    return get_object_or_404(
        request.establishment.imports, public_id=record_id, status=SiecleImport.Status.PREVIEW
    )


@require_http_methods(["GET", "POST"])
@school_view(read=ADMIN_ONLY, write=ADMIN_ONLY)
def siecle_import_preview(request: SchoolRequest, record) -> HttpResponse:
    record = _preview_record(request, record)
    establishment = request.establishment
    form = ImportConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = services.confirm_siecle_import(
                record,
                now=timezone.now(),
                user=request.user,
                confirm_mass_deactivation=form.cleaned_data["confirm_mass_deactivation"],
                allow_older=form.cleaned_data["allow_older"],
            )
        except SiecleFileError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _import_summary(establishment, outcome))
            return redirect("siecle-import", uai=establishment.uai)
    summary = services.preview_of(record, now=timezone.now())
    already = services.last_applied_import(establishment, record.sha256)
    context = {
        "establishment": establishment,
        "record": record,
        "plan": summary,
        "form": form,
        "already": already,
        **IMPORT_TAB,
    }
    return render(request, "students/import_preview.html", context, status=400 if form.errors else 200)


@require_POST
@school_view(read=ADMIN_ONLY, write=ADMIN_ONLY)
def siecle_import_cancel(request: SchoolRequest, record) -> HttpResponse:
    services.cancel_siecle_import(_preview_record(request, record))
    messages.info(request, _("Import abandonné : aucun élève n'a été modifié."))
    return redirect("siecle-import", uai=request.establishment.uai)


def _import_summary(establishment, outcome: services.ImportOutcome) -> str:
    record = outcome.record
    if not outcome.changed:
        previous = services.last_applied_import(establishment, record.sha256, exclude=record)
        if previous:
            return _("Ce fichier a déjà été importé le %(date)s : aucune modification.") % {
                "date": date_format(timezone.localtime(previous.applied_at), "DATETIME_FORMAT")
            }
        return _("Import terminé : aucune modification.")
    return _(
        "Import terminé : %(created)s élèves créés, %(updated)s mis à jour, %(reactivated)s réactivés, "
        "%(deactivated)s désactivés."
    ) % {
        "created": record.created,
        "updated": record.updated,
        "reactivated": record.reactivated,
        "deactivated": record.deactivated,
    }
