"""What the apps above establishments show on its home page (docs/home.md): registered by
``TransfersConfig.ready`` through :mod:`establishments.dashboard`, as the *Transferts* settings tab's
context is through ``establishments.hooks``.

transfers is the top of the core apps: it reads students and its own models, so the home page's
SIECLE, student and transfer items live here. Each builder runs one or two queries, whatever the
establishment's size.

To add an item to the status panel, write its builder and append it to ``STATUS_ITEMS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from establishments import dashboard
from establishments.access import ADMIN_ONLY
from establishments.dashboard import ChecklistStep, StatusItem
from establishments.models import Establishment, Role, User
from students.models import SiecleImport, Student

from . import history, waiting
from .models import ManualAuthorisation

# An import that synchronised the roster, whether or not it changed anything.
APPLIED = (SiecleImport.Status.APPLIED, SiecleImport.Status.UNCHANGED)
RECENT = timedelta(days=30)
HISTORY_ROWS = 5


def _school_url(name: str, establishment: Establishment) -> str:
    return reverse(name, args=[establishment.uai])


def _applied_imports(establishment: Establishment):
    return establishment.imports.filter(status__in=APPLIED, applied_at__isnull=False)


# --- the checklist -------------------------------------------------------------------------------


def siecle_step(establishment: Establishment, user: User) -> ChecklistStep | None:
    if not establishment.uses_siecle:
        return None  # a CFA or a GRETA: its students come by the manual path
    return ChecklistStep(
        "siecle",
        _("Importer l'export SIECLE des élèves"),
        _applied_imports(establishment).exists(),
        _school_url("siecle-import", establishment),
        _(
            "Les élèves et leurs départs viennent de SIECLE : importez-le chaque mois pendant "
            "l'année scolaire."
        ),
    )


# --- the status panel ----------------------------------------------------------------------------


def _local_date(moment: datetime) -> str:
    return timezone.localtime(moment, history.PARIS).strftime("%d/%m/%Y")


def siecle_item(establishment: Establishment, now: datetime, role: str) -> StatusItem | None:
    if not establishment.uses_siecle:
        return None
    url = _school_url("siecle-import", establishment) if role in ADMIN_ONLY else ""
    last = (
        _applied_imports(establishment).order_by("-applied_at").values_list("applied_at", flat=True).first()
    )
    if last is None:
        return StatusItem(
            "siecle", _("Dernier import SIECLE"), _("aucun"), url, _("Importez l'export SIECLE.")
        )
    warning = ""
    if dashboard.import_is_stale(last, now=now):
        days = (now - last).days
        warning = _(
            "Import de plus de 30 jours (%(days)d jours) : les élèves arrivés ou partis depuis sont inconnus "
            "de cerisepro et leurs passeports ne suivent pas. Importez un export SIECLE récent."
        ) % {"days": days}
    return StatusItem("siecle", _("Dernier import SIECLE"), _("le %s") % _local_date(last), url, warning)


def students_item(establishment: Establishment, now: datetime, role: str) -> StatusItem:
    counts = establishment.students.filter(is_active=True).aggregate(
        total=Count("id"), without_ine=Count("id", filter=Q(ine=""))
    )
    total, without_ine = counts["total"], counts["without_ine"]
    value = dashboard.french_plural(total, _("%(count)d élève actif"), _("%(count)d élèves actifs"))
    value += _(", dont %(count)d sans INE") % {"count": without_ine}
    warning = ""
    if without_ine:
        warning = _("Un élève sans INE ne peut pas être transféré : faites compléter son INE dans SIECLE.")
    return StatusItem("students", _("Élèves"), value, _school_url("student-list", establishment), warning)


def _done_since(transfers, since: datetime) -> int:
    return transfers.filter(done=True, created_at__gte=since).count()


def received_item(establishment: Establishment, now: datetime, role: str) -> StatusItem:
    count = _done_since(establishment.transfers_received, now - RECENT)
    value = dashboard.french_plural(count, _("%(count)d passeport reçu"), _("%(count)d passeports reçus"))
    return StatusItem(
        "received", _("Reçus ces 30 derniers jours"), value, _school_url("transfer-history", establishment)
    )


def sent_item(establishment: Establishment, now: datetime, role: str) -> StatusItem:
    count = _done_since(establishment.transfers_sent, now - RECENT)
    value = dashboard.french_plural(count, _("%(count)d passeport envoyé"), _("%(count)d passeports envoyés"))
    return StatusItem(
        "sent", _("Envoyés ces 30 derniers jours"), value, _school_url("transfer-history", establishment)
    )


def manual_item(establishment: Establishment, now: datetime, role: str) -> StatusItem:
    count = establishment.manual_authorisations.filter(status=ManualAuthorisation.Status.PENDING).count()
    value = dashboard.french_plural(
        count,
        _("%(count)d autorisation en attente de l'équipe technique"),
        _("%(count)d autorisations en attente de l'équipe technique"),
    )
    url = _school_url("manual-transfers", establishment) if role in ADMIN_ONLY else ""
    return StatusItem("manual", _("Transferts manuels"), value, url)


# The status panel's items after the transfer switch, in this order (docs/home.md).
STATUS_ITEMS = [siecle_item, students_item, received_item, sent_item, manual_item]
STATUS_ITEMS += [waiting.arrivals_item, waiting.departures_item]  # docs/transfers.md §9


# --- the sections of each role -------------------------------------------------------------------


def recent_history(establishment: Establishment, user: User, now: datetime) -> dict[str, list]:
    """The principal's last rows of the history, built as the history page builds them (the origin of
    an arrival that was not transferred stays hidden, history.HIDDEN_ORIGIN)."""
    return {
        direction: list(history.history_rows(select(establishment)[:HISTORY_ROWS], direction))
        for direction, select in history.SELECTORS.items()
    }


@dataclass(frozen=True)
class ClassCount:
    class_code: str
    students: int


def classes(establishment: Establishment, user: User, now: datetime) -> list[ClassCount]:
    """The teacher's classes: active students per class, in one query ("" for those without one)."""
    rows = (
        establishment.students.filter(is_active=True)
        .order_by("class_code")
        .values_list("class_code")
        .annotate(count=Count("id"))
    )
    return [ClassCount(code, count) for code, count in rows]


