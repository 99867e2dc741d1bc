"""The establishment's home page by role: the administrator's checklist, the status panel, and the
sections the apps above contribute (docs/home.md).

establishments is the bottom layer (docs/architecture.md): it builds the items it knows (the
establishment's details, images, transfer switch, users) and shows those the apps above register
in their ``AppConfig.ready`` (``transfers/home.py``): SIECLE imports, students, transfers.

Each builder runs a fixed number of queries, whatever the establishment's size, so the whole panel
does too (tests/establishments/test_home.py counts them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import timezone

from .access import STAFF_ROLES
from .models import Establishment, Role, User

# docs/home.md "Details filled in": what the printed passport's letterhead shows besides the name
# and e-mail address, which every establishment has from its creation.
LETTERHEAD_FIELDS = ("phone", "address", "postal_code", "city")
# The administrator's first steps, in the order the checklist shows them (docs/home.md).
CHECKLIST_ORDER = ("details", "images", "siecle", "transfer", "users")


@dataclass(frozen=True)
class ChecklistStep:
    key: str  # one of CHECKLIST_ORDER
    label: str
    done: bool
    url: str  # the page where the step is done
    help: str = ""


@dataclass(frozen=True)
class StatusItem:
    key: str
    label: str
    value: str
    url: str = ""  # a page the viewer's role may open, or ""
    warning: str = ""  # shown next to the value, e.g. an import older than 30 days


# (establishment, viewer) → the step, or None when it does not apply to this establishment.
StepBuilder = Callable[[Establishment, User], ChecklistStep | None]
# (establishment, now, viewer's role) → the item, or None when it does not apply.
StatusBuilder = Callable[[Establishment, datetime, str], StatusItem | None]
# (establishment, viewer, now) → what the role's section of the home page shows.
SectionBuilder = Callable[[Establishment, User, datetime], object]

_steps: list[StepBuilder] = []
_status: list[StatusBuilder] = []
_sections: dict[str, dict[str, SectionBuilder]] = {}


def register_checklist_steps(*builders: StepBuilder) -> None:
    _steps.extend(builder for builder in builders if builder not in _steps)


def register_status_items(*builders: StatusBuilder) -> None:
    """Add items to the status panel, after those already registered (one line per item)."""
    _status.extend(builder for builder in builders if builder not in _status)


def register_home_section(role: str, name: str, builder: SectionBuilder) -> None:
    """Show ``builder(establishment, user, now)`` as ``name`` in the home page of ``role``."""
    _sections.setdefault(role, {})[name] = builder


# --- what the page shows -----------------------------------------------------------------------


def checklist(establishment: Establishment, user: User) -> list[ChecklistStep]:
    """The administrator's first steps, in CHECKLIST_ORDER; the page hides them once all are done."""
    builders = [_details_step, _images_step, _transfer_step, _users_step, *_steps]
    steps = [step for build in builders if (step := build(establishment, user)) is not None]
    return sorted(steps, key=lambda step: CHECKLIST_ORDER.index(step.key))


def status_panel(establishment: Establishment, *, now: datetime, role: str) -> list[StatusItem]:
    """The state of the school at a glance, for its management only (never a teacher or a student)."""
    if role not in STAFF_ROLES:
        return []
    builders = [_transfer_item, *_status]
    return [item for build in builders if (item := build(establishment, now, role)) is not None]


def home_sections(establishment: Establishment, user: User, *, now: datetime) -> dict[str, object]:
    return {name: build(establishment, user, now) for name, build in _sections.get(user.role, {}).items()}


def home_context(establishment: Establishment, user: User, *, now: datetime) -> dict[str, object]:
    """Everything the home page of ``user``'s role shows."""
    context: dict[str, object] = {"establishment": establishment}
    if user.role == Role.ADMINISTRATOR:
        steps = checklist(establishment, user)
        context |= {
            "steps": steps,
            "steps_done": sum(step.done for step in steps),
            "checklist_done": all(step.done for step in steps),
        }
    context["status_items"] = status_panel(establishment, now=now, role=user.role)
    return context | home_sections(establishment, user, now=now)


# --- the establishment's own steps and items ---------------------------------------------------


def _url(name: str, establishment: Establishment) -> str:
    return reverse(name, args=[establishment.uai])


def _details_step(establishment: Establishment, user: User) -> ChecklistStep:
    return ChecklistStep(
        "details",
        "Compléter les coordonnées de l'établissement (téléphone, adresse)",
        all(getattr(establishment, field) for field in LETTERHEAD_FIELDS),
        _url("settings-details", establishment),
        "Elles figurent en tête du passeport imprimé.",
    )


def _images_step(establishment: Establishment, user: User) -> ChecklistStep:
    return ChecklistStep(
        "images",
        "Déposer le logo et le cachet",
        bool(establishment.logo and establishment.stamp),
        _url("settings-logo", establishment),
        "Le cachet authentifie le passeport imprimé.",
    )


def _transfer_step(establishment: Establishment, user: User) -> ChecklistStep:
    # The database refuses transfer on without a CNIL declaration number: one field says both.
    return ChecklistStep(
        "transfer",
        "Activer le transfert des passeports avec le numéro de déclaration CNIL",
        establishment.transfer_enabled,
        _url("settings-transfers", establishment),
        "Sans lui, le passeport d'un élève qui change d'établissement ne le suit pas.",
    )


def _users_step(establishment: Establishment, user: User) -> ChecklistStep:
    others = establishment.users.filter(is_active=True).exclude(pk=user.pk)
    return ChecklistStep(
        "users",
        "Créer les comptes des autres utilisateurs (chef d'établissement, enseignants)",
        others.exists(),
        _url("settings-users", establishment),
        "Chacun reçoit par e-mail un lien pour choisir son mot de passe.",
    )


def _transfer_item(establishment: Establishment, now: datetime, role: str) -> StatusItem:
    if establishment.transfer_enabled:
        value = f"activé (déclaration CNIL {establishment.cnil_declaration_number})"
    else:
        value = "désactivé"
    return StatusItem(
        "transfer", "Transfert des passeports", value, _url("settings-transfers", establishment)
    )


# --- time rules ----------------------------------------------------------------------------------

# docs/home.md "School year": from September 1st to July 5th included (Paris dates); outside it a
# school does not import, and an old import is no cause for alarm.
SCHOOL_YEAR_START = (9, 1)
SCHOOL_YEAR_END = (7, 5)
STALE_IMPORT_AGE = timedelta(days=30)
PARIS = ZoneInfo("Europe/Paris")


def in_school_year(now: datetime) -> bool:
    today = timezone.localtime(now, PARIS).date()
    day = (today.month, today.day)
    return day >= SCHOOL_YEAR_START or day <= SCHOOL_YEAR_END


def import_is_stale(applied_at: datetime, *, now: datetime) -> bool:
    """An import older than 30 days during the school year: students who left or arrived since are
    unknown to cerisepro, and their passports do not move."""
    return in_school_year(now) and now - applied_at > STALE_IMPORT_AGE


def french_plural(count: int, singular: str, plural: str) -> str:
    """``singular`` for 0 and 1, as French says it ("0 passeport reçu"); ngettext without a catalog
    follows the English rule."""
    return (singular if count < 2 else plural) % {"count": count}
