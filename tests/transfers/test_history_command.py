"""The operator command ``transfer_history UAI [--direction sent|received] [--format csv|json]``."""

from __future__ import annotations

import csv
import datetime
import io
import json
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from ..factories import EstablishmentFactory, StudentFactory
from .factories import RefusedTransferFactory, TransferFactory

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def history(establishment):
    renoir = EstablishmentFactory(uai="0920131T", name="Lycée Auguste-Renoir")
    arrival = StudentFactory(
        establishment=establishment, ine="070832327JA", last_name="Dupont", first_name="Léa"
    )
    TransferFactory(
        origin_establishment=renoir,
        destination_establishment=establishment,
        origin_student__ine="070832327JA",
        destination_student=arrival,
        ine="070832327JA",
        created_at=datetime.datetime(2026, 9, 15, 2, 0, tzinfo=PARIS),
    )
    RefusedTransferFactory(
        origin_establishment=establishment,
        destination_establishment=renoir,
        origin_student__last_name="Martin",
        origin_student__first_name="Hugo",
        ine="0494004062M",
        cause="changement_diplome",
        created_at=datetime.datetime(2026, 9, 16, 2, 0, tzinfo=PARIS),
    )
    TransferFactory(destination_establishment=renoir)  # not this establishment's
    return establishment


def run(*args) -> str:
    out = io.StringIO()
    call_command("transfer_history", *args, stdout=out)
    return out.getvalue()


def test_it_prints_both_directions_as_csv_by_default(history):
    rows = list(csv.DictReader(io.StringIO(run("0750654D"))))

    assert [(row["direction"], row["student"], row["done"]) for row in rows] == [
        ("received", "DUPONT Léa", "True"),
        ("sent", "MARTIN Hugo", "False"),
    ]
    assert rows[0]["date"] == "2026-09-15T02:00:00+02:00"
    assert rows[0]["origin_uai"] == "0920131T" and rows[0]["destination_uai"] == "0750654D"


def test_it_prints_json_objects_with_every_field(history):
    rows = json.loads(run("0750654d", "--format", "json"))

    assert rows[1] == {
        "date": "2026-09-16T02:00:00+02:00",
        "direction": "sent",
        "ine": "0494004062M",
        "student": "MARTIN Hugo",
        "origin_uai": "0750654D",
        "origin_name": "Lycée professionnel Henri-IV",
        "destination_uai": "0920131T",
        "destination_name": "Lycée Auguste-Renoir",
        "kind": "automatique",
        "done": False,
        "cause": "changement_diplome",
        "cause_label": "Changement de diplôme",
        "fiches_copied": 0,
        "evaluations_copied": 0,
        "bilans_copied": 0,
    }
    assert rows[0]["ine"] == "070832327JA" and rows[0]["done"] is True and rows[0]["fiches_copied"] == 3


@pytest.mark.parametrize("direction", ["sent", "received"])
def test_it_prints_one_direction_only_when_asked(history, direction):
    rows = json.loads(run("0750654D", "--direction", direction, "--format", "json"))

    assert [row["direction"] for row in rows] == [direction]


def test_it_prints_an_empty_json_list_for_an_establishment_without_history(establishment):
    assert json.loads(run(establishment.uai, "--format", "json")) == []


def test_an_unknown_uai_is_a_command_error(db):
    with pytest.raises(CommandError, match="no establishment with UAI 0750656F"):
        run("0750656F")
