"""Small security helpers wired from settings (see SECURITY.md): the client's address, login
throttling per account and per address, and ``Cache-Control`` on everything but static files."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from datetime import datetime
from functools import cache

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _is_trusted(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    return any(ip in network for network in _trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str | None:
    """The address django-axes counts failed logins against (and the security log records).

    ``X-Forwarded-For`` is read only when the connection comes from one of ``TRUSTED_PROXIES``:
    then the right-most entry that is not itself a trusted proxy is the client, since each proxy
    appends the address it saw; everything to its left is whatever the client chose to send.
    """
    remote = request.META.get("REMOTE_ADDR")
    if not _is_trusted(remote):
        return remote
    forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for entry in reversed([entry for entry in forwarded if entry]):
        if _is_trusted(entry):
            continue
        try:
            return str(ipaddress.ip_address(entry))
        except ValueError:
            break  # garbage where our proxy writes the client: count the proxy itself
    return remote


# --- Login throttling ---------------------------------------------------------------------------
# AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]: the failures of one account (from any
# address) and the failures from one address (over any accounts) are counted separately, each
# against its own limit: AXES_FAILURE_LIMIT for an account, AXES_IP_FAILURE_LIMIT for an address.


class AxesRequest(HttpRequest):
    """A login request as django-axes hands it over: its handler has set these (only a type)."""

    axes_attempt_time: datetime
    axes_ip_address: str | None


def failure_limits() -> dict[str, int]:
    return {"username": settings.AXES_FAILURE_LIMIT, "ip_address": settings.AXES_IP_FAILURE_LIMIT}


def _attempts(scope: str, value: str | None, request: AxesRequest) -> QuerySet[AccessAttempt]:
    since = request.axes_attempt_time - get_cool_off(request)
    return AccessAttempt.objects.filter(**{scope: value}, attempt_time__gte=since)


def _scope_values(request: AxesRequest, credentials: dict | None) -> dict[str, str | None]:
    return {"username": get_client_username(request, credentials), "ip_address": request.axes_ip_address}


class LoginThrottleHandler(AxesDatabaseHandler):
    """django-axes' database handler with one limit per lockout parameter.

    Axes compares a single number with ``AXES_FAILURE_LIMIT`` (L). Each parameter has its own
    limit l: its failure count c is scaled to ``c * L // l``, which reaches L exactly when c
    reaches l. With ``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False`` the attempts made
    during a lock are not recorded, so a lock ends one cool-off after the failure that set it.
    """

    def get_failures(self, request: AxesRequest, credentials: dict | None = None) -> int:
        limit = get_failure_limit(request, credentials)
        counts = failure_counts(request, credentials)
        limits = failure_limits()
        return max((count * limit // limits[scope] for scope, count in counts.items()), default=0)


def failure_counts(request: AxesRequest, credentials: dict | None = None) -> dict[str, int]:
    values = _scope_values(request, credentials)
    return {
        scope: _attempts(scope, value, request).aggregate(n=Sum("failures_since_start"))["n"] or 0
        for scope, value in values.items()
        if value
    }


def locked_scopes(request: AxesRequest, credentials: dict | None = None) -> set[str]:
    """Which of "username" and "ip_address" are locked out for this request."""
    limits = failure_limits()
    return {scope for scope, count in failure_counts(request, credentials).items() if count >= limits[scope]}


def new_locks(request: AxesRequest, credentials: dict | None = None) -> set[str]:
    """The scopes this request's failure has just locked (not those it found already locked).

    During a lock no failure is recorded, so a lock is new exactly when the latest recorded
    failure of the scope is this request's own.
    """
    values = _scope_values(request, credentials)
    fresh = set()
    for scope in locked_scopes(request, credentials):
        latest = _attempts(scope, values[scope], request).aggregate(t=Max("attempt_time"))["t"]
        if latest == request.axes_attempt_time:
            fresh.add(scope)
    return fresh


def lock_minutes_left(request: AxesRequest, credentials: dict | None = None) -> int:
    values = _scope_values(request, credentials)
    ends = [
        _attempts(scope, values[scope], request).aggregate(t=Max("attempt_time"))["t"]
        for scope in locked_scopes(request, credentials)
    ]
    cool_off = get_cool_off(request)
    if not any(ends):
        return int(cool_off.total_seconds() // 60)
    left = max(end for end in ends if end) + cool_off - timezone.now()
    return max(1, math.ceil(left.total_seconds() / 60))


def lockout_response(
    request: AxesRequest, original_response=None, credentials: dict | None = None
) -> HttpResponse:
    """The page django-axes answers with once an account or an address is locked out (429)."""
    scopes = locked_scopes(request, credentials)
    context = {
        "minutes": lock_minutes_left(request, credentials),
        "account": "username" in scopes or not scopes,
        "address": "ip_address" in scopes,
    }
    return render(request, "registration/lockout.html", context, status=429)


# --- Caching ----------------------------------------------------------------------------------


class NoStoreMiddleware:
    """``Cache-Control: no-store, private`` on every response that goes through Django.

    Pages, exports and images of a school carry minors' personal data: no browser or proxy cache
    may keep them. Static files (scripts, styles) are served by WhiteNoise, which sits before this
    middleware and answers them with its own long-lived headers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store, private"
        return response
