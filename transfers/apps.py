from __future__ import annotations

from django.apps import AppConfig


class TransfersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "transfers"
    verbose_name = "Transferts"

    def ready(self) -> None:
        # transfers sits above establishments and students: it listens and registers rather than
        # being called by name (docs/architecture.md).
        from establishments.hooks import register_transfers_tab_context
        from students.selectors import students_without_ine
        from students.signals import siecle_import_applied

        from . import home
        from .receivers import run_matching_after_import

        siecle_import_applied.connect(
            run_matching_after_import, dispatch_uid="transfers.run_matching_after_import"
        )
        # The Transferts settings tab lists the active students who can never be transferred.
        register_transfers_tab_context("students_without_ine", students_without_ine)
        # The home page's SIECLE, student and transfer items and the roles' sections (docs/home.md).
        home.register()
