"""Template tags of the accounts pages."""

from __future__ import annotations

from django import template

from accounts.password_reset import school_administrators

register = template.Library()


@register.simple_tag
def signed_in_school_administrators(user) -> list[str]:
    """The administrators of the signed-in user's school, by name, for the lockout page.

    Only for a session that is already signed in (the re-authentication page): there the school
    is known from the session, never from a username someone typed (docs/accounts.md §Lockout).
    """
    if not getattr(user, "is_authenticated", False):
        return []
    return school_administrators(user)
