"""Business rules of the students app: applying a SIECLE export to an establishment.

The import works on the whole establishment at once with a bounded number of queries: one read of
the establishment's students, then bulk inserts, bulk updates and set-based deactivations in
batches, whatever the size of the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import Any

from django.db import connection, transaction
from django.db.models import DateField, Field, Sum
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from establishments.models import Establishment, User

from .identity import (
    COPIED_FIELDS,
    INE_LENGTH,
    MEF_FIELDS,
    SYNCED_FIELDS,
    CurrentStudent,
    IdentityChange,
    ReassignedSiecleId,
    kept_identity,
    match_rows,
    stored_ine,
)
from .mef import diploma_of
from .models import Origin, SiecleImport, Student
from .siecle import (
    STUDENT_CLASS_INDEX,
    STUDENT_ID_INDEX,
    Nomenclature,
    SiecleExport,
    SiecleFileError,
    SiecleStudent,
    gc_paused,
    read_classes_ahead,
    read_nomenclature,
    read_student_file,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
# Synced fields written through raw SQL that need the backend's date conversion.
DATE_FIELDS = tuple(name for name in SYNCED_FIELDS if isinstance(Student._meta.get_field(name), DateField))
# A preview keeps the uploaded file until it is confirmed or abandoned: an abandoned one is
# discarded after a day (nightly, and at each upload), and an establishment's pending previews
# may not hold more than this many bytes (three of the largest uploads the form accepts).
PREVIEW_LIFETIME = timedelta(days=1)
PREVIEW_QUOTA_BYTES = 300 * 1024 * 1024
# Listed per changed field in the preview; the rest is counted.
MAX_LISTED_CHANGES = 10
# What each changed field is called in the preview (diploma fields follow the MEF code).
FIELD_LABELS = {
    "ine": _lazy("INE"),
    "siecle_id": _lazy("Identifiant SIECLE"),
    "last_name": _lazy("Nom"),
    "first_name": _lazy("Prénom"),
    "birth_date": _lazy("Date de naissance"),
    "class_code": _lazy("Classe"),
    "mef_code": _lazy("Code MEF (formation)"),
    "mef_label": _lazy("Libellé de la formation"),
}


class ImportRefused(SiecleFileError):
    """The file is valid but may not be applied as it is (other school, mass deactivation…)."""


@dataclass(frozen=True)
class FieldChange:
    """One changed field of one student, as the preview lists it."""

    name: str
    old: str
    new: str


@dataclass
class ImportPlan:
    """What applying an export would do, computed without writing anything."""

    export: SiecleExport
    active_before: int
    today: date
    creations: list[SiecleStudent] = field(default_factory=list)
    updates: list[tuple[CurrentStudent, dict[str, Any]]] = field(default_factory=list)
    reactivations: list[CurrentStudent] = field(default_factory=list)
    deactivations: list[CurrentStudent] = field(default_factory=list)
    unchanged: int = 0
    without_ine: int = 0
    corrections: list[IdentityChange] = field(default_factory=list)
    reassigned: list[ReassignedSiecleId] = field(default_factory=list)
    released_siecle_ids: list[int] = field(default_factory=list)
    # The export date of the newest file applied before, when this file is older than it.
    newer_import_exported_at: datetime | None = None

    @property
    def updated(self) -> int:
        return len(self.updates) - len(self.reactivations)

    @property
    def created_already_left(self) -> int:
        return sum(1 for student in self.creations if student.has_left(self.today))

    @property
    def is_mass_deactivation(self) -> bool:
        return self.active_before > 0 and len(self.deactivations) * 2 > self.active_before

    @property
    def is_older_than_last_import(self) -> bool:
        return self.newer_import_exported_at is not None

    @property
    def changes_anything(self) -> bool:
        return bool(self.creations or self.updates or self.deactivations or self.released_siecle_ids)

    def field_changes(self) -> dict[str, tuple[str, int, list[FieldChange]]]:
        """Per changed field: its label, how many students, and the first few old → new."""
        grouped: dict[str, list[FieldChange]] = defaultdict(list)
        for current, changes in self.updates:
            name = f"{current.last_name.upper()} {current.first_name}".strip()
            for field_name in FIELD_LABELS:
                if field_name in changes:
                    old, new = getattr(current, field_name), changes[field_name]
                    grouped[field_name].append(FieldChange(name, _shown(old), _shown(new)))
        return {
            name: (str(FIELD_LABELS[name]), len(items), items[:MAX_LISTED_CHANGES])
            for name, items in grouped.items()
        }

    def summary(self) -> dict[str, Any]:
        """What the preview page shows, computed once when the file is uploaded (JSON-ready).

        Reloading the preview of a large file must not parse it again; the confirmation does parse
        it again, under the import lock, and re-checks everything.
        """
        return {
            "in_file": len(self.export.students),
            "created": len(self.creations),
            "created_already_left": self.created_already_left,
            "updated": self.updated,
            "reactivated": len(self.reactivations),
            "deactivated": len(self.deactivations),
            "unchanged": self.unchanged,
            "without_ine": self.without_ine,
            "changes_anything": self.changes_anything,
            "active_before": self.active_before,
            "is_mass_deactivation": self.is_mass_deactivation,
            "exported_at": _paris(self.export.exported_at) if self.export.exported_at else "",
            "newer_import_exported_at": _paris(self.newer_import_exported_at)
            if self.newer_import_exported_at
            else "",
            "creations": [_listed(row.last_name, row.first_name, row.class_code) for row in self.creations],
            "deactivations": [_listed(s.last_name, s.first_name, s.class_code) for s in self.deactivations],
            "field_changes": [
                {"label": label, "count": count, "items": [dataclasses.asdict(item) for item in items]}
                for label, count, items in self.field_changes().values()
            ],
            "corrections": [change.as_json() for change in self.corrections],
            "reassigned": [item.as_json() for item in self.reassigned],
        }

    def field_change_counts(self) -> dict[str, int]:
        return {name: count for name, (_label, count, _items) in self.field_changes().items()}


def _listed(last_name: str, first_name: str, class_code: str) -> dict[str, str]:
    return {"last_name": last_name, "first_name": first_name, "class_code": class_code}


def _shown(value: Any) -> str:
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value) if value not in (None, "") else "—"


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Meanwhile:
    """``function(*args)`` computed on another thread while this one goes on; ``result()`` waits.

    For work that lets go of the GIL, so that it runs on the other core: hashlib hashing a file
    (6.6 MB take some 8 ms that the import would otherwise wait for), lxml parsing and
    transforming the classes read ahead (``siecle.read_classes_ahead``).
    """

    def __init__(self, function: Callable[..., Any], *args: Any):
        self._result: Any = None
        self._thread = threading.Thread(target=self._run, args=(function, *args), daemon=True)
        self._thread.start()

    def _run(self, function: Callable[..., Any], *args: Any) -> None:
        self._result = function(*args)

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> Any:
        self._thread.join()
        return self._result


def _clip(value: str, field_name: str) -> str:
    return value[: _MAX_LENGTHS[field_name]]


_MAX_LENGTHS = {field.name: field.max_length for field in Student._meta.fields if field.max_length}


_copied_values = attrgetter(*COPIED_FIELDS)


@lru_cache(maxsize=4096)
def _diploma_values(mef_code: str) -> tuple[str, str]:
    """diploma_level and diploma_specialite of a MEF code (a school has a few dozen codes)."""
    diploma = diploma_of(mef_code)
    return (diploma.level, diploma.specialite) if diploma else ("", "")


def _synced_values(row: SiecleStudent, labels: dict[str, str], current: CurrentStudent | None) -> tuple:
    """The SYNCED_FIELDS values a row gives its student, in order (``current``: the stored record
    it matched, None for a new student). A plain tuple: it runs once per student of every import,
    and a matched record's own values (``current[2:]``) compare with it in one step."""
    mef_code = row.mef_code
    label = labels.get(mef_code) or (
        current.mef_label if current is not None and current.mef_code == mef_code else ""
    )
    # The parser refuses values longer than their column (docs/siecle-format.md), so nothing is
    # cut here: a cut SIECLE id would no longer match the file at the next import.
    return (
        *kept_identity(row, current),
        *_copied_values(row),
        _clip(label, "mef_label"),
        *_diploma_values(mef_code),
    )


