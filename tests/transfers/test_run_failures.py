"""One bad pair never stops the run (docs/transfers.md §5): record it, move on, retry next run.

The fault is a database trigger that refuses the passport copy of one destination with a message
quoting the student's name and INE, as a real constraint's message would. It runs on SQLite and on
PostgreSQL, inside the test's transaction and outside any (``transactional_db``, as in production).
"""

from __future__ import annotations

import json
import logging

import pytest
from django.db import DatabaseError, OperationalError, connection
from django.urls import reverse

from students.models import PassportEntry, Student
from transfers import plan
from transfers import run as job
from transfers.models import MatchingRun, Transfer
from transfers.run import run_matching

from ..factories import EstablishmentFactory
from .test_matching import NOW, arrived, left, paris, passport

TRIGGER = "refuse_copy_for_one_destination"
SECRET_NAME, SECRET_INE = "MARTIN", "070832327JC"  # what the database's message quotes


@pytest.fixture(params=["db", "transactional_db"], ids=["in-a-transaction", "autocommit"])
def database(request):
    request.getfixturevalue(request.param)


@pytest.fixture
def moves(database) -> list[tuple[Student, Student]]:
    """Five students who moved, each with a passport of three entries; destinations in pk order."""
    old = EstablishmentFactory(uai="0750654D", transfer_enabled=True, cnil_declaration_number="1929152")
    new = EstablishmentFactory(uai="0920131T", transfer_enabled=True, cnil_declaration_number="2003574")
    pairs = []
    for n in range(5):
        ine = f"07083232{n}JA" if n != 2 else SECRET_INE
        origin = left(old, paris(2026, 9, 5), ine=ine, last_name=SECRET_NAME)
        passport(origin, 3)
        pairs.append((origin, arrived(new, paris(2026, 9, 8), ine=ine, last_name=SECRET_NAME)))
    return pairs


def _create_trigger(destination_id: int) -> None:
    message = f"copie refusee pour {SECRET_NAME} {SECRET_INE}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                f" IF NEW.student_id = {int(destination_id)} THEN RAISE EXCEPTION '{message}'"
                f" USING ERRCODE = 'check_violation', CONSTRAINT = '{TRIGGER}'; END IF;"
                " RETURN NEW; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON students_passportentry"
                f" FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON students_passportentry"
                f" WHEN NEW.student_id = {int(destination_id)}"
                f" BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def _drop_trigger() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON students_passportentry")
            cursor.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}()")
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")


@pytest.fixture
def copy_refused_for(database):
    """``copy_refused_for(student)`` makes the database refuse copies into that student; returns
    the function that lifts the fault. Dropped at the end whatever happens (DDL outlives
    ``transactional_db``'s flush)."""
    yield lambda student: (_create_trigger(student.pk), _drop_trigger)[1]
    _drop_trigger()


@pytest.fixture
def transfer_logs(caplog):
    """caplog, fed by the transfers logger (the app's loggers do not propagate to the root)."""
    logger = logging.getLogger("transfers")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    yield caplog
    logger.removeHandler(caplog.handler)


def entries_of(student: Student) -> int:
    return PassportEntry.objects.filter(student=student).count()


def test_a_destination_whose_copy_fails_is_recorded_and_every_other_pair_is_decided(
    moves, copy_refused_for, transfer_logs
):
    failing_origin, failing = moves[2]
    copy_refused_for(failing)

    run = run_matching(NOW, batch_size=2)  # batches [0, 1], [2, 3], [4]

    assert (run.status, run.get_status_display()) == ("erreurs", "Terminé avec erreurs")
    assert (run.pairs_decided, run.transfers_done, run.entries_copied) == (4, 4, 12)
    assert run.errors == []
    (failure,) = run.failures
    expected = "contrainte de la base de données non respectée"
    if connection.vendor == "postgresql":
        expected += f" ({TRIGGER})"  # PostgreSQL names the constraint apart from the message
    assert failure == {
        "destination_student_id": failing.pk,
        "origin_student_ids": [failing_origin.pk],
        "error": "IntegrityError",
        "message": expected,
    }
    recorded = json.dumps(MatchingRun.objects.values("errors", "failures").get())
    assert SECRET_NAME not in recorded and SECRET_INE not in recorded
    assert SECRET_NAME not in transfer_logs.text and SECRET_INE not in transfer_logs.text
    assert not Transfer.objects.filter(destination_student=failing).exists(), "undecided, not refused"
    assert entries_of(failing) == 0
    for origin, destination in moves[:2] + moves[3:]:  # the failing batch's other destination too
        row = Transfer.objects.get(destination_student=destination)
        assert (row.origin_student, row.done, row.run) == (origin, True, run)
        assert entries_of(destination) == 3


def test_once_the_fault_is_gone_the_next_run_decides_the_remaining_pair_once(moves, copy_refused_for):
    _, failing = moves[2]
    lift_fault = copy_refused_for(failing)
    run_matching(NOW, batch_size=2)

    lift_fault()
    second = run_matching(NOW, batch_size=2)
    third = run_matching(NOW, batch_size=2)

    assert (second.status, second.pairs_decided, second.transfers_done, second.failures) == (
        "termine",
        1,
        1,
        [],
    )
    assert Transfer.objects.get(destination_student=failing).run == second
    assert (third.status, third.pairs_decided) == ("termine", 0)
    assert Transfer.objects.count() == 5
    for origin, destination in moves:
        assert entries_of(destination) == 3, "no entry copied twice"
        assert entries_of(origin) == 3


