"""SIECLE import benchmark (docs: BENCHMARKS.md, "SIECLE import").

Imports a synthetic export of N students into a fresh establishment, then re-imports it with 10 %
of the students changed, then imports the same students from a ZIP into another fresh
establishment; before each, lxml parses the same (XML) bytes alone, so that every ratio is paired
(same bytes, same moment, same load), and the C heap is settled after that parse, untimed
(``_settle_heap``). Each figure is the median of ``--runs`` runs. The import's own peak memory is
read in child processes that do nothing but the import.

    python -m bench import [--students 5000] [--runs 5] [--memory-students 5000 20000] [--keep]
    python -m bench import-child FILE [--tracemalloc]     (the memory child; prints JSON)

The database: ``DATABASE_URL`` when it is a SQLite URL (a file of the benchmark's own); otherwise
PostgreSQL — the server of ``DATABASE_URL`` (default 127.0.0.1:5432, user postgres) and a database
named ``bench_import`` unless the URL names another ``bench…`` one, dropped and created afresh, then
migrated, then dropped at the end unless ``--keep``. No ``.env`` is needed: development settings
(``DEBUG=true``) are set for this process only.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import io
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .setup import ROOT, fresh_establishment, setup_django

TARGET_RATIO = 3.0
STRETCH_RATIO = 2.0
TARGET_PEAK_MB = 150
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_import"
DEFAULT_NAME = "bench_import"
# Imported once before the timed runs and not counted: the first import of a process also pays
# one-off set-ups (the after-import signal's broker connection, Django's first queries).
WARM_UP_STUDENTS = 50


# --- the database ------------------------------------------------------------------------------


def _database_url() -> str:
    """The URL the benchmark runs against (see the module docstring)."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("sqlite"):
        return url
    if not url.startswith(("postgres://", "postgresql://")):
        return DEFAULT_URL
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    return url if name.startswith("bench") else urlunsplit(parts._replace(path=f"/{DEFAULT_NAME}"))


@contextmanager
def _server_cursor(url: str):
    import psycopg2

    connection = psycopg2.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


def _recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    assert name.startswith("bench"), f"refusing to drop {name!r}: bench databases only"
    with _server_cursor(url) as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')


def _drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    assert name.startswith("bench"), name
    with _server_cursor(url) as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _environment(url: str) -> None:
    """This process's (and its children's) settings: no .env, no SECRET_KEY, no broker needed."""
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "true"
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def _server_version() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


# --- timing ------------------------------------------------------------------------------------


