from __future__ import annotations

from django.apps import AppConfig


class TransfersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "transfers"

    def ready(self) -> None:
        # transfers sits above students: it listens to students' signal rather than being called.
        from students.signals import siecle_import_applied

        from .receivers import run_matching_after_import

        siecle_import_applied.connect(
            run_matching_after_import, dispatch_uid="transfers.run_matching_after_import"
        )
