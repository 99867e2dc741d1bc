from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone

from cerisepro.commands import OperatorCommand
from privacy.retention import purge_expired_students, retention_cutoff

# Above this many students, a purge needs --confirm: a wrong --at or retention setting would
# otherwise delete a school's records at once. A dry run shows the count first.
CONFIRM_ABOVE = 100


class Command(OperatorCommand):
    help = (
        "Purge the students deactivated more than STUDENT_RETENTION_YEARS years ago (their passport "
        "entries with them); history rows are kept, anonymised."
    )

    def add_arguments(self, parser):
        parser.add_argument("--at", help="'now' as an ISO 8601 datetime (naive means Europe/Paris)")
        parser.add_argument("--dry-run", action="store_true", help="count the students, change nothing")
        parser.add_argument(
            "--confirm",
            action="store_true",
            help=f"needed to purge more than {CONFIRM_ABOVE} students at once",
        )

    def handle(self, *args, at, dry_run, confirm, **options):
        now = self.parse_now(at)
        if now > timezone.now():
            raise CommandError(
                "--at is in the future: a purge as of a future date would delete records early"
            )
        years = settings.STUDENT_RETENTION_YEARS
        before = timezone.localtime(retention_cutoff(now, years)).strftime("%Y-%m-%d %H:%M")
        if not dry_run and not confirm:
            due = purge_expired_students(now, years, dry_run=True)
            if due > CONFIRM_ABOVE:
                raise CommandError(
                    f"{due} students deactivated before {before} would be purged (more than "
                    f"{CONFIRM_ABOVE}): check with --dry-run, then run again with --confirm"
                )
        count = purge_expired_students(now, years, dry_run=dry_run)
        if dry_run:
            self.stdout.write(
                f"Dry run, nothing changed: {count} students deactivated before {before} would be purged"
            )
        else:
            self.stdout.write(f"Purged {count} students deactivated before {before} ({years}-year retention)")