def test_a_failing_pair_does_not_block_the_pairs_after_it_in_its_batch(moves, copy_refused_for):
    _, failing = moves[0]
    copy_refused_for(failing)

    run = run_matching(NOW, batch_size=5)  # one batch: retried one destination at a time

    assert (run.status, run.pairs_decided, [f["destination_student_id"] for f in run.failures]) == (
        "erreurs",
        4,
        [failing.pk],
    )
    assert Transfer.objects.exclude(destination_student=failing).count() == 4


def test_support_sees_the_failure_in_the_admin_without_names_or_ine(
    moves, copy_refused_for, client_for, staff_user
):
    _, failing = moves[2]
    copy_refused_for(failing)
    run = run_matching(NOW, batch_size=2)
    staff = client_for(staff_user)
    changelist = reverse("admin:transfers_matchingrun_changelist")

    listing = staff.get(changelist).content.decode()
    filtered = staff.get(changelist, {"status__exact": "erreurs"}).content.decode()
    detail = staff.get(reverse("admin:transfers_matchingrun_change", args=[run.pk])).content.decode()

    assert "Terminé avec erreurs" in listing
    assert reverse("admin:transfers_matchingrun_change", args=[run.pk]) in filtered
    assert "?status__exact=erreurs" in listing, "the status filter offers it"
    assert "Élèves en erreur" in detail
    assert "Ces paires n&#x27;ont pas été décidées" in detail
    assert "la prochaine exécution les retentera" in detail
    student_url = reverse("admin:students_student_change", args=[failing.pk])
    assert f'<a href="{student_url}">élève n° {failing.pk}</a>' in detail
    assert "IntegrityError — contrainte de la base de données non respectée" in detail
    for page in (listing, detail):
        assert SECRET_NAME not in page and SECRET_INE not in page


def test_the_admin_button_says_how_many_students_failed(moves, copy_refused_for, client_for, staff_user):
    copy_refused_for(moves[2][1])

    response = client_for(staff_user).post(reverse("admin:transfers_matchingrun_run"), follow=True)

    content = response.content.decode()
    assert "Rapprochement terminé avec erreurs : 4 paires décidées, 4 transferts effectués" in content
    assert "1 élève en erreur, laissé en attente pour la prochaine exécution." in content
    assert MatchingRun.objects.get().status == "erreurs"


def test_an_error_in_the_decision_itself_is_recorded_too(moves, monkeypatch):
    failing_origin, failing = moves[1]
    real_decide = plan.decide_pair

    def decide_with_a_bug(origin, destination):
        if destination.pk == failing.pk:
            raise ValueError(f"unexpected {SECRET_NAME}")
        return real_decide(origin, destination)

    monkeypatch.setattr(plan, "decide_pair", decide_with_a_bug)
    run = run_matching(NOW, batch_size=2)

    assert run.status == "erreurs"
    assert run.failures == [
        {
            "destination_student_id": failing.pk,
            "origin_student_ids": [failing_origin.pk],
            "error": "ValueError",
            "message": "erreur inattendue",
        }
    ]
    assert Transfer.objects.count() == 4


# --- failures that are not about a pair: the run fails (and is raised) as before ------------------


def test_a_lost_database_is_not_retried_one_destination_at_a_time(moves, monkeypatch):
    real_copy, calls = job.copy_passports, []

    def database_gone_in_second_batch(transfers, *, now):
        calls.append(1)
        if len(calls) >= 2:
            raise OperationalError("server closed the connection unexpectedly")
        real_copy(transfers, now=now)

    monkeypatch.setattr(job, "copy_passports", database_gone_in_second_batch)
    with pytest.raises(OperationalError):
        run_matching(NOW, batch_size=2)

    failed = MatchingRun.objects.get()
    assert len(calls) == 2, "no retry one by one"
    assert (failed.status, failed.pairs_decided, failed.failures) == ("echec", 2, [])
    assert failed.errors == [
        "OperationalError : base de données indisponible (connexion, verrou ou délai dépassé)"
    ]
    assert Transfer.objects.count() == 2


def test_a_failing_candidate_query_fails_the_run(moves, monkeypatch):
    def broken(*args, **kwargs):
        raise DatabaseError(f"relation missing near {SECRET_INE}")

    monkeypatch.setattr(job, "candidate_destination_ids", broken)
    with pytest.raises(DatabaseError):
        run_matching(NOW)

    failed = MatchingRun.objects.get()
    assert (failed.status, failed.errors) == ("echec", ["DatabaseError : erreur de la base de données"])
    assert failed.finished_at is not None


def test_too_many_failing_destinations_is_an_outage_and_fails_the_run(moves, monkeypatch):
    monkeypatch.setattr(job, "MAX_FAILURES", 2)
    calls = []

    def always_broken(transfers, *, now):
        calls.append(1)
        raise RuntimeError("bug")

    monkeypatch.setattr(job, "copy_passports", always_broken)
    with pytest.raises(job.TooManyFailures):
        run_matching(NOW, batch_size=5)

    failed = MatchingRun.objects.get()
    assert failed.status == "echec"
    assert len(failed.failures) == 2
    assert failed.errors == [
        "TooManyFailures : 2 élèves en erreur : arrêt de l'exécution (panne ou anomalie du traitement)"
    ]
    assert len(calls) == 3, "the batch, then two destinations, then it stopped"
    assert not Transfer.objects.exists()
