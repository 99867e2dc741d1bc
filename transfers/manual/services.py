"""The manual path (docs/transfers.md): the business rules, and only them.

A school without SIECLE (a CFA, a GRETA) cannot be matched automatically. The old school's
administrator authorises the transfer of a deactivated student to a destination UAI, with the
consent of the student or their legal guardians; technical staff then execute it from the Django
admin, choosing or creating the student at the destination. Technical staff may also *force* a pair
the job refused for a change of diploma. Each of these writes one ordinary history row and copies
the passport with :func:`transfers.copy_passports`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from functools import partial

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cerisepro.site import absolute_url
from establishments.models import Establishment, User
from establishments.validators import normalize_uai, validate_uai
from students.models import Origin, Student

from ..copy import copy_passports
from ..history import PARIS, invalidate_history_counts
from ..models import Kind, ManualAuthorisation, Transfer
from ..reports import staff_emails  # one list of staff recipients for every alert
from ..rules import refuse_left_destination, window_start

logger = logging.getLogger(__name__)

# The identity copied into a student created at the destination by hand: enough for the passport
# and for the diagnostic to recognise the pair; the class is the destination's business.
IDENTITY_FIELDS = (
    "ine",
    "last_name",
    "first_name",
    "birth_date",
    "mef_code",
    "mef_label",
    "diploma_level",
    "diploma_specialite",
)


# --- the school's side -------------------------------------------------------------------------


def transferable_students(establishment: Establishment, *, now: datetime) -> QuerySet[Student]:
    """The "Liste des élèves transférables (non automatisable)", in one query.

    Students who left within the six-month window, who have an INE (docs/formats.md: without one a
    student can never be transferred), and who are neither waiting for an authorisation nor
    already transferred.
    """
    pending = ManualAuthorisation.objects.filter(
        origin_student=OuterRef("pk"), status=ManualAuthorisation.Status.PENDING
    )
    done = Transfer.objects.filter(origin_student=OuterRef("pk"), done=True)
    return (
        establishment.students.filter(
            is_active=False, deactivated_at__gt=window_start(now), deactivated_at__lte=now
        )
        .exclude(ine="")
        .exclude(Exists(pending))
        .exclude(Exists(done))
        .order_by("last_name", "first_name", "id")
    )


def uai_lookup(value: str, establishment: Establishment) -> dict[str, object]:
    """What the UAI input shows as it is typed: whether the UAI is valid, and whose it is."""
    try:
        uai = clean_destination_uai(value, establishment)
    except ValidationError as error:
        return {"valid": False, "name": None, "message": error.messages[0]}
    destination = Establishment.objects.filter(uai=uai).only("name").first()
    return {"valid": True, "name": destination.name if destination else None, "message": ""}


def clean_destination_uai(value: str, establishment: Establishment) -> str:
    uai = normalize_uai(value)
    if not uai:
        raise ValidationError(_("Indiquez l'UAI de l'établissement de destination."), code="required")
    validate_uai(uai)
    if uai == establishment.uai:
        raise ValidationError(
            _(
                "L'UAI de destination est celui de votre établissement : indiquez celui du nouvel "
                "établissement."
            ),
            code="own_uai",
        )
    return uai


def manual_authorisation_create(
    origin_student: Student, *, destination_uai: str, consent_confirmed: bool, user: User, now: datetime
) -> ManualAuthorisation:
    """Authorise the transfer of one student's passport; raises a French ValidationError."""
    (authorisation,) = manual_authorisations_create(
        [(origin_student, destination_uai)], consent_confirmed=consent_confirmed, user=user, now=now
    )
    return authorisation


def manual_authorisations_create(
    requests: Sequence[tuple[Student, str]], *, consent_confirmed: bool, user: User, now: datetime
) -> list[ManualAuthorisation]:
    """All or nothing: one invalid row refuses them all.

    Raises a ValidationError whose ``error_dict`` is keyed by the student's ``public_id`` (as a
    string), or by ``"consent"``.
    """
    errors: dict[str, list[ValidationError]] = {}
    if not consent_confirmed:
        errors["consent"] = [_consent_error()]
    cleaned = []
    for student, value in requests:
        try:
            cleaned.append((student, _check_request(student, value, now)))
        except ValidationError as error:
            errors[str(student.public_id)] = error.error_list
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            created = [_authorisation_insert(student, uai, user=user, now=now) for student, uai in cleaned]
            # The people who execute them hear of it once the rows are there to see (docs/operations.md).
            for establishment_id in sorted({student.establishment_id for student, _uai in cleaned}):
                transaction.on_commit(partial(notify_staff_of_authorisations, establishment_id), robust=True)
            return created
    except IntegrityError:
        # A double submission raced us past the check: the constraint keeps one pending row.
        raise ValidationError(_pending_error()) from None


