"""The one place where operator commands turn ``--at`` into "now"."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


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
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment
