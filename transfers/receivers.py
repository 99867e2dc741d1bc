"""What transfers does when the apps below it report an event (docs/architecture.md).

Connected in ``TransfersConfig.ready``: students sends ``siecle_import_applied`` and does not know
that transfers exists.
"""

from __future__ import annotations

import logging

from .models import Trigger
from .tasks import run_matching_task

logger = logging.getLogger(__name__)


def run_matching_after_import(sender, *, establishment_id: int, import_id: int, **kwargs) -> None:
    """After an import commits, run the matching job for this establishment within minutes.

    If the broker is down the import still stands: the nightly run will decide the pairs.
    """
    try:
        # Fail fast (one retry): the user is waiting for the page, and the nightly run is the fallback.
        run_matching_task.apply_async(
            kwargs={"establishment_id": establishment_id, "trigger": Trigger.IMPORT},
            retry_policy={"max_retries": 1, "interval_start": 0.2},
        )
    except Exception:
        logger.warning(
            "SIECLE import %s committed but the matching task could not be queued (broker unavailable); "
            "the nightly run will decide its pairs",
            import_id,
            exc_info=True,
        )
