"""Tenancy, written once: every school page goes through :func:`school_view`.

A page's URL carries the establishment's UAI. A user from another establishment (or technical
staff, who use the Django admin) gets 404, exactly as for an establishment that does not exist; a
member whose role may not see the page gets 403; a member who may read but not change it gets 403
on POST.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from .models import Establishment, Role

# The role sets pages are opened to (``school_view(read=…, write=…)``), declared here only.
ALL_ROLES = frozenset(Role.values)
SCHOOL_STAFF = frozenset({Role.ADMINISTRATOR, Role.PRINCIPAL, Role.TEACHER})  # everyone but students
STAFF_ROLES = frozenset({Role.ADMINISTRATOR, Role.PRINCIPAL})  # the school's management
ADMIN_ONLY = frozenset({Role.ADMINISTRATOR})
TEACHERS = frozenset({Role.TEACHER})
STUDENTS = frozenset({Role.STUDENT})


def user_establishment(request: HttpRequest, uai: str) -> Establishment:
    user = request.user
    if not user.is_authenticated or user.establishment_id is None:
        raise Http404
    establishment = user.establishment
    if establishment.uai != uai:
        raise Http404
    return establishment


def school_view(
    read: Iterable[str], write: Iterable[str] = ()
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Resolve ``request.establishment`` from the URL's UAI and check the user's role.

    ``read`` roles may GET the page; ``write`` roles may also POST to it.
    """
    read_roles, write_roles = frozenset(read) | frozenset(write), frozenset(write)

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, uai: str, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            request.establishment = user_establishment(request, uai)
            allowed = write_roles if request.method not in ("GET", "HEAD") else read_roles
            if request.user.role not in allowed:
                raise PermissionDenied
            request.can_write = request.user.role in write_roles
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
