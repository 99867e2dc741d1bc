"""Every passport entry kind is copied, counted and exported: COPIED_COUNTERS is the one declaration.

A new ``EntryKind`` without its counter column fails here, on both copy paths, before it would
count as zero on PostgreSQL or raise on SQLite.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from students.models import EntryKind, PassportEntry
from transfers import copy
from transfers.history import RECEIVED, csv_rows, transfers_received
from transfers.models import COPIED_COUNTERS, Transfer

from ..factories import PassportEntryFactory
from .factories import TransferFactory

pytestmark = pytest.mark.django_db

# The PostgreSQL path (one statement with a FILTER per kind), and the other one (SQLite, or
# PostgreSQL when two transfers share a destination).
PATHS = {
    "one statement": copy._copy_and_count_in_one_statement,
    "copy then count": copy._copy_then_count,
}


def test_every_entry_kind_has_a_counter_column():
    assert set(COPIED_COUNTERS) == set(EntryKind)
    assert all(Transfer._meta.get_field(column) for column in COPIED_COUNTERS.values())


def _transfer_with_one_entry_per_kind() -> Transfer:
    transfer = TransferFactory(**dict.fromkeys(COPIED_COUNTERS.values(), 0))
    for count, kind in enumerate(EntryKind, start=1):
        PassportEntryFactory.create_batch(count, student=transfer.origin_student, kind=kind)
    return transfer


@pytest.mark.parametrize("path", PATHS)
def test_each_entry_kind_is_copied_and_counted(path):
    if path == "one statement" and connection.vendor != "postgresql":
        pytest.skip("the one-statement copy runs on PostgreSQL only")
    transfer = _transfer_with_one_entry_per_kind()

    PATHS[path]([transfer], timezone.now())

    transfer.refresh_from_db()
    copied = PassportEntry.objects.filter(student=transfer.destination_student)
    for count, kind in enumerate(EntryKind, start=1):
        assert copied.filter(kind=kind).count() == count, kind
        assert getattr(transfer, COPIED_COUNTERS[kind]) == count, kind
    assert transfer.entries_copied == sum(range(1, len(EntryKind) + 1))


def test_each_entry_kind_has_its_column_in_the_csv_export():
    transfer = _transfer_with_one_entry_per_kind()
    copy.copy_passports([transfer], now=timezone.now())

    header, row = list(csv_rows(transfers_received(transfer.destination_establishment), RECEIVED))

    for count, kind in enumerate(EntryKind, start=1):
        label = str(Transfer._meta.get_field(COPIED_COUNTERS[kind]).verbose_name)
        assert row[header.index(label[0].upper() + label[1:])] == str(count), kind
