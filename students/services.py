"""Business rules of the students app: applying a SIECLE export to an establishment.

The import works on the whole establishment at once with a bounded number of queries: one read of
the establishment's students, then bulk inserts, bulk updates and set-based deactivations in
batches, whatever the size of the file.
"""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
from collections import defaultdict, namedtuple
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from establishments.models import Establishment, User

from .mef import diploma_of
from .models import Origin, SiecleImport, Student
from .siecle import SiecleExport, SiecleFileError, SiecleStudent, read_nomenclature, read_student_file

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
# Student fields a SIECLE file sets; compared to decide whether a student changed.
SYNCED_FIELDS = (
    "ine",
    "siecle_id",
    "last_name",
    "first_name",
    "birth_date",
    "class_code",
    "mef_code",
    "mef_label",
    "diploma_level",
    "diploma_specialite",
)


class ImportRefused(SiecleFileError):
    """The file is valid but may not be applied as it is (other school, mass deactivation…)."""


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
    def changes_anything(self) -> bool:
        return bool(self.creations or self.updates or self.deactivations)


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _clip(value: str, field_name: str) -> str:
    return value[: _MAX_LENGTHS[field_name]]


_MAX_LENGTHS = {field.name: field.max_length for field in Student._meta.fields if field.max_length}


def _student_values(
    row: SiecleStudent, labels: dict[str, str], current: CurrentStudent | None
) -> dict[str, Any]:
    diploma = diploma_of(row.mef_code)
    label = labels.get(row.mef_code) or (
        current.mef_label if current and current.mef_code == row.mef_code else ""
    )
    return {
        # An INE that is not 11 characters cannot identify anybody (the parser warned about it).
        "ine": row.ine if len(row.ine) == 11 else "",
        "siecle_id": _clip(row.siecle_id, "siecle_id"),
        "last_name": _clip(row.last_name, "last_name"),
        "first_name": _clip(row.first_name, "first_name"),
        "birth_date": row.birth_date,
        "class_code": _clip(row.class_code, "class_code"),
        "mef_code": _clip(row.mef_code, "mef_code"),
        "mef_label": _clip(label, "mef_label"),
        "diploma_level": diploma.level if diploma else "",
        "diploma_specialite": diploma.specialite if diploma else "",
    }


# What the import reads of the current students: plain tuples, not model instances, so that a
# school of thousands of students is compared in a few milliseconds.
CurrentStudent = namedtuple("CurrentStudent", ["pk", "is_active", *SYNCED_FIELDS])


def plan_import(
    establishment: Establishment, export: SiecleExport, *, now: datetime, labels: dict[str, str] | None = None
) -> ImportPlan:
    """Compare the export with the establishment's students (one query) and list the changes."""
    labels = labels or {}
    today = timezone.localtime(now).date()
    students = [CurrentStudent(*row) for row in establishment.students.values_list(*CurrentStudent._fields)]
    by_ine = {s.ine: s for s in students if s.ine}
    by_siecle_id = {s.siecle_id: s for s in students if s.siecle_id}
    plan = ImportPlan(export=export, active_before=sum(1 for s in students if s.is_active), today=today)
    seen: set[int] = set()
    for row in export.students:
        current = (by_ine.get(row.ine) if row.ine else None) or by_siecle_id.get(row.siecle_id)
        if current is None:
            plan.creations.append(row)
            continue
        if current.pk in seen:
            raise SiecleFileError(
                _(
                    "Le fichier n'est pas cohérent avec les élèves déjà importés : l'élève n° %(id)s "
                    "correspond à un élève déjà associé à une autre ligne du fichier."
                )
                % {"id": row.siecle_id},
                f"student {row.siecle_id} matches a student already matched by another row",
            )
        seen.add(current.pk)
        _plan_existing(plan, current, row, _student_values(row, labels, current), today)
    plan.deactivations.extend(s for s in students if s.is_active and s.pk not in seen)
    return plan


def _plan_existing(
    plan: ImportPlan, current: CurrentStudent, row: SiecleStudent, values: dict, today
) -> None:
    changes = {name: value for name, value in values.items() if getattr(current, name) != value}
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
    return Student._meta.get_field(field_name).get_db_prep_save(value, connection)


