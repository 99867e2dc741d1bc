from __future__ import annotations

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    """No models of its own: it works on the students' and the transfers' records."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "privacy"
    verbose_name = "Données personnelles"
