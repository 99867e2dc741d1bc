"""Django admin of the transfers app (technical staff)."""