# The order _synced_values gives (and CurrentStudent's fields after pk and is_active).
assert MEF_FIELDS == ("mef_label", "diploma_level", "diploma_specialite")


def plan_import(
    establishment: Establishment,
    export: SiecleExport,
    *,
    now: datetime,
    labels: dict[str, str] | None = None,
    first_import: bool = False,
) -> ImportPlan:
    """Compare the export with the establishment's students (one query) and list the changes.

    Which row is which stored student is decided by the identity rules (``students/identity.py``,
    ``docs/identity.md``); this function only turns their answer into creations and updates.
    ``first_import``: the establishment had no student when the import locked it (the students
    it already wrote meanwhile are not compared with themselves).
    """
    labels = labels or {}
    today = timezone.localtime(now).date()
    students = (
        []
        if first_import
        else [CurrentStudent(*row) for row in establishment.students.values_list(*CurrentStudent._fields)]
    )
    matching = match_rows(export.students, students)
    plan = ImportPlan(
        export=export,
        active_before=sum(1 for s in students if s.is_active),
        today=today,
        creations=matching.new_rows,
        corrections=matching.corrections,
        reassigned=matching.reassigned,
        released_siecle_ids=matching.released_siecle_ids,
        newer_import_exported_at=_newer_import_exported_at(establishment, export),
    )
    released = set(matching.released_siecle_ids)
    for row, current in matching.matches:
        values = _synced_values(row, labels, current)
        _plan_existing(plan, current, row, values, today, released=current.pk in released)
    plan.deactivations.extend(s for s in matching.absent if s.is_active)
    plan.without_ine = sum(1 for row in plan.creations if not stored_ine(row)) + sum(
        1 for row, current in matching.matches if not (stored_ine(row) or current.ine)
    )
    return plan


def _newer_import_exported_at(establishment: Establishment, export: SiecleExport) -> datetime | None:
    """The export date of the newest applied file, when this file was exported before it."""
    if export.exported_at is None:
        return None
    newest = (
        establishment.imports.filter(
            status__in=[SiecleImport.Status.APPLIED, SiecleImport.Status.UNCHANGED],
            exported_at__isnull=False,
        )
        .order_by("-exported_at")
        .values_list("exported_at", flat=True)
        .first()
    )
    return newest if newest is not None and export.exported_at < newest else None


