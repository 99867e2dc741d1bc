from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cerisepro.clock import parse_at
from students.retention import purge_expired_students, retention_cutoff


class Command(BaseCommand):
    help = (
        "Purge the students deactivated more than STUDENT_RETENTION_YEARS years ago (their passport "
        "entries with them); history rows are kept, anonymised."
    )

    def add_arguments(self, parser):
        parser.add_argument("--at", help="'now' as an ISO 8601 datetime (naive means Europe/Paris)")
        parser.add_argument("--dry-run", action="store_true", help="count the students, change nothing")

    def handle(self, *args, at, dry_run, **options):
        try:
            now = parse_at(at)
        except ValueError as error:
            raise CommandError(str(error)) from None
        years = settings.STUDENT_RETENTION_YEARS
        before = timezone.localtime(retention_cutoff(now, years)).strftime("%Y-%m-%d %H:%M")
        count = purge_expired_students(now, years, dry_run=dry_run)
        if dry_run:
            self.stdout.write(
                f"Dry run, nothing changed: {count} students deactivated before {before} would be purged"
            )
        else:
            self.stdout.write(f"Purged {count} students deactivated before {before} ({years}-year retention)")
