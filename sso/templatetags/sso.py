"""``{% login_connectors as connectors %}``: which connector buttons the login page shows."""

from __future__ import annotations

from django import template

from sso import oidc
from sso.models import LoginMode, LoginSettings

register = template.Library()


@register.simple_tag
def login_connectors() -> dict[str, bool]:
    ent = (
        LoginSettings.objects.filter(mode__in=(LoginMode.ENT, LoginMode.BOTH))
        .exclude(cas_server_url="")
        .exists()
    )
    return {"ent": ent, "proconnect": oidc.configured()}
