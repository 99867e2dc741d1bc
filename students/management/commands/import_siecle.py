from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from cerisepro.commands import OperatorCommand
from establishments.models import Establishment
from establishments.validators import normalize_uai
from students.services import ImportPlan, import_siecle_export, plan_siecle_import
from students.siecle import SiecleFileError

# Identity lines printed per kind; the import record keeps them all.
LISTED = 10


class Command(OperatorCommand):
    help = "Import a SIECLE export (XML or ZIP) for an establishment and print the counts."

    def add_arguments(self, parser):
        parser.add_argument("uai")
        parser.add_argument("file")
        parser.add_argument("--nomenclature", help="Nomenclature.xml (or its ZIP): names of the MEFs")
        parser.add_argument("--at", help="'now' as an ISO 8601 datetime (naive means Europe/Paris)")
        parser.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
        parser.add_argument(
            "--confirm-mass-deactivation",
            action="store_true",
            help="allow an import that deactivates more than half of the active students",
        )
        parser.add_argument(
            "--allow-older",
            action="store_true",
            help="allow a file exported before the last imported one (it undoes departures and arrivals)",
        )
        parser.add_argument(
            "--override-uai",
            action="store_true",
            help="import even though the file's UAJ is not the establishment's UAI",
        )

    def handle(self, *args, uai, file, nomenclature, at, dry_run, **options):
        now = self.parse_now(at)
        establishment = Establishment.objects.filter(uai=normalize_uai(uai)).first()
        if establishment is None:
            raise CommandError(f"no establishment with UAI {uai}")
        try:
            plan = self._plan_or_import(establishment, file, nomenclature, now, dry_run=dry_run, **options)
        except SiecleFileError as error:
            raise CommandError(error.english) from None
        self._report(plan, dry_run)

    def _plan_or_import(self, establishment, file, nomenclature, now, *, dry_run, **options) -> ImportPlan:
        data, name = _read(file), Path(file).name
        names = _read(nomenclature) if nomenclature else None
        if dry_run:
            return plan_siecle_import(
                establishment, data, name, now=now, nomenclature=names, override_uai=options["override_uai"]
            )
        outcome = import_siecle_export(
            establishment,
            data,
            name,
            now=now,
            nomenclature=names,
            confirm_mass_deactivation=options["confirm_mass_deactivation"],
            allow_older=options["allow_older"],
            override_uai=options["override_uai"],
        )
        return outcome.plan

    def _report(self, plan: ImportPlan, dry_run: bool) -> None:
        prefix = "Dry run, nothing changed. Would have:" if dry_run else "Imported:"
        self.stdout.write(
            f"{prefix} {len(plan.export.students)} in file, {len(plan.creations)} created, "
            f"{plan.updated} updated, {len(plan.reactivations)} reactivated, "
            f"{len(plan.deactivations)} deactivated, {plan.unchanged} unchanged, "
            f"{plan.without_ine} without INE"
        )
        self._report_identity(plan)
        if not dry_run and not plan.changes_anything:
            self.stdout.write("No change: the establishment's students already match this file.")
        for warning in plan.export.warnings:
            self.stdout.write(f"warning: {warning}")
        if dry_run:
            for row in plan.creations:
                self.stdout.write(f"  create      {row.last_name} {row.first_name} ({row.class_code or '-'})")
            for student in plan.deactivations:
                self.stdout.write(
                    f"  deactivate  {student.last_name} {student.first_name} ({student.class_code or '-'})"
                )
            if plan.is_mass_deactivation:
                self.stdout.write(
                    "  (more than half of the active students: needs --confirm-mass-deactivation)"
                )

    def _report_identity(self, plan) -> None:
        """What the identity rules decided (docs/identity.md), by SIECLE id."""
        counts = ", ".join(f"{name} {count}" for name, count in plan.field_change_counts().items())
        if counts:
            self.stdout.write(f"Fields changed: {counts}")
        for change in plan.corrections[:LISTED]:
            self.stdout.write(
                f"  identity correction  {change.siecle_id} {change.field}: {change.old!r} -> {change.new!r}"
            )
        for item in plan.reassigned[:LISTED]:
            self.stdout.write(
                f"  SIECLE id {item.siecle_id} now names another person: the former record is treated as "
                "absent, the row as a new student"
            )
        hidden = max(0, len(plan.corrections) - LISTED) + max(0, len(plan.reassigned) - LISTED)
        if hidden:
            self.stdout.write(f"  … and {hidden} more (listed in the import record)")


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None
