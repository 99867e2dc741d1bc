"""Django set-up shared by the benchmarks: a database of their own, migrated."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cerisepro.settings")
    os.environ.setdefault("DEBUG", "true")
    # Never the development database: a file of its own unless DATABASE_URL says otherwise.
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The import queues the matching task after commit: measure the import, not a broker.
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    (ROOT / "var").mkdir(exist_ok=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fresh_establishment(prefix: int):
    """A new establishment for this run (nothing is ever deleted, so each run takes a new UAI)."""
    from establishments.models import Establishment
    from establishments.validators import check_letter

    number = prefix * 10_000 + Establishment.objects.filter(uai__startswith=f"{prefix:03d}").count()
    digits = f"{number:07d}"
    return Establishment.objects.create(
        uai=digits + check_letter(digits), name=f"Bench {digits}", email="b@example.org"
    )


def database_label() -> str:
    from django.db import connection

    return f"{connection.vendor} ({connection.settings_dict['NAME']})"
