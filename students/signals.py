"""What students tells the apps above it (docs/architecture.md): they listen; students calls none of them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent once a SIECLE import's transaction has committed, with ``establishment_id`` and ``import_id``
# (ids, not objects: a receiver may hand them to a task). transfers runs the matching job.
siecle_import_applied = Signal()