def _new_student_rows(establishment, plan: ImportPlan, record, now, labels) -> tuple[list[str], list[tuple]]:
    """Columns and prepared values of the students to create (no model instances: speed)."""
    when, import_id = _db_value("created_at", now), record.pk
    birth_date = Student._meta.get_field("birth_date")
    native_uuid = connection.features.has_native_uuid_field
    columns = ["establishment_id", "public_id", "origin", "created_at", "created_by_import_id", "is_active"]
    columns += ["deactivated_at", "deactivated_by_import_id", *SYNCED_FIELDS]
    rows = []
    for row in plan.creations:
        values = _student_values(row, labels, None)
        values["birth_date"] = birth_date.get_db_prep_save(values["birth_date"], connection)
        left = row.has_left(plan.today)
        public_id = uuid.uuid4()
        rows.append(
            (
                establishment.pk,
                public_id if native_uuid else public_id.hex,
                Origin.SIECLE.value,
                when,
                import_id,
                not left,
                when if left else None,
                import_id if left else None,
                *(values[name] for name in SYNCED_FIELDS),
            )
        )
    return columns, rows


def _insert_many(columns: list[str], rows: list[tuple]) -> None:
    """Insert the new students in one statement: COPY on PostgreSQL, executemany on SQLite."""
    table = connection.ops.quote_name(Student._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)", _csv_file(rows))
            return
        one_row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES {one_row}", rows)  # noqa: S608


