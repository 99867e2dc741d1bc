"""The national picture for support (docs/operations.md): the last 30 days' runs and what waits, as charts."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from establishments.models import Role
from tests.factories import EstablishmentFactory, StudentFactory, UserFactory
from transfers import national
from transfers.models import Cause, MatchingRun, Trigger

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime.datetime(2026, 11, 30, 10, 0, tzinfo=PARIS)


def run(started: datetime.datetime, *, seconds: int = 90, trigger=Trigger.BEAT, **fields) -> MatchingRun:
    defaults = {
        "as_of": started,
        "finished_at": started + datetime.timedelta(seconds=seconds),
        "status": MatchingRun.Status.SUCCEEDED,
        "trigger": trigger,
    }
    return MatchingRun.objects.create(started_at=started, **(defaults | fields))


@pytest.fixture
def runs():
    night = datetime.datetime(2026, 11, 29, 2, 30, tzinfo=PARIS)
    run(
        night,
        pairs_decided=12,
        transfers_done=9,
        counts={"transfert": 9, Cause.HELD: 2, Cause.DIPLOMA_CHANGE: 1},
    )
    run(
        night + datetime.timedelta(hours=13),
        seconds=30,
        trigger=Trigger.IMPORT,
        pairs_decided=3,
        transfers_done=3,
    )
    run(
        datetime.datetime(2026, 11, 28, 2, 30, tzinfo=PARIS),
        status=MatchingRun.Status.SUCCEEDED_WITH_ERRORS,
        pairs_decided=4,
        failures=[{"destination_student_id": 1, "origin_student_ids": [2], "error": "IntegrityError"}] * 2,
    )
    run(
        datetime.datetime(2026, 11, 27, 2, 30, tzinfo=PARIS),
        status=MatchingRun.Status.FAILED,
        errors=["base"],
    )
    run(
        datetime.datetime(2026, 11, 27, 2, 31, tzinfo=PARIS),
        status=MatchingRun.Status.SKIPPED,
        pairs_decided=99,
    )
    run(datetime.datetime(2026, 11, 1, 2, 30, tzinfo=PARIS), pairs_decided=1)  # the 30th day back: shown
    run(datetime.datetime(2026, 10, 31, 23, 59, tzinfo=PARIS), pairs_decided=50)  # the 31st: not shown


def test_one_line_per_paris_day_for_the_last_30_days(runs):
    nights = national.nightly_runs(NOW)

    assert [n.day for n in nights] == [
        datetime.date(2026, 11, 1) + datetime.timedelta(days=i) for i in range(30)
    ]
    by_day = {n.day: n for n in nights}
    sunday = by_day[datetime.date(2026, 11, 29)]
    assert (sunday.runs, sunday.pairs_decided, sunday.transfers_done, sunday.holds, sunday.errors) == (
        2,
        15,
        12,
        2,
        0,
    )
    assert sunday.nightly_status == "Terminé" and sunday.duration_label == "2 min 00 s"
    saturday = by_day[datetime.date(2026, 11, 28)]
    assert (saturday.errors, saturday.nightly_status) == (2, "Terminé avec erreurs")
    friday = by_day[datetime.date(2026, 11, 27)]
    assert (friday.runs, friday.pairs_decided, friday.errors, friday.nightly_status) == (1, 0, 1, "Échec")
    assert by_day[datetime.date(2026, 11, 1)].pairs_decided == 1
    assert sum(n.pairs_decided for n in nights) == 20  # neither the skipped run nor the 31st day
    assert by_day[datetime.date(2026, 11, 30)].nightly_status == ""  # no nightly run yet today
    assert by_day[datetime.date(2026, 11, 30)].duration_label == "—"


def test_each_chart_says_in_words_what_it_draws(runs):
    picture = national.national_picture(now=NOW)

    charts = {chart.key: str(chart.svg) for chart in picture.night_charts}
    assert set(charts) == {"pairs_decided", "transfers_done", "holds", "errors", "seconds"}
    assert (
        '<title id="national-pairs_decided-title">Paires décidées par jour</title>' in charts["pairs_decided"]
    )
    assert "29 nov. 2026 : 15" in charts["pairs_decided"]
    assert "29 nov. 2026 : 2 min 00 s" in charts["seconds"]
    assert 'role="img"' in charts["holds"] and "aria-labelledby" in charts["holds"]


def test_the_waiting_students_are_counted_by_the_waiting_reasons(db):
    closed = EstablishmentFactory(transfer_enabled=False)
    for _ in range(2):
        StudentFactory(establishment=closed, origin="siecle", created_at=NOW - datetime.timedelta(days=3))

    picture = national.national_picture(now=NOW)

    assert [(r.side, r.label, r.count) for r in picture.waiting] == [
        ("Arrivées", "Votre établissement n'a pas activé le transfert", 2)
    ]
    assert "Arrivées — Votre établissement n&#x27;a pas activé le transfert : 2" in str(picture.waiting_chart)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def national_url() -> str:
    return reverse("admin:transfers_matchingrun_national")


def test_staff_read_the_page_from_the_runs_list(staff_client, django_assert_max_num_queries):
    # The admin reads the clock: a nightly run last night, whatever today is.
    last_night = timezone.localtime(timezone.now(), PARIS).replace(hour=2, minute=30) - datetime.timedelta(
        days=1
    )
    run(last_night, pairs_decided=7, transfers_done=5)
    listing = staff_client.get(reverse("admin:transfers_matchingrun_changelist")).content.decode()
    with django_assert_max_num_queries(20):
        response = staff_client.get(national_url())

    page = response.content.decode()
    assert national_url() in listing
    assert response.status_code == 200
    assert page.count('class="chart"') == 6  # five measures of the runs, the waiting reasons
    row = (
        f'<th scope="row">{last_night:%d/%m/%Y}</th>\n        <td>Terminé</td>\n        <td>1</td>\n'
        "        <td>7</td>\n        <td>5</td>"
    )
    assert row in page
    assert "Élèves dont le passeport attend, par raison" in page and "Aucun élève en attente." in page


def test_the_page_query_count_does_not_grow_with_the_runs(staff_client):
    today = timezone.localtime(timezone.now(), PARIS).replace(hour=2, minute=30)

    def count_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(national_url()).status_code == 200
        return len(captured)

    run(today - datetime.timedelta(days=1))
    few = count_queries()
    for back in range(2, 30):
        run(today - datetime.timedelta(days=back), failures=[{"error": "DataError"}])
    assert count_queries() == few


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.PRINCIPAL, Role.TEACHER])
def test_a_school_user_is_sent_to_the_admin_login(client, role):
    client.force_login(UserFactory(role=role))

    response = client.get(national_url())

    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
