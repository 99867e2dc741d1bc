"""Session middlewares: the idle timeout and the second factor."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django_otp.middleware import is_verified

from . import otp
from .sessions import ENROL, LAST_ACTIVITY, SECOND_FACTOR, second_factor_awaited

security_log = logging.getLogger("cerisepro.security")
# Writing the session at every request would cost a database write per page: the last activity is
# refreshed once a minute at most, which is precise enough for a timeout counted in minutes.
ACTIVITY_RESOLUTION = 60

Handler = Callable[[HttpRequest], HttpResponseBase]


class IdleTimeoutMiddleware:
    """Ends a session left idle for ``SESSION_IDLE_MINUTES`` and sends back to the login page."""

    def __init__(self, get_response: Handler):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get(LAST_ACTIVITY)
            if isinstance(last, int) and now - last > settings.SESSION_IDLE_MINUTES * 60:
                security_log.info("event=session_idle_timeout user=%s", request.user.pk)
                logout(request)
                messages.info(
                    request,
                    _("Votre session a expiré après %(minutes)s minutes d'inactivité : reconnectez-vous.")
                    % {"minutes": settings.SESSION_IDLE_MINUTES},
                )
                return redirect_to_login(request.get_full_path())
            if not isinstance(last, int) or now - last >= ACTIVITY_RESOLUTION:
                request.session[LAST_ACTIVITY] = now
        return self.get_response(request)


class SecondFactorMiddleware:
    """Holds a session at the second step until the second factor is verified.

    A user with a second factor goes to the code page; technical staff without one go to the
    enrolment page (the admin refuses them anyway: ``cerisepro.admin.StaffAdminSite``). Only those
    pages and logout are open meanwhile.
    """

    def __init__(self, get_response: Handler):
        self.get_response = get_response

    @cached_property
    def open_paths(self) -> dict[str, set[str]]:
        logouts = {reverse("logout"), reverse("admin:logout")}
        return {
            otp.VERIFY: {reverse("otp-verify"), *logouts},
            ENROL: {reverse("otp-setup"), *logouts},
        }

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        user = request.user
        if user.is_authenticated and not is_verified(user):
            awaited = second_factor_awaited(request)
            if user.is_staff and not awaited:
                # Staff are never let through unverified, whatever the session says (a device
                # removed by a colleague ends the verification of every session using it).
                awaited = request.session[SECOND_FACTOR] = otp.second_factor_required(user)
            if awaited and request.path_info not in self.open_paths[awaited]:
                target = "otp-verify" if awaited == otp.VERIFY else "otp-setup"
                return redirect_to_login(request.get_full_path(), reverse(target))
        return self.get_response(request)
