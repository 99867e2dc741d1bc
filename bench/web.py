"""The transfer history under load (PostgreSQL only).

An establishment with N history rows (3/4 received, 1/4 sent); its history page and its CSV export
served by gunicorn on loopback with production settings (DEBUG off), driven by C concurrent
clients for S seconds each (a small bounded load generator: one thread per client, one connection
per request, as gunicorn's sync workers close them). Prints requests per second, p50 / p95 / p99
latency, the CPU time each request cost the web server, the database server and the load
generator (the three share the machine's cores: at saturation, their sum bounds the throughput),
and the gunicorn workers' resident memory before and after the CSV load.

    python -m bench web [--rows 20000] [--clients 8] [--seconds 10] [--rounds 3] [--workers 5]

Each load runs ``--rounds`` times (page, then export, alternately); the figures are the medians
over the rounds, each round's are printed with the load average of the machine. Before the first
load, the page and the export are fetched once and checked (the page shows its two tables' first
rows, the export every received row): the benchmark stops rather than time a wrong answer.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .national import _cursor, _drop, _migrate, _name, _recreate, defaults_for_unlisted_columns, load_average
from .setup import ROOT, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_web"
TARGET_PAGE_P95_MS = 100
TARGET_EXPORTS_PER_SECOND = 5
CHUNK = 64 * 1024

BUILD_STATEMENTS = [
    """
    INSERT INTO establishments_establishment (uai, name, email, phone, address, postal_code, city,
        academy, website, uses_siecle, media_key, logo, stamp, transfer_enabled,
        cnil_declaration_number, created_at)
    SELECT lpad(i::text, 7, '0') || 'B', 'Lycée professionnel n° ' || i, 'ce.' || i || '@ac.example.org',
        '', '', '', '', '', '', true, gen_random_uuid(), '', '', true, '2026-' || i, now()
    FROM generate_series(1, 31) i
    """,
    # Student k of the establishment and student k of another one, for each history row k.
    """
    INSERT INTO students_student (public_id, ine, siecle_id, last_name, first_name, birth_date,
        class_code, mef_code, mef_label, diploma_level, diploma_specialite, previous_uai, origin,
        is_active, created_at, establishment_id)
    SELECT gen_random_uuid(), 'W' || lpad(k::text, 9, '0') || CASE WHEN here THEN 'H' ELSE 'O' END,
        '', upper(substr(md5('n' || k), 1, 8)), initcap(substr(md5('p' || k), 1, 6)),
        date '2006-01-01' + k %% 1500, '2BPRO1', '', '', 'BAC PRO', '001', '', 'siecle', true, now(),
        CASE WHEN here THEN %(first)s ELSE %(first)s + 1 + k %% 30 END
    FROM generate_series(1, %(rows)s) k CROSS JOIN (VALUES (true), (false)) h(here)
    """,
    # History rows over the last twelve months; one in ten not done.
    """
    INSERT INTO transfers_transfer (public_id, created_at, ine, student_name, kind, done, cause,
        hold_reason, review_note, fiches_copied, evaluations_copied, bilans_copied,
        origin_establishment_id, destination_establishment_id, origin_student_id, destination_student_id)
    SELECT gen_random_uuid(), now() - (k %% 360) * interval '1 day' - k * interval '1 second', h.ine,
        h.last_name || ' ' || h.first_name, 'automatique', k %% 10 <> 0,
        CASE WHEN k %% 10 = 0 THEN 'changement_diplome' ELSE '' END, '', '',
        CASE WHEN k %% 10 = 0 THEN 0 ELSE 90 END, CASE WHEN k %% 10 = 0 THEN 0 ELSE 45 END,
        CASE WHEN k %% 10 = 0 THEN 0 ELSE 15 END,
        CASE WHEN received THEN o.establishment_id ELSE h.establishment_id END,
        CASE WHEN received THEN h.establishment_id ELSE o.establishment_id END,
        CASE WHEN received THEN o.id ELSE h.id END, CASE WHEN received THEN h.id ELSE o.id END
    FROM (SELECT k, k <= %(received)s AS received FROM generate_series(1, %(rows)s) k) r
    JOIN students_student h ON h.ine = 'W' || lpad(k::text, 9, '0') || 'H'
    JOIN students_student o ON o.ine = 'W' || lpad(k::text, 9, '0') || 'O'
    """,
]


def build(url: str, rows: int) -> str:
    """The data set; returns the UAI of the establishment under test."""
    with _cursor(url, autocommit=False) as cursor:
        cursor.execute("SELECT COALESCE(max(id), 0) + 1 FROM establishments_establishment")
        first = cursor.fetchone()[0]
        params = {"first": first, "rows": rows, "received": rows * 3 // 4}
        tables = ["establishments_establishment", "students_student", "transfers_transfer"]
        with defaults_for_unlisted_columns(cursor, tables):
            for statement in BUILD_STATEMENTS:
                cursor.execute(statement, params)
        cursor.execute("SELECT uai FROM establishments_establishment WHERE id = %s", [first])
        uai = cursor.fetchone()[0]
        cursor.connection.commit()
    with _cursor(url) as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    return uai


def session_for_principal(uai: str) -> str:
    """A logged-in principal of the establishment: the session cookie's value."""
    from django.contrib.auth import get_backends
    from django.test import Client

    from establishments.models import Establishment, Role, User

    user = User.objects.create_user(
        "bench-chef", establishment=Establishment.objects.get(uai=uai), role=Role.PRINCIPAL
    )
    client = Client()
    # The first configured backend that loads users back from the session (the list changes).
    backend = next(b for b in get_backends() if getattr(b, "get_user", lambda pk: None)(user.pk) is not None)
    client.force_login(user, backend=f"{type(backend).__module__}.{type(backend).__qualname__}")
    return client.cookies["sessionid"].value


