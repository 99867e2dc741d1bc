"""Students who changed school, and the checks that nothing was lost or duplicated."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count

from students.models import PassportEntry, Student
from tests.factories import EstablishmentFactory
from tests.transfers.test_matching import arrived, left, passport
from transfers.models import Transfer


def schools():
    old = EstablishmentFactory(uai="0750654D", transfer_enabled=True, cnil_declaration_number="1929152")
    new = EstablishmentFactory(uai="0920131T", transfer_enabled=True, cnil_declaration_number="2003574")
    return old, new


def students_who_moved(count: int, *, left_at: datetime, arrived_at: datetime, entries: int = 3):
    """``count`` students who left the old school for the new one, each with ``entries`` entries."""
    old, new = schools()
    for n in range(count):
        ine = f"07083{n:04d}JA"
        passport(left(old, left_at, ine=ine), entries)
        arrived(new, arrived_at, ine=ine)
    return old, new


def assert_each_pair_decided_once_with_a_whole_passport(new, *, pairs: int, entries: int = 3) -> None:
    assert Transfer.objects.count() == pairs
    assert (
        not Transfer.objects.values("origin_student", "destination_student")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    ), "a pair decided twice"
    for destination in Student.objects.filter(establishment=new):
        row = Transfer.objects.get(destination_student=destination)
        assert row.done
        copies = PassportEntry.objects.filter(student=destination)
        assert copies.count() == entries == row.entries_copied, destination
        originals = PassportEntry.objects.filter(student=row.origin_student)
        assert {c.source_entry_id for c in copies} == {e.pk for e in originals}
