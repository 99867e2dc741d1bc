"""The run: claim a batch of destinations, decide, write, copy, record failures (docs/transfers.md §5).

Pairs are worked in batches of destinations: each batch locks its destinations (``skip_locked``),
re-reads what is already decided, writes the decisions (the unique constraint on the pair is the
real guarantee) and copies the passports set-based, all in one transaction. A batch that fails is
retried one destination at a time, and only the failing destinations are left undecided.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Exists, OuterRef
from django.utils import timezone

from establishments.models import Establishment
from students.models import Student

from .copy import copy_passports
from .history import invalidate_history_counts
from .models import Kind, MatchingRun, Transfer, Trigger
from .plan import BATCH_SIZE, Decision, Outcome, batch_decisions, candidate_destination_ids
from .rules import destination_conditions, origin_conditions, window_start

logger = logging.getLogger(__name__)

# Any constant identifies "the matching job" among PostgreSQL advisory locks.
ADVISORY_LOCK_KEY = 0x43455249  # "CERI"
# A run still "en cours" after this long was killed (SIGKILL, out of memory, host lost) before it
# could record its end; runs take minutes. The next run marks it failed for support to see.
STALE_RUN_AGE = timedelta(hours=1)


@contextmanager
def matching_lock() -> Iterator[bool]:
    """Keep two runs from working the same pairs at once (PostgreSQL advisory lock).

    Correctness does not depend on it: the unique constraint on the pair and the row locks do
    that. The lock only saves the second run from doing the work twice. Elsewhere: always True.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
            except DatabaseError:
                pass  # the connection is gone, and the session lock with it


def _write_decisions(decisions: list[Decision], run: MatchingRun, now: datetime) -> list[Transfer]:
    rows = [
        Transfer.for_pair(
            decision.origin,
            decision.destination,
            now=now,
            kind=Kind.AUTOMATIC,
            cause=decision.cause,
            hold_reason=decision.hold_reason,
            run=run,
        )
        for decision in decisions
    ]
    # New rows in both schools' histories: their cached row totals are renewed once this commits.
    schools = {r.origin_establishment_id for r in rows} | {r.destination_establishment_id for r in rows}
    invalidate_history_counts(schools)
    return Transfer.objects.bulk_create(rows)


def _process_batch(run: MatchingRun, destination_ids: list[int], now: datetime) -> list[Transfer]:
    with transaction.atomic():
        # Claim: a destination locked by another worker is skipped; it will be seen next run.
        # Re-checked under the lock: an import may have deactivated a destination since it was listed.
        # In id order, not the model's order by name: the decisions, hence the history rows and
        # the copies, are written in it, and new arrivals hold the highest student ids, so each
        # copied entry lands on the right edge of the four passport indexes led by the student,
        # where PostgreSQL inserts without descending the tree (docs/transfers.md §6).
        destinations = list(
            Student.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(destination_conditions(window_start(now), now), pk__in=destination_ids)
            .order_by("pk")
        )
        rows = _write_decisions(batch_decisions(destinations, now), run, now)
        copy_passports(rows, now=now)
    return rows


def _save_progress(run: MatchingRun) -> None:
    """Write the counters as each batch commits: a run killed later (SIGKILL) still shows the pairs
    it committed, instead of "en cours, 0 paires" until the next run closes it."""
    MatchingRun.objects.filter(pk=run.pk).update(
        pairs_decided=run.pairs_decided,
        transfers_done=run.transfers_done,
        entries_copied=run.entries_copied,
        counts=run.counts,
    )


def _count(run: MatchingRun, rows: list[Transfer]) -> list[int]:
    """Add a committed batch to the run's counters; the ids of its done transfers."""
    for row in rows:
        key = Outcome.TRANSFER.value if row.done else row.cause
        run.counts[key] = run.counts.get(key, 0) + 1
    run.pairs_decided += len(rows)
    run.transfers_done += sum(1 for row in rows if row.done)
    run.entries_copied += sum(row.entries_copied for row in rows)
    return [row.pk for row in rows if row.done]


# --- failures --------------------------------------------------------------------------------

# More failing destinations than this in one run is not a bad pair but a bug or an outage: the run
# stops as FAILED rather than retrying every destination of every batch (docs/transfers.md §5).
MAX_FAILURES = 50

# Fixed texts for support: a database's own message may quote the values (names, INEs) that broke
# a constraint, so it never goes into the run. The most specific class comes first.
_ERROR_TEXTS: tuple[tuple[type[Exception], str], ...] = (
    (IntegrityError, "contrainte de la base de données non respectée"),
    (DataError, "valeur refusée par la base de données"),
    (InterfaceError, "connexion à la base de données perdue"),
    (OperationalError, "base de données indisponible (connexion, verrou ou délai dépassé)"),
    (DatabaseError, "erreur de la base de données"),
)


class TooManyFailures(RuntimeError):
    """Raised by the run itself, with a message safe to record (it quotes no data)."""


def _is_about_the_pair(error: Exception) -> bool:
    """Whether the failing destination's own data may explain ``error``.

    A lost connection or an unavailable server is not about a pair: retrying one destination at
    a time would only repeat it for each, so the run stops as FAILED (docs/transfers.md §5).
    """
    if isinstance(error, (InterfaceError, OperationalError, TooManyFailures)):
        return False
    return not connection.needs_rollback and connection.is_usable()


def safe_error_message(error: Exception) -> str:
    """A short French text for support, without names or INEs (docs/transfers.md §5)."""
    if isinstance(error, TooManyFailures):
        return str(error)
    text = next((text for kind, text in _ERROR_TEXTS if isinstance(error, kind)), "erreur inattendue")
    # PostgreSQL names the broken constraint apart from the message: a schema name, no values.
    constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
    return f"{text} ({constraint})" if constraint else text


