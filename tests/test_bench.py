"""Smoke tests: the benchmarks still run (on a tiny scale), so they cannot rot."""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def run_bench(tmp_path, *args: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
        "DJANGO_SETTINGS_MODULE": "cerisepro.settings",
        "DEBUG": "true",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_import_benchmark_prints_its_figures(tmp_path):
    out = run_bench(tmp_path, "import", "--students", "40", "--memory-students", "40")

    assert "lxml parse alone" in out
    assert "import, fresh" in out and "40 created" in out
    assert "re-import, 10 % changed" in out and "4 updated" in out
    assert "peak memory importing 40 students" in out
    assert "load average before" in out and "median of 5 runs" in out
    assert "of which the import +" in out and "VmHWM of a process that only imports" in out
    assert "tracemalloc peak of the import" in out


@pytest.fixture
def bench_postgres_url(require_postgres):
    """A server URL for a bench database of this test's own (the benchmarks create and drop it)."""
    settings = connection.settings_dict
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = f"{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
    return f"postgres://{settings['USER']}{password}@{host}/bench_smoke_{os.getpid()}"


def run_postgres_bench(url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": "memory://"}
    result = subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_national_benchmark_copies_what_the_floor_copies(bench_postgres_url):
    out = run_postgres_bench(
        bench_postgres_url, "national", "--scale", "0.0002", "--runs", "2", "--background-entries", "2"
    )

    assert "4 moved, 600 entries to copy, 2 background entries per other student" in out
    assert "3 administrators with an e-mail address" in out
    assert "run 1: floor" in out and "run 2: floor" in out and "load average" in out
    assert "pairs decided 4" in out
    assert "same rows as the floor: yes" in out
    assert "job / floor" in out and "SQL statements issued by the job" in out
    assert re.search(r"e-mails: [1-9]\d* messages over 1 SMTP connection\(s\)", out)
    assert "second run (nothing to do)" in out and "0 pairs" in out
    # What each side wrote, since writing bounds both (BENCHMARKS.md, "national").
    assert re.search(r"shared_buffers \S+, max_wal_size \S+, checkpoint_timeout \S+", out)
    assert re.search(r"floor WAL [\d,]+ MB, [\d,]+ full-page images, \d+ checkpoints; job WAL", out)
    assert re.search(r"job: median WAL [\d,]+ MB", out)


def test_the_web_benchmark_serves_the_history_and_its_export(bench_postgres_url):
    out = run_postgres_bench(
        bench_postgres_url,
        "web",
        *("--rows", "40", "--clients", "2", "--seconds", "1", "--rounds", "1", "--workers", "1"),
    )

    assert "history page" in out and "CSV export (received)" in out
    assert " 0 errors" in out and "history page p95, median of the rounds" in out
    assert "CSV exports of 30 rows per second" in out and "load average" in out
    assert re.search(r"CPU per request: server \d+\.\d ms, database \d+\.\d ms, load generator", out)
    assert re.search(r"cores busy\)  \d+ kB each", out)  # the page was checked before the load


@pytest.fixture
def answering(request):
    """A local HTTP server answering every GET with the body its test sets: its port."""
    bodies: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            body = bodies.get(self.path, b"")
            self.send_response(200 if self.path in bodies else 302)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    request.addfinalizer(server.shutdown)
    return server.server_address[1], bodies


def test_the_web_benchmark_refuses_to_measure_a_wrong_answer(answering):
    from bench.web import check_answers

    port, bodies = answering
    row = b"<tr><td>01/09/2026</td></tr>"
    bodies["/page"], bodies["/csv"] = b"<table>" + row * 35, b"header\n" + b"line\n" * 30

    sizes = (len(bodies["/page"]), len(bodies["/csv"]))
    assert check_answers(port, "/page", "/csv", "cookie", rows=40) == sizes

    bodies["/page"] = b"<table>" + row * 25  # the sent table's rows are missing
    with pytest.raises(SystemExit, match="shows 25 rows, not 35"):
        check_answers(port, "/page", "/csv", "cookie", rows=40)
    bodies["/page"], bodies["/csv"] = b"<table>" + row * 35, b"header\n" + b"line\n" * 29
    with pytest.raises(SystemExit, match="holds 29 rows, not 30"):
        check_answers(port, "/page", "/csv", "cookie", rows=40)
    with pytest.raises(SystemExit, match="answered 302"):  # a login redirect, say
        check_answers(port, "/login", "/csv", "cookie", rows=40)


def test_the_import_benchmark_runs_on_postgresql_without_any_settings(bench_postgres_url):
    # A fresh clone: no .env, no DEBUG, no SECRET_KEY; the benchmark makes and drops its database.
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
    env.update(DATABASE_URL=bench_postgres_url, CELERY_BROKER_URL="memory://")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "import",
            "--students",
            "30",
            "--runs",
            "1",
            "--memory-students",
            "30",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "PostgreSQL" in result.stdout and "queries + COPY, 30 created" in result.stdout
    import psycopg2

    server, name = bench_postgres_url.rsplit("/", 1)
    with (
        closing(psycopg2.connect(f"{server}/postgres")) as server_connection,
        server_connection.cursor() as cursor,
    ):
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [name])
        assert cursor.fetchone()[0] == 0  # dropped at the end


def test_the_copy_statement_ab_compares_three_variants_on_a_kept_data_set(bench_postgres_url):
    run_postgres_bench(bench_postgres_url, "national", "--scale", "0.0002", "--runs", "0", "--keep")
    try:
        out = run_postgres_bench(bench_postgres_url, "copy-ab", "--trials", "1")
    finally:
        run_postgres_bench(bench_postgres_url, "national", "--scale", "0.0002", "--runs", "0")  # drops it

    assert "one batch of 3 transfers" in out
    for variant in ("no duplicate check (the floor's)", "before (ac03084^)", "this tree"):
        assert f"{variant}: median" in out
    assert "450 entries" in out
