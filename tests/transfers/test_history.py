"""The transfer history page, its CSV export and the selectors behind them."""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from django.core.cache import cache
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from transfers import history
from transfers.charts import month_label

from ..factories import EstablishmentFactory, StudentFactory
from .factories import RefusedTransferFactory, TransferFactory

PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=PARIS)


@pytest.fixture
def renoir(db):
    return EstablishmentFactory(uai="0920131T", name="Lycée Auguste-Renoir")


@pytest.fixture
def vienne(db):
    return EstablishmentFactory(uai="0752387M", name="Lycée professionnel de la Vienne")


def received(establishment, origin, **kwargs):
    return TransferFactory(origin_establishment=origin, destination_establishment=establishment, **kwargs)


def sent(establishment, destination, **kwargs):
    return TransferFactory(
        origin_establishment=establishment, destination_establishment=destination, **kwargs
    )


def page(client, establishment, **params):
    return client.get(reverse("transfer-history", args=[establishment.uai]), params)


def table(response, slug: str) -> list[list[str]]:
    """The cells' text of the "recus" or "partis" table, one list per row."""
    document = lxml.html.fromstring(response.content.decode())
    rows = document.xpath(f'//section[@aria-labelledby="heading-{slug}"]//tbody/tr')
    return [[" ".join(cell.text_content().split()) for cell in row.xpath("./td")] for row in rows]


def csv_export(client, establishment, **params) -> StreamingHttpResponse:
    return client.get(reverse("transfer-history-csv", args=[establishment.uai]), params)


def csv_lines(response) -> list[str]:
    return b"".join(response.streaming_content).decode("utf-8").split("\r\n")


# The empty tables of an unfiltered page say what makes passports move (docs/home.md "Empty lists").
NO_ARRIVAL_YET = (
    "Aucun élève reçu pour l'instant. Le passeport d'un élève arrivé est reçu après l'import SIECLE qui "
    "l'enregistre, lorsque son ancien établissement et le vôtre ont activé le transfert (Paramètres › "
    "Transferts)."
)
NO_DEPARTURE_YET = (
    "Aucun élève parti pour l'instant. Le passeport d'un élève est envoyé après l'import SIECLE qui "
    "enregistre son départ, lorsque son nouvel établissement a aussi activé le transfert ; sinon, voyez la "
    "liste des élèves transférables (Paramètres › Transferts)."
)


# --- the page -----------------------------------------------------------------------------------


def test_the_received_table_shows_date_student_school_of_origin_and_outcome(
    client_for, principal, establishment, renoir
):
    student = StudentFactory(establishment=establishment, last_name="Dupont", first_name="Léa")
    received(establishment, renoir, destination_student=student, created_at=paris(2026, 9, 15, 2, 0))

    response = page(client_for(principal), establishment)

    assert response.status_code == 200
    assert table(response, "recus") == [
        ["15/09/2026", "DUPONT Léa", "0920131T — Lycée Auguste-Renoir", "oui", "—", "automatique"]
    ]
    assert table(response, "partis") == [[NO_DEPARTURE_YET]]


def test_the_sent_table_shows_the_destination_and_the_french_cause_of_a_refusal(
    client_for, admin_user, establishment, renoir
):
    student = StudentFactory(
        establishment=establishment,
        last_name="Martin",
        first_name="Hugo",
        is_active=False,
        deactivated_at=timezone.now(),
    )
    RefusedTransferFactory(
        origin_establishment=establishment,
        destination_establishment=renoir,
        origin_student=student,
        cause="identite_differente",
        created_at=paris(2026, 9, 16, 2, 0),
    )

    response = page(client_for(admin_user), establishment)

    assert table(response, "partis") == [
        [
            "16/09/2026",
            "MARTIN Hugo",
            "0920131T — Lycée Auguste-Renoir",
            "non",
            "Identité différente",
            "automatique",
            "Signaler une erreur pour MARTIN Hugo",
        ]
    ]
    assert table(response, "recus") == [[NO_ARRIVAL_YET]]