def _undecided_origin_ids(destination_id: int, now: datetime) -> list[int]:
    """The origins a failing destination would have been decided with (none if unreadable)."""
    destination = Student.objects.filter(pk=destination_id)
    origins = (
        Student.objects.filter(origin_conditions(window_start(now), now), ine__in=destination.values("ine"))
        .exclude(establishment__in=destination.values("establishment"))
        .exclude(
            Exists(
                Transfer.objects.filter(origin_student=OuterRef("pk"), destination_student_id=destination_id)
            )
        )
    )
    try:
        with transaction.atomic():
            return list(origins.order_by("pk").values_list("pk", flat=True))
    except DatabaseError:
        return []


def _record_failure(run: MatchingRun, destination_id: int, error: Exception, now: datetime) -> None:
    """The destination stays undecided: the next run tries it again (docs/transfers.md §5)."""
    logger.warning(
        "Matching run %s: destination student %s failed (%s), left undecided",
        run.pk,
        destination_id,
        type(error).__name__,
    )
    # The traceback may quote a name or an INE: debug level only (docs/transfers.md §5).
    logger.debug("Matching run %s: destination student %s", run.pk, destination_id, exc_info=error)
    run.failures.append(
        {
            "destination_student_id": destination_id,
            "origin_student_ids": _undecided_origin_ids(destination_id, now),
            "error": type(error).__name__,
            "message": safe_error_message(error),
        }
    )
    if len(run.failures) >= MAX_FAILURES:
        raise TooManyFailures(
            f"{len(run.failures)} élèves en erreur : arrêt de l'exécution (panne ou anomalie du traitement)"
        ) from None  # the cause's message may quote data, and the run's failure is logged


def _run_batch(run: MatchingRun, destination_ids: list[int], now: datetime, done: list[int]) -> None:
    """One transaction for the batch; if it fails, one per destination (docs/transfers.md §5).

    Adds the ids of the done transfers to ``done`` as each commits, so that a failure that is not
    about a pair, which propagates, loses no notification.
    """
    try:
        done += _count(run, _process_batch(run, destination_ids, now))
        _save_progress(run)
        return
    except Exception as error:
        if not _is_about_the_pair(error):
            raise
        if len(destination_ids) == 1:
            _record_failure(run, destination_ids[0], error, now)
            return
    for destination_id in destination_ids:
        try:
            done += _count(run, _process_batch(run, [destination_id], now))
            _save_progress(run)
        except Exception as error:
            if not _is_about_the_pair(error):
                raise
            _record_failure(run, destination_id, error, now)


# --- starting and ending a run ---------------------------------------------------------------


def _finish(run: MatchingRun, status: str) -> MatchingRun:
    run.status = status
    run.finished_at = timezone.now()
    try:
        run.save()
    except DatabaseError:
        # The connection died mid-run: reconnect once to record the failure.
        connection.close()
        run.save()
    return run


def _close_interrupted_runs(run: MatchingRun) -> None:
    MatchingRun.objects.filter(
        status=MatchingRun.Status.RUNNING, started_at__lt=run.started_at - STALE_RUN_AGE
    ).update(
        status=MatchingRun.Status.FAILED,
        finished_at=run.started_at,
        errors=[f"interrompu : arrêté avant sa fin, travail repris par l'exécution {run.pk}"],
    )


def run_matching(
    now: datetime,
    establishment: Establishment | None = None,
    *,
    trigger: str = Trigger.COMMAND,
    batch_size: int = BATCH_SIZE,
) -> MatchingRun:
    """Decide every pair that meets the conditions as of ``now`` (for one establishment, or all).

    ``transfers.plan.plan_matching`` says what it would decide, writing nothing. A destination
    that fails is recorded on the run and left for the next one ("terminé avec erreurs"); a
    failure that is not about a pair ends the run as FAILED and is raised (docs/transfers.md §5).
    """
    started = timezone.now()
    with matching_lock() as acquired:
        run = MatchingRun.objects.create(
            started_at=started, as_of=now, trigger=trigger, establishment=establishment
        )
        if not acquired:
            logger.info("Matching run %s skipped: another run holds the lock", run.pk)
            return _finish(run, MatchingRun.Status.SKIPPED)
        _close_interrupted_runs(run)
        done_ids: list[int] = []
        try:
            ids = candidate_destination_ids(now, establishment)
            for start in range(0, len(ids), batch_size):
                _run_batch(run, ids[start : start + batch_size], now, done_ids)
        except Exception as error:
            logger.exception("Matching run %s failed", run.pk)
            run.errors.append(f"{type(error).__name__} : {safe_error_message(error)}")
            _finish(run, MatchingRun.Status.FAILED)
            raise
        finally:
            if done_ids:
                notify_done(done_ids)
    logger.info(
        "Matching run %s: %s pairs decided, %s transfers, %s entries copied, %s destinations failed",
        run.pk,
        run.pairs_decided,
        run.transfers_done,
        run.entries_copied,
        len(run.failures),
    )
    status = MatchingRun.Status.SUCCEEDED_WITH_ERRORS if run.failures else MatchingRun.Status.SUCCEEDED
    return _finish(run, status)


def notify_done(transfer_ids: list[int]) -> None:
    """E-mail both sides of done transfers (counts and a link, no names) from their own task,
    queued once the current transaction commits (at once outside one): a slow or failing SMTP
    server never slows down, fails or undoes a copy (docs/transfers.md §5)."""
    from .tasks import send_transfer_emails_task  # tasks imports this module

    ids = list(transfer_ids)
    # robust: a broker that does not answer is logged; the transfers are committed.
    transaction.on_commit(lambda: send_transfer_emails_task.delay(ids), robust=True)
