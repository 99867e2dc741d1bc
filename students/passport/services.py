"""Business rules of the passport: writing entries and reading a student's passport.

An entry belongs to the establishment that produced it. A transfer copies entries into the
passport of the student at the new establishment with their provenance (``source_entry``,
``produced_uai``, ``produced_by``); such copies are read-only here, because changing them would
falsify another school's record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from establishments.models import Role, User
from students.models import EntryKind, PassportEntry, Student

from .kinds import KIND_FIELDS, SECTION_TITLES

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class PassportEntryReadOnly(PermissionDenied):
    """The entry was produced by another establishment: it may be read, never changed here."""


@dataclass(frozen=True)
class PassportSection:
    kind: str
    title: StrOrPromise
    entries: list[PassportEntry]


def author_display_name(user: User) -> str:
    name = f"{user.first_name} {user.last_name.upper()}".strip()
    return name or user.username


def passport_entry_is_copy(entry: PassportEntry, establishment_uai: str) -> bool:
    """A copy came from another school: by a transfer, or produced under another UAI."""
    return entry.source_entry_id is not None or entry.produced_uai != establishment_uai


def _check_author(student: Student, author: User) -> None:
    if author.role != Role.TEACHER or author.establishment_id != student.establishment_id:
        raise PermissionDenied(_("Seuls les enseignants de l'établissement écrivent dans le passeport."))


def _passport_values(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The kind's fields from a form's ``cleaned_data``; the other columns stay empty."""
    return {name: data[name] for name in KIND_FIELDS[kind]}


def passport_entry_create(
    student: Student, author: User, kind: str, data: dict[str, Any], now: datetime
) -> PassportEntry:
    """Write a new entry in ``student``'s passport, produced by the student's establishment."""
    if kind not in EntryKind.values:
        raise ValueError(f"unknown passport entry kind: {kind!r}")
    _check_author(student, author)
    establishment = student.establishment
    return PassportEntry.objects.create(
        student=student,
        kind=kind,
        author=author,
        author_name=author_display_name(author),
        produced_uai=establishment.uai,
        produced_by=establishment.name,
        created_at=now,
        updated_at=now,
        **_passport_values(kind, data),
    )


def passport_entry_update(
    entry: PassportEntry, author: User, data: dict[str, Any], now: datetime
) -> PassportEntry:
    """Change an entry of this establishment; the teacher who last wrote it becomes its author.

    The author answers for the content as it stands, so an edit by another teacher signs the
    entry with their name. Copies from another establishment are refused.
    """
    student = entry.student
    _check_author(student, author)
    if passport_entry_is_copy(entry, student.establishment.uai):
        raise PassportEntryReadOnly(
            _("Cette entrée a été produite par un autre établissement : elle ne peut pas être modifiée.")
        )
    values = _passport_values(entry.kind, data) | {
        "author": author,
        "author_name": author_display_name(author),
        "updated_at": now,
    }
    for name, value in values.items():
        setattr(entry, name, value)
    entry.save(update_fields=list(values))
    return entry


def passport_entries_by_kind(student: Student) -> list[PassportSection]:
    """The student's passport in one query: a section per kind, in the order of ``EntryKind``.

    Each entry gets ``read_only`` (a copy from another school) for the templates.
    """
    uai = student.establishment.uai
    sections = {kind: PassportSection(kind, SECTION_TITLES[kind], []) for kind in EntryKind.values}
    for entry in student.passport_entries.order_by("occurred_on", "created_at", "id"):
        entry.read_only = passport_entry_is_copy(entry, uai)
        sections[entry.kind].entries.append(entry)
    return list(sections.values())