def _database_cpu() -> float:
    """CPU time so far of this connection's PostgreSQL backend (/proc/<pid>/schedstat, ns), so that
    the import's CPU counts the server's share; 0 on SQLite (in-process), NaN on another host."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    connection.ensure_connection()
    pid = connection.connection.get_backend_pid()
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return float("nan")


@contextmanager
def _timer():
    """Wall time, and CPU time (this process's threads + its database backend), of the block."""
    times: dict[str, float] = {}
    wall, cpu, database = time.perf_counter(), time.process_time(), _database_cpu()
    yield times
    times["wall"] = time.perf_counter() - wall
    times["cpu"] = time.process_time() - cpu + _database_cpu() - database


def _lxml_parse(data: bytes) -> dict[str, float]:
    """The baseline: a bare lxml parse of the same bytes (the whole tree, default parser).

    Then, untimed, the C heap is settled (:func:`_settle_heap`): freeing the tree leaves some
    million small blocks that glibc merges only at the next large allocation, some 30 ms later in
    whatever runs next — the import being measured — which is none of the import's cost.
    """
    from lxml import etree

    with _timer() as times:
        etree.parse(io.BytesIO(data))
    _settle_heap()
    return times


def _settle_heap() -> None:
    """Have glibc merge the blocks freed so far now (``malloc_trim``), not in the next timed step."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing deferred of that kind to settle
        return
    libc.malloc_trim(0)


def _safe_parse(data: bytes) -> dict[str, float]:
    from students.siecle import read_student_file

    with _timer() as times:
        read_student_file(data, "bench.xml")
    return times


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

    with CaptureQueriesContext(connection) as queries, _timer() as times:
        outcome = import_siecle_export(establishment, data, "bench.xml", now=timezone.now())
    return times, len(queries.captured_queries), outcome.record


@dataclasses.dataclass
class Series:
    """One timed step over the runs, each paired with the lxml parse that preceded it."""

    times: list[dict[str, float]] = dataclasses.field(default_factory=list)
    baselines: list[dict[str, float]] = dataclasses.field(default_factory=list)

    def add(self, times: dict[str, float], baseline: dict[str, float]) -> None:
        self.times.append(times)
        self.baselines.append(baseline)

    def ratios(self, kind: str = "wall") -> list[float]:
        return [t[kind] / b[kind] for t, b in zip(self.times, self.baselines, strict=True)]

    def median(self, kind: str = "wall") -> float:
        return statistics.median(t[kind] for t in self.times)

    def line(self, label: str, extra: str = "") -> str:
        ratios = self.ratios()
        cpu = statistics.median(self.ratios("cpu"))
        return (
            f"  {label:<38} {self.median():7.3f} s  ratio {statistics.median(ratios):4.2f}× "
            f"(runs {min(ratios):.2f}–{max(ratios):.2f}×; CPU {self.median('cpu'):.3f} s, {cpu:4.2f}×){extra}"
        )


# --- memory: a child process that does nothing but the import ------------------------------------


_STATUS = Path("/proc/self/status")


def _status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, from /proc, in MB."""
    for line in _STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    raise LookupError(field)


def _reset_peak() -> str:
    """Start the peak RSS count afresh; say which figure the peak is.

    ``ru_maxrss`` cannot be the child's figure: Linux carries it over ``exec`` from the forked
    copy of the parent, so the child would report the parent's peak (the benchmark's, with its
    data). VmHWM belongs to the child's own memory and is reset by writing 5 to clear_refs.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return "VmHWM"
    except OSError:
        return "ru_maxrss"


def _peak_mb(kind: str) -> float:
    if kind == "VmHWM":
        return _status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def import_child(argv: list[str]) -> int:
    """Run in a child process: import FILE into the establishment UAI (made by the parent), print JSON.

    Django is set up and the file read before the baseline; the process does nothing else, so the
    growth of its peak resident memory (VmHWM: Python, libxml2 and the database driver together)
    over the memory before the import is the import's. With ``--tracemalloc``, the peak of Python's
    own allocations during the import is reported too (slower; libxml2's memory is not seen).
    """
    parser = argparse.ArgumentParser(prog="python -m bench import-child")
    parser.add_argument("file", type=Path)
    parser.add_argument("uai")
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args(argv)
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cerisepro.settings")
    django.setup()  # the parent has migrated: no migrate here, its memory would hide the import's
    import gc
    import tracemalloc

    from establishments.models import Establishment

    establishment = Establishment.objects.get(uai=args.uai)
    data = args.file.read_bytes()
    gc.collect()
    kind = _reset_peak()
    before = _status_mb("VmRSS") if kind == "VmHWM" else _peak_mb(kind)
    if args.tracemalloc:
        tracemalloc.start()
    times, _queries, record = _timed_import(establishment, data)
    traced = tracemalloc.get_traced_memory()[1] / 1e6 if args.tracemalloc else None
    peak = _peak_mb(kind)
    print(
        json.dumps(
            {
                "kind": kind,
                "before_mb": round(before, 1),
                "peak_mb": round(peak, 1),
                "import_mb": round(peak - before, 1),
                "file_mb": round(len(data) / 1e6, 1),
                "tracemalloc_peak_mb": round(traced, 1) if traced is not None else None,
                "seconds": round(times["wall"], 2),
                "created": record.created,
            }
        )
    )
    return 0


def _measure_memory(count: int, folder: Path, *, traced: bool = False) -> dict:
    from students.synthetic import make_students, render_export

    establishment = fresh_establishment(990)
    path = folder / f"export-{count}-{establishment.uai}.xml"
    path.write_bytes(render_export(establishment.uai, make_students(count, seed=11)))
    child = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "bench",
            "import-child",
            str(path),
            establishment.uai,
            *(["--tracemalloc"] if traced else []),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise SystemExit(f"the memory child failed:\n{child.stderr}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def peak_memory_child(count: int) -> None:
    """``python -m bench import-memory N``: the import's peak memory for N students, as JSON."""

    def measure() -> None:
        with tempfile.TemporaryDirectory() as folder:
            print(json.dumps(_measure_memory(count, Path(folder))))

    _in_own_database(measure, keep=False)


# --- the benchmark -----------------------------------------------------------------------------


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench import")
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs; each figure is their median")
    parser.add_argument("--memory-students", type=int, nargs="*", default=[5000, 20000])
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database afterwards")
    args = parser.parse_args(argv)
    load_before = _load()
    _in_own_database(lambda: _run(args, load_before), keep=args.keep)
    return 0


def _in_own_database(run, *, keep: bool) -> None:
    """Run ``run`` against the benchmark's database, made and migrated first (PostgreSQL: dropped
    after, unless ``keep``)."""
    url = _database_url()
    postgres = not url.startswith("sqlite")
    if postgres:
        _recreate_database(url)
    _environment(url)
    setup_django()
    try:
        run()
    finally:
        if postgres and not keep:
            from django.db import connection

            connection.close()
            _drop_database(url)


def _run(args: argparse.Namespace, load_before: str) -> None:
    import lxml
    from django.db import connection

    from students.synthetic import make_students, render_export, zip_export

    warm_up = fresh_establishment(970)
    _timed_import(warm_up, render_export(warm_up.uai, make_students(WARM_UP_STUDENTS, seed=3)))
    students = make_students(args.students, seed=42)
    safe, fresh, zipped, again = Series(), Series(), Series(), Series()
    for _run_number in range(args.runs):
        establishment = fresh_establishment(980)
        data = render_export(establishment.uai, students)
        changed = render_export(establishment.uai, _changed(students, 0.10, seed=7))
        safe.add(_safe_parse(data), _lxml_parse(data))
        baseline = _lxml_parse(data)
        times, fresh_queries, fresh_record = _timed_import(establishment, data)
        fresh.add(times, baseline)
        baseline = _lxml_parse(changed)
        times, again_queries, again_record = _timed_import(establishment, changed)
        again.add(times, baseline)
        # The same first import from the ZIP SIECLE delivers (its ratio: to lxml on the XML inside).
        other = fresh_establishment(985)
        archive = zip_export(render_export(other.uai, students))
        baseline = _lxml_parse(render_export(other.uai, students))
        zipped.add(_timed_import(other, archive)[0], baseline)
    load_after = _load()
    with tempfile.TemporaryDirectory() as folder:
        memory = {count: _measure_memory(count, Path(folder)) for count in args.memory_students}
        traced = (
            _measure_memory(max(args.memory_students), Path(folder), traced=True)
            if args.memory_students
            else None
        )

    copy = " + COPY" if connection.vendor == "postgresql" else ""
    print(
        f"SIECLE import benchmark — {args.students} students, {len(data) / 1e6:.1f} MB, "
        f"{_server_version()} ({connection.settings_dict['NAME']}), Python {platform.python_version()}, "
        f"lxml {lxml.__version__}, {os.cpu_count()} CPUs"
    )
    print(f"  load average before {load_before}, after the timed runs {load_after}")
    print(f"  median of {args.runs} runs; each ratio is to the lxml parse of the same bytes just before it")
    print(
        "  (CPU: this process's threads + its PostgreSQL backend, the figure a busy machine disturbs least)"
    )
    lxml_wall = statistics.median(b["wall"] for b in fresh.baselines)
    lxml_cpu = statistics.median(b["cpu"] for b in fresh.baselines)
    print(f"  lxml parse alone (baseline)            {lxml_wall:7.3f} s  (CPU {lxml_cpu:.3f} s)")
    print(safe.line("safe parse alone (read_student_file)"))
    print(fresh.line("import, fresh", f"  {fresh_queries} queries{copy}, {fresh_record.created} created"))
    print(zipped.line("import, fresh, from the ZIP"))
    print(again.line("re-import, 10 % changed", f"  {again_queries} queries, {again_record.updated} updated"))
    ratio = statistics.median(fresh.ratios())
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    stretch = "met" if ratio <= STRETCH_RATIO else "not met"
    print(
        f"  target ratio ≤ {TARGET_RATIO}× (fresh import, wall time): {verdict}; "
        f"stretch ≤ {STRETCH_RATIO}×: {stretch}"
    )
    for count, figures in memory.items():
        print(
            f"  peak memory importing {count} students: {figures['peak_mb']} MB RSS, of which the import "
            f"+{figures['import_mb']} MB ({figures['kind']} of a process that only imports; "
            f"{figures['before_mb']} MB before, with Django and the {figures['file_mb']} MB file; "
            f"import {figures['seconds']} s)"
        )
    if traced is not None:
        print(
            f"  tracemalloc peak of the import, {max(args.memory_students)} students: "
            f"{traced['tracemalloc_peak_mb']} MB (Python objects only)"
        )
    if memory:
        largest = memory[max(memory)]
        verdict = "met" if largest["peak_mb"] <= TARGET_PEAK_MB else "NOT met"
        print(f"  target peak ≤ {TARGET_PEAK_MB} MB at {max(memory)} students: {verdict}")
