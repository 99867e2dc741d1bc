"""Extension points of establishments for the apps above it (docs/architecture.md).

establishments is the bottom layer: it imports neither students nor transfers. A page of its own
that shows their data calls what those apps registered in their ``AppConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Callable

from .models import Establishment

_transfers_tab: dict[str, Callable[[Establishment], object]] = {}


def register_transfers_tab_context(name: str, provider: Callable[[Establishment], object]) -> None:
    """Show ``provider(establishment)`` as ``name`` in the *Transferts* settings tab's template."""
    _transfers_tab[name] = provider


def transfers_tab_context(establishment: Establishment) -> dict[str, object]:
    return {name: provider(establishment) for name, provider in _transfers_tab.items()}