# --- the server ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, workers: int, env: dict) -> subprocess.Popen:
    server = subprocess.Popen(  # noqa: S603 - gunicorn from our virtualenv
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "cerisepro.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def _stat_fields(stat: Path) -> list[str] | None:
    """The fields of a /proc/<pid>/stat after the command's name (which may hold spaces): the
    parent's pid is [1], user and system CPU ticks [11] and [12]; None if the process has exited."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(stat)
        if fields is not None and int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cpu_ticks(pids: list[int]) -> dict[int, int]:
    """User + system CPU time of each of these processes so far, in clock ticks."""
    ticks = {}
    for pid in pids:
        fields = _stat_fields(Path(f"/proc/{pid}/stat"))
        if fields is not None:  # else exited meanwhile
            ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def _seconds_since(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds spent between two readings by the processes alive at the second (a process started
    meanwhile counts whole; one that exited meanwhile is lost, which only under-counts)."""
    return sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) / os.sysconf("SC_CLK_TCK")


def _postgres_pids() -> list[int]:
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "postgres":
                pids.append(int(comm.parent.name))
        except OSError:
            continue
    return pids


@dataclass
class CpuShares:
    """Where the machine's CPU went during a load, in seconds: the web server (gunicorn's master and
    workers), the database server (every PostgreSQL process on the machine) and this load generator."""

    server: float = 0.0
    database: float = 0.0
    generator: float = 0.0


class CpuMeter:
    def __init__(self, master: int):
        self.master = master
        self.server = _cpu_ticks([master, *_children(master)])
        self.database = _cpu_ticks(_postgres_pids())
        self.generator = time.process_time()

    def spent(self) -> CpuShares:
        return CpuShares(
            _seconds_since(self.server, _cpu_ticks([self.master, *_children(self.master)])),
            _seconds_since(self.database, _cpu_ticks(_postgres_pids())),
            time.process_time() - self.generator,
        )


def workers_memory(master: int) -> tuple[float, float]:
    """(largest resident set now, largest peak resident set) of the workers, in MB."""
    rss, hwm = [0.0], [0.0]
    for pid in _children(master):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss.append(int(line.split()[1]) / 1024)
            elif line.startswith("VmHWM:"):
                hwm.append(int(line.split()[1]) / 1024)
    return max(rss), max(hwm)


# --- the load generator ----------------------------------------------------------------------


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    first_bytes: list[float] = field(default_factory=list)
    errors: int = 0
    bytes: int = 0
    seconds: float = 0.0
    cpu: CpuShares = field(default_factory=CpuShares)

    def percentile(self, p: float, values: list[float] | None = None) -> float:
        values = sorted(self.latencies if values is None else values)
        return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000 if values else float("nan")


