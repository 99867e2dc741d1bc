from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Logins and sessions: second factor, idle timeout, re-authentication, lockout e-mails and the
    security log of authentication events (SECURITY.md, "Authentication and sessions")."""

    name = "accounts"
    verbose_name = "Comptes"

    def ready(self) -> None:
        # Connect the receivers (initial_passwords: the one at login, docs/accounts.md).
        from . import initial_passwords, signals  # noqa: F401