def _consent_error() -> ValidationError:
    return ValidationError(
        _("Confirmez que l'élève ou ses responsables légaux ont autorisé ce transfert."), code="consent"
    )


def _pending_error() -> ValidationError:
    return ValidationError(_("Un transfert de cet élève est déjà en attente."), code="pending")


def _check_request(student: Student, value: str, now: datetime) -> str:
    uai = clean_destination_uai(value, student.establishment)
    if not transferable_students(student.establishment, now=now).filter(pk=student.pk).exists():
        if student.manual_authorisations.filter(status=ManualAuthorisation.Status.PENDING).exists():
            raise _pending_error()
        raise ValidationError(
            _("Cet élève ne peut plus être transféré (déjà transféré, ou parti depuis plus de six mois)."),
            code="not_transferable",
        )
    return uai


def _authorisation_insert(student: Student, uai: str, *, user: User, now: datetime) -> ManualAuthorisation:
    return ManualAuthorisation.objects.create(
        origin_student=student,
        origin_establishment_id=student.establishment_id,
        destination_uai=uai,
        consent_confirmed=True,
        authorised_by=user,
        authorised_at=now,
    )


def manual_authorisations_of(establishment: Establishment) -> QuerySet[ManualAuthorisation]:
    """The establishment's authorisations, each with the destination's name when it is registered."""
    names = Establishment.objects.filter(uai=OuterRef("destination_uai")).values("name")[:1]
    return (
        establishment.manual_authorisations.select_related("origin_student", "authorised_by", "handled_by")
        .annotate(destination_name=Subquery(names))
        .order_by("-authorised_at", "-id")
    )


def pending_authorisations() -> QuerySet[ManualAuthorisation]:
    """Every establishment's authorisations waiting for technical staff (the admin index counts them)."""
    return ManualAuthorisation.objects.filter(status=ManualAuthorisation.Status.PENDING)


def pending_admin_path() -> str:
    """The admin's list of the authorisations waiting."""
    path = reverse("admin:transfers_manualauthorisation_changelist")
    return f"{path}?status__exact={ManualAuthorisation.Status.PENDING}"


def pending_admin_url() -> str:
    """The same, absolute when SITE_URL is set, as in the schools' e-mails (transfers/emails.py)."""
    return absolute_url(pending_admin_path())


def notify_staff_of_authorisations(establishment_id: int) -> bool:
    """E-mail technical staff that a school authorised transfers: how many wait, and the admin link.

    No student name or INE (docs/privacy.md): the school, the counts and the link only. Sent after
    commit; a failure is logged, never raised (the authorisations are recorded). True when sent.
    """
    recipients = staff_emails()
    if not recipients:
        logger.warning("Manual authorisations in establishment %s: no staff e-mail address", establishment_id)
        return False
    establishment = Establishment.objects.get(pk=establishment_id)
    pending = pending_authorisations()
    context = {
        "establishment": establishment,
        "school_pending": pending.filter(origin_establishment=establishment).count(),
        "pending": pending.count(),
        "url": pending_admin_url(),
    }
    subject = render_to_string("transfers/email_manual_authorised_subject.txt", context)
    body = render_to_string("transfers/email_manual_authorised.txt", context)
    try:
        EmailMessage(" ".join(subject.split()), body, to=recipients).send()
    except Exception:
        logger.exception("Could not e-mail staff about the manual authorisations of %s", establishment.uai)
        return False
    return True


def authorisation_state(authorisation: ManualAuthorisation, establishment: Establishment) -> str:
    """What the school reads of its authorisation: waiting, executed on …, or cancelled on … by whom.

    docs/operations.md "Manual authorisations": staff's reason is shown; a school's own cancellation
    needs none.
    """
    status = authorisation.status
    if status == ManualAuthorisation.Status.PENDING:
        return _("En attente de l'équipe technique")
    day = (
        timezone.localtime(authorisation.handled_at, PARIS).strftime("%d/%m/%Y")
        if authorisation.handled_at
        else ""
    )
    if status == ManualAuthorisation.Status.EXECUTED:
        return _("Exécutée le %(day)s : le passeport a été copié") % {"day": day}
    by_school = (
        authorisation.handled_by is not None and authorisation.handled_by.establishment_id == establishment.pk
    )
    if by_school:
        return _("Annulée le %(day)s par votre établissement") % {"day": day}
    if authorisation.cancel_reason:
        return _("Annulée le %(day)s par l'équipe technique (motif : %(reason)s)") % {
            "day": day,
            "reason": authorisation.cancel_reason,
        }
    return _("Annulée le %(day)s par l'équipe technique") % {"day": day}


# --- technical staff's side --------------------------------------------------------------------


def destination_establishment(authorisation: ManualAuthorisation) -> Establishment:
    destination = Establishment.objects.filter(uai=authorisation.destination_uai).first()
    if destination is None:
        raise ValidationError(
            _(
                "L'établissement de destination %(uai)s n'est pas enregistré : enregistrez-le "
                "(Établissements › Ajouter) avant d'exécuter ce transfert."
            ),
            code="unregistered",
            params={"uai": authorisation.destination_uai},
        )
    return destination


