"""Template tags of the admin index: how many manual authorisations wait for technical staff.

A library declared in ``TEMPLATES["OPTIONS"]["libraries"]`` (cerisepro/settings.py), since the
manual path is a package of transfers, not an app with its own ``templatetags``.
"""

from __future__ import annotations

from django import template

from . import services

register = template.Library()


@register.simple_tag
def pending_manual_authorisations() -> dict[str, object]:
    """One count query; the admin index shows it above the applications."""
    return {"count": services.pending_authorisations().count(), "url": services.pending_admin_path()}