def _csv_file(rows: list[tuple]) -> io.StringIO:
    """COPY's CSV format: an unquoted empty field is NULL, a quoted one an empty string."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write(",".join(_csv_field(value) for value in row))
        buffer.write("\n")
    buffer.seek(0)
    return buffer


def _csv_field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return '"' + str(value).replace('"', '""') + '"'


def _update_many(updates: list[tuple[CurrentStudent, dict[str, Any]]]) -> None:
    """One executemany per set of changed columns (usually one or two sets)."""
    by_columns: dict[tuple[str, ...], list[tuple]] = defaultdict(list)
    for current, changes in updates:
        columns = tuple(sorted(changes))
        prepared = [_db_value(c, changes[c]) if c == "birth_date" else changes[c] for c in columns]
        by_columns[columns].append((*prepared, current.pk))
    table = connection.ops.quote_name(Student._meta.db_table)
    with connection.cursor() as cursor:
        for columns, rows in by_columns.items():
            assignments = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", rows)  # noqa: S608


def apply_plan(
    establishment: Establishment, plan: ImportPlan, record: SiecleImport, *, now: datetime, labels: dict
) -> None:
    """Write the plan with a bounded number of statements; the caller holds the transaction."""
    if plan.creations:
        _insert_many(*_new_student_rows(establishment, plan, record, now, labels))
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
    record.without_ine = sum(1 for row in export.students if not row.ine)
    record.warnings = list(export.warnings)


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


@dataclass
class ImportOutcome:
    record: SiecleImport | None
    plan: ImportPlan

    @property
    def changed(self) -> bool:
        return self.plan.changes_anything


def _read(data: bytes, file_name: str, nomenclature: bytes | None) -> tuple[SiecleExport, dict[str, str]]:
    export = read_student_file(data, file_name)
    labels = read_nomenclature(nomenclature) if nomenclature else {}
    return export, labels


def record_refusal(
    establishment: Establishment, *, user: User | None, now: datetime, file_name: str, data: bytes, error: str
) -> SiecleImport:
    """Keep a trace of a refused file (who, when, which file, why); no student is touched."""
    return SiecleImport.objects.create(
        establishment=establishment,
        user=user,
        username=user.get_username() if user else "",
        created_at=now,
        status=SiecleImport.Status.REFUSED,
        file_name=file_name[:255],
        sha256=file_sha256(data),
        error=error,
    )


def import_siecle_export(
    establishment: Establishment,
    data: bytes,
    file_name: str,
    *,
    now: datetime,
    user: User | None = None,
    nomenclature: bytes | None = None,
    dry_run: bool = False,
    confirm_mass_deactivation: bool = False,
    override_uai: bool = False,
) -> ImportOutcome:
    """Read, check and apply a SIECLE export (or only plan it with ``dry_run``).

    Raises :class:`SiecleFileError` (or :class:`ImportRefused`) with a French and an English
    message; the students are then left exactly as they were.
    """
    export, labels = _read(data, file_name, nomenclature)
    check_file_uai(establishment, export, override_uai=override_uai)
    if dry_run:
        return ImportOutcome(None, plan_import(establishment, export, now=now, labels=labels))
    with transaction.atomic():
        # Serialise imports of one establishment: two at once would both create the same students.
        Establishment.objects.select_for_update().filter(pk=establishment.pk).first()
        plan = plan_import(establishment, export, now=now, labels=labels)
        check_mass_deactivation(plan, confirmed=confirm_mass_deactivation)
        record = SiecleImport(
            establishment=establishment,
            user=user,
            username=user.get_username() if user else "",
            created_at=now,
            applied_at=now,
            file_name=file_name[:255],
            sha256=file_sha256(data),
            status=SiecleImport.Status.APPLIED if plan.changes_anything else SiecleImport.Status.UNCHANGED,
        )
        _fill_counts(record, plan)
        record.save()
        apply_plan(establishment, plan, record, now=now, labels=labels)
        transaction.on_commit(lambda: _after_import(establishment.pk, record.pk))
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
    export, labels = _read(data, file_name, nomenclature)
    check_file_uai(establishment, export, override_uai=False)
    plan = plan_import(establishment, export, now=now, labels=labels)
    record = SiecleImport(
        establishment=establishment,
        user=user,
        username=user.get_username(),
        created_at=now,
        status=SiecleImport.Status.PREVIEW,
        file_name=file_name[:255],
        sha256=file_sha256(data),
        pending_content=data,
        pending_nomenclature=nomenclature,
    )
    _fill_counts(record, plan)
    record.save()
    return ImportOutcome(record, plan)


def confirm_siecle_import(
    record: SiecleImport, *, now: datetime, user: User, confirm_mass_deactivation: bool
) -> ImportOutcome:
    """Apply a previewed file. The preview record is replaced by the applied one."""
    assert record.status == SiecleImport.Status.PREVIEW, "only a preview can be confirmed"
    nomenclature = record.pending_nomenclature
    with transaction.atomic():
        outcome = import_siecle_export(
            record.establishment,
            bytes(record.pending_content or b""),
            record.file_name,
            now=now,
            user=user,
            nomenclature=bytes(nomenclature) if nomenclature else None,
            confirm_mass_deactivation=confirm_mass_deactivation,
        )
        record.delete()
    return outcome


def cancel_siecle_import(record: SiecleImport) -> None:
    record.status = SiecleImport.Status.CANCELLED
    record.pending_content = None
    record.pending_nomenclature = None
    record.save(update_fields=["status", "pending_content", "pending_nomenclature"])


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


def plan_for_preview(record: SiecleImport, *, now: datetime) -> ImportPlan:
    """Recompute what a previewed file would change now (students may have changed meanwhile)."""
    nomenclature = bytes(record.pending_nomenclature) if record.pending_nomenclature else None
    export, labels = _read(bytes(record.pending_content or b""), record.file_name, nomenclature)
    return plan_import(record.establishment, export, now=now, labels=labels)


def _after_import(establishment_id: int, import_id: int) -> None:
    """After an import commits, run the matching job for this establishment within minutes.

    If the broker is down the import still stands: the nightly run will decide the pairs.
    """
    from transfers.tasks import run_matching_task

    try:
        # Fail fast (one retry): the user is waiting for the page, and the nightly run is the fallback.
        run_matching_task.apply_async(
            kwargs={"establishment_id": establishment_id, "trigger": "import"},
            retry_policy={"max_retries": 1, "interval_start": 0.2},
        )
    except Exception:
        logger.warning(
            "SIECLE import %s committed but the matching task could not be queued (broker unavailable); "
            "the nightly run will decide its pairs",
            import_id,
            exc_info=True,
        )
