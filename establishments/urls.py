from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("etablissements/<str:uai>/", views.establishment_home, name="establishment-home"),
    path("etablissements/<str:uai>/parametres/", views.settings_index, name="settings"),
    path(
        "etablissements/<str:uai>/parametres/etablissement/",
        views.settings_details,
        name="settings-details",
    ),
    path("etablissements/<str:uai>/parametres/logo/", views.settings_logo, name="settings-logo"),
    path(
        "etablissements/<str:uai>/parametres/transferts/",
        views.settings_transfers,
        name="settings-transfers",
    ),
    path(
        "etablissements/<str:uai>/images/<str:kind>/",
        views.establishment_image,
        name="establishment-image",
    ),
]
