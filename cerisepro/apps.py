from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """``django.contrib.admin`` with :class:`cerisepro.admin.StaffAdminSite` as ``admin.site``."""

    default_site = "cerisepro.admin.StaffAdminSite"
