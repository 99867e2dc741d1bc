"""Passport URLs; students and entries are named by their opaque ``public_id``, never INE or name."""

from __future__ import annotations

from django.urls import path

from . import views

PASSPORT = "etablissements/<str:uai>/eleves/<uuid:student>/passeport/"

urlpatterns = [
    path(PASSPORT, views.passport, name="passport"),
    path(f"{PASSPORT}ajouter/<str:kind>/", views.passport_entry_create_view, name="passport-entry-create"),
    path(f"{PASSPORT}<uuid:entry>/modifier/", views.passport_entry_edit_view, name="passport-entry-edit"),
    path(f"{PASSPORT}imprimer/", views.passport_print, name="passport-print"),
    path("etablissements/<str:uai>/mon-passeport/", views.my_passport, name="my-passport"),
]
