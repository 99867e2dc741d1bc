"""The copy statement of one batch, A/B: this tree's ``transfers/copy.py`` against another revision's,
and against no duplicate check at all (what the national floor does). PostgreSQL only.

Needs a national data set kept by ``python -m bench national --runs 0 --keep`` (``DATABASE_URL``
names it). Works on a copy of it (``<name>_ab``, dropped afterwards): decides the pairs without
copying, then copies the first batch of 500 done transfers with each variant in turn, each in a
transaction rolled back, the order alternated; prints each trial and the medians.

    python -m bench copy-ab [--rev ac03084^] [--trials 6]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from .national import _drop, _name, _recreate, _url_with_name, load_average
from .setup import ROOT, setup_django

BEFORE = "ac03084^"  # the two NOT EXISTS, before issue 15


def _module_at(rev: str):
    source = subprocess.run(  # noqa: S603 - git, our repository
        ["git", "show", f"{rev}:transfers/copy.py"],  # noqa: S607
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = os.path.join(tempfile.mkdtemp(prefix="bench-copy-"), "copy_before.py")
    with open(path, "w") as file:
        file.write(source)
    spec = importlib.util.spec_from_file_location("transfers.copy_before", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench copy-ab")
    parser.add_argument("--rev", default=BEFORE, help="the revision to compare with")
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("DATABASE_URL must name a kept national data set (bench national --runs 0 --keep)")
    clone = f"{_name(url)}_ab"
    _recreate(url, clone, template=_name(url))
    os.environ["DATABASE_URL"] = _url_with_name(url, clone)
    os.environ.setdefault("TRANSFER_HOLD_ABOVE", "1000000")  # as the national job (no volume guard)
    try:
        return _compare(args)
    finally:
        from django.db import connection

        connection.close()
        _drop(url, clone)


def _compare(args) -> int:
    setup_django()
    from django.db import transaction
    from django.utils import timezone

    from transfers import copy as current
    from transfers import run
    from transfers.models import Transfer

    before = _module_at(args.rev)
    now = timezone.now()
    real_copy = run.copy_passports
    run.copy_passports = lambda rows, now: None  # type: ignore[assignment]  # decide only
    run.run_matching(now)
    run.copy_passports = real_copy  # type: ignore[assignment]
    batch = list(Transfer.objects.filter(done=True).order_by("id")[:500])
    clause = current._copy_from_clause

    def without_check() -> None:
        current._copy_from_clause = lambda count: clause(count).split(" AND NOT EXISTS")[0]  # type: ignore[assignment]
        try:
            current.copy_passports(batch, now=now)
        finally:
            current._copy_from_clause = clause  # type: ignore[assignment]

    variants: dict[str, Callable[[], None]] = {
        "no duplicate check (the floor's)": without_check,
        f"before ({args.rev})": lambda: before.copy_passports(batch, now=now),
        "this tree": lambda: current.copy_passports(batch, now=now),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    print(f"Copy statement A/B — one batch of {len(batch)} transfers; {load_average()}")
    for trial in range(args.trials):
        order = list(variants.items())
        for name, copy in order if trial % 2 == 0 else order[::-1]:
            with transaction.atomic():
                start = time.perf_counter()
                copy()
                seconds = time.perf_counter() - start
                entries = sum(t.fiches_copied + t.evaluations_copied + t.bilans_copied for t in batch)
                transaction.set_rollback(True)
            times[name].append(seconds)
            print(f"  trial {trial + 1} {name}: {seconds:.2f} s, {entries:,} entries; {load_average()}")
    for name, values in times.items():
        print(f"  {name}: median {statistics.median(values):.2f} s over {len(values)}")
    sys.stdout.flush()
    return 0
