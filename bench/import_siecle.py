"""SIECLE import benchmark (issue: students).

Imports a synthetic export of N students into a fresh establishment, then re-imports it with 10 %
of the students changed, and times lxml parsing the same file alone as the baseline. Peak memory
is read in a child process importing a larger file.

    python -m bench import [--students 5000] [--memory-students 20000]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import random
import resource
import subprocess
import sys
import time

from .setup import ROOT, database_label, fresh_establishment, setup_django

TARGET_RATIO = 3.0
TARGET_PEAK_MB = 300


def _best_of(runs: int, function) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def _lxml_baseline(data: bytes) -> float:
    from lxml import etree

    return _best_of(3, lambda: etree.parse(io.BytesIO(data)))


def _changed(students, ratio: float, seed: int):
    rng = random.Random(seed)
    changed = list(students)
    for index in rng.sample(range(len(changed)), int(len(changed) * ratio)):
        changed[index] = dataclasses.replace(changed[index], class_code=changed[index].class_code + "B")
    return changed


def _timed_import(establishment, data: bytes):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from students.services import import_siecle_export

    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        outcome = import_siecle_export(establishment, data, "bench.xml", now=timezone.now())
        seconds = time.perf_counter() - start
    return seconds, len(queries.captured_queries), outcome.record


def peak_memory_child(count: int) -> None:
    """Run in a child process: import ``count`` students, print the peak RSS in MB as JSON."""
    setup_django()
    from students.synthetic import make_students, render_export

    establishment = fresh_establishment(990)
    data = render_export(establishment.uai, make_students(count, seed=11))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds, _queries, _record = _timed_import(establishment, data)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps({"peak_mb": round(peak, 1), "before_mb": round(before, 1), "seconds": round(seconds, 2)})
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench import")
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--memory-students", type=int, default=20000)
    args = parser.parse_args(argv)
    setup_django()
    from students.synthetic import make_students, render_export

    establishment = fresh_establishment(980)
    students = make_students(args.students, seed=42)
    data = render_export(establishment.uai, students)
    changed = render_export(establishment.uai, _changed(students, 0.10, seed=7))

    baseline = _lxml_baseline(data)
    fresh, fresh_queries, fresh_record = _timed_import(establishment, data)
    again, again_queries, again_record = _timed_import(establishment, changed)
    child = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench", "import-memory", str(args.memory_students)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    memory = json.loads(child.stdout.strip().splitlines()[-1])

    print(f"SIECLE import benchmark — {args.students} students, {len(data) / 1e6:.1f} MB, {database_label()}")
    print(f"  lxml parse alone (baseline, best of 3) {baseline:8.3f} s")
    print(
        f"  import, fresh                          {fresh:8.3f} s  ratio {fresh / baseline:5.1f}×  "
        f"{fresh_queries} queries, {fresh_record.created} created"
    )
    print(
        f"  re-import, 10 % changed                {again:8.3f} s  ratio {again / baseline:5.1f}×  "
        f"{again_queries} queries, {again_record.updated} updated"
    )
    print(f"  target ratio ≤ {TARGET_RATIO}×")
    print(
        f"  peak memory importing {args.memory_students} students: {memory['peak_mb']} MB RSS "
        f"(process before import {memory['before_mb']} MB; import {memory['seconds']} s); "
        f"target < {TARGET_PEAK_MB} MB"
    )
    return 0
