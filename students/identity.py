"""Who is who when a SIECLE file meets the records already stored: the identity rules.

The rules are written in ``docs/identity.md``; this module is the only place that applies them.
``match_rows`` pairs each row of a file with the existing record of the same student, or with none
(a new student), and says which identity corrections that implies. It never guesses: a row is the
same student as a record only when

1. its INE matches, and the last name or the birth date still agrees (a correction of the other is
   listed); when both disagree, the INE would be moved onto another child's records, so the file is
   refused (:class:`IdentityConflict`);
2. or, when the record or the row has no INE, its SIECLE id matches *and* both the last name and the
   birth date agree. A SIECLE id that now names somebody else (another INE, another identity) is a
   different person: the old record is handled as absent from the file and loses the SIECLE id, the
   row becomes a new student.

The functions work on plain tuples (:data:`CurrentStudent`) so that a school of thousands of
students is matched in a few milliseconds, with no query.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from .siecle import SiecleFileError, SiecleStudent

# Student fields a SIECLE file sets; compared to decide whether a student changed. Each is a
# SiecleStudent attribute of the same name (students/siecle.py, ELEVE_FIELDS) or derived from one.
# The identity: a value missing from the file keeps the stored one (kept_identity).
IDENTITY_FIELDS = ("ine", "last_name", "first_name", "birth_date")
# Copied from the row as they are.
COPIED_FIELDS = ("siecle_id", "class_code", "mef_code", "previous_uai", "entered_on")
# Derived from the MEF code: its label (Nomenclature) and its diploma (students/mef.py).
MEF_FIELDS = ("mef_label", "diploma_level", "diploma_specialite")
SYNCED_FIELDS = (*IDENTITY_FIELDS, *COPIED_FIELDS, *MEF_FIELDS)


class CurrentStudent(NamedTuple):
    """What the import reads of a current student: a plain tuple, not a model instance (its fields
    are ``pk``, ``is_active`` and SYNCED_FIELDS, in that order: checked below)."""

    pk: int
    is_active: bool
    ine: str
    last_name: str
    first_name: str
    birth_date: date | None
    siecle_id: str
    class_code: str
    mef_code: str
    previous_uai: str
    entered_on: date | None
    mef_label: str
    diploma_level: str
    diploma_specialite: str


assert CurrentStudent._fields == ("pk", "is_active", *SYNCED_FIELDS)

INE_LENGTH = 11
# Listed in messages: a handful of students, then a count.
MAX_LISTED = 10


# ASCII characters that are not letters or digits, for comparable_name's fast path.
_ASCII_NOT_ALNUM = {code: None for code in range(128) if not chr(code).isalnum()}


def comparable_name(name: str | None) -> str:
    """A last name as the identity check compares it: no accents, case, spaces or hyphens."""
    if not name:
        return ""
    if name.isascii():
        # NFKD leaves ASCII as it is: only the non-alphanumerics go (one C call, per student).
        return name.translate(_ASCII_NOT_ALNUM).casefold()
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if c.isalnum()).casefold()


def stored_ine(row: SiecleStudent) -> str:
    """The INE the import stores for a row: one that is not 11 characters identifies nobody."""
    return row.ine if len(row.ine) == INE_LENGTH else ""


def same_last_name(a: str | None, b: str | None) -> bool:
    """Equal last names; an empty name never agrees with anything (no identity, no match)."""
    left = comparable_name(a)
    # The usual case, a name unchanged since the last import, normalised once rather than twice.
    return bool(left) and (a == b or left == comparable_name(b))


def kept_identity(row: SiecleStudent, current: CurrentStudent | None) -> tuple[str, str, str, date | None]:
    """The identity a matched record keeps (IDENTITY_FIELDS, in order): a field missing from the
    file keeps its stored value.

    Reduced exports (no ``ID_NATIONAL``, no ``DATE_NAISS``) must not erase what identifies a
    student, or every transfer of the school would stop silently. A plain tuple: it runs once per
    student of every import.
    """
    if current is None:
        return (stored_ine(row), row.last_name, row.first_name, row.birth_date)
    return (
        stored_ine(row) or current.ine,
        row.last_name or current.last_name,
        row.first_name or current.first_name,
        row.birth_date or current.birth_date,
    )


def same_birth_date(a: date | None, b: date | None) -> bool:
    return a is not None and a == b


@dataclass(frozen=True)
class IdentityChange:
    """One identity field of a record changed by the file, old → new (shown and recorded)."""

    student_id: int
    siecle_id: str
    name: str  # the student's name in the file, to list the change
    field: str  # "ine", "last_name" or "birth_date"
    old: str
    new: str

    def as_json(self) -> dict[str, str | int]:
        return {
            "student_id": self.student_id,
            "siecle_id": self.siecle_id,
            "name": self.name,
            "field": self.field,
            "old": self.old,
            "new": self.new,
        }


@dataclass(frozen=True)
class ReassignedSiecleId:
    """A SIECLE id of a record that now names another person in the file (rule 1)."""

    siecle_id: str
    old_student_id: int
    old_name: str
    new_name: str

    def as_json(self) -> dict[str, str | int]:
        return {
            "siecle_id": self.siecle_id,
            "old_student_id": self.old_student_id,
            "old_name": self.old_name,
            "new_name": self.new_name,
        }


@dataclass
class Matching:
    """What the rules decided for a file: matched pairs, new rows, records absent from the file."""

    matches: list[tuple[SiecleStudent, CurrentStudent]] = field(default_factory=list)
    new_rows: list[SiecleStudent] = field(default_factory=list)
    absent: list[CurrentStudent] = field(default_factory=list)
    corrections: list[IdentityChange] = field(default_factory=list)
    reassigned: list[ReassignedSiecleId] = field(default_factory=list)
    # Records whose SIECLE id is cleared before anything else is written, so that ids can move
    # between records (or to a new student) without tripping the one-id-per-establishment constraint.
    released_siecle_ids: list[int] = field(default_factory=list)


class IdentityConflict(SiecleFileError):
    """A row carries the INE of a stored student whose last name and birth date both differ."""


def _name(last_name: str, first_name: str) -> str:
    return f"{(last_name or '').upper()} {first_name or ''}".strip()


def _display_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def match_rows(rows: list[SiecleStudent], students: list[CurrentStudent]) -> Matching:
    """Apply the identity rules of ``docs/identity.md`` to a whole file at once."""
    if not students:
        # An establishment's first import: nothing to match, correct or release, every row is new.
        return Matching(new_rows=list(rows))
    matching = Matching()
    by_ine = {s.ine: s for s in students if s.ine}
    claimed: dict[int, SiecleStudent] = {}
    conflicts: list[tuple[SiecleStudent, CurrentStudent]] = []
    # Pass 1: the INE, the national identifier, wins over the establishment's SIECLE id.
    unmatched: list[SiecleStudent] = []
    for row in rows:
        record = by_ine.get(stored_ine(row)) if stored_ine(row) else None
        if record is None:
            unmatched.append(row)
        elif _agrees_in_part(row, record):
            claimed[record.pk] = row
            matching.corrections += _identity_corrections(row, record)
        else:
            conflicts.append((row, record))
    if conflicts:
        raise _conflict_error(conflicts)
    # Pass 2: the SIECLE id, only when an INE is missing on one side and the identity agrees.
    by_siecle_id = {s.siecle_id: s for s in students if s.siecle_id}
    for row in unmatched:
        record = by_siecle_id.get(row.siecle_id)
        if record is not None and record.pk not in claimed and _same_by_siecle_id(row, record):
            claimed[record.pk] = row
            matching.corrections += _identity_corrections(row, record)
            continue
        matching.new_rows.append(row)
        if record is not None and record.pk not in claimed:
            matching.reassigned.append(_reassigned(row, record))
    matching.matches = [(matched, record) for record in students if (matched := claimed.get(record.pk))]
    matching.absent = [s for s in students if s.pk not in claimed]
    matching.released_siecle_ids = _released_siecle_ids(rows, students, claimed)
    return matching


def _agrees_in_part(row: SiecleStudent, record: CurrentStudent) -> bool:
    """Same INE: the same student unless the last name and the birth date both changed."""
    return same_last_name(row.last_name, record.last_name) or same_birth_date(
        row.birth_date, record.birth_date
    )


def _same_by_siecle_id(row: SiecleStudent, record: CurrentStudent) -> bool:
    one_side_without_ine = not record.ine or not stored_ine(row)
    return (
        one_side_without_ine
        and same_last_name(row.last_name, record.last_name)
        and same_birth_date(row.birth_date, record.birth_date)
    )


def _identity_corrections(row: SiecleStudent, record: CurrentStudent) -> list[IdentityChange]:
    new_ine = bool(stored_ine(row)) and not record.ine
    # A value missing from the file never erases the stored one (see ``kept_identity``).
    new_last_name = bool(row.last_name) and not same_last_name(row.last_name, record.last_name)
    new_birth_date = row.birth_date is not None and row.birth_date != record.birth_date
    if not (new_ine or new_last_name or new_birth_date):
        return []  # the usual case: nothing to list, no name to format
    name = _name(row.last_name, row.first_name)
    changes = []
    if new_ine:
        changes.append(IdentityChange(record.pk, row.siecle_id, name, "ine", "", stored_ine(row)))
    if new_last_name:
        changes.append(
            IdentityChange(record.pk, row.siecle_id, name, "last_name", record.last_name, row.last_name)
        )
    if new_birth_date:
        old, new = _display_date(record.birth_date), _display_date(row.birth_date)
        changes.append(IdentityChange(record.pk, row.siecle_id, name, "birth_date", old, new))
    return changes


def _reassigned(row: SiecleStudent, record: CurrentStudent) -> ReassignedSiecleId:
    return ReassignedSiecleId(
        siecle_id=row.siecle_id,
        old_student_id=record.pk,
        old_name=_name(record.last_name, record.first_name),
        new_name=_name(row.last_name, row.first_name),
    )


def _released_siecle_ids(
    rows: list[SiecleStudent], students: list[CurrentStudent], claimed: dict[int, SiecleStudent]
) -> list[int]:
    """Records holding a SIECLE id of the file that is not theirs any more."""
    file_ids = {row.siecle_id for row in rows}
    released = []
    for record in students:
        row = claimed.get(record.pk)
        if (
            record.siecle_id
            and record.siecle_id in file_ids
            and (row is None or row.siecle_id != record.siecle_id)
        ):
            released.append(record.pk)
    return released


def _conflict_line(row: SiecleStudent, record: CurrentStudent) -> str:
    return (
        f"élève n° {row.siecle_id} ({_name(row.last_name, row.first_name)}, né(e) le "
        f"{_display_date(row.birth_date) or '?'}) : son INE est celui de "
        f"{_name(record.last_name, record.first_name)}, né(e) le {_display_date(record.birth_date) or '?'}"
    )


def _conflict_error(conflicts: list[tuple[SiecleStudent, CurrentStudent]]) -> IdentityConflict:
    listed = "; ".join(_conflict_line(row, record) for row, record in conflicts[:MAX_LISTED])
    more = f" (et {len(conflicts) - MAX_LISTED} autres)" if len(conflicts) > MAX_LISTED else ""
    return IdentityConflict(
        "Import refusé pour protéger les dossiers des élèves : les élèves suivants du fichier "
        "portent l'INE d'un élève déjà enregistré dont le nom et la date de naissance sont tous deux "
        f"différents — {listed}{more}. Appliquer ce fichier donnerait le passeport "
        "d'un élève à un autre. Vérifiez les INE (ID_NATIONAL) dans SIECLE (un échange d'INE entre deux "
        "élèves en est la cause habituelle), puis refaites l'export ; si le fichier est juste, "
        "contactez l'assistance technique.",
        f"refused: {len(conflicts)} row(s) carry the INE of a stored student whose last name and birth date "
        f"both differ (SIECLE ids {', '.join(row.siecle_id for row, _ in conflicts[:MAX_LISTED])}); "
        "an import never moves an INE onto another child's records",
    )
