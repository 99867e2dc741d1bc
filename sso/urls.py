from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("connexion/ent/", views.ent_choose, name="sso-ent-choose"),
    # The service URL to give to the ENT (docs/connexion.md §What the ENT must be told).
    path("etablissements/<str:uai>/connexion/ent/", views.cas_login, name="sso-cas-login"),
    path("deconnexion/ent/", views.ent_logout, name="sso-ent-logout"),
    path("connexion/proconnect/", views.proconnect_login, name="sso-proconnect-login"),
    path("connexion/proconnect/retour/", views.proconnect_callback, name="sso-proconnect-callback"),
    path(
        "etablissements/<str:uai>/parametres/connexion/",
        views.settings_connexion,
        name="settings-connexion",
    ),
    path("etablissements/<str:uai>/parametres/connexion/comptes/", views.cas_links, name="sso-links"),
    path(
        "etablissements/<str:uai>/parametres/connexion/import/",
        views.cas_links_import,
        name="sso-links-import",
    ),
    path(
        "etablissements/<str:uai>/parametres/connexion/import/<str:record>/",
        views.cas_links_import_preview,
        name="sso-links-import-preview",
    ),
]
