from __future__ import annotations

from django.contrib.admin.apps import AdminConfig

THIRD_PARTY_APP_NAMES = {
    "otp_static": "Double authentification : codes de secours",
    "otp_totp": "Double authentification",
}


class StaffAdminConfig(AdminConfig):
    """``django.contrib.admin`` with :class:`cerisepro.admin.StaffAdminSite` as ``admin.site``."""

    default_site = "cerisepro.admin.StaffAdminSite"

    def ready(self) -> None:
        super().ready()
        # django-otp's apps have English, untranslated names ("Otp_Totp"), shown by the admin's
        # index, its side menu and the journal's content types. An app's name is not stored in
        # migrations, unlike a model's.
        from django.apps import apps

        for label, name in THIRD_PARTY_APP_NAMES.items():
            if apps.is_installed(f"django_otp.plugins.{label}"):
                apps.get_app_config(label).verbose_name = name
