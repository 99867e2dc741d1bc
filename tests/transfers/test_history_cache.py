"""The history's monthly counts are cached per establishment and renewed by every write that
changes them: the job, a manual transfer, a forced one, a released one, an undo (docs/transfers.md)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import timezone

from establishments.models import Role
from tests.factories import StaffFactory, UserFactory
from transfers import history
from transfers.charts import month_label
from transfers.manual import services as manual
from transfers.models import Cause, Transfer
from transfers.review import transfer_force, transfer_release
from transfers.run import run_matching

from . import manual_factories as scenes
from .test_matching import NOW, arrived, left, paris, passport

pytestmark = pytest.mark.django_db
UNDONE = {"done": False, "cause": Cause.UNDONE, "undone_at": timezone.now()}


def received_this_month(establishment, now=None) -> int:
    return history.monthly_counts(establishment, now=now or timezone.now())[-1].received


def sent_this_month(establishment, now=None) -> int:
    return history.monthly_counts(establishment, now=now or timezone.now())[-1].sent


@pytest.fixture
def schools(db):
    return scenes.transfer_enabled(uai="0750654D"), scenes.transfer_enabled(uai="0920131T")


def test_the_counts_are_read_once_then_from_the_cache(schools, django_assert_num_queries):
    old, new = schools
    scenes.decided(scenes.left_student(old), scenes.arrived_student(new, scenes.left_student(old)))
    assert received_this_month(new) == 1

    with django_assert_num_queries(0):
        assert received_this_month(new) == 1


def test_the_job_renews_both_schools_counts(schools, django_capture_on_commit_callbacks):
    old, new = schools
    assert (sent_this_month(old, NOW), received_this_month(new, NOW)) == (0, 0)
    passport(left(old, paris(2026, 9, 5)))
    arrived(new, paris(2026, 9, 8))

    with django_capture_on_commit_callbacks(execute=True):
        run_matching(NOW)

    assert (sent_this_month(old, NOW), received_this_month(new, NOW)) == (1, 1)


def test_a_manual_transfer_renews_the_counts(db, django_capture_on_commit_callbacks):
    school, cfa = scenes.transfer_enabled(uai="0750654D"), scenes.cfa()
    pending = scenes.authorisation(scenes.left_student(school))
    assert received_this_month(cfa) == 0

    with django_capture_on_commit_callbacks(execute=True):
        manual.manual_authorisation_execute(
            pending, user=StaffFactory(), now=timezone.now(), create_student=True
        )

    assert (sent_this_month(school), received_this_month(cfa)) == (1, 1)


def test_forcing_a_change_of_diploma_renews_the_counts(schools, django_capture_on_commit_callbacks):
    old, new = schools
    origin = scenes.left_student(old)
    refused = scenes.refused_for_diploma(origin, scenes.arrived_student(new, origin))
    assert received_this_month(new) == 0

    with django_capture_on_commit_callbacks(execute=True):
        transfer_force(refused, user=StaffFactory(), now=timezone.now())

    assert received_this_month(new) == 1


def test_releasing_a_held_pair_renews_the_counts(schools, django_capture_on_commit_callbacks):
    old, new = schools
    UserFactory(establishment=new, role=Role.ADMINISTRATOR, email="admin@renoir.example.org")
    origin = scenes.left_student(old)
    held = scenes.decided(origin, scenes.arrived_student(new, origin), done=False, cause=Cause.HELD)
    assert sent_this_month(old) == 0

    with django_capture_on_commit_callbacks(execute=True):
        transfer_release(held, user=StaffFactory(), now=timezone.now())

    assert sent_this_month(old) == 1


def test_an_undo_renews_the_counts_through_invalidate_history_counts(
    schools, django_capture_on_commit_callbacks
):
    old, new = schools
    origin = scenes.left_student(old)
    transfer = scenes.decided(origin, scenes.arrived_student(new, origin))
    assert received_this_month(new) == 1
    Transfer.objects.filter(pk=transfer.pk).update(**UNDONE)  # what transfers.undo writes

    assert received_this_month(new) == 1  # cached, until the writer says so
    with django_capture_on_commit_callbacks(execute=True):
        history.invalidate_history_counts([old.pk, new.pk])

    assert received_this_month(new) == 0
    assert sent_this_month(old) == 0


def test_counts_are_renewed_only_when_the_write_commits(schools, django_capture_on_commit_callbacks):
    old, new = schools
    origin = scenes.left_student(old)
    transfer = scenes.decided(origin, scenes.arrived_student(new, origin))
    assert received_this_month(new) == 1

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Transfer.objects.filter(pk=transfer.pk).update(**UNDONE)
        history.invalidate_history_counts([new.pk])
        assert received_this_month(new) == 1  # not committed yet: the old version is still read

    for callback in callbacks:
        callback()
    assert received_this_month(new) == 0


def test_the_page_shows_the_renewed_counts(schools, client_for, django_capture_on_commit_callbacks):
    old, new = schools
    principal = UserFactory(establishment=new, role=Role.PRINCIPAL)
    client = client_for(principal)
    origin = scenes.left_student(old)
    refused = scenes.refused_for_diploma(origin, scenes.arrived_student(new, origin))
    url = f"/etablissements/{new.uai}/transferts/"
    this_month = month_label(timezone.localtime(timezone.now(), history.PARIS).date())
    assert f"{this_month} : 0 élève reçu" in client.get(url).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        transfer_force(refused, user=StaffFactory(), now=timezone.now())

    assert f"{this_month} : 1 élève reçu" in client.get(url).content.decode()


def test_a_cache_that_does_not_answer_is_read_through(schools, monkeypatch):
    old, new = schools
    scenes.decided(scenes.left_student(old), scenes.arrived_student(new, scenes.left_student(old)))

    def down(*args, **kwargs):
        raise ConnectionError("cache server down")

    for method in ("get", "add", "set", "set_many"):
        monkeypatch.setattr(cache, method, down)

    assert received_this_month(new) == 1


# --- the tables' totals (the unfiltered count shown beside each heading) ----------------------


def test_the_totals_are_read_once_then_from_the_cache(schools, django_assert_num_queries):
    old, new = schools
    scenes.decided(scenes.left_student(old), scenes.arrived_student(new, scenes.left_student(old)))
    assert history.row_totals(new) == (1, 0)

    with django_assert_num_queries(0):
        assert history.row_totals(new) == (1, 0)


def test_a_pair_the_job_did_not_transfer_still_counts_at_once(schools, django_capture_on_commit_callbacks):
    # A row that is not done changes no monthly count, but it is a row of both tables.
    old, new = schools
    assert history.row_totals(old) == history.row_totals(new) == (0, 0)
    origin = left(old, paris(2026, 9, 5))
    arrived(new, paris(2026, 9, 8), birth_date=origin.birth_date.replace(year=origin.birth_date.year - 1))

    with django_capture_on_commit_callbacks(execute=True):
        run_matching(NOW)

    transfer = Transfer.objects.get()
    assert not transfer.done and transfer.cause == Cause.IDENTITY_MISMATCH
    assert (history.row_totals(old), history.row_totals(new)) == ((0, 1), (1, 0))


def test_a_manual_transfer_counts_in_both_tables_at_once(db, django_capture_on_commit_callbacks):
    school, cfa = scenes.transfer_enabled(uai="0750654D"), scenes.cfa()
    pending = scenes.authorisation(scenes.left_student(school))
    assert history.row_totals(cfa) == (0, 0)

    with django_capture_on_commit_callbacks(execute=True):
        manual.manual_authorisation_execute(
            pending, user=StaffFactory(), now=timezone.now(), create_student=True
        )

    assert (history.row_totals(school), history.row_totals(cfa)) == ((0, 1), (1, 0))


def test_the_page_shows_the_cached_total_unfiltered_and_counts_a_filtered_one(schools, client):
    old, new = schools
    for done in (True, False):
        origin = scenes.left_student(old)
        scenes.decided(
            origin, scenes.arrived_student(new, origin), done=done, cause="" if done else Cause.HELD
        )
    client.force_login(UserFactory(establishment=new, role=Role.ADMINISTRATOR))
    url = f"/etablissements/{new.uai}/transferts/"

    assert 'Élèves reçus <span class="muted">(2)</span>' in client.get(url).content.decode()
    assert (
        'Élèves reçus <span class="muted">(1)</span>' in client.get(url, {"effectue": "non"}).content.decode()
    )
