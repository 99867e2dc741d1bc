"""What other apps call in transfers: run the job, plan it, copy passports.

The code lives by responsibility (docs/transfers.md, "Where things live"); this module only names
the entry points, so that a caller outside the app does not depend on that layout.
"""

from __future__ import annotations

from .copy import copy_passports
from .plan import plan_matching
from .run import run_matching

__all__ = ["copy_passports", "plan_matching", "run_matching"]
