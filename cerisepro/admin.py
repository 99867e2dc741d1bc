"""The Django admin site of technical staff: it requires a verified second factor."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest


class StaffAdminSite(admin.AdminSite):
    site_header = "cerisepro — administration technique"
    site_title = "cerisepro"
    index_title = "Administration technique"

    def has_permission(self, request: HttpRequest) -> bool:
        # Defence in depth: accounts.middleware.SecondFactorMiddleware already holds unverified
        # staff at the second step; without a verified device, the admin stays closed anyway.
        user = request.user
        verified = getattr(user, "is_verified", None)
        return super().has_permission(request) and callable(verified) and verified()
