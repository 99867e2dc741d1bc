"""The security log (logger ``cerisepro.security``).

Events: logins, login failures and lockouts, second-factor steps and re-authentications
(``accounts``); refusals (403, 404) on school pages, exports (CSV, JSON downloads) and technical
staff's reads of students' data in the admin (here). Each line is ``event=… key=value…`` with the
user's id, the establishment's UAI and the path: never a name, an INE or a query string (the
student list's search carries names), at any level.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

security_log = logging.getLogger("cerisepro.security")

SCHOOL_PREFIX = "/etablissements/"
# Admin sections holding students' data: every staff request there is recorded.
STUDENT_DATA_ADMIN = ("/admin/students/", "/admin/transfers/")


def escaped_path(request: HttpRequest) -> str:
    # Percent-decoded paths may hold newlines: escape them, as django.request does.
    return request.path.encode("unicode_escape").decode("ascii")


def _uai(user) -> str | None:
    establishment = getattr(user, "establishment", None) if user.is_authenticated else None
    return establishment.uai if establishment else None


def _is_download(response: HttpResponseBase) -> bool:
    return "attachment" in response.get("Content-Disposition", "") or response.get(
        "Content-Type", ""
    ).startswith("text/csv")


class SecurityLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is None:
            return response
        status = response.status_code
        if request.path.startswith(SCHOOL_PREFIX) and status in (403, 404):
            security_log.warning(
                "event=refused status=%s user=%s uai=%s method=%s path=%s",
                status,
                user.pk,
                _uai(user),
                request.method,
                escaped_path(request),
            )
        if _is_download(response) and status == 200:
            security_log.info(
                "event=export user=%s uai=%s staff=%s path=%s type=%s",
                user.pk,
                _uai(user),
                user.is_staff,
                escaped_path(request),
                response.get("Content-Type", "").split(";")[0],
            )
        if user.is_authenticated and user.is_staff and request.path.startswith(STUDENT_DATA_ADMIN):
            security_log.info(
                "event=staff_access user=%s method=%s path=%s status=%s action=%s selected=%s",
                user.pk,
                request.method,
                escaped_path(request),
                status,
                request.POST.get("action", "-") if request.method == "POST" else "-",
                len(request.POST.getlist("_selected_action")) if request.method == "POST" else 0,
            )
        return response


class ExpectedRefusalFilter(logging.Filter):
    """On ``django.request``: keeps the line of a 403 (PermissionDenied) or a 404, drops its
    traceback. A refusal is the access rules working, not a bug to investigate."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PermissionDenied | Http404):
            record.exc_info = None
            record.exc_text = None
        return True
