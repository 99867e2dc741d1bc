"""Small security helpers wired from settings (see SECURITY.md)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str | None:
    """The address django-axes counts failed logins against.

    Directly exposed, ``REMOTE_ADDR``. Behind the TLS proxy (``BEHIND_TLS_PROXY``), the right-most
    ``X-Forwarded-For`` entry: the one our proxy appended, which a client cannot forge (the entries
    to its left are whatever the client sent).
    """
    if getattr(settings, "AXES_BEHIND_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR")


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The page django-axes answers with once a username + address is locked out (429)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "registration/lockout.html", {"minutes": minutes}, status=429)
