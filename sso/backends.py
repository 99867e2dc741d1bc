"""Authentication backends of the connectors (docs/connexion.md §Modes)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from .services import password_login_allowed


class ConnectorBackend(ModelBackend):
    """The backend of sessions opened by a validated CAS ticket or OpenID Connect ID token.

    It never checks a password (``authenticate`` answers nobody): the views log the linked user in
    with ``login(request, user, backend=CONNECTOR_BACKEND)``; it then loads that session's user.
    """

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        return None


CONNECTOR_BACKEND = f"{ConnectorBackend.__module__}.{ConnectorBackend.__qualname__}"


class EntOnlyPasswordPolicy:
    """Refuses the password of a user whose establishment logs in through the ENT only.

    Not a ``BaseBackend``: without ``get_user`` it never loads a session's user (and
    ``Client.force_login`` does not pick it).

    Raising ``PermissionDenied`` stops ``authenticate()`` before the password backend: the login
    form shows its usual refusal (no hint whether the password was right), and the attempt counts
    towards the throttling like any failure.
    """

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = get_user_model()._default_manager.filter(username=username).first()
        if user is not None and not password_login_allowed(user):
            raise PermissionDenied
        return None