def test_each_side_shows_its_own_student_record(client_for, principal, establishment, renoir):
    origin = StudentFactory(establishment=renoir, last_name="Ancien", first_name="Nom", ine="070832327JA")
    arrival = StudentFactory(
        establishment=establishment, last_name="Nouveau", first_name="Nom", ine="070832327JA"
    )
    received(establishment, renoir, origin_student=origin, destination_student=arrival)

    response = page(client_for(principal), establishment)

    assert table(response, "recus")[0][1] == "NOUVEAU Nom"
    assert "ANCIEN" not in response.content.decode()


def test_a_deleted_student_record_shows_the_name_kept_on_the_row_or_eleve_supprime(
    client_for, principal, establishment, renoir
):
    received(
        establishment,
        renoir,
        destination_student=None,
        student_name="GARNIER Zoé",
        created_at=paris(2026, 9, 2),
    )
    received(establishment, renoir, destination_student=None, student_name="", created_at=paris(2026, 9, 1))

    rows = table(page(client_for(principal), establishment), "recus")

    assert [row[1] for row in rows] == ["GARNIER Zoé", "élève supprimé"]


def test_rows_between_two_other_establishments_never_appear(
    client_for, principal, establishment, other_establishment, renoir
):
    TransferFactory(
        origin_establishment=other_establishment,
        destination_establishment=renoir,
        destination_student__last_name="Etranger",
    )
    TransferFactory(origin_establishment=renoir, destination_establishment=other_establishment)

    response = page(client_for(principal), establishment)
    export = b"".join(csv_export(client_for(principal), establishment).streaming_content).decode()

    assert table(response, "recus") == [[NO_ARRIVAL_YET]]
    assert table(response, "partis") == [[NO_DEPARTURE_YET]]
    assert "0750655E" not in response.content.decode()
    assert "ETRANGER" not in export and "0920131T" not in export


def test_the_period_filter_includes_both_days_in_paris_time(client_for, principal, establishment, renoir):
    for moment, name in [
        (paris(2026, 2, 28, 23, 59), "Avant"),
        (paris(2026, 3, 1, 0, 0), "Premier"),  # 23:00 UTC the day before
        (paris(2026, 3, 31, 23, 59), "Dernier"),
        (paris(2026, 4, 1, 0, 0), "Apres"),
    ]:
        received(establishment, renoir, created_at=moment, destination_student__last_name=name)

    rows = table(page(client_for(principal), establishment, du="2026-03-01", au="2026-03-31"), "recus")

    assert [row[1].split()[0] for row in rows] == ["DERNIER", "PREMIER"]
    assert [row[0] for row in rows] == ["31/03/2026", "01/03/2026"]


@pytest.mark.parametrize("effectue,expected", [("oui", ["oui"]), ("non", ["non"]), ("tous", ["oui", "non"])])
def test_the_done_filter_keeps_the_chosen_outcome(
    effectue, expected, client_for, principal, establishment, renoir
):
    received(establishment, renoir, created_at=paris(2026, 9, 2))
    RefusedTransferFactory(
        origin_establishment=renoir, destination_establishment=establishment, created_at=paris(2026, 9, 1)
    )

    rows = table(page(client_for(principal), establishment, effectue=effectue), "recus")

    assert [row[3] for row in rows] == expected


def test_a_period_that_ends_before_it_starts_is_explained(client_for, principal, establishment):
    response = page(client_for(principal), establishment, du="2026-04-01", au="2026-03-01")

    assert response.status_code == 200
    assert "La date de début doit précéder la date de fin." in response.content.decode()


def test_each_table_is_paginated_by_25_rows_on_its_own(client_for, principal, establishment, renoir):
    for day in range(1, 31):
        received(establishment, renoir, created_at=paris(2026, 9, day))
    for day in range(1, 4):
        sent(establishment, renoir, created_at=paris(2026, 8, day))

    first = page(client_for(principal), establishment, effectue="oui")
    second = page(client_for(principal), establishment, effectue="oui", page_recus=2)

    assert len(table(first, "recus")) == 25
    assert [row[0] for row in table(second, "recus")] == [f"0{day}/09/2026" for day in range(5, 0, -1)]
    assert len(table(second, "partis")) == 3
    links = lxml.html.fromstring(first.content.decode()).xpath('//nav[@class="pagination"]//a/@href')
    assert links == ["?effectue=oui&page_recus=2"]