def _plan_existing(
    plan: ImportPlan, current: CurrentStudent, row: SiecleStudent, values: tuple, today, *, released: bool
) -> None:
    # A released record's SIECLE id is blanked before the updates run: compare against that.
    stored = (current._replace(siecle_id="") if released else current)[2:]  # its SYNCED_FIELDS
    changes: dict[str, Any] = (
        {}
        if stored == values
        else {name: new for name, old, new in zip(SYNCED_FIELDS, stored, values, strict=True) if old != new}
    )
    left = row.has_left(today)
    if current.is_active and left:
        plan.deactivations.append(current)
    elif not current.is_active and not left:
        plan.reactivations.append(current)
        changes |= {"is_active": True, "deactivated_at": None, "deactivated_by_import_id": None}
    if changes:
        plan.updates.append((current, changes))
    elif not (current.is_active and left):
        plan.unchanged += 1


def _db_value(field_name: str, value: Any) -> Any:
    model_field = Student._meta.get_field(field_name)
    assert isinstance(model_field, Field)  # a column of Student, not a relation's reverse side
    return model_field.get_db_prep_save(value, connection)


# The columns of a new student, in the order both writers below give them: the import's own, then
# the synced dates, then the synced texts (so that a COPY line quotes the texts in one join), the
# four that the MEF code alone decides last (a COPY line takes them as one piece per MEF code).
_MEF_TEXT_FIELDS = ("mef_code", *MEF_FIELDS)
_SYNCED_TEXT_FIELDS = (
    *(name for name in SYNCED_FIELDS if name not in DATE_FIELDS and name not in _MEF_TEXT_FIELDS),
    *_MEF_TEXT_FIELDS,
)
NEW_STUDENT_COLUMNS = (
    "establishment_id",
    "public_id",
    "origin",
    "created_at",
    "created_by_import_id",
    "is_active",
    "deactivated_at",
    "deactivated_by_import_id",
    *DATE_FIELDS,
    *_SYNCED_TEXT_FIELDS,
)
_DATE_POSITIONS = tuple(SYNCED_FIELDS.index(name) for name in DATE_FIELDS)
_TEXT_POSITIONS = tuple(SYNCED_FIELDS.index(name) for name in _SYNCED_TEXT_FIELDS)
# COPY asks for this much at a time (psycopg2's default is 8 kB): small enough for the server to
# start inserting early, large enough to cost few calls.
COPY_CHUNK_CHARS = 64 * 1024


def _new_student(row: SiecleStudent, labels: dict[str, str], today: date) -> tuple[bool, list, list[str]]:
    """A student to create: whether it has already left, its synced dates and its synced texts."""
    values = _synced_values(row, labels, None)
    return row.has_left(today), [values[i] for i in _DATE_POSITIONS], [values[i] for i in _TEXT_POSITIONS]


def _public_ids(count: int) -> list[str]:
    """``count`` random version-4 UUIDs as 32 hex digits, as both databases read them.

    One ``os.urandom`` for all of them: ``uuid.uuid4()`` asks the kernel once per id (1.5 µs each).
    """
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes(raw[6::16]).translate(_UUID_VERSION_4)
    raw[8::16] = bytes(raw[8::16]).translate(_UUID_VARIANT_RFC_4122)
    digits = raw.hex()
    return [digits[start : start + 32] for start in range(0, 32 * count, 32)]


_UUID_VERSION_4 = bytes((byte & 0x0F) | 0x40 for byte in range(256))
_UUID_VARIANT_RFC_4122 = bytes((byte & 0x3F) | 0x80 for byte in range(256))


def _insert_many(establishment, plan: ImportPlan, record, now: datetime, labels: dict[str, str]) -> None:
    """Insert the new students in one statement: COPY on PostgreSQL, executemany on SQLite. The
    rows are written straight from the file's rows, without model instances (speed)."""
    table = connection.ops.quote_name(Student._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in NEW_STUDENT_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            lines = _copy_lines(establishment.pk, plan, record.pk, now, labels)
            sql = f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)"
            cursor.copy_expert(sql, _CopySource(lines), COPY_CHUNK_CHARS)  # size: positional for Django
            return
        one_row = "(" + ", ".join(["%s"] * len(NEW_STUDENT_COLUMNS)) + ")"
        rows = _insert_rows(establishment.pk, plan, record.pk, now, labels)
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES {one_row}", rows)  # noqa: S608


class _CopySource:
    """The file COPY reads: its lines made as PostgreSQL asks for them, so that the server inserts one
    chunk while the next one is built (the two run on two cores), and no whole text is kept."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines

    def read(self, size: int = -1) -> str:
        parts, length = [], 0
        for line in self._lines:
            parts.append(line)
            length += len(line)
            if 0 < size <= length:
                break
        return "".join(parts)


class _CopyLine:
    """The COPY line (CSV) of each new student of one import: an unquoted empty field is NULL, a
    quoted one an empty string; texts are always quoted, a quote doubled.

    The values are :func:`_synced_values`' for a new student (a test compares the two on random
    rows), taken straight from the row: this runs for each of the thousands of students of a first
    import, while the file is read (``_StudentsWrittenWhileRead``), so it is one f-string, with what
    the MEF code decides quoted once per code.
    """

    def __init__(self, establishment_id: int, import_id: int, now: datetime, labels: dict, today: date):
        when = now.isoformat()
        origin = Origin.SIECLE.value
        # Everything between the public id and the dates: the same for every active (resp. left) student.
        self._active = f",{origin},{when},{import_id},t,,,"
        self._left = f",{origin},{when},{import_id},f,{when},{import_id},"
        self._establishment_id, self._labels, self._today = establishment_id, labels, today
        self._mef_pieces: dict[str, str] = {}

    def __call__(self, row: SiecleStudent, public_id: str) -> str:
        ine = row.ine if len(row.ine) == INE_LENGTH else ""  # stored_ine, inlined
        texts = (ine, row.last_name, row.first_name, row.siecle_id, row.class_code, row.previous_uai)
        own = '"' + '","'.join(texts) + '"'
        if own.count('"') != 2 * len(texts):  # a text holds a quote: double it
            own = ",".join(map(_quoted, texts))
        birth, entered = row.birth_date, row.entered_on
        middle = self._left if row.has_left(self._today) else self._active
        return (
            f"{self._establishment_id},{public_id}{middle}{birth.isoformat() if birth else ''},"
            f"{entered.isoformat() if entered else ''},{own},{self._mef_piece(row.mef_code)}\n"
        )

    def _mef_piece(self, mef_code: str) -> str:
        piece = self._mef_pieces.get(mef_code)
        if piece is None:
            label = _clip(self._labels.get(mef_code) or "", "mef_label")
            texts = (mef_code, label, *_diploma_values(mef_code))
            piece = self._mef_pieces[mef_code] = ",".join(map(_quoted, texts))
        return piece


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _copy_lines(
    establishment_id: int, plan: ImportPlan, import_id: int, now: datetime, labels
) -> Iterator[str]:
    """The plan's new students as COPY lines, made as they are asked for."""
    line = _CopyLine(establishment_id, import_id, now, labels, plan.today)
    for public_id, row in zip(_public_ids(len(plan.creations)), plan.creations, strict=True):
        yield line(row, public_id)


