from __future__ import annotations

from django.apps import AppConfig


class SsoConfig(AppConfig):
    """ENT (CAS) and ProConnect (OpenID Connect) logins (docs/connexion.md)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "sso"
    verbose_name = "Connexion ENT et ProConnect"
