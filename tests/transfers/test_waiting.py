"""What is waiting and why (docs/transfers.md §9): each reason from a scene that produces it, the
closing dates, what an arrival's school is never told, and a fixed number of queries."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from establishments import dashboard
from students.models import Student
from transfers.models import Cause, HoldReason, Transfer
from transfers.run import run_matching
from transfers.waiting import (
    ARRIVAL,
    DEPARTURE,
    WaitingReason,
    arrivals_item,
    closes_on,
    departures_item,
    reason_counts,
    waiting_arrivals,
    waiting_counts,
    waiting_departures,
)

from ..factories import EstablishmentFactory, StudentFactory
from .test_matching import INE, NOW, arrived, left, paris

LEFT_AT, ARRIVED_AT = paris(2026, 9, 5), paris(2026, 9, 8)


def _enabled(**fields):
    return EstablishmentFactory(transfer_enabled=True, cnil_declaration_number="1929152", **fields)


@pytest.fixture
def schools(db):
    return _enabled(uai="0750654D"), _enabled(uai="0920131T")


def _only(waiting):
    assert len(waiting) == 1, waiting
    return waiting[0]


def test_a_pair_that_meets_every_condition_waits_for_the_next_run_then_leaves_the_list(schools):
    old, new = schools
    left(old, LEFT_AT)
    arrival = arrived(new, ARRIVED_AT)
    item = _only(waiting_arrivals(new, NOW))
    assert (item.student, item.side, item.reason) == (arrival, ARRIVAL, WaitingReason.NEXT_RUN)
    assert item.closes_on == datetime.date(2027, 3, 5)  # six months after the departure, the earlier
    run_matching(NOW)
    assert waiting_arrivals(new, NOW) == []
    assert waiting_departures(old, NOW) == []


def test_this_establishment_has_not_turned_transfer_on(schools):
    old, new = schools
    new.transfer_enabled = False
    new.save()
    left(old, LEFT_AT)
    arrived(new, ARRIVED_AT)
    item = _only(waiting_arrivals(new, NOW))
    assert item.reason == WaitingReason.THIS_NOT_ENABLED
    assert item.blocked_by_other_side is False
    assert item.counterpart is not None  # a passport waits for this school: the weekly reminder counts it


def test_the_origin_has_not_turned_transfer_on(schools):
    old, new = schools
    old.transfer_enabled = False
    old.save()
    left(old, LEFT_AT)
    arrived(new, ARRIVED_AT)
    item = _only(waiting_arrivals(new, NOW))
    assert item.reason == WaitingReason.ORIGIN_NOT_ENABLED
    assert item.reason_label == "L'établissement d'origine n'a pas activé le transfert"
    assert item.blocked_by_other_side
    # The departure waits too, on the other side, as "en attente" for its own reason.
    departure = _only(waiting_departures(old, NOW))
    assert (departure.side, departure.reason) == (DEPARTURE, WaitingReason.THIS_NOT_ENABLED)


def test_the_origin_has_not_imported_since_the_student_left(schools):
    old, new = schools
    StudentFactory(establishment=old, ine=INE, last_name="MARTIN", created_at=paris(2024, 9, 2))
    arrived(new, ARRIVED_AT)
    item = _only(waiting_arrivals(new, NOW))
    assert item.reason == WaitingReason.ORIGIN_NOT_IMPORTED
    assert item.closes_on == datetime.date(2027, 3, 8)  # the arrival's own window


def test_identity_incomplete_here(schools):
    old, new = schools
    left(old, LEFT_AT)
    arrived(new, ARRIVED_AT, birth_date=None)
    assert _only(waiting_arrivals(new, NOW)).reason == WaitingReason.IDENTITY_INCOMPLETE


def test_held_for_review_until_staff_decide(schools):
    old, new = schools
    left(old, LEFT_AT)
    arrived(new, ARRIVED_AT, previous_uai="0130001A")  # another school declared as last year's
    run_matching(NOW)
    held = Transfer.objects.get()
    assert (held.cause, held.hold_reason) == (Cause.HELD, HoldReason.PREVIOUS_SCHOOL)
    item = _only(waiting_arrivals(new, NOW))
    assert (item.reason, item.held_since) == (WaitingReason.HELD, held.created_at)
    assert _only(waiting_departures(old, NOW)).reason == WaitingReason.HELD
    Transfer.objects.filter(pk=held.pk).update(cause=Cause.REFUSED_AFTER_REVIEW)
    assert waiting_arrivals(new, NOW) == []  # decided: no longer waiting


def test_no_departure_found_yet(schools):
    _old, new = schools
    arrived(new, ARRIVED_AT)
    assert _only(waiting_arrivals(new, NOW)).reason == WaitingReason.NO_DEPARTURE


def test_another_person_with_the_same_ine_is_never_told_of(schools):
    """No oracle: a record elsewhere with the INE but another identity is "no departure found"."""
    old, new = schools
    old.transfer_enabled = False
    old.save()
    left(old, LEFT_AT, last_name="DURAND")
    arrived(new, ARRIVED_AT)
    item = _only(waiting_arrivals(new, NOW))
    assert item.reason == WaitingReason.NO_DEPARTURE
    assert item.counterpart is None
    assert item.closes_on == datetime.date(2027, 3, 8)  # nothing of the other record, not even its date


def test_what_is_not_waiting(schools):
    old, new = schools
    arrived(new, paris(2026, 5, 1))  # window closed
    arrived(new, ARRIVED_AT, ine="")  # no INE
    arrived(new, ARRIVED_AT, ine="070832327JB", origin="manuel")  # not created by SIECLE
    arrived(new, ARRIVED_AT, ine="070832327JC", is_active=False, deactivated_at=NOW)  # left again
    left(old, LEFT_AT, ine="070832327JD")
    arrived(new, ARRIVED_AT, ine="070832327JD", last_name="DURAND")
    assert [w.reason for w in waiting_arrivals(new, NOW)] == [WaitingReason.NO_DEPARTURE]
    left(old, LEFT_AT, ine="070832327JE", diploma_level="CAP")
    arrived(new, ARRIVED_AT, ine="070832327JE")
    assert len(waiting_arrivals(new, NOW)) == 2
    run_matching(NOW)  # refused (identity, change of diploma): decided, no longer waiting
    assert waiting_arrivals(new, NOW) == []


def test_a_departure_waits_for_a_destination_until_its_window_closes(schools):
    old, _new = schools
    departure = left(old, LEFT_AT)
    item = _only(waiting_departures(old, NOW))
    assert (item.student, item.reason) == (departure, WaitingReason.AWAITING_DESTINATION)
    assert item.reason_label == "En attente d'un établissement d'accueil"
    assert item.closes_on == datetime.date(2027, 3, 5)
    assert waiting_departures(old, paris(2027, 3, 6)) == []
    assert waiting_counts(old, NOW) == (0, 1)


def test_closing_date_is_a_paris_date():
    # 23:30 UTC on 31 Aug is already 1 September in Paris.
    assert closes_on(datetime.datetime(2026, 8, 31, 23, 30, tzinfo=datetime.UTC)) == datetime.date(2027, 3, 1)


def test_reason_counts_keep_the_reasons_order(schools):
    old, new = schools
    arrived(new, ARRIVED_AT)
    arrived(new, ARRIVED_AT, ine="070832327JB", first_name="")
    counts = reason_counts(waiting_arrivals(new, NOW))
    assert counts == [(WaitingReason.IDENTITY_INCOMPLETE, 1), (WaitingReason.NO_DEPARTURE, 1)]


def _crowd(old, new, size: int) -> None:
    """``size`` arrivals and departures, spread over every reason."""
    for n in range(size):
        ine = f"{100000000 + n:09d}AB"
        kind = n % 4
        if kind == 0:
            left(old, LEFT_AT, ine=ine)
        elif kind == 1:
            StudentFactory(establishment=old, ine=ine, last_name="MARTIN", created_at=paris(2024, 9, 2))
        arrived(new, ARRIVED_AT, ine=ine, first_name="" if kind == 3 else "Léa")
        left(new, LEFT_AT, ine=f"{200000000 + n:09d}AB")


@pytest.mark.parametrize("size", [10, 200])
def test_a_fixed_number_of_queries_whatever_the_number_of_students(schools, size, django_assert_num_queries):
    old, new = schools
    _crowd(old, new, size)
    with django_assert_num_queries(3):
        arrivals = waiting_arrivals(new, NOW)
    with django_assert_num_queries(3):
        departures = waiting_departures(new, NOW)
    assert len(arrivals) == len(departures) == size
    assert {w.reason for w in arrivals} == {
        WaitingReason.NEXT_RUN,
        WaitingReason.ORIGIN_NOT_IMPORTED,
        WaitingReason.NO_DEPARTURE,
        WaitingReason.IDENTITY_INCOMPLETE,
    }


def test_the_staff_view_spans_every_establishment(schools):
    old, new = schools
    left(old, LEFT_AT)
    arrived(new, ARRIVED_AT, ine="070832327JB")
    with CaptureQueriesContext(connection) as queries:
        everyone = waiting_arrivals(None, NOW) + waiting_departures(None, NOW)
    assert len(queries) == 6
    assert {(w.student.establishment_id, w.side) for w in everyone} == {
        (old.pk, DEPARTURE),
        (new.pk, ARRIVAL),
    }
    assert Student.objects.count() == 2


def test_the_counts_are_the_lists_lengths_in_two_queries(schools, django_assert_num_queries):
    old, new = schools
    _crowd(old, new, 12)
    with django_assert_num_queries(2):
        counts = waiting_counts(new, NOW)
    assert counts == (len(waiting_arrivals(new, NOW)), len(waiting_departures(new, NOW))) == (12, 12)


def test_the_home_page_items_count_and_link_to_the_page(schools, django_assert_num_queries):
    old, new = schools
    new.transfer_enabled = False
    new.save()
    _crowd(old, new, 3)
    with django_assert_num_queries(2):
        items = [arrivals_item(new, NOW, "chef"), departures_item(new, NOW, "chef")]
    assert [(i.key, i.value) for i in items] == [
        ("waiting_arrivals", "3 élèves"),
        ("waiting_departures", "3 élèves"),
    ]
    assert items[0].url == reverse("transfer-waiting", args=[new.uai])
    assert "Paramètres › Transferts" in items[0].warning
    assert arrivals_item(new, NOW, "enseignant").url == ""  # a teacher cannot open the page
    assert departures_item(old, NOW, "chef").value == "1 élève"  # singular, as French says it


def test_the_home_page_status_panel_shows_both_counts(schools):
    old, new = schools
    _crowd(old, new, 4)
    panel = {item.key: item.value for item in dashboard.status_panel(new, now=NOW, role="administrateur")}
    assert (panel["waiting_arrivals"], panel["waiting_departures"]) == ("4 élèves", "4 élèves")