def _insert_rows(
    establishment_id: int, plan: ImportPlan, import_id: int, now: datetime, labels
) -> list[tuple]:
    """The new students as executemany's parameters (SQLite: dates as ISO text, as Django stores them)."""
    when, origin = _db_value("created_at", now), Origin.SIECLE.value
    return [
        (
            establishment_id,
            public_id,
            origin,
            when,
            import_id,
            not has_left,
            when if has_left else None,
            import_id if has_left else None,
            *(day.isoformat() if day else None for day in dates),
            *texts,
        )
        for public_id, (has_left, dates, texts) in zip(
            _public_ids(len(plan.creations)),
            (_new_student(row, labels, plan.today) for row in plan.creations),
            strict=True,
        )
    ]


# --- A first import writes its students while the file is read (docs/siecle-import.md, "A first import")

# Students per piece of COPY text, and per COPY statement: each statement's foreign-key checks run
# when it ends (they are made immediate), on the server's core, while the next students are read.
STUDENTS_PER_PIECE = 256
STUDENTS_PER_STATEMENT = 1024


class _ClassesDiffer(Exception):
    """The classes read ahead were not those the whole file gives: what was written is rolled back."""

    def __init__(self, export: SiecleExport):
        super().__init__("classes read ahead differ from the file's")
        self.export = export


class _StudentsWrittenWhileRead:
    """``read_student_file``'s ``on_student``: each student read becomes its COPY line, sent to
    :class:`_BackgroundCopy` a piece at a time, with the class ``siecle.read_classes_ahead`` gave.

    Nothing is sent until the classes read ahead are known (they take a fraction of the parse, on
    another thread); if they cannot be read, nothing is sent until the whole file is read.
    :meth:`finish` writes the students not sent yet with the classes the whole file gives, and
    checks that every student sent earlier got the same class.
    """

    def __init__(self, establishment_id: int, import_id: int, now: datetime, labels: dict, ahead: _Meanwhile):
        self._line = _CopyLine(establishment_id, import_id, now, labels, timezone.localtime(now).date())
        self._ahead = ahead
        self._classes: dict[str, str] | None = None
        self._given_up = False
        self._pending: list[list[Any]] = []
        self._sent_classes: list[str] = []
        self._copy: _BackgroundCopy | None = None

    def add(self, values: list[Any] | None) -> None:
        if values is None:  # the end of the ELEVES section: the rest of the file holds no student
            if self._pending and self._classes_known():
                self._send_pending()
            if self._copy is not None:
                self._copy.end_statement()  # its rows are checked while the classes are read
            return
        self._pending.append(values)
        if len(self._pending) >= STUDENTS_PER_PIECE and self._classes_known():
            self._send_pending()

    def _classes_known(self) -> bool:
        if self._classes is None and not self._given_up and self._ahead.done():
            self._classes = self._ahead.result()
            self._given_up = self._classes is None
        return self._classes is not None

    def _send_pending(self) -> None:
        assert self._classes is not None  # sent only once the classes are known
        classes, students = self._classes, []
        for values in self._pending:
            values = values.copy()  # the parser's own list gets the file's class at the end
            values[STUDENT_CLASS_INDEX] = code = classes.get(values[STUDENT_ID_INDEX], "")
            self._sent_classes.append(code)
            students.append(SiecleStudent(*values))
        self._pending = []
        self._send(students)

    def _send(self, students: list[SiecleStudent]) -> None:
        if self._copy is None:
            self._copy = _BackgroundCopy()
        text = "".join(map(self._line, students, _public_ids(len(students))))
        self._copy.send(text, len(students))

    def finish(self, export: SiecleExport) -> bool:
        """Write the students not sent yet (all of them when the classes were not read ahead, or a
        file smaller than a piece), with the file's classes; whether any student was written."""
        sent = len(self._sent_classes)
        if export.students[sent:]:
            self._send(export.students[sent:])
        if self._copy is None:
            return False
        self._copy.finish()
        if [student.class_code for student in export.students[:sent]] != self._sent_classes:
            raise _ClassesDiffer(export)
        return True

    def abandon(self) -> None:
        if self._copy is not None:
            self._copy.abandon()


