"""National-scale matching benchmark (PostgreSQL only).

Builds a synthetic national data set server-side (``INSERT … SELECT generate_series``: no row goes
through Python), with one administrator with an e-mail address per establishment and, optionally,
background passports for the students who did not move. Then, ``--runs`` times, on fresh copies of
that database (``CREATE DATABASE … TEMPLATE``): the floor — one hand-written ``INSERT … SELECT``
that finds the same pairs and copies the same entries — and ``run_matching`` in a child process
(peak RSS, SQL statements), its e-mails sent to a local SMTP sink (``bench/smtp_sink.py``) by their
task, run eagerly so that their time is the job's; checks that both copied exactly the same
(destination, source entry) rows, and runs the job a second time. Figures are medians over the
runs; the ratio is the median of each run's job / floor, measured on identical data. Beside each
side's time: the WAL, full-page images and checkpoints it made the server write, which bound
both sides (BENCHMARKS.md, "national").

    python -m bench national [--scale 1] [--runs 3] [--background-entries 0] [--batch-size 500] [--keep]
    python -m bench national-job NOW_ISO BATCH_SIZE      (the child; prints JSON)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from .setup import ROOT, setup_django
from .smtp_sink import SmtpSink

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_national"
FULL = {"establishments": 1000, "students": 600_000, "movers": 20_000}
ENTRIES_PER_PASSPORT = 150
TARGET_RATIO = 1.5  # the hard limit
TARGET_RATIO_GOAL = 1.2
TARGET_PEAK_MB = 300
TARGET_SECOND_RUN = 0.05


# --- databases -------------------------------------------------------------------------------


def _url_with_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@contextmanager
def _cursor(url: str, *, autocommit: bool = True):
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = autocommit
    try:
        with conn.cursor() as cursor:
            yield cursor
    finally:
        conn.close()


def _recreate(url: str, name: str, template: str | None = None) -> None:
    # Bench databases only: the names come from DATABASE_URL plus our own suffixes.
    assert name.startswith("bench"), f"refusing to drop {name!r}: bench databases only"
    with _cursor(_url_with_name(url, "postgres")) as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if template:
            # FILE_COPY: a plain copy of the files, far faster than WAL-logging 3 GB (PG ≥ 15).
            cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        else:
            cursor.execute(f'CREATE DATABASE "{name}"')


def _drop(url: str, name: str) -> None:
    assert name.startswith("bench"), name
    with _cursor(_url_with_name(url, "postgres")) as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- what the server wrote ------------------------------------------------------------------

# Both sides are bound by writing (BENCHMARKS.md, "national"): the WAL they generate, the full-page
# images that follow each checkpoint, and the checkpoints that a WAL volume above max_wal_size
# requests. Read cluster-wide, which is exact here because nothing else runs during a side.
SERVER_SETTINGS = (
    "SELECT current_setting('server_version'), current_setting('shared_buffers'),"
    " current_setting('max_wal_size'), current_setting('checkpoint_timeout')"
)
WRITE_COUNTERS = (
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, w.wal_fpi,"
    " b.checkpoints_req + b.checkpoints_timed FROM pg_stat_wal w, pg_stat_bgwriter b"
)


def server_settings(url: str) -> str:
    with _cursor(_url_with_name(url, "postgres")) as cursor:
        cursor.execute(SERVER_SETTINGS)
        version, buffers, wal, timeout = cursor.fetchone()
    return f"PostgreSQL {version}: shared_buffers {buffers}, max_wal_size {wal}, checkpoint_timeout {timeout}"


def write_counters(url: str) -> tuple[int, int, int]:
    """WAL position in bytes, full-page images and checkpoints so far, for the whole server."""
    # A backend that just ended flushes its WAL statistics as it exits, a moment later.
    time.sleep(0.5)
    with _cursor(_url_with_name(url, "postgres")) as cursor:
        cursor.execute(WRITE_COUNTERS)
        return cursor.fetchone()


def writes_between(before: tuple[int, int, int], after: tuple[int, int, int]) -> dict[str, float]:
    wal, images, checkpoints = (end - start for start, end in zip(before, after, strict=True))
    return {"wal_mb": wal / 2**20, "images": images, "checkpoints": checkpoints}


def describe_writes(writes: dict[str, float]) -> str:
    images, checkpoints = writes["images"], writes["checkpoints"]
    return f"WAL {writes['wal_mb']:,.0f} MB, {images:,.0f} full-page images, {checkpoints:g} checkpoints"


# --- the data set ----------------------------------------------------------------------------


def sizes(scale: float) -> dict[str, int]:
    establishments = max(3, round(FULL["establishments"] * scale))
    students = max(30, round(FULL["students"] * scale))
    movers = max(3, min(round(FULL["movers"] * scale), students // 3))
    return {"establishments": establishments, "students": students, "movers": movers}


# Realistic French text: a passport entry is a few hundred characters of description.
_DESCRIPTION = (
    "Mise en oeuvre des procédures de réception et de contrôle des marchandises, rangement selon "
    "les règles d'hygiène et de sécurité, participation à l'inventaire mensuel avec le tuteur ; "
    "l'élève a rédigé un compte rendu de ses activités et présenté oralement les difficultés "
    "rencontrées ainsi que les solutions retenues. "
)

BUILD_STATEMENTS = [
    # 1. Establishments, all with transfer enabled, and one SIECLE import each.
    """
    INSERT INTO establishments_establishment (uai, name, email, phone, address, postal_code, city,
        academy, website, uses_siecle, media_key, logo, stamp, transfer_enabled,
        cnil_declaration_number, created_at)
    SELECT lpad(i::text, 7, '0') || 'A', 'Lycée professionnel n° ' || i, 'ce.' || i || '@ac.example.org',
        '', '', '', '', '', '', true, gen_random_uuid(), '', '', true, '2026-' || i, %(now)s
    FROM generate_series(1, %(establishments)s) i
    """,
    """
    INSERT INTO students_siecleimport (public_id, username, created_at, applied_at, status, file_name,
        sha256, file_uai, in_file, created, updated, reactivated, deactivated, unchanged,
        without_ine, warnings, identity_changes, reassigned_siecle_ids, field_changes, error,
        establishment_id)
    SELECT gen_random_uuid(), 'bench', %(now)s - interval '200 days', %(now)s - interval '200 days',
        'applique', 'ElevesSansAdresses.xml', md5(e.uai), e.uai, 0, 0, 0, 0, 0, 0, 0, '[]', '[]', '[]',
        '{}', '', e.id
    FROM establishments_establishment e
    """,
    # 2. Students: a third created this school year (new enrolments: destinations without an
    # origin), the others earlier; every ``step``-th one moved (deactivated here, see 3.).
    """
    INSERT INTO students_student (public_id, ine, siecle_id, last_name, first_name, birth_date,
        class_code, mef_code, mef_label, diploma_level, diploma_specialite, previous_uai, origin,
        is_active, created_at, deactivated_at, created_by_import_id, deactivated_by_import_id,
        establishment_id)
    SELECT gen_random_uuid(), 'I' || lpad(i::text, 9, '0') || 'X', i::text,
        upper(substr(md5('n' || i), 1, 3 + i %% 7)), initcap(substr(md5('p' || i), 1, 4 + i %% 5)),
        date '2006-01-01' + (i %% 1500), '2BPRO' || (i %% 4), '2402100' || (i %% 9000),
        'BAC PRO MÉTIERS DU COMMERCE ET DE LA VENTE', CASE i %% 3 WHEN 0 THEN 'CAP' ELSE 'BAC PRO' END,
        lpad((i %% 40)::text, 3, '0'), '', 'siecle', NOT moved,
        CASE WHEN NOT moved AND i %% 3 = 0 THEN %(now)s - (5 + i %% 170) * interval '1 day'
             ELSE %(now)s - interval '400 days' END,
        CASE WHEN moved THEN %(now)s - (2 + i %% 150) * interval '1 day' END,
        imp.id, CASE WHEN moved THEN imp.id END, imp.establishment_id
    FROM (SELECT i, i %% %(step)s = %(step)s - 1 AND i / %(step)s < %(movers)s AS moved
          FROM generate_series(1, %(students)s) i) s
    JOIN students_siecleimport imp ON imp.establishment_id = %(first_establishment)s + i %% %(establishments)s
    """,
    # 3. The movers' new records, in another establishment, same INE; a few percent with another
    # diploma (3 %) or another birth date (2 %: a mistyped INE).
    """
    INSERT INTO students_student (public_id, ine, siecle_id, last_name, first_name, birth_date,
        class_code, mef_code, mef_label, diploma_level, diploma_specialite, previous_uai, origin,
        is_active, created_at, created_by_import_id, establishment_id)
    SELECT gen_random_uuid(), o.ine, 'N' || o.id, o.last_name, o.first_name,
        o.birth_date + CASE WHEN o.id / %(step)s %% 50 = 7 THEN 1 ELSE 0 END,
        o.class_code, o.mef_code, o.mef_label, o.diploma_level,
        CASE WHEN o.id / %(step)s %% 33 = 1 THEN 'ZZZ' ELSE o.diploma_specialite END, '', 'siecle', true,
        o.deactivated_at + interval '12 hours', imp.id, imp.establishment_id
    FROM students_student o
    JOIN students_siecleimport imp ON imp.establishment_id = %(first_establishment)s
        + (o.establishment_id - %(first_establishment)s + 1 + o.id %% (%(establishments)s - 1))
        %% %(establishments)s
    WHERE NOT o.is_active
    """,
    # 4. 150 entries per moved student's passport: 60 % fiches, 30 % évaluations, 10 % bilans.
    """
    INSERT INTO students_passportentry (public_id, kind, title, occurred_on, end_on, place,
        description, competencies, level, evaluator, author_name, produced_uai, produced_by,
        created_at, updated_at, student_id)
    SELECT gen_random_uuid(),
        CASE WHEN g %% 10 < 6 THEN 'fiche' WHEN g %% 10 < 9 THEN 'evaluation' ELSE 'bilan' END,
        'Activité ' || g || ' — ' || substr(md5(o.id || '-' || g), 1, 40),
        date '2024-09-01' + g, CASE WHEN g %% 10 < 6 THEN date '2024-09-05' + g END,
        'Entreprise ' || substr(md5('l' || g || o.id), 1, 12) || ', 75011 Paris',
        substr(md5(o.id || 'd' || g), 1, 16) || ' ' || %(description)s,
        'C1.1 Réceptionner ; C1.2 Stocker ; C2.3 Conseiller le client ; C3.1 Encaisser',
        CASE WHEN g %% 10 BETWEEN 6 AND 8 THEN 'acquis' ELSE '' END, 'M. Tuteur ' || g %% 7,
        'Mme Enseignante ' || g %% 5, e.uai, e.name, %(now)s - interval '300 days',
        %(now)s - interval '300 days', o.id
    FROM students_student o
    JOIN establishments_establishment e ON e.id = o.establishment_id
    CROSS JOIN generate_series(1, %(entries)s) g
    WHERE NOT o.is_active
    """,
]

BUILT_TABLES = [
    "establishments_establishment",
    "students_siecleimport",
    "students_student",
    "students_passportentry",
]

# 5. (--background-entries N) N entries for every student who did not move: in production every
# student has a passport, so every copied entry pays the insertion into indexes of that size.
BACKGROUND_ENTRIES = BUILD_STATEMENTS[-1].replace(
    "generate_series(1, %(entries)s) g\n    WHERE NOT o.is_active",
    "generate_series(1, %(background)s) g\n    WHERE o.is_active AND o.siecle_id NOT LIKE 'N%%'",
)
assert BUILD_STATEMENTS[-1] != BACKGROUND_ENTRIES


# A value for each type, for columns added after the data sets' SQL was written (below).
_ZERO = {
    "boolean": "false",
    "character varying": "''",
    "text": "''",
    "smallint": "0",
    "integer": "0",
    "bigint": "0",
    "jsonb": "'{}'",
    "timestamp with time zone": "now()",
    "date": "CURRENT_DATE",
    "uuid": "gen_random_uuid()",
}


@contextmanager
def defaults_for_unlisted_columns(cursor, tables: list[str]):
    """Give NOT NULL columns without a default a temporary one while the data set is inserted.

    The statements name the columns they knew of; a column another change adds later (Django keeps
    no defaults in the database) would otherwise fail the benchmark. Says which were filled.
    """
    cursor.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ANY(%s) AND is_nullable = 'NO'"
        " AND column_default IS NULL AND column_name <> 'id'",
        [tables],
    )
    columns = [(t, c, _ZERO[kind]) for t, c, kind in cursor.fetchall() if kind in _ZERO]
    for table, column, zero in columns:
        cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" SET DEFAULT {zero}')
    yield [f"{table}.{column}" for table, column, _zero in columns]
    cursor.connection.commit()  # the deferred foreign-key checks first: ALTER TABLE waits for them
    for table, column, _zero in columns:
        cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" DROP DEFAULT')


@contextmanager
def _without_indexes(cursor, table: str):
    """Load ``table`` without its secondary indexes and constraints, then build them once.

    Three million random UUIDs inserted one by one into the unique index thrash 128 MB of shared
    buffers; a sorted ``CREATE INDEX`` afterwards is several times faster.
    """
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('u', 'f')",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i"
        " WHERE indrelid = %s::regclass AND NOT indisprimary"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [table],
    )
    indexes = cursor.fetchall()
    for index, _definition in indexes:
        cursor.execute(f'DROP INDEX "{index}"')
    for name, _definition in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    yield
    cursor.execute("SET maintenance_work_mem = '512MB'")
    for _index, definition in indexes:
        cursor.execute(definition)
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def build(url: str, scale: float, now: datetime, background: int = 0) -> dict[str, float]:
    """Create the data set in the (migrated, empty) database; return the seconds of each step."""
    size = sizes(scale)
    with _cursor(url, autocommit=False) as cursor:
        cursor.execute("SELECT COALESCE(max(id), 0) + 1 FROM establishments_establishment")
        first = cursor.fetchone()[0]
        params = {
            **size,
            "now": now,
            "step": size["students"] // size["movers"],
            "first_establishment": first,
            "entries": ENTRIES_PER_PASSPORT,
            "background": background,
            "description": _DESCRIPTION,
        }
        start = time.perf_counter()
        with defaults_for_unlisted_columns(cursor, BUILT_TABLES):
            for statement in BUILD_STATEMENTS[:-1]:
                cursor.execute(statement, params)
            cursor.connection.commit()  # run the deferred foreign-key checks before ALTER TABLE
            with _without_indexes(cursor, "students_passportentry"):
                cursor.execute(BUILD_STATEMENTS[-1], params)
                if background:
                    cursor.execute(BACKGROUND_ENTRIES, params)
        cursor.connection.commit()
        inserted = time.perf_counter() - start
    with _cursor(url) as cursor:
        start = time.perf_counter()
        cursor.execute("VACUUM (ANALYZE)")
        analysed = time.perf_counter() - start
    return {"insert": inserted, "vacuum": analysed}


# --- the floor -------------------------------------------------------------------------------

# The same rules as transfers.rules (docs/transfers.md), written as one statement: eligible pairs on
# the INE, the most recently deactivated origin per destination, identity then diploma, and a
# copy of its entries. Names compare case-insensitively (the data set's names are plain ASCII).
FLOOR = """
WITH pairs AS (
    SELECT DISTINCT ON (d.id) d.id AS destination_id, o.id AS origin_id,
        o.birth_date = d.birth_date AND lower(o.last_name) = lower(d.last_name)
        AND (o.diploma_level = '' OR d.diploma_level = ''
             OR (o.diploma_level, o.diploma_specialite) = (d.diploma_level, d.diploma_specialite))
        AS transfer
    FROM students_student d
    JOIN establishments_establishment de ON de.id = d.establishment_id AND de.transfer_enabled
    JOIN students_student o ON o.ine = d.ine AND o.establishment_id <> d.establishment_id
    JOIN establishments_establishment oe ON oe.id = o.establishment_id AND oe.transfer_enabled
    WHERE d.origin = 'siecle' AND d.ine <> '' AND d.created_at > %(start)s AND d.created_at <= %(now)s
      AND NOT o.is_active AND o.deactivated_by_import_id IS NOT NULL
      AND o.deactivated_at > %(start)s AND o.deactivated_at <= %(now)s
    ORDER BY d.id, o.deactivated_at DESC, o.id DESC
)
INSERT INTO students_passportentry (student_id, public_id, kind, title, occurred_on, end_on, place,
    description, competencies, level, evaluator, author_name, produced_uai, produced_by,
    source_entry_id, original_entry_id, created_at, updated_at)
