"""The base of the operator commands (README "Operator interface"): one English line, never a traceback.

Operators and support scripts read the exit code and the last line of stderr. A lost database
connection or a violated constraint is reported as one line (exit 1) like any other refusal; the
transaction the command was in has rolled back, so nothing is half-written.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError

from .clock import parse_at


class OperatorCommand(BaseCommand):
    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except IntegrityError as error:
            raise CommandError(f"integrity error, nothing was changed: {_first_line(error)}") from None
        except (OperationalError, InterfaceError) as error:
            raise CommandError(f"database unavailable or connection lost: {_first_line(error)}") from None
        except DatabaseError as error:
            raise CommandError(f"database error: {_first_line(error)}") from None

    @staticmethod
    def parse_now(value: str | None):
        """``--at`` as "now" (see cerisepro.clock), or a CommandError with the reason."""
        try:
            return parse_at(value)
        except ValueError as error:
            raise CommandError(str(error)) from None


def _first_line(error: Exception) -> str:
    # Database messages may quote a row's values (a name, an INE): keep the first line only, short.
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]