class _BackgroundCopy:
    """``COPY … FROM STDIN`` statements run by another thread on this thread's own connection, fed
    COPY text while the file is still being read.

    psycopg2 lets go of the GIL while it sends and while it waits for the server, so the server
    inserts (and checks foreign keys, made immediate so that each statement checks its own rows as
    it ends instead of all of them at the commit) on the other core while this one parses. The
    importing thread must not use the connection until :meth:`finish` or :meth:`abandon` returned.
    """

    # Markers in the queue, told apart by identity (distinct values: equal constants may be one object).
    _END, _STATEMENT_END = ("", -1), ("", -2)

    def __init__(self) -> None:
        table = connection.ops.quote_name(Student._meta.db_table)
        names = ", ".join(connection.ops.quote_name(c) for c in NEW_STUDENT_COLUMNS)
        self._sql = f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)"
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        self._pieces: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self._abandoned = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(connection.connection,), daemon=True)
        self._thread.start()

    def send(self, text: str, students: int) -> None:
        self._raise_error()
        self._pieces.put((text, students))

    def end_statement(self) -> None:
        self._pieces.put(self._STATEMENT_END)

    def finish(self) -> None:
        self._pieces.put(self._END)
        self._thread.join()
        self._raise_error()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # as Django declares them, for what follows

    def abandon(self) -> None:
        """Stop at once: the statement under way fails, so the transaction must be rolled back."""
        self._abandoned.set()
        self._pieces.put(self._END)
        self._thread.join()

    def _raise_error(self) -> None:
        """The other thread's failure, raised here as Django raises it (IntegrityError…)."""
        if self._error is not None:
            with connection.wrap_database_errors:
                raise self._error

    def _run(self, raw_connection) -> None:
        try:
            with raw_connection.cursor() as cursor:
                piece = self._pieces.get()
                while piece is not self._END:
                    if piece is self._STATEMENT_END:  # nothing to end: no statement is under way
                        piece = self._pieces.get()
                        continue
                    statement = _CopyStatement(piece, self._pieces, self._abandoned)
                    cursor.copy_expert(self._sql, statement, COPY_CHUNK_CHARS)
                    piece = statement.next_piece or self._pieces.get()
        except BaseException as error:  # noqa: BLE001 - handed to the importing thread
            self._error = error


class _CopyStatement:
    """The file one COPY statement reads: pieces from the queue until it holds
    STUDENTS_PER_STATEMENT students or the queue's end (then ``next_piece``)."""

    def __init__(self, first: tuple[str, int], pieces: queue.SimpleQueue, abandoned: threading.Event):
        self._first: tuple[str, int] | None = first
        self._pieces, self._abandoned = pieces, abandoned
        self._students = 0
        self.next_piece: tuple[str, int] | None = None  # None: the next statement takes the next piece

    def read(self, size: int = -1) -> str:
        if self._first is not None:
            piece, self._first = self._first, None
        elif self._students >= STUDENTS_PER_STATEMENT:
            return ""  # this statement ends now, and its rows are checked meanwhile
        else:
            piece = self._pieces.get()
        if self._abandoned.is_set():
            raise _ImportAbandoned
        if piece is _BackgroundCopy._END:
            self.next_piece = piece
            return ""
        if piece is _BackgroundCopy._STATEMENT_END:
            return ""
        self._students += piece[1]
        return piece[0]


class _ImportAbandoned(Exception):
    """Raised inside COPY's read so that the server drops the statement under way."""


def _update_many(updates: list[tuple[CurrentStudent, dict[str, Any]]]) -> None:
    """One executemany per set of changed columns (usually one or two sets)."""
    by_columns: dict[tuple[str, ...], list[tuple]] = defaultdict(list)
    for current, changes in updates:
        columns = tuple(sorted(changes))
        prepared = [_db_value(c, changes[c]) if c in DATE_FIELDS else changes[c] for c in columns]
        by_columns[columns].append((*prepared, current.pk))
    table = connection.ops.quote_name(Student._meta.db_table)
    with connection.cursor() as cursor:
        for columns, rows in by_columns.items():
            assignments = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", rows)  # noqa: S608


def apply_plan(
    establishment: Establishment,
    plan: ImportPlan,
    record: SiecleImport,
    *,
    now: datetime,
    labels: dict,
    created: bool = False,
) -> None:
    """Write the plan with a bounded number of statements; the caller holds the transaction.
    ``created``: the new students are already written (a first import writes them meanwhile)."""
    # First free the SIECLE ids that move to another record or to a new student (docs/identity.md).
    for start in range(0, len(plan.released_siecle_ids), BATCH_SIZE):
        Student.objects.filter(pk__in=plan.released_siecle_ids[start : start + BATCH_SIZE]).update(
            siecle_id=""
        )
    if plan.creations and not created:
        _insert_many(establishment, plan, record, now, labels)
    if plan.updates:
        _update_many(plan.updates)
    deactivated_ids = [student.pk for student in plan.deactivations]
    for start in range(0, len(deactivated_ids), BATCH_SIZE):
        Student.objects.filter(pk__in=deactivated_ids[start : start + BATCH_SIZE]).update(
            is_active=False, deactivated_at=now, deactivated_by_import=record
        )


