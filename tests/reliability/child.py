"""A matching run, task or worker in its own OS process, for the fault tests (never imported by the app).

The parent test passes the test database in ``DATABASE_URL``. Hooks, all optional:
``--without-lock`` drops the advisory lock (only the row locks and the unique constraint remain);
``--hang-in-batch N`` stops inside the N-th batch's transaction, after its decisions and copies are
written but before the commit, writes ``--marker`` (this process's PostgreSQL backend pid) and
waits to be killed; ``--start-at EPOCH`` waits until then so that several children start together.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["run", "task", "worker"])
    parser.add_argument("--at", help="'now' of the run (mode run)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--without-lock", action="store_true")
    parser.add_argument("--hang-in-batch", type=int, default=0)
    parser.add_argument("--marker", default="")
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--queue", default="celery", help="queue consumed (mode worker)")
    parser.add_argument("--visibility-timeout", type=float, default=3600, help="Redis redelivery delay")
    return parser.parse_args()


def _install_hooks(args: argparse.Namespace) -> None:
    from django.db import connection

    from transfers import run as job

    if args.without_lock:

        @contextmanager
        def always_acquired():
            yield True

        job.matching_lock = always_acquired
    if args.hang_in_batch:
        real_copy, calls = job.copy_passports, []

        def copy_then_hang(transfers, *, now):
            calls.append(1)
            real_copy(transfers, now=now)
            if len(calls) == args.hang_in_batch:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    pid = cursor.fetchone()[0]
                Path(args.marker).write_text(str(pid))
                time.sleep(600)  # inside the batch's transaction, until the test kills us

        job.copy_passports = copy_then_hang


def main() -> None:
    args = _arguments()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cerisepro.settings_test")
    import django

    django.setup()
    _install_hooks(args)
    if args.start_at:
        time.sleep(max(0.0, args.start_at - time.time()))
    if args.mode == "run":
        from cerisepro.clock import parse_at
        from transfers.run import run_matching

        run = run_matching(parse_at(args.at), batch_size=args.batch_size)
        print(json.dumps({"status": run.status, "pairs": run.pairs_decided}))
    elif args.mode == "task":
        from transfers.tasks import run_matching_task

        print(json.dumps(run_matching_task.apply(kwargs={"trigger": "beat"}).get()))
    else:
        from cerisepro.celery import app

        app.conf.broker_transport_options = {"visibility_timeout": args.visibility_timeout}
        app.worker_main(["worker", "--pool=solo", "--concurrency=1", "--loglevel=INFO", "--queues",
                         args.queue, "--without-gossip", "--without-mingle", "--without-heartbeat"])  # fmt: skip


if __name__ == "__main__":
    main()
