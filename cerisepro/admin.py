"""The Django admin site of technical staff: it requires a verified second factor."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

# django-otp's models, whose names are English and untranslated (their apps are renamed in
# cerisepro/apps.py): the names the index and the side menu show. A model's own name would need a
# migration of the package. Their own pages stay as the package wrote them.
MODEL_NAMES = {
    ("otp_static", "staticdevice"): "Jeux de codes de secours",
    ("otp_totp", "totpdevice"): "Applications d'authentification (TOTP)",
}


class StaffAdminSite(admin.AdminSite):
    site_header = "cerisepro — administration technique"
    site_title = "cerisepro"
    index_title = "Administration technique"

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = super().get_app_list(request, app_label)
        for app in apps:
            for model in app["models"]:
                key = (app["app_label"], model["object_name"].lower())
                model["name"] = MODEL_NAMES.get(key, model["name"])
        return apps

    def has_permission(self, request: HttpRequest) -> bool:
        # Defence in depth: accounts.middleware.SecondFactorMiddleware already holds unverified
        # staff at the second step; without a verified device, the admin stays closed anyway.
        user = request.user
        verified = getattr(user, "is_verified", None)
        return super().has_permission(request) and callable(verified) and verified()