def _fill_counts(record: SiecleImport, plan: ImportPlan) -> None:
    export = plan.export
    record.file_uai = export.uai
    record.in_file = len(export.students)
    record.created = len(plan.creations)
    record.updated = plan.updated
    record.reactivated = len(plan.reactivations)
    record.deactivated = len(plan.deactivations)
    record.unchanged = plan.unchanged
    record.without_ine = plan.without_ine
    record.exported_at = export.exported_at
    record.school_year = export.school_year
    record.warnings = list(export.warnings)
    record.identity_changes = [change.as_json() for change in plan.corrections]
    record.reassigned_siecle_ids = [item.as_json() for item in plan.reassigned]
    record.field_changes = plan.field_change_counts()


def check_file_uai(establishment: Establishment, export: SiecleExport, *, override_uai: bool) -> None:
    if export.uai != establishment.uai and not override_uai:
        raise ImportRefused(
            _(
                "Ce fichier concerne l'établissement %(file_uai)s, et non le vôtre (%(uai)s) : "
                "vérifiez que vous avez exporté le bon établissement depuis SIECLE."
            )
            % {"file_uai": export.uai or "?", "uai": establishment.uai},
            f"the file is for establishment {export.uai or '?'}, not {establishment.uai}",
        )


def check_mass_deactivation(plan: ImportPlan, *, confirmed: bool) -> None:
    if plan.is_mass_deactivation and not confirmed:
        raise ImportRefused(
            _(
                "Cet import désactiverait %(n)s élèves sur %(active)s actifs, soit plus de la moitié. "
                "Un fichier incomplet en est la cause habituelle : vérifiez le fichier, ou confirmez "
                "la désactivation si elle est voulue."
            )
            % {"n": len(plan.deactivations), "active": plan.active_before},
            f"the import would deactivate {len(plan.deactivations)} of {plan.active_before} active "
            "students; confirm with --confirm-mass-deactivation",
        )


def check_nomenclature_uai(
    establishment: Establishment, nomenclature: Nomenclature, *, override_uai: bool
) -> None:
    if nomenclature.uai != establishment.uai and not override_uai:
        raise ImportRefused(
            _(
                "La nomenclature concerne l'établissement %(file_uai)s, et non le vôtre (%(uai)s) : "
                "exportez la nomenclature de votre établissement depuis SIECLE."
            )
            % {"file_uai": nomenclature.uai or "?", "uai": establishment.uai},
            f"the Nomenclature file is for establishment {nomenclature.uai or '?'}, not {establishment.uai}",
        )


def check_export_order(plan: ImportPlan, *, allow_older: bool) -> None:
    """An older export would undo what a newer one did (docs/siecle-import.md, "Order")."""
    if plan.newer_import_exported_at is None or allow_older:
        return
    file_date, newer = _paris(plan.export.exported_at), _paris(plan.newer_import_exported_at)
    file_iso, newer_iso = _paris(plan.export.exported_at, ISO), _paris(plan.newer_import_exported_at, ISO)
    raise ImportRefused(
        _(
            "Ce fichier a été exporté de SIECLE le %(file_date)s, avant le dernier fichier importé "
            "(exporté le %(newer)s). L'importer annulerait les changements plus récents : il réactiverait "
            "des élèves partis depuis et désactiverait des élèves arrivés depuis. Exportez à nouveau le "
            "fichier depuis SIECLE, ou confirmez l'import de cet export plus ancien si c'est voulu."
        )
        % {"file_date": file_date, "newer": newer},
        f"the file was exported on {file_iso}, before the last imported file (exported on {newer_iso}); "
        "importing it would reactivate students who left since and deactivate arrivals; "
        "confirm with --allow-older",
    )


ISO = "%Y-%m-%d %H:%M"


def _paris(moment: datetime | None, fmt: str = "%d/%m/%Y à %H:%M") -> str:
    """A moment on the Paris wall clock, as the page (default) or a command (``ISO``) shows it."""
    return timezone.localtime(moment).strftime(fmt) if moment else "?"


@dataclass
class ImportOutcome:
    """An import applied or previewed: its record, and the plan it applied or would apply."""

    record: SiecleImport
    plan: ImportPlan

    @property
    def changed(self) -> bool:
        return self.plan.changes_anything


@dataclass(frozen=True)
class ImportChecks:
    """What the user explicitly confirmed or overrode for one import."""

    confirm_mass_deactivation: bool = False
    allow_older: bool = False
    override_uai: bool = False


def _read(
    establishment: Establishment,
    data: bytes,
    file_name: str,
    nomenclature: bytes | None,
    *,
    now: datetime,
    override_uai: bool,
) -> tuple[SiecleExport, dict[str, str]]:
    """Read both files and check that they are this establishment's."""
    export = read_student_file(data, file_name, today=timezone.localtime(now).date())
    check_file_uai(establishment, export, override_uai=override_uai)
    return export, _read_labels(establishment, nomenclature, override_uai=override_uai)


def _read_labels(establishment: Establishment, nomenclature: bytes | None, *, override_uai: bool) -> dict:
    if not nomenclature:
        return {}
    names = read_nomenclature(nomenclature)
    check_nomenclature_uai(establishment, names, override_uai=override_uai)
    return names.labels


def record_refusal(
    establishment: Establishment, *, user: User | None, now: datetime, file_name: str, data: bytes, error: str
) -> SiecleImport:
    """Keep a trace of a refused file (who, when, which file, why); no student is touched."""
    record = _import_record(
        establishment,
        now=now,
        user=user,
        file_name=file_name,
        data=data,
        status=SiecleImport.Status.REFUSED,
        error=error,
    )
    record.save()
    return record