SELECT p.destination_id, gen_random_uuid(), e.kind, e.title, e.occurred_on, e.end_on, e.place,
    e.description, e.competencies, e.level, e.evaluator, e.author_name, e.produced_uai,
    e.produced_by, e.id, COALESCE(e.original_entry_id, e.id), %(now)s, %(now)s
FROM pairs p JOIN students_passportentry e ON e.student_id = p.origin_id
WHERE p.transfer
"""

# What was copied, to check that the job and the floor copied the same rows.
COPIED = """
SELECT count(*), COALESCE(sum(student_id), 0), COALESCE(sum(source_entry_id * mod(student_id, 997)), 0)
FROM students_passportentry WHERE source_entry_id IS NOT NULL
"""


def floor(url: str, now: datetime) -> tuple[float, tuple]:
    """Time the floor statement and its commit (the deferred foreign-key checks run there)."""
    from transfers.rules import window_start

    with _cursor(url, autocommit=False) as cursor:
        start = time.perf_counter()
        cursor.execute(FLOOR, {"start": window_start(now), "now": now})
        cursor.connection.commit()
        seconds = time.perf_counter() - start
        cursor.execute(COPIED)
        return seconds, cursor.fetchone()


def copied(url: str) -> tuple:
    with _cursor(url) as cursor:
        cursor.execute(COPIED)
        return cursor.fetchone()


# --- the job, in a child process -------------------------------------------------------------


def job_child(now_iso: str, batch_size: str) -> int:
    """Run ``run_matching`` once; print seconds, peak RSS, statements and counts as JSON.

    The e-mails' task runs eagerly, after each commit, inside the timed call: their cost is counted
    in the job's (in production it runs in a worker of its own, after the job's commits).
    """
    setup_django()
    from django.core.mail import get_connection
    from django.core.mail.utils import DNS_NAME
    from django.db import connection
    from django.urls import reverse

    from cerisepro.celery import app
    from transfers import emails
    from transfers.models import Trigger
    from transfers.run import run_matching

    app.conf.task_always_eager = True
    statements = 0
    email_seconds = 0.0
    send = emails.send_transfer_emails

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    def timed_send(*args, **kwargs):
        nonlocal email_seconds
        start = time.perf_counter()
        try:
            return send(*args, **kwargs)
        finally:
            email_seconds += time.perf_counter() - start

    emails.send_transfer_emails = timed_send  # type: ignore[assignment]
    # What a long-running worker has done once, before any night's run, is done before the
    # timing: resolve its host name, for the Message-ID of its first e-mail (0.5 s here); load
    # the URLconf, for the history link of its first e-mail (0.2 s: every app's views), and
    # import the mail backend.
    DNS_NAME.get_fqdn()
    reverse("transfer-history", args=["0000000A"])
    get_connection()
    connection.ensure_connection()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with connection.execute_wrapper(count):
        start = time.perf_counter()
        now = datetime.fromisoformat(now_iso)
        run = run_matching(now, trigger=Trigger.COMMAND, batch_size=int(batch_size))
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "seconds": seconds,
        "email_seconds": email_seconds,
        "peak_mb": round(peak, 1),
        "before_mb": round(before, 1),
        "statements": statements,
        "pairs": run.pairs_decided,
        "transfers": run.transfers_done,
        "entries": run.entries_copied,
        "status": run.status,
    }
    print(json.dumps(result))
    return 0


def _run_job(url: str, now: datetime, batch_size: int, email_url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "CELERY_BROKER_URL": "memory://"}
    # Production settings (not a test run's): DEBUG off keeps Django from logging every statement.
    env["DJANGO_SETTINGS_MODULE"] = "cerisepro.settings"
    env.update(DEBUG="false", SECRET_KEY="bench-" + "x" * 60, ALLOWED_HOSTS="127.0.0.1", EMAIL_URL=email_url)
    # The floor knows no volume guard (docs/transfers.md §4): at small scales the data set's
    # arrivals bunch into a few imports, which the guard would hold. Its query still runs.
    env.setdefault("TRANSFER_HOLD_ABOVE", str(FULL["movers"]))
    child = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench", "national-job", now.isoformat(), str(batch_size)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if child.returncode != 0:
        raise SystemExit(f"the job failed:\n{child.stderr}")
    return json.loads(child.stdout.strip().splitlines()[-1])


# --- the report ------------------------------------------------------------------------------


def _migrate(url: str) -> None:
    # A fresh clone has no .env: development settings, so that no SECRET_KEY is needed to migrate.
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "true", "CELERY_BROKER_URL": "memory://"}
    subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )


def _table_sizes(url: str) -> str:
    with _cursor(url) as cursor:
        cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('students_passportentry')),"
            " pg_size_pretty(pg_database_size(current_database())), count(*) FROM students_passportentry"
        )
        entries, database, rows = cursor.fetchone()
    return f"{rows:,} entries in all, entries table {entries} with indexes, database {database}"


def _administrators() -> int:
    """One active administrator with an e-mail address per establishment (the job e-mails them)."""
    from django.contrib.auth.hashers import make_password

    from establishments.models import Establishment, Role, User

    password = make_password(None)
    users = [
        User(
            username=f"admin-{uai.lower()}",
            email=f"admin.{uai.lower()}@ac.example.org",
            role=Role.ADMINISTRATOR,
            establishment_id=pk,
            password=password,
        )
        for pk, uai in Establishment.objects.values_list("pk", "uai")
    ]
    return len(User.objects.bulk_create(users, batch_size=1000))


def load_average() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _pair(url: str, template: str, now: datetime, args, sink: SmtpSink, floor_first: bool) -> dict:
    """The floor and the job, each on its own fresh copy of the template, in the given order."""
    result: dict = {}
    for side in ("floor", "job") if floor_first else ("job", "floor"):
        clone = f"{template}_{side}"
        clone_url = _url_with_name(url, clone)
        # CREATE DATABASE … FILE_COPY runs an immediate checkpoint: each side starts from a clean one.
        _recreate(url, clone, template=template)
        before = write_counters(url)
        if side == "floor":
            result["floor"], result["floor_copied"] = floor(clone_url, now)
            result["floor_writes"] = writes_between(before, write_counters(url))
        else:
            messages, connections = sink.messages, sink.connections
            result["job"] = _run_job(clone_url, now, args.batch_size, sink.url)
            result["job_writes"] = writes_between(before, write_counters(url))
            result["messages"] = sink.messages - messages
            result["connections"] = sink.connections - connections
            result["job_copied"] = copied(clone_url)
            result["second"] = _run_job(clone_url, now, args.batch_size, sink.url)
        _drop(url, clone)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench national")
    parser.add_argument("--scale", type=float, default=1.0, help="1 = national scale; 0.05 = 1/20")
    parser.add_argument("--runs", type=int, default=3, help="paired floor/job runs (medians)")
    parser.add_argument(
        "--background-entries", type=int, default=0, help="passport entries of every student who did not move"
    )
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = DEFAULT_URL
    os.environ["DATABASE_URL"] = url
    name = _name(url)
    size = sizes(args.scale)
    now = datetime.now(UTC).replace(microsecond=0)
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {load_average()}")

    _recreate(url, name)
    start = time.perf_counter()
    _migrate(url)
    migrated = time.perf_counter() - start
    steps = build(url, args.scale, now, args.background_entries)
    setup_django()  # for window_start and the administrators
    administrators = _administrators()
    from django.db import connection

    connection.close()  # a template database must have no session
    print(
        f"National matching benchmark — scale {args.scale:g}: {size['establishments']:,} establishments "
        f"({administrators:,} administrators with an e-mail address), {size['students']:,} students, "
        f"{size['movers']:,} moved, {size['movers'] * ENTRIES_PER_PASSPORT:,} entries to copy, "
        f"{args.background_entries} background entries per other student; PostgreSQL ({name}), "
        f"batch {args.batch_size}, {args.runs} paired runs"
    )
    print(
        f"  data set built in {steps['insert']:.1f} s (+ migrate {migrated:.1f} s, "
        f"VACUUM ANALYZE {steps['vacuum']:.1f} s); {_table_sizes(url)}"
    )
    print(f"  {server_settings(url)}")
    pairs = []
    with SmtpSink() as sink:
        for run in range(args.runs):
            pair = _pair(url, name, now, args, sink, floor_first=run % 2 == 0)
            pairs.append(pair)
            ratio = pair["job"]["seconds"] / pair["floor"] if pair["floor"] else float("inf")
            print(
                f"  run {run + 1}: floor {pair['floor']:.2f} s, job {pair['job']['seconds']:.2f} s "
                f"(e-mails {pair['job']['email_seconds']:.2f} s), job / floor {ratio:.2f}; {load_average()}"
            )
            print(
                f"    floor {describe_writes(pair['floor_writes'])};"
                f" job {describe_writes(pair['job_writes'])}"
            )
    if not args.keep:
        _drop(url, name)
    if not pairs:  # --runs 0 --keep: the data set alone, to study
        return 0
    _report(pairs)
    return 0 if all(p["job_copied"] == p["floor_copied"] for p in pairs) else 1


def _report(pairs: list[dict]) -> None:
    first = pairs[0]["job"]
    seconds = statistics.median(p["job"]["seconds"] for p in pairs)
    floor_seconds = statistics.median(p["floor"] for p in pairs)
    ratios = [p["job"]["seconds"] / p["floor"] if p["floor"] else float("inf") for p in pairs]
    email_seconds = statistics.median(p["job"]["email_seconds"] for p in pairs)
    without = [(p["job"]["seconds"] - p["job"]["email_seconds"]) / p["floor"] for p in pairs if p["floor"]]
    print(f"  floor: one INSERT … SELECT + commit, median {floor_seconds:8.2f} s")
    print(
        f"  job: run_matching, e-mails included, median {seconds:8.2f} s  "
        f"job / floor {statistics.median(ratios):.2f} (median of {', '.join(f'{r:.2f}' for r in ratios)}; "
        f"target ≤ {TARGET_RATIO_GOAL}, limit {TARGET_RATIO})"
    )
    print(
        f"  e-mails: {pairs[0]['messages']:,} messages over {pairs[0]['connections']} SMTP connection(s), "
        f"median {email_seconds:.2f} s = {email_seconds / seconds if seconds else 0:.1%} of the job; "
        f"job / floor without them {statistics.median(without) if without else 0:.2f}"
    )
    for side in ("floor", "job"):
        writes = {
            key: statistics.median(p[f"{side}_writes"][key] for p in pairs)
            for key in pairs[0][f"{side}_writes"]
        }
        print(f"  {side}: median {describe_writes(writes)}")
    print(
        f"  pairs decided {first['pairs']:,}, transfers done {first['transfers']:,}, "
        f"entries copied {first['entries']:,} ({first['entries'] / seconds:,.0f} entries/s)"
    )
    same = all(p["job_copied"] == p["floor_copied"] for p in pairs)
    print(
        f"  same rows as the floor: {'yes' if same else 'NO'} "
        f"({pairs[0]['job_copied'][0]:,} job, {pairs[0]['floor_copied'][0]:,} floor)"
    )
    print(
        f"  peak memory of the job process {first['peak_mb']} MB RSS"
        f" (before the job {first['before_mb']} MB); target ≤ {TARGET_PEAK_MB} MB"
    )
    print(f"  SQL statements issued by the job: {first['statements']:,}")
    second = statistics.median(p["second"]["seconds"] for p in pairs)
    share = second / seconds if seconds else 0.0
    print(
        f"  second run (nothing to do): {second:.2f} s = {share:.1%} of the first "
        f"(target < {TARGET_SECOND_RUN:.0%}), {pairs[0]['second']['pairs']} pairs, "
        f"{pairs[0]['second']['statements']} statements"
    )