def get(port: int, path: str, cookie: str) -> tuple[int, float, float, int]:
    """One request: status, seconds to the first byte, seconds to the last byte, body size."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
        response = conn.getresponse()
        first = time.perf_counter() - start
        size = 0
        while chunk := response.read(CHUNK):
            size += len(chunk)
        return response.status, first, time.perf_counter() - start, size
    finally:
        conn.close()


def _body(port: int, path: str, cookie: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
        response = conn.getresponse()
        if response.status != 200:
            raise SystemExit(f"GET {path} answered {response.status}, not 200")
        return response.read()
    finally:
        conn.close()


def check_answers(port: int, page: str, csv: str, cookie: str, rows: int) -> tuple[int, int]:
    """Fail unless the page shows its two tables' first rows and the export every received row, so
    that no figure is ever measured on a wrong answer (a login page, an empty list); their sizes."""
    from transfers.views import PAGE_SIZE

    received = rows * 3 // 4
    html, export = _body(port, page, cookie), _body(port, csv, cookie)
    shown = html.count(b"<tr><td>")  # one per history row (transfers.views._row_html)
    expected = min(PAGE_SIZE, received) + min(PAGE_SIZE, rows - received)
    if shown != expected:
        raise SystemExit(f"the history page shows {shown} rows, not {expected}")
    exported = export.count(b"\n") - 1  # a header line, then one line per received row
    if exported != received:
        raise SystemExit(f"the export holds {exported} rows, not {received}")
    return len(html), len(export)


def drive(port: int, path: str, cookie: str, clients: int, seconds: float, master: int) -> Load:
    load, lock = Load(), threading.Lock()
    deadline = time.perf_counter() + seconds

    def client() -> None:
        while time.perf_counter() < deadline:
            try:
                status, first, total, size = get(port, path, cookie)
            except OSError:
                status, first, total, size = 0, 0.0, 0.0, 0
            with lock:
                if status != 200:
                    load.errors += 1
                    continue
                load.latencies.append(total)
                load.first_bytes.append(first)
                load.bytes += size

    threads = [threading.Thread(target=client) for _ in range(clients)]
    meter, start = CpuMeter(master), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.seconds = time.perf_counter() - start
    load.cpu = meter.spent()
    return load


def _line(label: str, load: Load) -> str:
    done = len(load.latencies)
    per_request = {name: seconds * 1000 / max(done, 1) for name, seconds in vars(load.cpu).items()}
    return (
        f"  {label:<22} {done / load.seconds:7.1f} req/s  p50 {load.percentile(50):6.0f} ms  "
        f"p95 {load.percentile(95):6.0f} ms  p99 {load.percentile(99):6.0f} ms  "
        f"({done} requests, {load.errors} errors, "
        f"first byte p50 {load.percentile(50, load.first_bytes):.0f} ms)\n"
        f"  {'':<22} CPU per request: server {per_request['server']:.1f} ms, database "
        f"{per_request['database']:.1f} ms, load generator {per_request['generator']:.1f} ms "
        f"({sum(vars(load.cpu).values()) / load.seconds:.2f} of {os.cpu_count()} cores busy)"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench web")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10, help="per round and load")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    url = url if url.startswith(("postgres://", "postgresql://")) else DEFAULT_URL
    name = _name(url)
    # Production settings, shared by this process (the session) and gunicorn (which reads it).
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "cerisepro.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "CELERY_BROKER_URL": "memory://",
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": str(ROOT / "var" / "bench-static"),
    }
    os.environ.update(env)
    _recreate(url, name)
    _migrate(url)
    subprocess.run(  # noqa: S603 - as deployed: static files collected (whitenoise serves them)
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"], cwd=ROOT, check=True
    )
    uai = build(url, args.rows)
    setup_django()
    cookie = session_for_principal(uai)
    from django.db import connection

    connection.close()
    port = _free_port()
    server = start_gunicorn(port, args.workers, env)
    try:
        page, csv = f"/etablissements/{uai}/transferts/", f"/etablissements/{uai}/transferts/export.csv"
        page_size, size = check_answers(port, page, csv, cookie, args.rows)  # and warm up
        rounds = []
        for _round in range(args.rounds):
            page_load = drive(port, page, cookie, args.clients, args.seconds, server.pid)
            after_page = workers_memory(server.pid)
            csv_load = drive(port, csv, cookie, args.clients, args.seconds, server.pid)
            after_csv = workers_memory(server.pid)
            rounds.append((page_load, csv_load, load_average()))
    finally:
        server.terminate()
        server.wait(timeout=30)
    if not args.keep:
        _drop(url, name)
    print(
        f"Transfer history under load — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores; "
        f"{args.rows:,} history rows ({args.rows * 3 // 4:,} received), gunicorn {args.workers} sync "
        f"workers, {args.clients} clients × {args.seconds:g} s × {args.rounds} rounds, PostgreSQL ({name})"
    )
    for number, (page_load, csv_load, load) in enumerate(rounds, 1):
        print(f" round {number} ({load})")
        print(_line("history page", page_load) + f"  {page_size / 1e3:.0f} kB each")
        print(_line("CSV export (received)", csv_load) + f"  {size / 1e6:.1f} MB each")
    page_p95 = statistics.median(page_load.percentile(95) for page_load, _csv, _load in rounds)
    exports = statistics.median(len(csv.latencies) / csv.seconds for _page, csv, _load in rounds)
    print(
        f"  history page p95, median of the rounds: {page_p95:.0f} ms (target ≤ {TARGET_PAGE_P95_MS} ms: "
        f"{'met' if page_p95 <= TARGET_PAGE_P95_MS else 'NOT met'})"
    )
    met = "met" if exports >= TARGET_EXPORTS_PER_SECOND else "NOT met"
    print(
        f"  CSV exports of {args.rows * 3 // 4:,} rows per second, median of the rounds: {exports:.1f} "
        f"(target ≥ {TARGET_EXPORTS_PER_SECOND}: {met})"
    )
    print(
        f"  workers' memory: after the page load {after_page[0]:.0f} MB RSS (peak {after_page[1]:.0f} MB), "
        f"after the CSV load {after_csv[0]:.0f} MB RSS (peak {after_csv[1]:.0f} MB)"
    )
    errors = sum(page.errors + csv.errors for page, csv, _load in rounds)
    return 0 if errors == 0 else 1
