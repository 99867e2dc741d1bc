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
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

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


class UserinfoRefused(Exception):
    """The userinfo answer is not the ID token's agent, or not signed by the provider."""


def agent_claims(app: DjangoOAuth2App, token: dict[str, Any]) -> dict[str, Any]:
    """The ID token's claims (checked by Authlib), with the e-mail from the userinfo endpoint when
    the ID token has none: ProConnect sends it there, as a JWT signed with the same keys.

    The userinfo ``sub`` must be the ID token's (OpenID Connect Core §5.3.2).
    """
    claims = dict(token.get("userinfo") or {})
    if claims.get("email") or not claims.get("sub"):
        return claims
    metadata = app.load_server_metadata()
    endpoint = metadata.get("userinfo_endpoint")
    if not endpoint:
        return claims
    # The token just issued, sent as is: Authlib would take a 60-second access token (ProConnect's)
    # for expired, with its 60-second leeway.
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    response = app.get(endpoint, withhold_token=True, headers=headers, timeout=settings.SSO_HTTP_TIMEOUT)
    response.raise_for_status()
    if response.headers.get("Content-Type", "").startswith("application/jwt"):
        info = _signed_userinfo(app, metadata, response.text)
    else:
        info = response.json()
    if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
        raise UserinfoRefused("userinfo sub differs from the ID token's")
    return {**claims, "email": info.get("email")}


def _signed_userinfo(app: DjangoOAuth2App, metadata: dict[str, Any], text: str) -> dict[str, Any]:
    algorithms = metadata.get("userinfo_signing_alg_values_supported") or ["RS256"]
    keys = KeySet.import_key_set(app.fetch_jwk_set())
    try:
        decoded = jwt.decode(text.strip(), keys, algorithms=algorithms)
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": str(metadata.get("issuer", ""))},
            aud={"essential": True, "value": settings.PROCONNECT_CLIENT_ID},
        ).validate(decoded.claims)
    except JoseError as error:
        raise UserinfoRefused(type(error).__name__) from error
    return dict(decoded.claims)