def _import_record(
    establishment: Establishment,
    *,
    user: User | None,
    now: datetime,
    file_name: str,
    data: bytes,
    status: SiecleImport.Status,
    sha256: str = "",
    **details: Any,
) -> SiecleImport:
    """The record of one submitted file, not saved yet: who, when, which file, and ``details``.

    The only constructor of :class:`SiecleImport`, for refusals, previews and applied imports alike.
    ``sha256`` is the file's, when already computed.
    """
    return SiecleImport(
        establishment=establishment,
        user=user,
        username=user.get_username() if user else "",
        created_at=now,
        status=status,
        file_name=file_name[:255],
        sha256=sha256 or file_sha256(data),
        **details,
    )


@contextmanager
def _refusals_recorded(
    establishment: Establishment, *, user: User | None, now: datetime, file_name: str, data: bytes
):
    """Whatever the entry point (page, command, demo), a refused file is recorded once it rolled back."""
    try:
        yield
    except SiecleFileError as error:
        record_refusal(establishment, user=user, now=now, file_name=file_name, data=data, error=error.message)
        raise


def plan_siecle_import(
    establishment: Establishment,
    data: bytes,
    file_name: str,
    *,
    now: datetime,
    nomenclature: bytes | None = None,
    override_uai: bool = False,
) -> ImportPlan:
    """What importing a SIECLE export would change (the command's ``--dry-run``). Writes nothing.

    The file is read and both UAJ checked as for an import; a refusal raises :class:`SiecleFileError`
    and, unlike an import's, is not recorded. The older-export and mass-deactivation checks are left
    to the caller, which shows them (``ImportPlan.is_older_than_last_import``, ``is_mass_deactivation``).
    """
    export, labels = _read(establishment, data, file_name, nomenclature, now=now, override_uai=override_uai)
    return plan_import(establishment, export, now=now, labels=labels)


def import_siecle_export(
    establishment: Establishment,
    data: bytes,
    file_name: str,
    *,
    now: datetime,
    user: User | None = None,
    nomenclature: bytes | None = None,
    confirm_mass_deactivation: bool = False,
    allow_older: bool = False,
    override_uai: bool = False,
    replacing: SiecleImport | None = None,
) -> ImportOutcome:
    """Read, check and apply a SIECLE export; :func:`plan_siecle_import` only says what it would do.

    Raises :class:`SiecleFileError` (or :class:`ImportRefused`) with a French and an English
    message; the students are then left exactly as they were, and the refusal is recorded.
    ``replacing`` is the preview record the applied import takes the place of.
    """
    checks = ImportChecks(confirm_mass_deactivation, allow_older, override_uai)
    with _refusals_recorded(establishment, user=user, now=now, file_name=file_name, data=data):
        record, plan = _apply_file(
            establishment,
            data,
            file_name,
            nomenclature,
            now=now,
            user=user,
            checks=checks,
            replacing=replacing,
        )
    logger.info(
        "SIECLE import %s for %s: %s created, %s updated, %s reactivated, %s deactivated",
        record.pk,
        establishment.uai,
        record.created,
        record.updated,
        record.reactivated,
        record.deactivated,
    )
    return ImportOutcome(record, plan)


def _apply_file(
    establishment: Establishment,
    data: bytes,
    file_name: str,
    nomenclature: bytes | None,
    *,
    now: datetime,
    user: User | None,
    checks: ImportChecks,
    replacing: SiecleImport | None,
) -> tuple[SiecleImport, ImportPlan]:
    digest = _Meanwhile(file_sha256, data)
    # A first import on PostgreSQL writes its students while the file is read (_read_while_writing).
    first_import = connection.vendor == "postgresql" and not establishment.students.exists()
    ahead = _Meanwhile(read_classes_ahead, data) if first_import else None
    if not first_import:
        export, labels = _read(
            establishment, data, file_name, nomenclature, now=now, override_uai=checks.override_uai
        )
    with gc_paused(), transaction.atomic():
        # Serialise imports of one establishment: two at once would both create the same students.
        Establishment.objects.select_for_update().filter(pk=establishment.pk).first()
        # Its status, counts and SHA-256 (hashed on another thread meanwhile) are set below.
        applied = SiecleImport.Status.APPLIED
        record = _import_record(
            establishment, now=now, user=user, file_name=file_name, data=data, status=applied, sha256="-"
        )
        record.applied_at = now
        created = False
        if ahead is not None:
            if establishment.students.exists():  # another import came first: read as usual
                first_import = False
                export, labels = _read(
                    establishment, data, file_name, nomenclature, now=now, override_uai=checks.override_uai
                )
            else:
                labels = _read_labels(establishment, nomenclature, override_uai=checks.override_uai)
                record.save()  # the new students point to it
                export, created = _read_while_writing(data, file_name, record, ahead, now=now, labels=labels)
                check_file_uai(establishment, export, override_uai=checks.override_uai)
        plan = plan_import(establishment, export, now=now, labels=labels, first_import=first_import)
        check_export_order(plan, allow_older=checks.allow_older)
        check_mass_deactivation(plan, confirmed=checks.confirm_mass_deactivation)
        record.status = applied if plan.changes_anything else SiecleImport.Status.UNCHANGED
        record.sha256 = digest.result()
        _fill_counts(record, plan)
        record.save()
        apply_plan(establishment, plan, record, now=now, labels=labels, created=created)
        if replacing is not None:
            # In the same transaction: a preview is either still pending or applied, never both.
            replacing.delete()
        transaction.on_commit(lambda: _after_import(establishment.pk, record.pk))
    return record, plan


