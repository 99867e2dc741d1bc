"""``generate_siecle UAI COUNT``: write a synthetic SIECLE export (for demos, tests and benchmarks)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from establishments.validators import is_valid_uai, normalize_uai
from students.synthetic import make_students, render_export, render_nomenclature, zip_export


class Command(BaseCommand):
    help = "Write a synthetic SIECLE export (ElevesSansAdresses, ISO-8859-15) of COUNT students."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("uai", help="UAI of the establishment, written in PARAMETRES/UAJ")
        parser.add_argument("count", type=int, help="number of students")
        parser.add_argument("--seed", type=int, default=1, help="same seed, same file (default 1)")
        parser.add_argument("--output", help="file to write (default: standard output)")
        parser.add_argument("--zip", action="store_true", help="wrap the XML in a ZIP, as SIECLE does")
        parser.add_argument("--school-year", type=int, default=2025, help="e.g. 2025 for 2025-2026")
        parser.add_argument("--nomenclature", help="also write the matching Nomenclature.xml to this file")
        parser.add_argument("--with-addresses", action="store_true", help="ElevesAvecAdresses layout")
        parser.add_argument(
            "--id-offset", type=int, default=0, help="first student serial (distinct INEs across files)"
        )

    def handle(self, *args, uai: str, count: int, seed: int, school_year: int, **options) -> None:
        uai = normalize_uai(uai)
        if not is_valid_uai(uai):
            raise CommandError(f"invalid UAI {uai!r}: expected 7 digits and a check letter")
        if count < 0:
            raise CommandError(f"COUNT must be zero or more, got {count}")
        if options["id_offset"] < 0:
            raise CommandError("--id-offset must be zero or more")
        students = make_students(count, seed, school_year=school_year, id_offset=options["id_offset"])
        xml = render_export(uai, students, school_year=school_year, with_addresses=options["with_addresses"])
        member = "ElevesAvecAdresses.xml" if options["with_addresses"] else "ElevesSansAdresses.xml"
        self._write(zip_export(xml, member) if options["zip"] else xml, options["output"])
        if options["nomenclature"]:
            codes = {student.mef_code for student in students}
            self._write(render_nomenclature(codes, uai=uai, school_year=school_year), options["nomenclature"])

    def _write(self, data: bytes, output: str | None) -> None:
        if output:
            try:
                Path(output).write_bytes(data)
            except OSError as error:
                raise CommandError(f"cannot write {output}: {error.strerror or error}") from None
            return
        # The export is bytes (ISO-8859-15, or a ZIP): write them to the binary stream under stdout.
        stream = getattr(self.stdout, "_out", self.stdout)
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            raise CommandError("standard output is not binary: use --output FILE")
        buffer.write(data)
        buffer.flush()
