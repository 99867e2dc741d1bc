"""The one place where operator commands turn ``--at`` into "now"."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

# "Now" for an operator is a date this deployment can meet: six-month windows and retention years
# are subtracted from it, which overflows near year 1 (and year 9999 is a typing error).
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def parse_at(value: str | None) -> datetime:
    """An aware ISO 8601 datetime, or a naive one meaning Europe/Paris; None means now.

    Raises ValueError with an English message for the operator.
    """
    if not value:
        return timezone.now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"--at must be an ISO 8601 datetime such as 2026-09-15T02:00, not {value!r}"
        ) from None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"--at must be between {EARLIEST_YEAR} and {LATEST_YEAR}, not {value!r}")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment
