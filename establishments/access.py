"""Tenancy, written once: every school page goes through :func:`school_view`.

A page's URL carries the establishment's UAI. A user from another establishment (or technical
staff, who use the Django admin) gets 404, exactly as for an establishment that does not exist; a
member whose role may not see the page gets 403; a member who may read but not change it gets 403
on POST.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Concatenate, ParamSpec, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from .models import Establishment, Role, User

# The role sets pages are opened to (``school_view(read=…, write=…)``), declared here only.
ALL_ROLES = frozenset(Role.values)
SCHOOL_STAFF = frozenset({Role.ADMINISTRATOR, Role.PRINCIPAL, Role.TEACHER})  # everyone but students
STAFF_ROLES = frozenset({Role.ADMINISTRATOR, Role.PRINCIPAL})  # the school's management
ADMIN_ONLY = frozenset({Role.ADMINISTRATOR})
TEACHERS = frozenset({Role.TEACHER})
STUDENTS = frozenset({Role.STUDENT})


class AuthenticatedRequest(HttpRequest):
    """The request of a page behind ``login_required`` (or :func:`school_view`): never anonymous.

    Only a type, in the manner of healthchecks' ``AuthenticatedHttpRequest``: views annotate their
    request with it; Django's own request is what they receive.
    """

    user: User


class SchoolRequest(AuthenticatedRequest):
    """The request a :func:`school_view` page receives: a signed-in member of the URL's establishment,
    whose role may open the page. The decorator sets ``establishment`` and ``can_write``."""

    establishment: Establishment
    can_write: bool  # the user's role is one of the page's ``write`` roles: POST is allowed


def user_establishment(user: User, uai: str) -> Establishment:
    """The user's establishment when it is the one ``uai`` names; 404 otherwise (or for staff)."""
    establishment = user.establishment
    if establishment is None or establishment.uai != uai:
        raise Http404
    return establishment


def signed_in_user(request: HttpRequest) -> User:
    """``request.user`` where only a signed-in user gets (the admin site, which lets staff only in)."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied
    return user


P = ParamSpec("P")
# A school page: the typed request, then the URL's arguments other than the UAI.
SchoolView = Callable[Concatenate[SchoolRequest, P], HttpResponseBase]


def school_view(
    read: Iterable[str], write: Iterable[str] = ()
) -> Callable[[SchoolView[P]], Callable[Concatenate[HttpRequest, str, P], HttpResponseBase]]:
    """Resolve ``request.establishment`` from the URL's UAI and check the user's role.

    ``read`` roles may GET the page; ``write`` roles may also POST to it. The view receives a
    :class:`SchoolRequest` and the URL's other arguments (not the UAI).
    """
    read_roles, write_roles = frozenset(read) | frozenset(write), frozenset(write)

    def decorator(
        view: SchoolView[P],
    ) -> Callable[Concatenate[HttpRequest, str, P], HttpResponseBase]:
        @wraps(view)
        def wrapper(request: HttpRequest, uai: str, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            establishment = user_establishment(user, uai)
            allowed = write_roles if request.method not in ("GET", "HEAD") else read_roles
            if user.role not in allowed:
                raise PermissionDenied
            # From here on the request is what SchoolRequest says: set what it adds.
            school_request = cast(SchoolRequest, request)
            school_request.establishment = establishment
            school_request.can_write = user.role in write_roles
            return view(school_request, *args, **kwargs)

        return wrapper

    return decorator
