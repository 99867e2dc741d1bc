"""Log-in connectors: the ENT (CAS) per establishment, ProConnect (OpenID Connect) for technical
staff, and the links between connector identities and local users (docs/connexion.md)."""

from __future__ import annotations
