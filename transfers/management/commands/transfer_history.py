"""``transfer_history UAI [--direction sent|received] [--format csv|json]``: an establishment's rows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.core.management.base import CommandError
from django.utils import timezone

from cerisepro.commands import OperatorCommand
from establishments.models import Establishment
from establishments.validators import normalize_uai
from transfers import history
from transfers.models import COPIED_COUNTERS

FIELDS = (
    "date",
    "direction",
    "ine",
    "student",
    "origin_uai",
    "origin_name",
    "destination_uai",
    "destination_name",
    "kind",
    "done",
    "cause",
    "cause_label",
    *COPIED_COUNTERS.values(),
)


def _record(row: history.HistoryRow) -> dict:
    transfer = row.transfer
    return {
        "date": timezone.localtime(transfer.created_at, history.PARIS).isoformat(),
        "direction": row.direction,
        "ine": transfer.ine,
        "student": row.student,
        "origin_uai": transfer.origin_establishment.uai,
        "origin_name": transfer.origin_establishment.name,
        "destination_uai": transfer.destination_establishment.uai,
        "destination_name": transfer.destination_establishment.name,
        "kind": transfer.kind,
        "done": transfer.done,
        "cause": transfer.cause,
        "cause_label": str(transfer.get_cause_display()) if transfer.cause else "",
        **{column: getattr(transfer, column) for column in COPIED_COUNTERS.values()},
    }


class Command(OperatorCommand):
    help = "Print an establishment's transfer history rows (received first, then sent; newest first)."

    def add_arguments(self, parser):
        parser.add_argument("uai", help="the establishment's UAI, e.g. 0750654D")
        parser.add_argument("--direction", choices=(history.SENT, history.RECEIVED), help="default: both")
        parser.add_argument("--format", choices=("csv", "json"), default="csv", dest="output_format")

    def handle(self, *args, uai: str, direction: str | None, output_format: str, **options) -> None:
        establishment = Establishment.objects.filter(uai=normalize_uai(uai)).first()
        if establishment is None:
            raise CommandError(f"no establishment with UAI {uai}")
        records = self._records(establishment, direction)
        if output_format == "json":
            self._write_json(records)
        else:
            self._write_csv(records)

    def _records(self, establishment: Establishment, direction: str | None) -> Iterator[dict]:
        for side, selector in history.SELECTORS.items():
            if direction in (None, side):
                transfers = selector(establishment).iterator(chunk_size=history.CSV_CHUNK_SIZE)
                yield from map(_record, history.history_rows(transfers, side))

    def _write_json(self, records: Iterator[dict]) -> None:
        # Streamed one object per line, so memory stays flat on a large history.
        separator = "["
        for record in records:
            self.stdout.write(separator + json.dumps(record, ensure_ascii=False), ending="")
            separator = ",\n "
        self.stdout.write("[]" if separator == "[" else "]")

    def _write_csv(self, records: Iterator[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            record["student"] = history.neutralise_formula(record["student"])
            record["origin_name"] = history.neutralise_formula(record["origin_name"])
            record["destination_name"] = history.neutralise_formula(record["destination_name"])
            writer.writerow(record)
            self.stdout.write(buffer.getvalue(), ending="")
            buffer.seek(0)
            buffer.truncate()
        self.stdout.write(buffer.getvalue(), ending="")
