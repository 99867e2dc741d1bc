from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from . import user_views, views

USERS = "etablissements/<str:uai>/parametres/utilisateurs/"

urlpatterns = [
    path("connexion/verification/", views.otp_verify, name="otp-verify"),
    path("compte/double-authentification/", views.otp_setup, name="otp-setup"),
    # "Mot de passe oublié ?" (docs/accounts.md §Password reset)
    path("mot-de-passe-oublie/", views.password_reset, name="password_reset"),
    path(
        "mot-de-passe-oublie/envoye/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "mot-de-passe-oublie/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "mot-de-passe-oublie/termine/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    # Paramètres › Utilisateurs (docs/accounts.md §Users)
    path(USERS, user_views.user_list, name="settings-users"),
    path(f"{USERS}nouveau/", user_views.user_create, name="settings-user-create"),
    path(f"{USERS}<int:user_id>/", user_views.user_edit, name="settings-user"),
    path(f"{USERS}<int:user_id>/activation/", user_views.user_set_active, name="settings-user-active"),
    path(
        f"{USERS}<int:user_id>/mot-de-passe/",
        user_views.user_reset_password,
        name="settings-user-password",
    ),
]
