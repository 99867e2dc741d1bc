"""The CAS protocol (2.0/3.0 service validation) through python-cas, one client per establishment.

django-cas-ng configures one CAS server for the whole site (``CAS_SERVER_URL``); here each
establishment has its own ENT, so a ``CASClientV3`` is built per request from the establishment's
*Paramètres › Connexion* (docs/connexion.md §CAS). python-cas speaks the protocol (login URL,
``/p3/serviceValidate``, logout URL); this module adds the timeout, the failures as exceptions and
the single logout's ``logoutRequest``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import ParseError

import requests
from cas import CASClientV3
from django.conf import settings
from lxml import etree

logger = logging.getLogger(__name__)

SAML_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
LOGOUT_REQUEST_MAX_BYTES = 20_000


class CasUnavailable(Exception):
    """The ENT did not answer, or answered something that is not a CAS response."""


class _TimeoutSession(requests.Session):
    """python-cas calls ``session.get`` without a timeout: an ENT down would hang the login."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", settings.SSO_HTTP_TIMEOUT)
        return super().request(method, url, *args, **kwargs)


def cas_client(server_url: str, service_url: str) -> CASClientV3:
    return CASClientV3(service_url=service_url, server_url=server_url, session=_TimeoutSession())


def login_url(server_url: str, service_url: str) -> str:
    return cas_client(server_url, service_url).get_login_url()


def logout_url(server_url: str, redirect_url: str) -> str:
    return cas_client(server_url, redirect_url).get_logout_url(redirect_url)


@dataclass(frozen=True)
class Validation:
    user: str | None  # the ENT identifier, None when the server refused the ticket
    attributes: dict[str, Any]


def ticket_validate(server_url: str, service_url: str, ticket: str) -> Validation:
    """Ask the CAS server whether ``ticket`` was issued for ``service_url`` (``/p3/serviceValidate``).

    The server answers *authenticationFailure* for a forged, replayed (tickets are single-use),
    expired ticket or one issued for another service: ``user`` is then ``None``.
    """
    client = cas_client(server_url, service_url)
    try:
        user, attributes, _pgtiou = client.verify_ticket(ticket)
    except requests.RequestException as error:
        logger.warning("CAS server %s unreachable: %s", server_url, type(error).__name__)
        raise CasUnavailable from error
    except (ParseError, IndexError, AttributeError) as error:  # an error page, not a CAS response
        logger.warning("CAS server %s answered no CAS response", server_url)
        raise CasUnavailable from error
    return Validation(user=(user or "").strip() or None, attributes=attributes or {})


def ticket_digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8")).hexdigest()


def logout_request_ticket(logout_request: str) -> str | None:
    """The service ticket a SAML ``LogoutRequest`` (CAS single logout) names, or ``None``.

    Parsed without entities, DTD or network (python-cas's own parser keeps lxml's defaults).
    """
    data = logout_request.encode("utf-8")
    if len(data) > LOGOUT_REQUEST_MAX_BYTES:
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError:
        return None
    found = root.findtext(f"{{{SAML_PROTOCOL}}}SessionIndex")
    return found.strip() if found else None
