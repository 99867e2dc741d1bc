from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("etablissements/<str:uai>/transferts/", views.transfer_history, name="transfer-history"),
    path(
        "etablissements/<str:uai>/transferts/export.csv",
        views.transfer_history_csv,
        name="transfer-history-csv",
    ),
    path("etablissements/<str:uai>/transferts/en-attente/", views.transfer_waiting, name="transfer-waiting"),
    path(
        "etablissements/<str:uai>/transferts/<uuid:transfer>/signaler/",
        views.transfer_report,
        name="transfer-report",
    ),
]
