"""The site's public address, for the links of e-mails, printed sheets and connectors.

``SITE_URL`` (docs/operations.md) when it is set: a link must not depend on the Host header of
whoever triggered it. Without it (development), the address of the request, whose host Django has
checked against ``ALLOWED_HOSTS``; without a request either (a Celery task), a relative link.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site_url(request: HttpRequest | None = None) -> str:
    if settings.SITE_URL:
        return settings.SITE_URL.rstrip("/")
    return request.build_absolute_uri("/").rstrip("/") if request is not None else ""


def absolute_url(path: str, request: HttpRequest | None = None) -> str:
    return site_url(request) + path
