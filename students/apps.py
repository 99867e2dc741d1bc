from __future__ import annotations

from django.apps import AppConfig


class StudentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "students"
    verbose_name = "Élèves"

    def ready(self) -> None:
        from .accounts import accounts_after_import
        from .signals import siecle_import_applied

        # The accounts of the students an import deactivated or reactivated (docs/accounts.md).
        siecle_import_applied.connect(accounts_after_import, dispatch_uid="students.accounts_after_import")
