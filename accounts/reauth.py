"""``recent_authentication_required``: a sensitive POST needs a password (and the second factor,
when enrolled) typed within the last ``REAUTHENTICATION_MINUTES``.

A stale POST is not refused: the confirmation page is shown in its place, carrying the submitted
fields as hidden inputs, and posts them back to the same URL with the password. Once the password
is right, the view runs on the original fields, so the user does not fill the form twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec, TypeVar

from django.http import HttpRequest, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import render

from establishments.access import AuthenticatedRequest

from .forms import ReauthenticationForm
from .sessions import mark_authenticated, recently_authenticated

security_log = logging.getLogger("cerisepro.security")
NOT_REPLAYED = {"csrfmiddlewaretoken"}

# Under login_required or school_view, which it relies on; a school view's SchoolRequest stays one.
RequestT = TypeVar("RequestT", bound=AuthenticatedRequest)
P = ParamSpec("P")


def recent_authentication_required(
    view: Callable[Concatenate[RequestT, P], HttpResponseBase],
) -> Callable[Concatenate[RequestT, P], HttpResponseBase]:
    @wraps(view)
    def wrapper(request: RequestT, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        if request.method in ("GET", "HEAD", "OPTIONS") or recently_authenticated(request, time.time()):
            return view(request, *args, **kwargs)
        prefix = ReauthenticationForm.prefix
        form = ReauthenticationForm(request, request.POST if f"{prefix}-password" in request.POST else None)
        if form.is_bound and form.is_valid():
            mark_authenticated(request, time.time())
            security_log.info("event=reauthenticated user=%s path=%s", request.user.pk, _path(request))
            # The original fields, immutable like the request.POST they replace.
            request.POST = QueryDict(_without(request.POST, prefix).urlencode())
            return view(request, *args, **kwargs)
        if form.is_bound:
            security_log.warning(
                "event=reauthentication_failed user=%s path=%s", request.user.pk, _path(request)
            )
        replay = [
            (name, value)
            for name, values in _without(request.POST, prefix).lists()
            if name not in NOT_REPLAYED
            for value in values
        ]
        context = {"form": form, "replay": replay, "action": request.get_full_path()}
        return render(request, "accounts/reauthenticate.html", context, status=400 if form.errors else 200)

    return wrapper


def _without(data: QueryDict, prefix: str) -> QueryDict:
    kept = QueryDict(mutable=True)
    for name, values in data.lists():
        if not name.startswith(f"{prefix}-"):
            kept.setlist(name, values)
    return kept


def _path(request: HttpRequest) -> str:
    return request.path.encode("unicode_escape").decode("ascii")
