"""URLs of the manual path; students are named by their ``public_id`` in forms, never in URLs."""

from __future__ import annotations

from django.urls import path

from . import views

MANUAL = "etablissements/<str:uai>/transferts/manuels/"

urlpatterns = [
    path(MANUAL, views.manual_transfers, name="manual-transfers"),
    path(f"{MANUAL}uai/", views.manual_transfers_uai, name="manual-transfers-uai"),
]
