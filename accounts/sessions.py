"""What the session remembers about its authentication: when it happened, when the user was last
active, and whether a second factor is still awaited."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

AUTHENTICATED_AT = "cerisepro_authenticated_at"
LAST_ACTIVITY = "cerisepro_last_activity"
SECOND_FACTOR = "cerisepro_second_factor"
VERIFY, ENROL = "verify", "enrol"


def session_start(request: HttpRequest, now: float, second_factor: str) -> None:
    """Called at login: the password was just checked."""
    request.session[AUTHENTICATED_AT] = int(now)
    request.session[LAST_ACTIVITY] = int(now)
    if second_factor:
        request.session[SECOND_FACTOR] = second_factor
    else:
        request.session.pop(SECOND_FACTOR, None)


def mark_authenticated(request: HttpRequest, now: float) -> None:
    """The user has just proved who they are again (password, and second factor if enrolled)."""
    request.session[AUTHENTICATED_AT] = int(now)


def recently_authenticated(request: HttpRequest, now: float) -> bool:
    at = request.session.get(AUTHENTICATED_AT)
    return isinstance(at, int) and 0 <= now - at <= settings.REAUTHENTICATION_MINUTES * 60


def second_factor_awaited(request: HttpRequest) -> str:
    return request.session.get(SECOND_FACTOR, "")


def second_factor_done(request: HttpRequest) -> None:
    request.session.pop(SECOND_FACTOR, None)
