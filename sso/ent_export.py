"""Linking accounts from the ENT's export of its users (docs/connexion.md §Import).

The file as ENTs produce it: ``;``-separated, UTF-8 or Windows-1252, with or without a BOM, one
header row. Each row is matched to at most one local user of the establishment; a row that names
several (homonyms) or none is left for a person. Nothing is linked before the administrator
confirms the preview; a file that cannot be read changes nothing.
"""

from __future__ import annotations

import csv
import datetime
import io
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from establishments.models import Establishment, Role, User
from establishments.services import audit_record
from students.identity import comparable_name
from students.models import Student

from .models import CasLink, CasLinkImport
from .services import CAS_USER_MAX_LENGTH

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
PREVIEW_LIFETIME = datetime.timedelta(days=1)

# Column → the headers accepted for it, compared without accents, case, spaces, "_", "-", "'" or ".".
HEADERS: dict[str, tuple[str, ...]] = {
    "last_name": ("nom", "nomdefamille", "nomfamille", "nomdusage", "lastname", "sn"),
    "first_name": ("prenom", "firstname", "givenname"),
    "birth_date": ("datedenaissance", "datenaissance", "naissance", "nele", "neele", "birthdate"),
    "class_code": ("classe", "classes", "division", "divisions"),
    "login": ("login", "identifiant", "identifiantent", "loginent", "uid", "id", "identifiantunique"),
    "email": ("email", "mail", "courriel", "adressemail", "adresseemail", "adressecourriel"),
    "profile": ("profil", "profile", "type", "categorie", "fonction"),
}
REQUIRED = ("last_name", "first_name", "login")
DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y")
# A "profil" column: which rows are students (matched on their Student record) and which are staff.
STUDENT_PROFILES = ("eleve", "student")
STAFF_PROFILES = ("enseignant", "personnel", "direction", "professeur", "teacher", "staff", "administratif")

TO_LINK, ALREADY_LINKED, HOMONYMS, NOT_FOUND = "to_link", "already_linked", "homonyms", "not_found"
CATEGORIES = (TO_LINK, ALREADY_LINKED, HOMONYMS, NOT_FOUND)


def _comparable_header(header: str) -> str:
    decomposed = unicodedata.normalize("NFKD", header)
    return "".join(c for c in decomposed if c.isalnum()).casefold()


def accepted_headers_text() -> str:
    """The accepted headers, as the page and the refusals say them."""
    return (
        "nom ; prénom ; identifiant (ou login) ; et, facultatives : "
        "date de naissance ; classe ; e-mail ; profil"
    )


