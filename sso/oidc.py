"""ProConnect (OpenID Connect) for technical staff, through Authlib's Django client.

Authlib does the protocol: the authorisation code flow with PKCE (S256), ``state`` kept in the
session and checked at the return, a ``nonce`` checked in the ID token, the ID token's signature
verified against the provider's JWKS (fetched from the discovery document) and its ``iss``, ``aud``,
``exp`` and ``iat`` claims validated. mozilla-django-oidc would do as well for one provider, but
it is an authentication backend that creates or updates users from the claims, which the allow-list
rule forbids (docs/connexion.md §ProConnect).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from authlib.integrations.django_client import DjangoOAuth2App, OAuth
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NAME = "proconnect"


def configured() -> bool:
    return bool(settings.PROCONNECT_DISCOVERY_URL and settings.PROCONNECT_CLIENT_ID)


def _check_scheme(url: str) -> None:
    schemes = ("https", "http") if settings.SSO_ALLOW_HTTP else ("https",)
    if urlsplit(url).scheme not in schemes:
        raise ImproperlyConfigured("PROCONNECT_DISCOVERY_URL must be an https address")


def client() -> DjangoOAuth2App:
    """A client for this request: the settings may change (tests), the discovery is one GET."""
    _check_scheme(settings.PROCONNECT_DISCOVERY_URL)
    registry = OAuth()
    registry.register(
        name=NAME,
        client_id=settings.PROCONNECT_CLIENT_ID,
        client_secret=settings.PROCONNECT_CLIENT_SECRET,
        server_metadata_url=settings.PROCONNECT_DISCOVERY_URL,
        client_kwargs={
            "scope": settings.PROCONNECT_SCOPES,
            "code_challenge_method": "S256",
            "default_timeout": settings.SSO_HTTP_TIMEOUT,
            # The token endpoint takes the secret in the POST body (ProConnect's
            # token_endpoint_auth_method: client_secret_post).
            "token_endpoint_auth_method": "client_secret_post",
        },
    )
    app = registry.create_client(NAME)
    assert isinstance(app, DjangoOAuth2App)
    return app


def authorize_params() -> dict[str, Any]:
    params: dict[str, Any] = {}
    if settings.PROCONNECT_ACR_VALUES:
        params["acr_values"] = settings.PROCONNECT_ACR_VALUES
    return params
