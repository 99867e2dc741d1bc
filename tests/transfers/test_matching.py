"""The matching job (docs/transfers.md): conditions at their boundaries, causes, runs twice, crashes."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection

from establishments.models import Establishment
from students.mef import diploma_of
from students.models import PassportEntry
from tests.factories import (
    EstablishmentFactory,
    PassportEntryFactory,
    SiecleImportFactory,
    StudentFactory,
    UserFactory,
)
from transfers import run as job
from transfers.models import Cause, MatchingRun, Transfer
from transfers.run import run_matching

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 10, 9, 0, tzinfo=PARIS)  # CET; six months earlier is CEST
INE = "070832327JA"


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def left(establishment, at, *, ine=INE, **fields):
    """A student deactivated by a SIECLE import of ``establishment`` at ``at``."""
    record = SiecleImportFactory(establishment=establishment, status="applique", created_at=at)
    fields = {"last_name": "MARTIN", "birth_date": datetime(2008, 5, 17).date(), **fields}
    return StudentFactory(
        establishment=establishment,
        ine=ine,
        is_active=False,
        deactivated_at=at,
        deactivated_by_import=record,
        created_at=paris(2024, 9, 2),
        **fields,
    )


def arrived(establishment, at, *, ine=INE, **fields):
    """A student created by a SIECLE import of ``establishment`` at ``at``."""
    fields = {"last_name": "MARTIN", "birth_date": datetime(2008, 5, 17).date(), "origin": "siecle", **fields}
    return StudentFactory(establishment=establishment, ine=ine, created_at=at, **fields)


@pytest.fixture
def old_school(db):
    return EstablishmentFactory(uai="0750654D", transfer_enabled=True, cnil_declaration_number="1929152 V0")


@pytest.fixture
def new_school(db):
    return EstablishmentFactory(uai="0920131T", transfer_enabled=True, cnil_declaration_number="2003574")


@pytest.fixture
def third_school(db):
    return EstablishmentFactory(uai="0752387M", transfer_enabled=True, cnil_declaration_number="1679866")


def passport(student, count=3):
    kinds = ["fiche", "evaluation", "bilan"]
    return [
        PassportEntryFactory(student=student, kind=kinds[i % 3], title=f"Entrée {i}") for i in range(count)
    ]


def only_row():
    rows = list(Transfer.objects.all())
    assert len(rows) == 1, rows
    return rows[0]


def test_a_student_who_changed_school_gets_a_copy_of_the_passport(old_school, new_school):
    origin = left(old_school, paris(2026, 9, 5, 18, 0))
    entries = passport(origin, 3)
    destination = arrived(new_school, paris(2026, 9, 8, 7, 0))

    run = run_matching(NOW)

    row = only_row()
    assert (row.done, row.cause, row.origin_student, row.destination_student) == (
        True,
        "",
        origin,
        destination,
    )
    assert (row.fiches_copied, row.evaluations_copied, row.bilans_copied) == (1, 1, 1)
    copies = PassportEntry.objects.filter(student=destination)
    assert sorted(c.source_entry_id for c in copies) == sorted(e.pk for e in entries)
    assert {c.produced_uai for c in copies} == {old_school.uai}
    assert PassportEntry.objects.filter(student=origin).count() == 3, "the origin keeps its records"
    assert (run.status, run.pairs_decided, run.transfers_done, run.entries_copied) == ("termine", 1, 1, 3)
    assert run.counts == {"transfert": 1}


def test_running_the_job_twice_decides_each_pair_once_and_copies_each_entry_once(old_school, new_school):
    origin = left(old_school, paris(2026, 9, 5))
    passport(origin, 4)
    destination = arrived(new_school, paris(2026, 9, 8))

    run_matching(NOW)
    second = run_matching(NOW)

    assert Transfer.objects.count() == 1
    assert PassportEntry.objects.filter(student=destination).count() == 4
    assert second.pairs_decided == 0


@pytest.mark.parametrize(
    "deactivated_at,decided",
    [
        (paris(2026, 5, 11, 9, 0), True),  # six months minus a day
        (paris(2026, 5, 9, 9, 0), False),  # six months plus a day
        # Across the DST change: 09:30 CEST is inside the window counted on the Paris clock
        # (limit 10/05 09:00 CEST = 07:00 UTC), though outside one counted in UTC (08:00 UTC).
        (paris(2026, 5, 10, 9, 30), True),
        (paris(2026, 5, 10, 8, 30), False),
    ],
)
def test_the_origin_must_have_left_less_than_six_months_ago(old_school, new_school, deactivated_at, decided):
    left(old_school, deactivated_at)
    arrived(new_school, paris(2026, 9, 8))

    run_matching(NOW)

    assert Transfer.objects.exists() is decided


@pytest.mark.parametrize(
    "created_at,decided",
    [(paris(2026, 5, 11, 9, 0), True), (paris(2026, 5, 9, 9, 0), False), (paris(2026, 11, 11), False)],
    ids=["minus-a-day", "plus-a-day", "in-the-future"],
)
def test_the_destination_must_have_arrived_less_than_six_months_ago(
    old_school, new_school, created_at, decided
):
    left(old_school, paris(2026, 9, 5))
    arrived(new_school, created_at)

    run_matching(NOW)

    assert Transfer.objects.exists() is decided


def test_pairs_wait_until_both_schools_enable_transfer_then_are_decided(old_school, new_school):
    old_school.transfer_enabled = False
    old_school.save()
    left(old_school, paris(2026, 9, 5))
    arrived(new_school, paris(2026, 9, 8))

    run_matching(NOW)
    assert not Transfer.objects.exists(), "not decided while the old school has transfer off"

    Establishment.objects.filter(pk=old_school.pk).update(transfer_enabled=True)
    run_matching(NOW)
    assert only_row().done


def test_a_destination_school_without_transfer_decides_nothing(old_school, new_school):
    Establishment.objects.filter(pk=new_school.pk).update(transfer_enabled=False)
    left(old_school, paris(2026, 9, 5))
    arrived(new_school, paris(2026, 9, 8))

    run_matching(NOW)

    assert not Transfer.objects.exists()


def test_students_created_by_hand_or_left_without_an_import_are_not_matched(old_school, new_school):
    origin = left(old_school, paris(2026, 9, 5))
    arrived(new_school, paris(2026, 9, 8), origin="manuel")
    other = left(old_school, paris(2026, 9, 5), ine="070832327JB")
    other.deactivated_by_import = None
    other.save()
    arrived(new_school, paris(2026, 9, 8), ine="070832327JB")

    run_matching(NOW)

    assert not Transfer.objects.exists(), origin


def test_a_different_diploma_is_decided_not_transferred_with_its_cause(old_school, new_school):
    origin = left(old_school, paris(2026, 9, 5), mef_code="24731001110", diploma_specialite="31001")
    passport(origin)
    destination = arrived(new_school, paris(2026, 9, 8), mef_code="24731002110", diploma_specialite="31002")

    run_matching(NOW)

    row = only_row()
    assert (row.done, row.cause, row.get_cause_display()) == (
        False,
        Cause.DIPLOMA_CHANGE,
        "Changement de diplôme",
    )
    assert not PassportEntry.objects.filter(student=destination).exists()


def test_a_bts_in_one_year_and_the_bts_in_two_years_of_one_specialite_are_the_same_diploma(
    old_school, new_school
):
    # The diploma fields as an import stores them (students.services._diploma_values): 311 and 320
    # are both BTS dispositifs (docs/formats.md).
    def enrolment(mef_code: str) -> dict:
        diploma = diploma_of(mef_code)
        return {
            "mef_code": mef_code,
            "diploma_level": diploma.level,
            "diploma_specialite": diploma.specialite,
        }

    passport(left(old_school, paris(2026, 9, 5), **enrolment("31131210110")))
    destination = arrived(new_school, paris(2026, 9, 8), **enrolment("32031210220"))

    run_matching(NOW)

    assert only_row().done
    assert PassportEntry.objects.filter(student=destination).exists()


@pytest.mark.parametrize(
    "fields",
    [{"birth_date": datetime(2008, 5, 18).date()}, {"last_name": "BERNARD"}],
    ids=["birth-date", "last-name"],
)
def test_the_same_ine_with_another_identity_is_never_transferred(old_school, new_school, fields):
    passport(left(old_school, paris(2026, 9, 5)))
    destination = arrived(new_school, paris(2026, 9, 8), **fields)

    run_matching(NOW)

    assert (only_row().done, only_row().cause) == (False, Cause.IDENTITY_MISMATCH)
    assert not PassportEntry.objects.filter(student=destination).exists()


def test_accents_case_and_hyphens_do_not_make_a_different_identity(old_school, new_school):
    left(old_school, paris(2026, 9, 5), last_name="LE GALL-HÉLIAS")
    arrived(new_school, paris(2026, 9, 8), last_name="Le Gall Helias")

    run_matching(NOW)

    assert only_row().done


def test_the_most_recently_left_school_is_the_origin(old_school, new_school, third_school):
    older = left(old_school, paris(2026, 6, 20))
    newer = left(third_school, paris(2026, 8, 30))
    passport(older, 2)
    passport(newer, 3)
    destination = arrived(new_school, paris(2026, 9, 8))

    run_matching(NOW)

    rows = {row.origin_student: row for row in Transfer.objects.all()}
    assert rows[newer].done
    assert (rows[older].done, rows[older].cause) == (False, Cause.MORE_RECENT_ORIGIN)
    assert PassportEntry.objects.filter(student=destination).count() == 3


def test_a_student_moving_a_to_b_to_c_keeps_each_entry_once(old_school, new_school, third_school):
    in_a = left(old_school, paris(2026, 6, 1))
    passport(in_a, 3)
    in_b = arrived(new_school, paris(2026, 6, 2))
    run_matching(paris(2026, 6, 3))
    passport(in_b, 2)  # written at B after the transfer
    in_b.is_active = False
    in_b.deactivated_at = paris(2026, 9, 1)
    in_b.deactivated_by_import = SiecleImportFactory(establishment=new_school, status="applique")
    in_b.save()
    in_c = arrived(third_school, paris(2026, 9, 2))

    run_matching(NOW)

    c_entries = PassportEntry.objects.filter(student=in_c)
    assert c_entries.count() == 5
    assert len({e.original_entry_id for e in c_entries}) == 5, "no original twice"
    assert {e.produced_uai for e in c_entries} == {old_school.uai, new_school.uai}
    assert Transfer.objects.get(origin_student=in_b, destination_student=in_c).done
    assert (
        Transfer.objects.get(origin_student=in_a, destination_student=in_c).cause == Cause.MORE_RECENT_ORIGIN
    )


def test_a_run_for_one_establishment_only_touches_its_pairs(old_school, new_school, third_school):
    left(old_school, paris(2026, 9, 5))
    arrived(new_school, paris(2026, 9, 8))
    left(third_school, paris(2026, 9, 5), ine="070832327JB")
    arrived(new_school, paris(2026, 9, 8), ine="070832327JB")

    run_matching(NOW, old_school)

    assert only_row().origin_establishment == old_school


def test_a_pair_that_fails_is_left_for_the_next_run_and_the_others_are_decided(
    old_school, new_school, monkeypatch
):
    # It used to stop the run (and every nightly run after it): docs/transfers.md §5.
    for n in range(3):
        ine = f"07083232{n}JA"
        passport(left(old_school, paris(2026, 9, 5), ine=ine), 2)
        arrived(new_school, paris(2026, 9, 8), ine=ine)
    real_copy, calls = job.copy_passports, []

    def crash_on_second_batch(transfers, *, now):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        real_copy(transfers, now=now)

    monkeypatch.setattr(job, "copy_passports", crash_on_second_batch)
    first = run_matching(NOW, batch_size=1)

    assert (first.status, first.pairs_decided, len(first.failures)) == ("erreurs", 2, 1)
    assert first.failures[0]["error"] == "RuntimeError"
    assert "worker lost" not in str(first.failures), "the error's own text is never recorded"
    assert Transfer.objects.count() == 2, "the failing pair was rolled back whole"

    monkeypatch.setattr(job, "copy_passports", real_copy)
    second = run_matching(NOW, batch_size=1)

    assert (second.status, second.pairs_decided) == ("termine", 1)
    assert Transfer.objects.filter(done=True).count() == 3
    for row in Transfer.objects.all():
        assert PassportEntry.objects.filter(student=row.destination_student).count() == 2


def test_the_dry_run_lists_pairs_and_writes_nothing(old_school, new_school, capsys):
    left(old_school, paris(2026, 9, 5))
    destination = arrived(new_school, paris(2026, 9, 8))

    call_command("run_transfers", "--at", "2026-11-10T09:00", "--dry-run")

    out = capsys.readouterr().out
    assert "1 pairs would be decided" in out
    assert f"0750654D -> 0920131T  student #{destination.pk}  transfert" in out
    assert not Transfer.objects.exists() and not MatchingRun.objects.exists()


def test_the_command_runs_as_of_at_and_prints_the_counts(old_school, new_school, capsys):
    left(old_school, paris(2026, 9, 5))
    arrived(new_school, paris(2026, 9, 8))

    call_command("run_transfers", "--at", "2026-11-10T09:00:00+01:00")

    assert "1 pairs decided, 1 transfers" in capsys.readouterr().out
    assert MatchingRun.objects.get().trigger == "commande"


def _run_in_threads(count: int) -> list:
    results, barrier = [], threading.Barrier(count)

    def work():
        try:
            barrier.wait()
            results.append(run_matching(NOW, batch_size=2))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("with_lock", [True, False], ids=["advisory-lock", "row-locks-only"])
def test_two_runs_at_the_same_time_decide_each_pair_once(require_postgres, monkeypatch, with_lock):
    old = EstablishmentFactory(uai="0750654D", transfer_enabled=True, cnil_declaration_number="1929152")
    new = EstablishmentFactory(uai="0920131T", transfer_enabled=True, cnil_declaration_number="2003574")
    for n in range(12):
        ine = f"0708323{n:02d}JA"
        passport(left(old, paris(2026, 9, 5), ine=ine), 3)
        arrived(new, paris(2026, 9, 8), ine=ine)
    if not with_lock:
        # Correctness must not depend on the advisory lock.
        monkeypatch.setattr(job, "matching_lock", _always_acquired)

    results = _run_in_threads(3)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert Transfer.objects.count() == 12
    assert PassportEntry.objects.filter(student__establishment=new).count() == 36


class _always_acquired:
    def __enter__(self):
        return True

    def __exit__(self, *exc):
        return False

    def __call__(self):
        return self


def test_the_new_school_administrators_get_one_email_after_the_transfer(
    old_school, new_school, mailoutbox, django_capture_on_commit_callbacks, celery_conf
):
    celery_conf(task_always_eager=True)  # the e-mails' own task (tests/transfers/test_emails.py)
    UserFactory(establishment=new_school, role="administrateur", email="admin@renoir.example.org")
    passport(left(old_school, paris(2026, 9, 5)))
    destination = arrived(new_school, paris(2026, 9, 8))

    with django_capture_on_commit_callbacks(execute=True):
        run_matching(NOW)

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["admin@renoir.example.org"]
    assert destination.last_name not in mailoutbox[0].body and INE not in mailoutbox[0].body


def test_a_batch_writes_its_rows_and_copies_in_the_order_of_its_destinations(old_school, new_school):
    # The copies' insertion order is what keeps the passport indexes cheap (docs/transfers.md §6);
    # students are listed by name elsewhere, and these names run against their ids.
    movers = [(f"{n:09d}AA", f"NOM{19 - n:02d}") for n in range(20)]
    for ine, name in movers:
        passport(left(old_school, paris(2026, 9, 5, 18, 0), ine=ine, last_name=name), 2)
    arrivals = [arrived(new_school, paris(2026, 9, 8, 7, 0), ine=ine, last_name=name) for ine, name in movers]

    run_matching(NOW)

    decided = list(Transfer.objects.order_by("pk").values_list("destination_student_id", flat=True))
    assert decided == sorted(a.pk for a in arrivals)
    copied = list(
        PassportEntry.objects.filter(student__in=arrivals).order_by("pk").values_list("student_id", flat=True)
    )
    assert len(copied) == 40 and copied == sorted(copied)
