"""Real protocol servers for the connector tests, each an ``http.server`` in a thread.

- :class:`CasServer`: a CAS 3.0 server (``/login``, ``/p3/serviceValidate``, ``/logout``) issuing
  single-use ``ST-`` tickets bound to the service they were issued for.
- :class:`OidcProvider`: an OpenID Connect provider (discovery, ``/authorize``, ``/token`` with
  PKCE S256 and client authentication, ``/jwks``) signing RS256 ID tokens with a real RSA key; its
  ``tamper`` dict makes the next ID token wrong (another nonce, audience, or a foreign key).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CAS_NS = "http://www.yale.edu/tp/cas"
# tamper keys that change the provider's behaviour rather than the ID token's claims
PROVIDER_KNOBS = {"foreign_key", "state", "userinfo_sub", "userinfo_foreign_key"}


class _Server:
    handler: type[BaseHTTPRequestHandler]

    def start(self) -> None:
        outer = self

        class Handler(self.handler):  # type: ignore[misc,valid-type]
            server_state = outer

            def log_message(self, format, *args):  # quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _redirect(handler: BaseHTTPRequestHandler, location: str) -> None:
    handler.send_response(302)
    handler.send_header("Location", location)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def _send(handler: BaseHTTPRequestHandler, status: int, body: str, content_type: str) -> None:
    data = body.encode("utf-8")
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _with_params(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


class _CasHandler(BaseHTTPRequestHandler):
    server_state: CasServer

    def do_GET(self):
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        cas = self.server_state
        if parts.path == "/cas/login":
            if cas.signed_in is None:
                # The ENT's own login form (the browser test fills it in).
                service = html.escape(query.get("service", ""))
                body = (
                    '<!DOCTYPE html><html lang="fr"><head><title>ENT</title></head><body><main>'
                    '<form method="post" action="/cas/login"><label for="u">Identifiant ENT</label>'
                    f'<input id="u" name="username"><input type="hidden" name="service" value="{service}">'
                    '<button type="submit">Connexion ENT</button></form></main></body></html>'
                )
                return _send(self, 200, body, "text/html; charset=utf-8")
            return _redirect(self, cas.issue(cas.signed_in, query["service"]))
        if parts.path == "/cas/p3/serviceValidate":
            return _send(
                self, 200, cas.validate(query.get("ticket", ""), query.get("service", "")), "text/xml"
            )
        if parts.path == "/cas/logout":
            cas.logouts.append(query.get("service", ""))
            cas.signed_in = None
            return _send(self, 200, "<p>Déconnecté de l'ENT</p>", "text/html; charset=utf-8")
        return _send(self, 404, "not found", "text/plain")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
        if urlsplit(self.path).path == "/cas/login":
            self.server_state.signed_in = form["username"]
            return _redirect(self, self.server_state.issue(form["username"], form["service"]))
        return _send(self, 404, "not found", "text/plain")


class CasServer(_Server):
    """A CAS 3.0 server. ``signed_in``: the ENT user whose session the browser has at the ENT
    (``None``: ``/login`` shows the ENT's form)."""

    handler = _CasHandler

    def __init__(self) -> None:
        self.tickets: dict[str, tuple[str, str]] = {}  # ticket → (user, service)
        self.used: set[str] = set()
        self.signed_in: str | None = None
        self.logouts: list[str] = []
        self.validations = 0
        self.lock = threading.Lock()

    @property
    def server_url(self) -> str:
        return f"{self.url}/cas/"

    def issue(self, user: str, service: str) -> str:
        ticket = f"ST-{secrets.token_urlsafe(24)}"
        with self.lock:
            self.tickets[ticket] = (user, service)
        return _with_params(service, {"ticket": ticket})

    def validate(self, ticket: str, service: str) -> str:
        with self.lock:
            self.validations += 1
            issued = self.tickets.get(ticket)
            if issued is None or ticket in self.used:
                return self._failure("INVALID_TICKET", f"Ticket {ticket} not recognized")
            self.used.add(ticket)  # single use, whether the service matches or not (CAS 3.0 §2.5.3)
        user, expected_service = issued
        if service != expected_service:
            return self._failure("INVALID_SERVICE", "Ticket was issued for another service")
        return (
            f'<cas:serviceResponse xmlns:cas="{CAS_NS}"><cas:authenticationSuccess>'
            f"<cas:user>{html.escape(user)}</cas:user>"
            "<cas:attributes><cas:ENTPersonProfils>National_1</cas:ENTPersonProfils></cas:attributes>"
            "</cas:authenticationSuccess></cas:serviceResponse>"
        )

    @staticmethod
    def _failure(code: str, text: str) -> str:
        return (
            f'<cas:serviceResponse xmlns:cas="{CAS_NS}">'
            f'<cas:authenticationFailure code="{code}">{html.escape(text)}</cas:authenticationFailure>'
            "</cas:serviceResponse>"
        )

    @staticmethod
    def logout_request(ticket: str) -> str:
        """The SAML ``LogoutRequest`` a CAS server POSTs to the service for single logout."""
        return (
            '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="LR-1" Version="2.0" '
            'IssueInstant="2026-12-01T10:00:00Z"><saml:NameID>@NOT_USED@</saml:NameID>'
            f"<samlp:SessionIndex>{ticket}</samlp:SessionIndex></samlp:LogoutRequest>"
        )


class _OidcHandler(BaseHTTPRequestHandler):
    server_state: OidcProvider

    def do_GET(self):
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        provider = self.server_state
        if parts.path == "/.well-known/openid-configuration":
            return _send(self, 200, json.dumps(provider.metadata()), "application/json")
        if parts.path == "/jwks":
            return _send(self, 200, json.dumps(provider.keys.as_dict(private=False)), "application/json")
        if parts.path == "/userinfo":
            status, body = provider.userinfo(self.headers.get("Authorization", ""))
            return _send(self, status, body, "application/jwt" if status == 200 else "text/plain")
        if parts.path == "/authorize":
            status, location = provider.authorize(query)
            if status != 302:
                return _send(self, status, location, "text/plain")
            return _redirect(self, location)
        return _send(self, 404, "not found", "text/plain")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
        if urlsplit(self.path).path == "/token":
            status, body = self.server_state.token(form, self.headers.get("Authorization", ""))
            return _send(self, status, json.dumps(body), "application/json")
        return _send(self, 404, "not found", "text/plain")


class OidcProvider(_Server):
    """An OpenID Connect provider with one registered client and one signed-in agent."""

    handler = _OidcHandler
    client_id = "cerisepro-test"
    client_secret = "s3cret-of-the-test-client"

    def __init__(self) -> None:
        self.keys = KeySet([RSAKey.generate_key(2048, parameters={"kid": "provider-key", "use": "sig"})])
        self.foreign_key = RSAKey.generate_key(2048, parameters={"kid": "provider-key"})
        self.codes: dict[str, dict[str, Any]] = {}
        self.agent = {"sub": "agent-0001", "email": "agent@numerique.gouv.fr"}
        self.tamper: dict[str, Any] = {}
        self.redirect_uris: set[str] = set()
        self.token_requests: list[dict[str, str]] = []
        # As ProConnect: the e-mail only in the userinfo answer, a JWT signed with the provider's key.
        self.email_in_userinfo = False
        self.access_tokens: dict[str, dict[str, str]] = {}

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "userinfo_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, str]:
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, "unknown client"
        if self.redirect_uris and query.get("redirect_uri") not in self.redirect_uris:
            return 400, "redirect_uri not registered"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, "PKCE required"
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "nonce": query.get("nonce"),
            "challenge": query["code_challenge"],
            "redirect_uri": query["redirect_uri"],
            "agent": dict(self.agent),
        }
        params = {"code": code, "state": self.tamper.pop("state", query.get("state", ""))}
        return 302, _with_params(query["redirect_uri"], params)

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            client_id, _sep, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if client_id != self.client_id or secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # single use
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": grant["agent"]["sub"],
            "aud": self.client_id,
            "iat": now,
            "exp": now + 60,
            "nonce": grant["nonce"],
            "email": grant["agent"]["email"],
            "acr": "eidas1",
            "amr": ["pwd"],
        }
        if self.email_in_userinfo:
            del claims["email"]
        claims.update({key: value for key, value in self.tamper.items() if key not in PROVIDER_KNOBS})
        key = self.foreign_key if self.tamper.get("foreign_key") else self.keys.keys[0]
        id_token = jwt.encode({"alg": "RS256", "kid": "provider-key"}, claims, key)
        access_token = secrets.token_urlsafe(16)
        self.access_tokens[access_token] = grant["agent"]
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 60,
            "id_token": id_token,
        }

    def userinfo(self, authorization: str) -> tuple[int, str]:
        agent = self.access_tokens.get(authorization.removeprefix("Bearer "))
        if agent is None:
            return 401, "invalid_token"
        claims = {
            "iss": self.url,
            "aud": self.client_id,
            "sub": self.tamper.get("userinfo_sub", agent["sub"]),
        }
        claims["email"] = agent["email"]
        key = self.foreign_key if self.tamper.get("userinfo_foreign_key") else self.keys.keys[0]
        return 200, jwt.encode({"alg": "RS256", "kid": "provider-key"}, claims, key)
