from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """No models: only the ``demo`` command."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "demo"
    verbose_name = "Démonstration"
