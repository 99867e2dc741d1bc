"""Student accounts: logins derived from the names, initial passwords, and the accounts of the
students an import deactivates or reactivates (docs/accounts.md, "Student accounts").

A student's account is a ``User`` with the role *élève* of the student's establishment, linked by
``Student.user``. Only administrators create or reset accounts; the clear passwords exist only in
the :class:`AccountsOutcome` handed to the page that prints them.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.backends import ModelBackend
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.initial_passwords import initial_password_set
from accounts.models import ImportDeactivation
from establishments.models import Establishment, Role, User
from establishments.services import audit_record

from .models import Student

logger = logging.getLogger(__name__)

# A login stays short enough to be typed from a sheet; the number added on collision fits in
# Django's 150 characters anyway.
LOGIN_MAX_LENGTH = 30
FALLBACK_NAME = "eleve"
# Letters that Unicode does not decompose into an ASCII letter and a mark.
LIGATURES = str.maketrans(
    {"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th"}
)
CREATE_ATTEMPTS = 3  # a login taken meanwhile by another administrator's batch: plan again


def _ascii_part(name: str) -> str:
    """One name as a login part: lower-case ASCII letters and digits, words joined by hyphens.

    Accents are dropped ("Léa" → "lea"), apostrophes join ("N'Diaye" → "ndiaye"), spaces and
    hyphens become one hyphen ("Jean  Baptiste", "Jean-Baptiste" → "jean-baptiste").
    """
    text = unicodedata.normalize("NFKD", name.casefold().translate(LIGATURES))
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = re.sub(r"['’‘`´ʼ]", "", text)
    text = re.sub(r"[^a-z0-9]+", "-", text.encode("ascii", "ignore").decode("ascii"))
    return text.strip("-")


def login_base(first_name: str, last_name: str) -> str:
    """``prenom.nom``, at most ``LOGIN_MAX_LENGTH`` characters: derived from the names only (never
    an INE or a SIECLE id, which are personal identifiers)."""
    first, last = _ascii_part(first_name), _ascii_part(last_name)
    if not last:
        first, last = "", first or FALLBACK_NAME
    first = first[: LOGIN_MAX_LENGTH // 2].strip("-")
    room = LOGIN_MAX_LENGTH - (len(first) + 1 if first else 0)
    last = last[:room].strip("-")
    return f"{first}.{last}" if first else last


def _taken_logins(bases: Iterable[str]) -> set[str]:
    """Logins already used by anyone, whatever their establishment (usernames are global)."""
    condition = Q()
    for base in set(bases):
        condition |= Q(username__istartswith=base)
    if not condition:
        return set()
    return {name.casefold() for name in User.objects.filter(condition).values_list("username", flat=True)}


def allocate_logins(names: Sequence[tuple[str, str]]) -> list[str]:
    """One free login per (first name, last name): ``prenom.nom``, then ``prenom.nom2``, ``3``…

    Unique across the whole deployment and within the batch; compared case-insensitively.
    """
    bases = [login_base(first, last) for first, last in names]
    taken = _taken_logins(bases)
    logins = []
    for base in bases:
        login, number = base, 1
        while login.casefold() in taken:
            number += 1
            login = f"{base}{number}"
        taken.add(login.casefold())
        logins.append(login)
    return logins


@dataclass(frozen=True)
class LoginCard:
    """One block of the *fiche de connexion*. ``password`` is empty on a sheet of logins only."""

    last_name: str
    first_name: str
    class_code: str
    login: str
    password: str = ""


@dataclass
class AccountsOutcome:
    created: list[LoginCard] = field(default_factory=list)
    reset: list[LoginCard] = field(default_factory=list)
    # Students left as they were, and why (shown on the page, in French).
    already: list[Student] = field(default_factory=list)
    disabled: list[Student] = field(default_factory=list)
    departed: list[Student] = field(default_factory=list)

    @property
    def cards(self) -> list[LoginCard]:
        return sorted(
            self.created + self.reset, key=lambda card: (card.class_code, card.last_name, card.first_name)
        )


def _card(student: Student, login: str, password: str) -> LoginCard:
    return LoginCard(student.last_name, student.first_name, student.class_code, login, password)


def create_student_accounts(
    establishment: Establishment, students: Sequence[Student], *, by: User, reset: bool = False
) -> AccountsOutcome:
    """Create the accounts of ``students`` (of ``establishment``); with ``reset``, give the existing
    ones a new initial password. Returns the cards to print, the only place the passwords are.

    Skipped, and said so: departed students, existing accounts (unless ``reset``), and disabled
    accounts (a reset does not re-enable them). All or nothing, recorded in the audit log (counts
    and logins, never a password).
    """
    if any(student.establishment_id != establishment.pk for student in students):
        raise ValueError("students of another establishment")  # the view has already answered 404
    for attempt in range(CREATE_ATTEMPTS):
        try:
            with transaction.atomic():
                return _create_accounts(establishment, students, by=by, reset=reset)
        except IntegrityError:
            # A login allocated meanwhile by a concurrent batch: nothing was written, plan again.
            if attempt == CREATE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _create_accounts(
    establishment: Establishment, students: Sequence[Student], *, by: User, reset: bool
) -> AccountsOutcome:
    outcome = AccountsOutcome()
    locked = list(
        # The students' rows only (their account may be missing: the join is an outer one).
        Student.objects.select_for_update(of=("self",))
        .filter(pk__in=[student.pk for student in students], establishment=establishment)
        .select_related("user")
        .order_by("last_name", "first_name", "id")
    )
    new: list[Student] = []
    for student in locked:
        if not student.is_active:
            outcome.departed.append(student)
        elif student.user is None:
            new.append(student)
        elif not student.user.is_active:
            outcome.disabled.append(student)
        elif reset:
            password = initial_password_set(student.user, by=by)
            outcome.reset.append(_card(student, student.user.username, password))
        else:
            outcome.already.append(student)
    logins = allocate_logins([(student.first_name, student.last_name) for student in new])
    for student, login in zip(new, logins, strict=True):
        user = User.objects.create(
            username=login,
            first_name=student.first_name[:150],
            last_name=student.last_name[:150],
            establishment=establishment,
            role=Role.STUDENT,
        )
        password = initial_password_set(user, by=by)
        student.user = user
        student.save(update_fields=["user"])
        outcome.created.append(_card(student, login, password))
    changes = {
        # One string per kind: the journal reads a two-item list as "old → new".
        label: ", ".join(card.login for card in cards)
        for label, cards in (
            ("comptes créés", outcome.created),
            ("mots de passe réinitialisés", outcome.reset),
        )
        if cards
    }
    if changes:
        action = "Comptes élèves créés" if not outcome.reset else "Comptes élèves créés ou réinitialisés"
        audit_record(establishment, by, action, changes)
    return outcome


def class_login_cards(establishment: Establishment, class_code: str) -> tuple[list[LoginCard], list[Student]]:
    """The logins of a class's active students (no password: nobody can see one again), and the
    students of the class who have no account yet."""
    students = (
        establishment.students.filter(is_active=True, class_code=class_code)
        .select_related("user")
        .order_by("last_name", "first_name", "id")
    )
    cards, without = [], []
    for student in students:
        if student.user is not None and student.user.is_active:
            cards.append(_card(student, student.user.username, ""))
        else:
            without.append(student)
    return cards, without


class StudentAccountBackend(ModelBackend):
    """Django's backend, refusing a student whose record at their establishment is inactive.

    Defence in depth: an import disables the account (:func:`sync_accounts_after_import`), and
    even before it has, or if it failed, such a student can neither log in nor keep a session
    (``get_user`` asks the same question at every request).
    """

    def get_user(self, user_id):
        # The user and their establishment in one query: every school page reads both.
        try:
            user = User._default_manager.select_related("establishment").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def user_can_authenticate(self, user) -> bool:
        if not super().user_can_authenticate(user):
            return False
        if getattr(user, "role", "") != Role.STUDENT:
            return True
        return not Student.objects.filter(user=user, is_active=False).exists()


@transaction.atomic
def sync_accounts_after_import(establishment_id: int, *, now: datetime) -> tuple[int, int]:
    """Disable the accounts of the establishment's inactive students; re-enable those that an
    import had disabled and whose student is active again. Returns (disabled, re-enabled).

    An account disabled for another reason (by an operator) has no ``ImportDeactivation`` mark:
    a reactivation leaves it disabled.
    """
    students = Student.objects.filter(establishment_id=establishment_id, user__isnull=False)
    to_disable = list(
        User.objects.filter(
            pk__in=students.filter(is_active=False).values("user"), is_active=True
        ).values_list("pk", flat=True)
    )
    if to_disable:
        ImportDeactivation.objects.bulk_create(
            [ImportDeactivation(user_id=pk, deactivated_at=now) for pk in to_disable], ignore_conflicts=True
        )
        User.objects.filter(pk__in=to_disable).update(is_active=False)
    # Two reads when nothing changes (most imports): every import pays for this receiver.
    to_enable = list(
        ImportDeactivation.objects.filter(
            user__in=students.filter(is_active=True).values("user")
        ).values_list("user_id", flat=True)
    )
    if to_enable:
        User.objects.filter(pk__in=to_enable).update(is_active=True)
        ImportDeactivation.objects.filter(user_id__in=to_enable).delete()
    return len(to_disable), len(to_enable)


def accounts_after_import(sender, *, establishment_id: int, import_id: int, **kwargs) -> None:
    """Receiver of ``students.signals.siecle_import_applied`` (connected in ``StudentsConfig.ready``).

    The import has committed: a failure here must not turn its page into an error, and logins stay
    refused anyway (:class:`StudentAccountBackend`); the next import will try again.
    """
    try:
        disabled, enabled = sync_accounts_after_import(establishment_id, now=timezone.now())
    except Exception:
        logger.exception("Student accounts not synchronised after SIECLE import %s", import_id)
        return
    if disabled or enabled:
        logger.info(
            "SIECLE import %s: %s student accounts disabled, %s re-enabled", import_id, disabled, enabled
        )
