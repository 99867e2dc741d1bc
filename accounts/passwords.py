"""A password validator against passwords made of the login (``loginlogin``, ``login2026``)."""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def _letters_and_digits(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[^0-9a-z]", "", decomposed.encode("ascii", "ignore").decode("ascii"))


class LoginSimilarityValidator:
    """Refuses a password that is mostly the login (or the e-mail's local part), forwards or
    backwards, repeated or not: what remains once they are removed must be at least
    ``min_remaining`` letters or digits. Django's UserAttributeSimilarityValidator compares the
    whole password with the login, so ``loginlogin`` (a 0.67 ratio) passes it."""

    def __init__(self, min_remaining: int = 8, min_login_length: int = 3):
        self.min_remaining = min_remaining
        self.min_login_length = min_login_length

    def _logins(self, user) -> list[str]:
        values = [getattr(user, "username", "") or "", (getattr(user, "email", "") or "").split("@")[0]]
        logins = {_letters_and_digits(value) for value in values}
        return sorted(
            (login for login in logins if len(login) >= self.min_login_length), key=len, reverse=True
        )

    def validate(self, password: str, user=None) -> None:
        if user is None:
            return
        remaining = _letters_and_digits(password)
        logins = self._logins(user)
        if any(remaining and remaining in login for login in logins):
            raise self._error()
        for login in logins:
            remaining = remaining.replace(login, "").replace(login[::-1], "")
        if len(remaining) < self.min_remaining and len(remaining) < len(_letters_and_digits(password)):
            raise self._error()

    def _error(self) -> ValidationError:
        return ValidationError(
            _("Le mot de passe ressemble trop à votre identifiant de connexion : choisissez-en un autre."),
            code="password_too_similar_to_login",
        )

    def get_help_text(self) -> str:
        return _("Votre mot de passe ne doit pas reprendre votre identifiant de connexion.")
