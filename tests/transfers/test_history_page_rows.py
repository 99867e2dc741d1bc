"""The history page's rows (``history.page_rows``): every case a school reads, in both tables.

The page builds its rows from tuples of columns, not from :class:`history.HistoryRow` (which the
home page, the report page and the ``transfer_history`` command read): the last test pins that
both say the same of every kind of row.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from transfers import history
from transfers.models import Kind

from ..factories import EstablishmentFactory, StudentFactory
from .factories import RefusedTransferFactory, TransferFactory
from .test_history import page, table

PARIS = ZoneInfo("Europe/Paris")
UNDONE_AT = datetime.datetime(2026, 10, 3, 23, 30, tzinfo=datetime.UTC)  # 4 October in Paris


@pytest.fixture
def renoir(db):
    return EstablishmentFactory(uai="0920131T", name="Lycée Auguste-Renoir")


def received(establishment, origin, **kwargs):
    return TransferFactory(origin_establishment=origin, destination_establishment=establishment, **kwargs)


def sent(establishment, destination, **kwargs):
    return TransferFactory(
        origin_establishment=establishment, destination_establishment=destination, **kwargs
    )


def at(day: int) -> datetime.datetime:
    return datetime.datetime(2026, 9, day, 0, 30, tzinfo=PARIS)  # the day before in UTC


def test_an_arrival_not_transferred_hides_the_school_where_the_ine_was_found(
    client_for, principal, establishment, renoir
):
    RefusedTransferFactory(
        origin_establishment=renoir,
        destination_establishment=establishment,
        destination_student__last_name="Petit",
        destination_student__first_name="Léon",
        created_at=at(2),
    )
    received(establishment, renoir, destination_student__last_name="Grand", created_at=at(1))

    response = page(client_for(principal), establishment)

    assert table(response, "recus")[0] == [
        "02/09/2026",
        "PETIT Léon",
        "Non communiqué",
        "non",
        "Changement de diplôme",
        "automatique",
    ]
    assert table(response, "recus")[1][2] == "0920131T — Lycée Auguste-Renoir"
    assert "0920131T" not in "".join(table(response, "recus")[0])


def test_a_departure_not_transferred_names_its_destination(client_for, principal, establishment, renoir):
    RefusedTransferFactory(origin_establishment=establishment, destination_establishment=renoir)

    row = table(page(client_for(principal), establishment), "partis")[0]

    assert row[2:5] == ["0920131T — Lycée Auguste-Renoir", "non", "Changement de diplôme"]


def test_a_forced_transfer_says_what_the_staff_overrode_and_a_manual_one_its_kind(
    client_for, principal, establishment, renoir
):
    received(establishment, renoir, kind=Kind.FORCED, cause="identite_differente", created_at=at(3))
    received(establishment, renoir, kind=Kind.FORCED, created_at=at(2))
    received(establishment, renoir, kind=Kind.MANUAL, created_at=at(1))

    rows = table(page(client_for(principal), establishment), "recus")

    assert [row[4:] for row in rows] == [
        ["Forcé par l'assistance malgré : Identité différente", "forcé"],
        ["—", "forcé"],
        ["—", "manuel"],
    ]


def test_an_undone_transfer_reads_the_day_and_the_reason_on_both_sides(
    client_for, principal, establishment, renoir
):
    undone = {"done": False, "cause": "annule", "undone_at": UNDONE_AT}
    received(establishment, renoir, undo_reason="Mauvais élève", **undone)
    sent(establishment, renoir, undo_reason="", **undone)

    response = page(client_for(principal), establishment)

    assert table(response, "recus")[0][2:5] == [
        "Non communiqué",
        "non",
        "Annulé le 04/10/2026 (Mauvais élève)",
    ]
    assert table(response, "partis")[0][2:5] == [
        "0920131T — Lycée Auguste-Renoir",
        "non",
        "Annulé le 04/10/2026",
    ]


def test_a_sent_row_links_to_its_report_page_by_its_opaque_id(client_for, principal, establishment, renoir):
    transfer = sent(
        establishment, renoir, origin_student__last_name="Morel", origin_student__first_name="Ana"
    )

    response = page(client_for(principal), establishment)

    assert table(response, "partis")[0][6] == "Signaler une erreur pour MOREL Ana"
    assert (
        reverse("transfer-report", args=[establishment.uai, transfer.public_id]) in response.content.decode()
    )


def test_the_page_rows_say_what_history_rows_say_of_every_kind_of_row(establishment, renoir):
    own = StudentFactory(establishment=establishment, last_name="Roux", first_name="Éva")
    for direction, make in [(history.RECEIVED, received), (history.SENT, sent)]:
        side = "destination_student" if direction == history.RECEIVED else "origin_student"
        for ine, name in [("123456789AB", "GARNIER Zoé"), ("123456789AC", "")]:
            deleted = {side: None, "ine": ine, "student_name": name}
            if direction == history.SENT:  # no origin record to copy the arrival's INE from
                deleted.update(
                    destination_student__ine=ine,
                    destination_student__last_name="Garnier",
                    destination_student__first_name="Zoé",
                )
            make(establishment, renoir, **deleted)
        make(establishment, renoir, **{side: own})
        make(establishment, renoir, done=False, cause="changement_diplome")
        make(establishment, renoir, kind=Kind.FORCED, cause="identite_differente")
        make(establishment, renoir, done=False, cause="annule", undone_at=UNDONE_AT, undo_reason="Erreur")

    for direction, select in history.SELECTORS.items():
        transfers = select(establishment)
        expected = [
            (
                f"{row.date:%d/%m/%Y}",
                row.student,
                f"{row.other_establishment.uai} — {row.other_establishment.name}"
                if row.other_establishment
                else None,
                row.transfer.done,
                # The page says what staff overrode (templates/transfers/history_table.html).
                (history.FORCED_DESPITE if row.transfer.kind == Kind.FORCED and row.transfer.cause else "")
                + row.cause_label,
                row.transfer.get_kind_display().lower(),
                row.transfer.public_id,
            )
            for row in history.history_rows(transfers, direction)
        ]
        rows = history.page_rows(history.page_lines(transfers, direction), direction)

        assert len(rows) == 6
        assert [
            (r.date, r.student, r.other, r.done, r.reason, r.kind_label, r.public_id) for r in rows
        ] == expected
        assert {"ROUX Éva", "GARNIER Zoé", history.DELETED_STUDENT} <= {r.student for r in rows}


# --- the page's query (history.page_line_values): the rows page_lines gives, for every shape ------

SHAPES = [
    {},
    {"since": datetime.date(2026, 9, 10)},
    {"until": datetime.date(2026, 9, 20)},
    {"since": datetime.date(2026, 9, 5), "until": datetime.date(2026, 9, 25)},
    {"done": True},
    {"done": False},
    {"since": datetime.date(2026, 9, 1), "until": datetime.date(2026, 9, 30), "done": False},
]


@pytest.mark.parametrize("direction", [history.RECEIVED, history.SENT])
@pytest.mark.parametrize("filters", SHAPES, ids=lambda f: "-".join(f) or "unfiltered")
def test_the_page_query_reads_the_rows_page_lines_reads(renoir, direction, filters):
    school, elsewhere = EstablishmentFactory(uai="0750654D"), EstablishmentFactory(uai="0130001F")
    for day in range(1, 31):
        at = datetime.datetime(2026, 9, day, 12 if day % 3 else 0, 0, tzinfo=PARIS)
        received(school, renoir, created_at=at)
        sent(school, renoir, created_at=at)
        RefusedTransferFactory(origin_establishment=renoir, destination_establishment=school, created_at=at)
        RefusedTransferFactory(origin_establishment=school, destination_establishment=renoir, created_at=at)
        received(elsewhere, renoir, created_at=at)  # another school's rows: never on this page
    gone = received(school, renoir, created_at=datetime.datetime(2026, 9, 15, tzinfo=PARIS))
    gone.destination_student.delete()  # "élève supprimé"
    TransferFactory(
        origin_establishment=school,
        destination_establishment=renoir,
        created_at=gone.created_at,
        undone_at=UNDONE_AT,
    )

    selector = history.SELECTORS[direction]
    expected = list(history.page_lines(selector(school, **filters), direction))
    pages = [
        history.page_line_values(school, direction, **filters, offset=offset, limit=7)
        for offset in range(0, len(expected) + 7, 7)
    ]

    assert [line for lines in pages for line in lines] == expected
    assert expected  # every shape above holds rows


def test_the_page_query_is_prepared_once_per_connection_and_again_on_a_new_one(
    require_postgres, transactional_db, client_for, principal, establishment, renoir
):
    # Transactional: a connection closed inside the test's own transaction could not be reopened.
    received(establishment, renoir, created_at=at(10))
    sent(establishment, renoir, created_at=at(11))
    client = client_for(principal)

    def view() -> tuple[int, int, int]:
        """(PREPAREs sent, rows received, rows sent) for one view of the page."""
        with CaptureQueriesContext(connection) as queries:
            response = page(client, establishment)
        prepares = sum("PREPARE" in query["sql"] for query in queries.captured_queries)
        return prepares, len(table(response, "recus")), len(table(response, "partis"))

    first, second = view(), view()
    connection.close()  # as CONN_MAX_AGE or a lost server would: the next request opens a new one
    after_reconnection = view()

    assert first == (2, 1, 1)  # one statement per table
    assert second == (0, 1, 1)
    assert after_reconnection == (2, 1, 1)