def destination_candidates(authorisation: ManualAuthorisation) -> tuple[list[Student], list[Student]]:
    """Students of the destination to choose from: those with the same INE, then the others."""
    destination = destination_establishment(authorisation)
    students = list(destination.students.order_by("last_name", "first_name", "id"))
    ine = authorisation.origin_student.ine
    same = [student for student in students if ine and student.ine == ine]
    return same, [student for student in students if student not in same]


def manual_authorisation_execute(
    authorisation: ManualAuthorisation,
    *,
    user: User,
    now: datetime,
    destination_student: Student | None = None,
    create_student: bool = False,
) -> Transfer:
    """Copy the passport to the chosen (or created) destination student and write the history row."""
    if (destination_student is None) == (not create_student):
        raise ValidationError(
            _("Choisissez un élève de l'établissement de destination, ou demandez sa création."),
            code="choice",
        )
    with transaction.atomic():
        # The lock makes two staff members clicking "Exécuter" together execute it once.
        authorisation = _lock_pending(authorisation)
        destination = destination_establishment(authorisation)
        origin = authorisation.origin_student
        if create_student:
            destination_student = _destination_student_create(origin, destination, now=now)
        elif destination_student is None or destination_student.establishment_id != destination.pk:
            raise ValidationError(
                _("Cet élève n'appartient pas à l'établissement de destination %(uai)s."),
                code="wrong_establishment",
                params={"uai": destination.uai},
            )
        refuse_left_destination(destination_student)
        transfer = _manual_transfer_insert(origin, destination_student, user=user, now=now)
        copy_passports([transfer], now=now)
        authorisation.status = ManualAuthorisation.Status.EXECUTED
        authorisation.handled_by, authorisation.handled_at, authorisation.transfer = user, now, transfer
        authorisation.save(update_fields=["status", "handled_by", "handled_at", "transfer"])
    return transfer


def manual_authorisation_cancel(
    authorisation: ManualAuthorisation, *, user: User, now: datetime, reason: str = ""
) -> None:
    """Cancel a waiting authorisation: the school itself, or technical staff with a reason.

    Staff must say why (docs/operations.md "Manual authorisations"): the school reads the reason on
    its Transferts tab and can then fix what was wrong and authorise again.
    """
    reason = reason.strip()
    if user.establishment_id is None and not reason:
        raise ValidationError(
            _("Indiquez le motif de l'annulation : l'établissement le lira sur sa page Transferts."),
            code="reason_required",
        )
    with transaction.atomic():
        authorisation = _lock_pending(authorisation)
        authorisation.status = ManualAuthorisation.Status.CANCELLED
        authorisation.handled_by, authorisation.handled_at = user, now
        authorisation.cancel_reason = reason
        authorisation.save(update_fields=["status", "handled_by", "handled_at", "cancel_reason"])


def _lock_pending(authorisation: ManualAuthorisation) -> ManualAuthorisation:
    locked = (
        ManualAuthorisation.objects.select_for_update()
        .select_related("origin_student")
        .get(pk=authorisation.pk)
    )
    if locked.status != ManualAuthorisation.Status.PENDING:
        raise ValidationError(
            _("Cette autorisation n'est plus en attente (%(status)s)."),
            code="not_pending",
            params={"status": locked.get_status_display().lower()},
        )
    return locked


def _destination_student_create(origin: Student, destination: Establishment, *, now: datetime) -> Student:
    if origin.ine and destination.students.filter(ine=origin.ine).exists():
        raise ValidationError(
            _("Un élève portant cet INE existe déjà dans l'établissement de destination : choisissez-le."),
            code="ine_exists",
        )
    identity = {field: getattr(origin, field) for field in IDENTITY_FIELDS}
    return Student.objects.create(establishment=destination, origin=Origin.MANUAL, created_at=now, **identity)


def _manual_transfer_insert(origin: Student, destination: Student, *, user: User, now: datetime) -> Transfer:
    if Transfer.objects.filter(origin_student=origin, destination_student=destination).exists():
        raise _already_decided_error()
    try:
        # A savepoint, so that a concurrent decision of the same pair is a message, not a 500.
        with transaction.atomic():
            transfer = Transfer.for_pair(origin, destination, now=now, kind=Kind.MANUAL, user=user)
            transfer.save()
            # A new row in both histories: their cached row totals are renewed once this commits.
            invalidate_history_counts([origin.establishment_id, destination.establishment_id])
            return transfer
    except IntegrityError:
        raise _already_decided_error() from None


def _already_decided_error() -> ValidationError:
    return ValidationError(
        _("Un transfert entre ces deux élèves figure déjà dans l'historique."), code="already_decided"
    )
