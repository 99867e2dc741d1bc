"""Transfer history, runs of the matching job, and manual-transfer authorisations."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from establishments.models import Establishment, User
from students.models import EntryKind, Student

# The column of ``Transfer`` that counts the copied passport entries of each kind: the copy's SQL
# (both paths), the CSV export and the history command are generated from it. A new EntryKind
# needs its column here (and a migration); tests/transfers/test_entry_kinds.py fails until then.
COPIED_COUNTERS: dict[str, str] = {
    EntryKind.FICHE: "fiches_copied",
    EntryKind.EVALUATION: "evaluations_copied",
    EntryKind.BILAN: "bilans_copied",
}


class Kind(models.TextChoices):
    AUTOMATIC = "automatique", _("Automatique")
    MANUAL = "manuel", _("Manuel")
    FORCED = "force", _("Forcé")


class Cause(models.TextChoices):
    """Why a decided pair was not transferred (empty when it was)."""

    DIPLOMA_CHANGE = "changement_diplome", _("Changement de diplôme")
    IDENTITY_MISMATCH = "identite_differente", _("Identité différente")
    MORE_RECENT_ORIGIN = "origine_plus_recente", _("Transfert depuis un établissement quitté plus récemment")
    # A pair whose evidence disagrees, or one import pulling an unusual number of passports, waits
    # for technical staff (docs/transfers.md "Held for review"); staff release or refuse it.
    HELD = "en_revue", _("En attente de vérification par l'assistance technique")
    REFUSED_AFTER_REVIEW = "refuse_revue", _("Refusé après vérification par l'assistance technique")
    # A transfer technical staff undid (docs/transfers.md "Undoing a transfer"): the copies were
    # removed; the row stays as the pair's decision until staff re-open it.
    UNDONE = "annule", _("Transfert annulé par l'assistance technique")


class HoldReason(models.TextChoices):
    """Why a pair was held for review rather than transferred at once (staff-only wording)."""

    PREVIOUS_SCHOOL = (
        "etab_precedent",
        _(
            "L'établissement précédent déclaré par le nouvel établissement (SCOLARITE_AN_DERNIER) n'est ni "
            "l'établissement d'origine ni l'établissement précédent de l'élève dans celui-ci"
        ),
    )
    ENTRY_DATE = (
        "date_entree",
        _("La date d'entrée dans le nouvel établissement précède celle dans l'établissement d'origine"),
    )
    VOLUME = "volume", _("Un même import SIECLE ferait venir un nombre inhabituel de passeports")


class Trigger(models.TextChoices):
    BEAT = "beat", _("Planification quotidienne")
    IMPORT = "import", _("Après un import SIECLE")
    COMMAND = "commande", _("Commande")
    ADMIN = "admin", _("Administration technique")


class MatchingRun(models.Model):
    """One run of the matching job: when, why, what it decided, and what went wrong."""

    class Status(models.TextChoices):
        RUNNING = "en_cours", _("En cours")
        SUCCEEDED = "termine", _("Terminé")
        # Finished, but some destinations failed and were left undecided for the next run
        # (docs/transfers.md §5): ``failures`` says which.
        SUCCEEDED_WITH_ERRORS = "erreurs", _("Terminé avec erreurs")
        FAILED = "echec", _("Échec")
        SKIPPED = "ignore", _("Ignoré (un autre traitement était en cours)")

    started_at = models.DateTimeField(_("début"), db_index=True)
    finished_at = models.DateTimeField(_("fin"), null=True, blank=True)
    as_of = models.DateTimeField(_("date de référence"))
    trigger = models.CharField(_("déclencheur"), max_length=10, choices=Trigger.choices)
    establishment = models.ForeignKey(
        Establishment,
        verbose_name=_("établissement"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    pairs_decided = models.PositiveIntegerField(_("paires décidées"), default=0)
    transfers_done = models.PositiveIntegerField(_("transferts effectués"), default=0)
    entries_copied = models.PositiveIntegerField(_("entrées copiées"), default=0)
    counts = models.JSONField(_("décomptes par issue"), default=dict, blank=True)
    # What stopped the run (FAILED), or why an interrupted run was closed: short French texts.
    errors = models.JSONField(_("erreurs"), default=list, blank=True)
    # Destinations whose transaction failed and were left undecided, one dict each:
    # destination_student_id, origin_student_ids, error (class name), message (a fixed French
    # text, never the database's own message, which may quote names or INEs).
    failures = models.JSONField(_("élèves en erreur"), default=list, blank=True)

    class Meta:
        verbose_name = _("exécution du rapprochement")
        verbose_name_plural = _("exécutions du rapprochement")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        # Paris time, as every other date of the admin (the stored instant is UTC).
        return f"{self.get_trigger_display()} — {timezone.localtime(self.started_at):%d/%m/%Y %H:%M}"


# The rows that decide their pair: every row except an undone transfer staff re-opened, which stays
# as history while the job may decide the pair again (docs/transfers.md "Undoing a transfer").
DECISION_IN_FORCE = Q(reopened_at__isnull=True)


class Transfer(models.Model):
    """One decided (origin student, destination student) pair: the history row both schools see."""

    # The id school pages use in URLs ("signaler une erreur"): opaque, unlike the primary key.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(_("date"), db_index=True)
    ine = models.CharField(_("INE"), max_length=11)
    origin_student = models.ForeignKey(
        Student, verbose_name=_("élève (origine)"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    destination_student = models.ForeignKey(
        Student,
        verbose_name=_("élève (destination)"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="transfers_received",
    )
    origin_establishment = models.ForeignKey(
        Establishment,
        verbose_name=_("établissement d'origine"),
        on_delete=models.PROTECT,
        related_name="transfers_sent",
    )
    destination_establishment = models.ForeignKey(
        Establishment,
        verbose_name=_("établissement de destination"),
        on_delete=models.PROTECT,
        related_name="transfers_received",
    )
    # Shown when a student record is gone (retention purge): "élève supprimé".
    student_name = models.CharField(_("élève"), max_length=210, blank=True)
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices, default=Kind.AUTOMATIC)
    done = models.BooleanField(_("transfert effectué"))
    cause = models.CharField(_("motif"), max_length=30, choices=Cause.choices, blank=True)
    fiches_copied = models.PositiveIntegerField(_("fiches copiées"), default=0)
    evaluations_copied = models.PositiveIntegerField(_("évaluations copiées"), default=0)
    bilans_copied = models.PositiveIntegerField(_("bilans copiés"), default=0)
    run = models.ForeignKey(
        MatchingRun, verbose_name=_("exécution"), on_delete=models.SET_NULL, null=True, blank=True
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    hold_reason = models.CharField(
        _("raison de la vérification"), max_length=20, choices=HoldReason.choices, blank=True
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("vérifié par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("vérifié le"), null=True, blank=True)
    review_note = models.TextField(_("note de vérification"), blank=True)
    # Undo and re-open by technical staff (transfers/undo.py); the reasons are shown to both schools.
    undone_at = models.DateTimeField(_("annulé le"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("annulé par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    undo_reason = models.TextField(_("motif de l'annulation"), blank=True)
    reopened_at = models.DateTimeField(_("rouvert le"), null=True, blank=True)
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rouvert par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reopen_reason = models.TextField(_("motif de la réouverture"), blank=True)

    class Meta:
        verbose_name = _("transfert")
        verbose_name_plural = _("historique des transferts")
        ordering = ["-created_at", "-id"]
        constraints = [
            # Each pair is decided once: the claim that makes concurrent runs safe. An undone transfer
            # staff re-opened no longer decides its pair, so the job may write the pair's new decision.
            models.UniqueConstraint(
                fields=["origin_student", "destination_student"],
                condition=DECISION_IN_FORCE,
                name="one_decision_per_pair",
            ),
            models.CheckConstraint(
                condition=Q(reopened_at__isnull=True) | Q(undone_at__isnull=False),
                name="only_an_undone_transfer_is_reopened",
            ),
            models.CheckConstraint(
                condition=Q(done=True) | ~Q(cause=""), name="refused_transfer_has_a_cause"
            ),
        ]
        indexes = [
            models.Index(fields=["origin_establishment", "-created_at"], name="transfer_sent_idx"),
            models.Index(fields=["destination_establishment", "-created_at"], name="transfer_received_idx"),
        ]

    def __str__(self) -> str:
        origin, destination = self.origin_establishment.uai, self.destination_establishment.uai
        return f"{origin} → {destination} ({timezone.localtime(self.created_at):%d/%m/%Y})"

    @classmethod
    def for_pair(
        cls,
        origin: Student,
        destination: Student,
        *,
        now: datetime,
        kind: str,
        cause: str = "",
        hold_reason: str = "",
        run: MatchingRun | None = None,
        user: User | None = None,
    ) -> Transfer:
        """The unsaved history row deciding (origin, destination): the builder of every path.

        Done when there is no cause. The INE is the one the passport travelled under (the origin's),
        and the name the one both schools read once a record is gone: the origin's ``display_name``.
        """
        return cls(
            created_at=now,
            ine=origin.ine,
            origin_student=origin,
            destination_student=destination,
            origin_establishment_id=origin.establishment_id,
            destination_establishment_id=destination.establishment_id,
            student_name=origin.display_name,
            kind=kind,
            done=cause == "",
            cause=cause,
            hold_reason=hold_reason,
            run=run,
            user=user,
        )

    @property
    def entries_copied(self) -> int:
        return sum(getattr(self, column) for column in COPIED_COUNTERS.values())


class TransferReport(models.Model):
    """ "Signaler une erreur": the origin school tells technical staff a passport went wrongly."""

    transfer = models.ForeignKey(
        Transfer, verbose_name=_("transfert"), on_delete=models.CASCADE, related_name="reports"
    )
    establishment = models.ForeignKey(
        Establishment, verbose_name=_("établissement"), on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signalé par"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("signalé le"))
    message = models.TextField(_("message"), blank=True)
    handled_at = models.DateTimeField(_("traité le"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("traité par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("signalement d'erreur")
        verbose_name_plural = _("signalements d'erreur")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.transfer} — {timezone.localtime(self.created_at):%d/%m/%Y}"


class AuthorisationStatus(models.TextChoices):
    PENDING = "en_attente", _("En attente")
    EXECUTED = "effectue", _("Effectué")
    CANCELLED = "annule", _("Annulé")


class ManualAuthorisation(models.Model):
    """The old school's authorisation to send a student's passport to a school without SIECLE."""

    # At module level so that the constraint below can name it (Meta does not see the class body).
    Status = AuthorisationStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    origin_student = models.ForeignKey(
        Student, verbose_name=_("élève"), on_delete=models.CASCADE, related_name="manual_authorisations"
    )
    origin_establishment = models.ForeignKey(
        Establishment,
        verbose_name=_("établissement d'origine"),
        on_delete=models.CASCADE,
        related_name="manual_authorisations",
    )
    destination_uai = models.CharField(_("UAI de destination"), max_length=8)
    consent_confirmed = models.BooleanField(_("autorisation de l'élève ou des responsables légaux"))
    status = models.CharField(_("statut"), max_length=12, choices=Status.choices, default=Status.PENDING)
    authorised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("autorisé par"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    authorised_at = models.DateTimeField(_("autorisé le"))
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("traité par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    handled_at = models.DateTimeField(_("traité le"), null=True, blank=True)
    # Why technical staff cancelled it: the school reads it on its Transferts tab
    # (docs/operations.md "Manual authorisations"). Empty when the school cancelled it itself.
    cancel_reason = models.TextField(_("motif de l'annulation"), blank=True)
    transfer = models.OneToOneField(
        Transfer, verbose_name=_("transfert"), on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        verbose_name = _("autorisation de transfert manuel")
        verbose_name_plural = _("autorisations de transfert manuel")
        ordering = ["-authorised_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(consent_confirmed=True), name="manual_transfer_needs_consent"),
            # One open authorisation per student at a time.
            models.UniqueConstraint(
                fields=["origin_student"],
                condition=Q(status=AuthorisationStatus.PENDING),
                name="one_pending_authorisation_per_student",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.origin_establishment.uai} → {self.destination_uai}"


class ReminderKind(models.TextChoices):
    """The reminder e-mails of docs/transfers.md §9 (transfers/reminders.py)."""

    # To a school that has not turned transfer on while passports wait for it: once a week.
    NOT_ENABLED = "non_active", _("Transfert non activé (rappel hebdomadaire)")
    # To the waiting side of a pair blocked by the other school, before its window closes.
    CLOSING_30 = "j30", _("Fenêtre de transfert fermant dans 30 jours")
    CLOSING_7 = "j7", _("Fenêtre de transfert fermant dans 7 jours")


class Reminder(models.Model):
    """One reminder e-mail's record: to whom (the establishment), which, for which week or pair.

    ``key`` is the ISO week ("2026-W49") of a weekly reminder, or the pair ("<origin id>-<destination
    id>") of a closing notice: the unique constraint makes "never sent twice for the same week and
    pair" a database guarantee (docs/transfers.md §9).
    """

    establishment = models.ForeignKey(
        Establishment, verbose_name=_("établissement"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("type"), max_length=12, choices=ReminderKind.choices)
    key = models.CharField(_("semaine ou paire"), max_length=40)
    sent_at = models.DateTimeField(_("envoyé le"), db_index=True)
    recipients = models.PositiveIntegerField(_("destinataires"), default=0)
    students = models.PositiveIntegerField(_("élèves en attente"), default=0)
    closes_on = models.DateField(_("première fermeture"), null=True, blank=True)

    class Meta:
        verbose_name = _("rappel de transfert")
        verbose_name_plural = _("rappels de transfert")
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["establishment", "kind", "key"], name="one_reminder_per_week_and_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.establishment.uai} {self.kind} {self.key}"
