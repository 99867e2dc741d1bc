"""Every path writes its history row with ``Transfer.for_pair``: the same fields, in the same form."""

from __future__ import annotations

import pytest
from django.utils import timezone

from transfers.manual.services import manual_authorisation_execute
from transfers.models import Kind, Transfer
from transfers.run import run_matching

from ..factories import EstablishmentFactory, StaffFactory
from .manual_factories import arrived_student, authorisation, cfa, left_student, transfer_enabled

pytestmark = pytest.mark.django_db


def test_the_job_and_a_manual_transfer_store_the_student_name_in_the_same_form():
    old, new = transfer_enabled(uai="0750654D"), transfer_enabled(uai="0920135X")
    moved = left_student(old, ine="070832327JA", last_name="Martin", first_name="Inès")
    arrived_student(new, moved)
    run_matching(timezone.now())
    by_hand = left_student(EstablishmentFactory(), ine="123456789AB", last_name="Durand", first_name="Léo")
    cfa()
    manual_authorisation_execute(
        authorisation(by_hand), user=StaffFactory(), now=timezone.now(), create_student=True
    )

    rows = {row.kind: row for row in Transfer.objects.all()}

    assert rows[Kind.AUTOMATIC].done and rows[Kind.MANUAL].done
    assert rows[Kind.AUTOMATIC].student_name == "MARTIN Inès" == moved.display_name
    assert rows[Kind.MANUAL].student_name == "DURAND Léo" == by_hand.display_name
    assert (rows[Kind.AUTOMATIC].ine, rows[Kind.MANUAL].ine) == ("070832327JA", "123456789AB")
