from __future__ import annotations

from django.urls import path

from . import account_views, views

urlpatterns = [
    path("etablissements/<str:uai>/eleves/", views.student_list, name="student-list"),
    # Student accounts (docs/accounts.md, "Student accounts").
    path(
        "etablissements/<str:uai>/eleves/comptes/",
        account_views.student_accounts_create,
        name="student-accounts-create",
    ),
    path(
        "etablissements/<str:uai>/eleves/comptes/fiches/",
        account_views.student_login_sheet,
        name="student-login-sheet",
    ),
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