@dataclass
class Row:
    line: int
    last_name: str
    first_name: str
    login: str
    birth_date: datetime.date | None = None
    class_code: str = ""
    email: str = ""
    profile: str = ""


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252; UTF-16 and binary files are refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise ValidationError(
            _(
                "Ce fichier n'est pas un texte CSV lisible (UTF-16 ou fichier binaire) : "
                "enregistrez-le en CSV UTF-8."
            ),
            code="encoding",
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise ValidationError(
            _("L'encodage de ce fichier n'est pas reconnu : enregistrez-le en CSV UTF-8 ou Windows-1252."),
            code="encoding",
        ) from None


def _columns(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        comparable = _comparable_header(name)
        for column, accepted in HEADERS.items():
            if comparable in accepted and column not in found:
                found[column] = index
    missing = [column for column in REQUIRED if column not in found]
    if missing:
        raise ValidationError(
            _(
                "Colonnes manquantes dans la première ligne du fichier. "
                "Colonnes attendues, séparées par des « ; » : %(headers)s."
            )
            % {"headers": accepted_headers_text()},
            code="columns",
        )
    return found


def _date(value: str, line: int) -> datetime.date | None:
    value = value.strip()
    if not value:
        return None
    for date_format in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(value, date_format).date()
        except ValueError:
            continue
    raise ValidationError(
        _("Ligne %(line)s : date de naissance illisible (attendu JJ/MM/AAAA)."),
        code="date",
        params={"line": line},
    )


def parse(data: bytes) -> list[Row]:
    """The rows of an ENT export; a French ``ValidationError`` for anything unreadable."""
    if len(data) > MAX_BYTES:
        raise ValidationError(
            _("Le fichier dépasse 5 Mo : est-ce bien l'export des comptes de l'ENT ?"), code="size"
        )
    text = decode(data)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ValidationError(_("Le fichier est vide."), code="empty")
    if ";" not in lines[0]:
        raise ValidationError(
            _(
                "Les colonnes doivent être séparées par des « ; » (export CSV de l'ENT). "
                "Colonnes attendues : %(headers)s."
            )
            % {"headers": accepted_headers_text()},
            code="separator",
        )
    reader = csv.reader(io.StringIO(text), delimiter=";")
    columns = _columns(next(reader))
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise ValidationError(_("Le fichier a plus de %(max)s lignes.") % {"max": MAX_ROWS}, code="rows")
        row = _row(cells, columns, line)
        if row.login in seen:
            raise ValidationError(
                _(
                    "L'identifiant de la ligne %(line)s figure déjà ligne %(first)s : "
                    "chaque identifiant ENT ne peut être relié qu'à un compte."
                ),
                code="duplicate",
                params={"line": line, "first": seen[row.login]},
            )
        seen[row.login] = line
        rows.append(row)
    if not rows:
        raise ValidationError(_("Le fichier ne contient aucune ligne après les en-têtes."), code="empty")
    return rows


def _row(cells: list[str], columns: dict[str, int], line: int) -> Row:
    def cell(column: str) -> str:
        index = columns.get(column)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    login = cell("login")
    if not login or len(login) > CAS_USER_MAX_LENGTH:
        raise ValidationError(
            _("Ligne %(line)s : l'identifiant ENT est vide ou trop long."),
            code="login",
            params={"line": line},
        )
    if not cell("last_name"):
        raise ValidationError(_("Ligne %(line)s : le nom est vide."), code="name", params={"line": line})
    return Row(
        line=line,
        last_name=cell("last_name"),
        first_name=cell("first_name"),
        login=login,
        birth_date=_date(cell("birth_date"), line),
        class_code=cell("class_code"),
        email=cell("email").lower(),
        profile=_comparable_header(cell("profile")),
    )


@dataclass
class _People:
    """The establishment's users, indexed by comparable name, for matching without a query per row."""

    staff: dict[tuple[str, str], list[User]] = field(default_factory=lambda: defaultdict(list))
    students: dict[tuple[str, str], list[Student]] = field(default_factory=lambda: defaultdict(list))
    # (last name, first name, birth date) of the active students who have no account yet
    without_account: set[tuple[str, str, datetime.date | None]] = field(default_factory=set)


def _people(establishment: Establishment) -> _People:
    people = _People()
    for user in establishment.users.filter(is_active=True).exclude(role=Role.STUDENT):
        people.staff[(comparable_name(user.last_name), comparable_name(user.first_name))].append(user)
    records = establishment.students.filter(is_active=True, user__isnull=False, user__is_active=True)
    for student in records.select_related("user"):
        people.students[(comparable_name(student.last_name), comparable_name(student.first_name))].append(
            student
        )
    without = establishment.students.filter(is_active=True, user__isnull=True)
    for last, first, born in without.values_list("last_name", "first_name", "birth_date"):
        people.without_account.add((comparable_name(last), comparable_name(first), born))
    return people


def _without_account(row: Row, people: _People) -> bool:
    key = (comparable_name(row.last_name), comparable_name(row.first_name), row.birth_date)
    return key in people.without_account


def _candidates(row: Row, people: _People) -> list[User]:
    key = (comparable_name(row.last_name), comparable_name(row.first_name))
    wants_students = not row.profile or row.profile.startswith(STUDENT_PROFILES)
    wants_staff = not row.profile or row.profile.startswith(STAFF_PROFILES)
    found: list[User] = []
    if wants_students and row.birth_date is not None:
        students = [s for s in people.students.get(key, []) if s.birth_date == row.birth_date]
        if len(students) > 1 and row.class_code:  # the class tells twins or namesakes apart
            students = [
                s for s in students if comparable_name(s.class_code) == comparable_name(row.class_code)
            ]
        found += [s.user for s in students if s.user is not None]
    if wants_staff:
        staff = people.staff.get(key, [])
        if row.email:
            staff = [u for u in staff if (u.email or "").lower() == row.email]
        found += staff
    return found


def _shown(row: Row, note: str = "") -> dict[str, Any]:
    return {
        "line": row.line,
        "name": f"{row.last_name.upper()} {row.first_name}".strip(),
        "class_code": row.class_code,
        "login": row.login,
        "note": note,
    }


def preview_build(establishment: Establishment, rows: list[Row]) -> dict[str, list[dict[str, Any]]]:
    """Each row in one category: to link, already linked, homonyms, not found."""
    people = _people(establishment)
    links = {link.user_id: link.cas_user for link in CasLink.objects.filter(establishment=establishment)}
    linked_logins = {cas_user: user_id for user_id, cas_user in links.items()}
    matched = [_candidates(row, people) for row in rows]
    claims: dict[int, int] = defaultdict(int)
    for users in matched:
        if len(users) == 1:
            claims[users[0].pk] += 1
    preview: dict[str, list[dict[str, Any]]] = {category: [] for category in CATEGORIES}
    for row, users in zip(rows, matched, strict=True):
        if not users:
            no_account = _without_account(row, people)
            note = _("élève sans compte cerisepro : créez d'abord son compte") if no_account else ""
            preview[NOT_FOUND].append(_shown(row, note))
        elif len(users) > 1:
            preview[HOMONYMS].append(
                _shown(row, _("%(count)s comptes portent ce nom") % {"count": len(users)})
            )
        elif claims[users[0].pk] > 1:
            preview[HOMONYMS].append(_shown(row, _("plusieurs lignes du fichier désignent ce compte")))
        else:
            _classify_single(row, users[0], links, linked_logins, preview)
    return preview


def _classify_single(
    row: Row, user: User, links: dict[int, str], linked_logins: dict[str, int], preview
) -> None:
    if links.get(user.pk) == row.login:
        preview[ALREADY_LINKED].append(_shown(row))
    elif user.pk in links:
        preview[ALREADY_LINKED].append(_shown(row, _("ce compte est relié à un autre identifiant ENT")))
    elif row.login in linked_logins:
        preview[ALREADY_LINKED].append(_shown(row, _("cet identifiant ENT est relié à un autre compte")))
    else:
        preview[TO_LINK].append({**_shown(row), "user": user.pk, "username": user.get_username()})


@transaction.atomic
def preview_create(
    establishment: Establishment, user: User, data: bytes, file_name: str, now: datetime.datetime
) -> CasLinkImport:
    """Read the file and store its preview (abandoned previews of a day ago are deleted)."""
    rows = parse(data)
    CasLinkImport.objects.filter(created_at__lt=now - PREVIEW_LIFETIME).delete()
    return CasLinkImport.objects.create(
        establishment=establishment,
        created_by=user,
        created_at=now,
        file_name=file_name[:255],
        preview=preview_build(establishment, rows),
    )


@transaction.atomic
def preview_apply(record: CasLinkImport, user: User) -> int:
    """Make the preview's links, each checked again (a link set by hand meanwhile is kept); the
    preview is deleted in the same transaction. Returns the number of links made."""
    establishment = record.establishment
    Establishment.objects.select_for_update().get(pk=establishment.pk)
    proposed = {row["user"]: row["login"] for row in record.preview.get(TO_LINK, [])}
    users = set(establishment.users.filter(pk__in=proposed, is_active=True).values_list("pk", flat=True))
    linked_users = set(CasLink.objects.filter(user_id__in=proposed).values_list("user_id", flat=True))
    taken = set(
        CasLink.objects.filter(establishment=establishment, cas_user__in=proposed.values()).values_list(
            "cas_user", flat=True
        )
    )
    links = [
        CasLink(establishment=establishment, user_id=user_id, cas_user=login, created_by=user)
        for user_id, login in proposed.items()
        if user_id in users and user_id not in linked_users and login not in taken
    ]
    CasLink.objects.bulk_create(links)
    audit_record(
        establishment,
        user,
        "Liens ENT importés",
        {"fichier": record.file_name, "liens créés": len(links), "lignes non reliées": _left_count(record)},
    )
    record.delete()
    return len(links)


def _left_count(record: CasLinkImport) -> int:
    return sum(len(record.preview.get(category, [])) for category in (HOMONYMS, NOT_FOUND))
