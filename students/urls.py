from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("etablissements/<str:uai>/eleves/", views.student_list, name="student-list"),
    path(
        "etablissements/<str:uai>/parametres/import-siecle/",
        views.siecle_import,
        name="siecle-import",
    ),
    path(
        "etablissements/<str:uai>/parametres/import-siecle/<uuid:record>/",
        views.siecle_import_preview,
        name="siecle-import-preview",
    ),
    path(
        "etablissements/<str:uai>/parametres/import-siecle/<uuid:record>/abandonner/",
        views.siecle_import_cancel,
        name="siecle-import-cancel",
    ),
]
