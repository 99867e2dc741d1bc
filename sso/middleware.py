"""The ENT's single logout, applied to the session it names (docs/connexion.md §Logout)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from . import services

security_log = logging.getLogger("cerisepro.security")
Handler = Callable[[HttpRequest], HttpResponseBase]


class SingleLogoutMiddleware:
    """Ends a session the ENT opened once the ENT's ``logoutRequest`` has removed its ticket.

    The session key changes after the login (the second factor cycles it), so the single logout
    cannot rely on it: the session carries its ticket's digest, and each of its requests checks that
    the ticket is still open (one query, for sessions the ENT opened only).
    """

    def __init__(self, get_response: Handler):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        digest = request.session.get(services.CAS_TICKET_KEY) if request.user.is_authenticated else None
        if digest and not services.cas_session_open(digest):
            security_log.info("event=cas_single_logout_applied user=%s", request.user.pk)
            logout(request)
            messages.info(request, _("Vous avez été déconnecté depuis l'ENT."))
            return redirect("login")
        return self.get_response(request)
