from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("connexion/verification/", views.otp_verify, name="otp-verify"),
    path("compte/double-authentification/", views.otp_setup, name="otp-setup"),
]