@dataclass(frozen=True)
class EntriesOrigin:
    """Entries of the passport produced by one establishment; ``own`` when it is the student's."""

    own: bool
    name: str
    uai: str
    entries: int


@dataclass(frozen=True)
class PassportSummary:
    student: Student | None
    origins: list[EntriesOrigin]

    @property
    def entries(self) -> int:
        return sum(origin.entries for origin in self.origins)


def passport_summary(establishment: Establishment, user: User, now: datetime) -> PassportSummary:
    """The student's passport and where its entries came from: the producing establishment, as the
    passport page shows it on each copied entry (``produced_by``, ``produced_uai``)."""
    student = establishment.students.filter(user=user).first()
    if student is None:
        return PassportSummary(None, [])
    rows = (
        student.passport_entries.order_by()
        .values_list("produced_uai", "produced_by")
        .annotate(count=Count("id"))
        .order_by("-count", "produced_uai")
    )
    origins = [EntriesOrigin(uai == establishment.uai, name or uai, uai, count) for uai, name, count in rows]
    return PassportSummary(student, sorted(origins, key=lambda origin: not origin.own))


def register() -> None:
    """Called by ``TransfersConfig.ready``."""
    dashboard.register_checklist_steps(siecle_step)
    dashboard.register_status_items(*STATUS_ITEMS)
    dashboard.register_home_section(Role.PRINCIPAL, "recent_history", recent_history)
    dashboard.register_home_section(Role.TEACHER, "classes", classes)
    dashboard.register_home_section(Role.STUDENT, "passport", passport_summary)
