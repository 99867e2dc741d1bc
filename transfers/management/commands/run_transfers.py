from __future__ import annotations

from django.core.management.base import CommandError

from cerisepro.commands import OperatorCommand
from establishments.models import Establishment
from establishments.validators import normalize_uai
from transfers.models import Trigger
from transfers.plan import BATCH_SIZE, PlannedPair, plan_matching
from transfers.run import run_matching


class Command(OperatorCommand):
    help = "Run the transfer matching job now (or as of --at) and print the counts per outcome."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="'now' as an ISO 8601 datetime (naive means Europe/Paris)")
        parser.add_argument("--uai", help="only the pairs that involve this establishment")
        parser.add_argument(
            "--dry-run", action="store_true", help="list each pair and its outcome, change nothing"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help="destinations per transaction (operators rarely need it; tests use 1 to interrupt runs)",
        )

    def handle(self, *args, at, uai, dry_run, batch_size, **options):
        now = self.parse_now(at)
        establishment = None
        if uai:
            establishment = Establishment.objects.filter(uai=normalize_uai(uai)).first()
            if establishment is None:
                raise CommandError(f"no establishment with UAI {uai}")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if dry_run:
            self._print_plan(plan_matching(now, establishment, batch_size=batch_size))
            return
        run = run_matching(now, establishment, trigger=Trigger.COMMAND, batch_size=batch_size)
        counts = (
            ", ".join(f"{key}: {value}" for key, value in sorted(run.counts.items())) or "nothing to decide"
        )
        self.stdout.write(
            f"Run {run.pk} {run.status}: {run.pairs_decided} pairs decided, {run.transfers_done} transfers, "
            f"{run.entries_copied} entries copied ({counts})"
        )
        if run.status == run.Status.SKIPPED:
            raise CommandError("another matching run is in progress; nothing was done")

    def _print_plan(self, planned: list[PlannedPair]) -> None:
        self.stdout.write(f"Dry run, nothing changed: {len(planned)} pairs would be decided")
        for pair in planned:
            self.stdout.write(
                f"  {pair.origin.establishment.uai} -> {pair.destination.establishment.uai}  "
                f"student #{pair.destination.pk}  {pair.outcome_label}"
            )