def test_the_page_makes_as_many_queries_for_40_rows_as_for_3(client_for, principal, establishment, renoir):
    client = client_for(principal)

    def create(count):
        for _ in range(count):
            received(establishment, renoir)
            RefusedTransferFactory(origin_establishment=establishment, destination_establishment=renoir)
            received(establishment, renoir, destination_student=None)

    create(1)
    with CaptureQueriesContext(connection) as few:
        assert page(client, establishment).status_code == 200
    create(13)
    cache.clear()  # the monthly counts are cached (test_history_cache.py): count their queries too
    with CaptureQueriesContext(connection) as many:
        response = page(client, establishment)

    assert len(table(response, "recus")) == 25
    assert len(many) == len(few)
    assert len(many) <= 12


def test_the_page_never_puts_a_name_or_an_ine_in_a_link(client_for, principal, establishment, renoir):
    transfer = received(establishment, renoir, destination_student__last_name="Lefebvre")

    response = page(client_for(principal), establishment, du="2020-01-01")
    hrefs = lxml.html.fromstring(response.content.decode()).xpath("//a/@href")

    assert "LEFEBVRE" in response.content.decode()
    assert hrefs and not any("Lefebvre".lower() in href.lower() or transfer.ine in href for href in hrefs)


def test_the_filter_form_shows_the_dates_typed_and_is_empty_again_without_filters(
    client_for, principal, establishment
):
    client = client_for(principal)
    fields = ("du", "au", "effectue")

    def values(response) -> dict[str, str]:
        document = lxml.html.fromstring(response.content.decode())
        return {
            name: document.xpath(f'//form[@role="search"]//*[@name="{name}"]')[0].value or ""
            for name in fields
        }

    empty = values(page(client, establishment))
    filtered = values(page(client, establishment, du="2026-03-01", au="2026-03-31", effectue="non"))
    empty_again = values(page(client, establishment))

    assert empty == empty_again == {"du": "", "au": "", "effectue": "tous"}
    assert filtered == {"du": "2026-03-01", "au": "2026-03-31", "effectue": "non"}


# --- the chart ----------------------------------------------------------------------------------


def test_the_chart_is_inline_svg_with_the_done_transfers_of_the_month_and_no_script(
    client_for, principal, establishment, renoir
):
    now = timezone.now()
    received(establishment, renoir, created_at=now)
    received(establishment, renoir, created_at=now)
    RefusedTransferFactory(
        origin_establishment=renoir, destination_establishment=establishment, created_at=now
    )
    sent(establishment, renoir, created_at=now)

    content = page(client_for(principal), establishment).content.decode()
    svg = lxml.html.fromstring(content).xpath("//svg")[0]

    this_month = month_label(timezone.localtime(now, PARIS).date())
    assert f"{this_month} : 2 élèves reçus, 1 élève parti" in svg.xpath("./desc")[0].text
    assert svg.xpath("./title")[0].text.startswith("Transferts effectués par mois")
    assert f"{this_month} : 2 élèves reçus" in svg.xpath(".//rect/title/text()")
    assert re.search(r"<script(?![^>]*\bsrc=)", content) is None  # no inline script (CSP)


def test_monthly_counts_group_done_transfers_by_paris_month_over_twelve_months(establishment, renoir):
    now = paris(2026, 3, 10, 12, 0)
    received(establishment, renoir, created_at=paris(2026, 3, 1, 0, 30))  # 28 February in UTC
    received(establishment, renoir, created_at=paris(2026, 2, 28, 23, 30))
    sent(establishment, renoir, created_at=paris(2025, 4, 1, 0, 0))
    sent(establishment, renoir, created_at=paris(2025, 3, 31, 23, 0))  # thirteen months back
    RefusedTransferFactory(
        origin_establishment=establishment, destination_establishment=renoir, created_at=paris(2026, 3, 2)
    )
    TransferFactory(created_at=paris(2026, 3, 2))  # between two other schools

    counts = history.monthly_counts(establishment, now=now)

    assert len(counts) == 12
    assert counts[0] == (datetime.date(2025, 4, 1), 1, 0)
    assert counts[-2] == (datetime.date(2026, 2, 1), 0, 1)
    assert counts[-1] == (datetime.date(2026, 3, 1), 0, 1)
    assert sum(c.sent + c.received for c in counts) == 3


