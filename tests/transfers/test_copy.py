"""copy_passports: each entry reaches a passport at most once, whatever path it took (docs/transfers.md §6).

The same cases run on both of the copy's code paths: one statement (PostgreSQL, one transfer per
destination) and three statements (SQLite, or two transfers sharing a destination).
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from students.models import PassportEntry
from tests.factories import EstablishmentFactory, PassportEntryFactory, StudentFactory
from transfers.copy import copy_passports

from .factories import TransferFactory

pytestmark = pytest.mark.django_db


def _titles(student) -> list[str]:
    return sorted(PassportEntry.objects.filter(student=student).values_list("title", flat=True))


def _copy(*transfers) -> None:
    copy_passports(list(transfers), now=timezone.now())


def test_an_entry_already_in_the_destination_as_a_copy_or_as_itself_is_not_copied_again():
    a, b, c = EstablishmentFactory(), EstablishmentFactory(), EstablishmentFactory()
    first = TransferFactory(origin_establishment=a, destination_establishment=b)
    original = PassportEntryFactory(student=first.origin_student, title="written at A")
    _copy(first)
    copy_at_b = PassportEntry.objects.get(student=first.destination_student)
    PassportEntryFactory(student=first.destination_student, title="written at B")
    # The student goes back to A: the original is there already, only B's own entry travels.
    back = TransferFactory(
        origin_establishment=b,
        origin_student=first.destination_student,
        destination_establishment=a,
        destination_student=first.origin_student,
    )
    # The student's record at C already holds a copy of A's entry, copied straight from A.
    at_c = StudentFactory(establishment=c, ine=first.origin_student.ine)
    _copy(TransferFactory(origin_student=first.origin_student, destination_student=at_c))
    onward = TransferFactory(
        origin_establishment=b,
        origin_student=first.destination_student,
        destination_establishment=c,
        destination_student=at_c,
    )

    _copy(back, onward)

    assert _titles(first.origin_student) == ["written at A", "written at B"]
    assert _titles(at_c) == ["written at A", "written at B"]
    assert back.fiches_copied == 1 and onward.fiches_copied == 1
    assert copy_at_b.original_entry_id == original.pk
    assert PassportEntry.objects.get(student=at_c, title="written at B").original_entry_id is not None


def test_copying_the_same_transfer_twice_copies_nothing_the_second_time():
    transfer = TransferFactory()
    PassportEntryFactory.create_batch(3, student=transfer.origin_student)
    PassportEntryFactory(student=transfer.destination_student, title="written at the new school")

    _copy(transfer)
    _copy(transfer)

    assert len(_titles(transfer.destination_student)) == 4


def test_two_transfers_into_one_destination_copy_each_origin_once():
    destination = StudentFactory()
    transfers = [TransferFactory(destination_student=destination) for _ in range(2)]
    for transfer, title in zip(transfers, ["from the first school", "from the second school"], strict=True):
        PassportEntryFactory(student=transfer.origin_student, title=title)

    _copy(*transfers)
    _copy(*transfers)

    assert _titles(destination) == ["from the first school", "from the second school"]