def _read_while_writing(
    data: bytes, file_name: str, record: SiecleImport, ahead: _Meanwhile, *, now: datetime, labels: dict
) -> tuple[SiecleExport, bool]:
    """Read the file while its students are written: the export, and whether they are written.

    The caller holds the transaction: a refusal found later in the file rolls everything back.
    The writing happens in a savepoint, rolled back if the classes read ahead were wrong (the
    students are then written after the file is read, with the file's classes).
    """
    writer = _StudentsWrittenWhileRead(record.establishment_id, record.pk, now, labels, ahead)
    try:
        with transaction.atomic():
            try:
                today = timezone.localtime(now).date()
                export = read_student_file(data, file_name, today=today, on_student=writer.add)
                return export, writer.finish(export)
            except BaseException:
                writer.abandon()  # the other thread lets go of the connection before the rollback
                raise
    except _ClassesDiffer as differ:
        logger.warning("SIECLE import %s: the classes read ahead differ from the file's", record.pk)
        return differ.export, False


def preview_siecle_import(
    establishment: Establishment,
    data: bytes,
    file_name: str,
    *,
    now: datetime,
    user: User,
    nomenclature: bytes | None = None,
) -> ImportOutcome:
    """Check a file and keep it, with what it would change, until the user confirms it."""
    discard_stale_previews(now, establishment)
    with _refusals_recorded(establishment, user=user, now=now, file_name=file_name, data=data):
        check_preview_quota(establishment, len(data) + len(nomenclature or b""))
        export, labels = _read(establishment, data, file_name, nomenclature, now=now, override_uai=False)
        plan = plan_import(establishment, export, now=now, labels=labels)
    record = _import_record(
        establishment,
        now=now,
        user=user,
        file_name=file_name,
        data=data,
        status=SiecleImport.Status.PREVIEW,
        pending_content=data,
        pending_nomenclature=nomenclature,
        preview=plan.summary(),
    )
    _fill_counts(record, plan)
    record.save()
    return ImportOutcome(record, plan)


def confirm_siecle_import(
    record: SiecleImport,
    *,
    now: datetime,
    user: User,
    confirm_mass_deactivation: bool,
    allow_older: bool = False,
) -> ImportOutcome:
    """Apply a previewed file. The preview record is replaced by the applied one."""
    assert record.status == SiecleImport.Status.PREVIEW, "only a preview can be confirmed"
    nomenclature = record.pending_nomenclature
    return import_siecle_export(
        record.establishment,
        bytes(record.pending_content or b""),
        record.file_name,
        now=now,
        user=user,
        nomenclature=bytes(nomenclature) if nomenclature else None,
        confirm_mass_deactivation=confirm_mass_deactivation,
        allow_older=allow_older,
        replacing=record,
    )


def check_preview_quota(establishment: Establishment, size: int) -> None:
    pending = (
        establishment.imports.filter(status=SiecleImport.Status.PREVIEW)
        .aggregate(total=Sum(Length("pending_content")))
        .get("total")
        or 0
    )
    if pending + size > PREVIEW_QUOTA_BYTES:
        raise ImportRefused(
            _(
                "Trop de fichiers sont en attente de confirmation pour votre établissement : confirmez ou "
                "abandonnez les aperçus en cours (ils sont aussi supprimés au bout d'un jour), puis "
                "recommencez."
            ),
            "too many pending previews for this establishment (quota of stored preview files reached)",
        )


def discard_stale_previews(now: datetime, establishment: Establishment | None = None) -> int:
    """Abandon the previews left unconfirmed for over a day and delete their files (GDPR)."""
    stale = SiecleImport.objects.filter(
        status=SiecleImport.Status.PREVIEW, created_at__lt=now - PREVIEW_LIFETIME
    )
    if establishment is not None:
        stale = stale.filter(establishment=establishment)
    return stale.update(
        status=SiecleImport.Status.CANCELLED, pending_content=None, pending_nomenclature=None, preview=None
    )


def cancel_siecle_import(record: SiecleImport) -> None:
    record.status = SiecleImport.Status.CANCELLED
    record.pending_content = None
    record.pending_nomenclature = None
    record.preview = None
    record.save(update_fields=["status", "pending_content", "pending_nomenclature", "preview"])


def last_applied_import(
    establishment: Establishment, sha256: str, *, exclude: SiecleImport | None = None
) -> SiecleImport | None:
    """The latest applied import of the same file, to tell the user it was already imported."""
    imports = establishment.imports.filter(
        sha256=sha256, status__in=[SiecleImport.Status.APPLIED, SiecleImport.Status.UNCHANGED]
    )
    if exclude is not None:
        imports = imports.exclude(pk=exclude.pk)
    return imports.order_by("-applied_at").defer("pending_content", "pending_nomenclature").first()


def preview_of(record: SiecleImport, *, now: datetime) -> dict[str, Any]:
    """What a previewed file would change, as computed at upload (previews made before that was
    stored are computed once now and kept)."""
    if record.preview is None:
        nomenclature = bytes(record.pending_nomenclature) if record.pending_nomenclature else None
        export, labels = _read(
            record.establishment,
            bytes(record.pending_content or b""),
            record.file_name,
            nomenclature,
            now=now,
            override_uai=False,
        )
        record.preview = plan_import(record.establishment, export, now=now, labels=labels).summary()
        record.save(update_fields=["preview"])
    return record.preview


def _after_import(establishment_id: int, import_id: int) -> None:
    """After an import commits, tell the apps that listen (transfers runs the matching job)."""
    from .signals import siecle_import_applied

    siecle_import_applied.send(sender=SiecleImport, establishment_id=establishment_id, import_id=import_id)