def test_monthly_counts_take_two_queries(establishment, renoir, django_assert_num_queries):
    for month in range(1, 13):
        received(establishment, renoir, created_at=paris(2026, month, 5))
        sent(establishment, renoir, created_at=paris(2026, month, 6))

    with django_assert_num_queries(2):
        counts = history.monthly_counts(establishment, now=paris(2026, 12, 31))

    assert [(c.sent, c.received) for c in counts] == [(1, 1)] * 12


# --- the CSV export -----------------------------------------------------------------------------


def test_the_csv_export_opens_in_a_french_spreadsheet(client_for, principal, establishment, renoir):
    student = StudentFactory(establishment=establishment, last_name="Dupont", first_name="Léa")
    received(establishment, renoir, destination_student=student, created_at=paris(2026, 9, 15, 0, 30))

    response = csv_export(client_for(principal), establishment, direction="recus")
    content = b"".join(response.streaming_content)

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="transferts-recus-0750654D-')
    assert content.startswith("\ufeff".encode())
    lines = content.decode("utf-8-sig").split("\r\n")
    assert lines[0] == (
        "Date;Élève;UAI de provenance;Établissement de provenance;Transfert effectué;Motif;Type;"
        "Fiches copiées;Évaluations copiées;Bilans copiés"
    )
    assert lines[1] == "15/09/2026;DUPONT Léa;0920131T;Lycée Auguste-Renoir;oui;—;Automatique;3;2;1"
    assert lines[2:] == [""]


def test_the_csv_export_turns_formulas_into_text(client_for, principal, establishment):
    evil = EstablishmentFactory(uai="0750001U", name="@SUM(A1:A9)")
    received(
        establishment,
        evil,
        destination_student__last_name="=HYPERLINK(1)",
        destination_student__first_name="x",
    )
    received(establishment, evil, destination_student__last_name="-2+3", destination_student__first_name="y")

    lines = csv_lines(csv_export(client_for(principal), establishment, direction="recus"))

    assert sorted(line.split(";")[1] for line in lines[1:3]) == ["'-2+3 y", "'=HYPERLINK(1) x"]
    assert {line.split(";")[3] for line in lines[1:3]} == {"'@SUM(A1:A9)"}


def test_the_csv_export_of_sent_students_applies_the_filters(
    client_for, admin_user, establishment, renoir, vienne
):
    sent(establishment, renoir, created_at=paris(2026, 5, 10))
    RefusedTransferFactory(
        origin_establishment=establishment, destination_establishment=vienne, created_at=paris(2026, 5, 11)
    )
    RefusedTransferFactory(
        origin_establishment=establishment, destination_establishment=vienne, created_at=paris(2026, 6, 1)
    )
    received(establishment, vienne, created_at=paris(2026, 5, 12))

    lines = csv_lines(
        csv_export(
            client_for(admin_user),
            establishment,
            direction="partis",
            effectue="non",
            du="2026-05-01",
            au="2026-05-31",
        )
    )

    assert lines[0].split(";")[2:4] == ["UAI de destination", "Établissement de destination"]
    assert len(lines) == 3 and lines[2] == ""
    assert lines[1].split(";")[0] == "11/05/2026"
    assert lines[1].split(";")[2:6] == [
        "0752387M",
        "Lycée professionnel de la Vienne",
        "non",
        "Changement de diplôme",
    ]


def test_the_csv_export_refuses_an_unknown_direction_or_date(client_for, principal, establishment):
    client = client_for(principal)

    assert csv_export(client, establishment, direction="tous").status_code == 400
    assert csv_export(client, establishment, direction="recus", du="hier").status_code == 400


def test_the_csv_export_reads_rows_in_chunks_whatever_their_number(
    client_for, principal, establishment, renoir
):
    client = client_for(principal)

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            lines = csv_lines(csv_export(client, establishment, direction="recus"))
        return len(lines), len(queries)

    received(establishment, renoir, destination_student=None)
    few_lines, few_queries = count_queries()
    for _ in range(39):
        received(establishment, renoir)
    many_lines, many_queries = count_queries()

    assert (few_lines, many_lines) == (3, 42)
    assert many_queries == few_queries
