"""Students, their professional passport, and the record of SIECLE imports."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from establishments.models import Establishment


class Origin(models.TextChoices):
    SIECLE = "siecle", _("Import SIECLE")
    MANUAL = "manuel", _("Saisie manuelle")


class SiecleImport(models.Model):
    """One SIECLE file submitted for an establishment: previewed, applied or refused."""

    class Status(models.TextChoices):
        PREVIEW = "apercu", _("Aperçu (non appliqué)")
        APPLIED = "applique", _("Appliqué")
        UNCHANGED = "inchange", _("Aucune modification")
        REFUSED = "refuse", _("Refusé")
        CANCELLED = "abandonne", _("Abandonné")

    establishment = models.ForeignKey(
        Establishment, verbose_name=_("établissement"), on_delete=models.CASCADE, related_name="imports"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    username = models.CharField(_("par"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("date"), db_index=True)
    applied_at = models.DateTimeField(_("appliqué le"), null=True, blank=True)
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices)
    file_name = models.CharField(_("fichier"), max_length=255)
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64)
    file_uai = models.CharField(_("UAI du fichier"), max_length=20, blank=True)
    in_file = models.PositiveIntegerField(_("élèves dans le fichier"), default=0)
    created = models.PositiveIntegerField(_("créés"), default=0)
    updated = models.PositiveIntegerField(_("mis à jour"), default=0)
    reactivated = models.PositiveIntegerField(_("réactivés"), default=0)
    deactivated = models.PositiveIntegerField(_("désactivés"), default=0)
    unchanged = models.PositiveIntegerField(_("inchangés"), default=0)
    without_ine = models.PositiveIntegerField(_("sans INE"), default=0)
    # The file's own PARAMETRES: an export older than the last applied one is refused unless confirmed.
    exported_at = models.DateTimeField(_("date de l'export SIECLE"), null=True, blank=True)
    school_year = models.PositiveSmallIntegerField(_("année scolaire"), null=True, blank=True)
    warnings = models.JSONField(_("avertissements"), default=list, blank=True)
    # What the identity rules decided (docs/identity.md): corrections applied, old → new, and SIECLE
    # ids that now name another person; and how many students each synced field changed for.
    identity_changes = models.JSONField(_("corrections d'identité"), default=list, blank=True)
    reassigned_siecle_ids = models.JSONField(_("identifiants SIECLE réattribués"), default=list, blank=True)
    field_changes = models.JSONField(_("champs modifiés"), default=dict, blank=True)
    error = models.TextField(_("erreur"), blank=True)
    # The uploaded file, kept only between the preview and the confirmation.
    pending_content = models.BinaryField(null=True, blank=True, editable=False)
    pending_nomenclature = models.BinaryField(null=True, blank=True, editable=False)
    # What the preview page shows, computed once at upload (ImportPlan.summary).
    preview = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("import SIECLE")
        verbose_name_plural = _("imports SIECLE")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({timezone.localtime(self.created_at):%d/%m/%Y %H:%M})"


class Student(models.Model):
    establishment = models.ForeignKey(
        Establishment, verbose_name=_("établissement"), on_delete=models.PROTECT, related_name="students"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ine = models.CharField(_("INE"), max_length=11, blank=True)
    siecle_id = models.CharField(_("identifiant SIECLE"), max_length=20, blank=True)
    last_name = models.CharField(_("nom"), max_length=100)
    first_name = models.CharField(_("prénom"), max_length=100)
    birth_date = models.DateField(_("date de naissance"), null=True, blank=True)
    class_code = models.CharField(_("classe"), max_length=50, blank=True)
    mef_code = models.CharField(_("code MEF"), max_length=11, blank=True)
    mef_label = models.CharField(_("formation"), max_length=200, blank=True)
    diploma_level = models.CharField(_("niveau du diplôme"), max_length=20, blank=True)
    diploma_specialite = models.CharField(_("spécialité du diplôme"), max_length=5, blank=True)
    # What the SIECLE file says of the enrolment, used as consistency evidence by the matching job
    # (docs/transfers.md "Held for review"): SCOLARITE_AN_DERNIER/CODE_RNE and DATE_ENTREE.
    previous_uai = models.CharField(_("établissement de l'an dernier"), max_length=8, blank=True)
    entered_on = models.DateField(_("date d'entrée"), null=True, blank=True)
    origin = models.CharField(_("origine"), max_length=10, choices=Origin.choices, default=Origin.MANUAL)
    is_active = models.BooleanField(_("actif"), default=True)
    created_at = models.DateTimeField(_("créé le"))
    deactivated_at = models.DateTimeField(_("désactivé le"), null=True, blank=True)
    created_by_import = models.ForeignKey(
        SiecleImport, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    deactivated_by_import = models.ForeignKey(
        SiecleImport, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("compte élève"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="student_record",
    )

    class Meta:
        verbose_name = _("élève")
        verbose_name_plural = _("élèves")
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["establishment", "ine"], condition=~Q(ine=""), name="one_ine_per_establishment"
            ),
            models.UniqueConstraint(
                fields=["establishment", "siecle_id"],
                condition=~Q(siecle_id=""),
                name="one_siecle_id_per_establishment",
            ),
            models.CheckConstraint(
                condition=(Q(is_active=True) & Q(deactivated_at__isnull=True))
                | (Q(is_active=False) & Q(deactivated_at__isnull=False)),
                name="inactive_students_have_a_deactivation_date",
            ),
        ]
        indexes = [
            models.Index(fields=["establishment", "is_active", "last_name"], name="student_list_idx"),
            models.Index(fields=["ine"], name="student_ine_idx", condition=~Q(ine="")),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return f"{self.last_name.upper()} {self.first_name}"


class EntryKind(models.TextChoices):
    FICHE = "fiche", _("Fiche d'activité")
    EVALUATION = "evaluation", _("Évaluation")
    BILAN = "bilan", _("Bilan")


class Level(models.TextChoices):
    NOT_ACQUIRED = "non_acquis", _("Non acquis")
    IN_PROGRESS = "en_cours", _("En cours d'acquisition")
    ACQUIRED = "acquis", _("Acquis")
    MASTERED = "maitrise", _("Maîtrisé")


class PassportEntry(models.Model):
    """One entry of the passport: an activity sheet, an evaluation or a review.

    The three kinds share one table so that a transfer copies a passport with one
    ``INSERT … SELECT`` per batch of students, whatever the kind of entry.
    """

    student = models.ForeignKey(
        Student, verbose_name=_("élève"), on_delete=models.CASCADE, related_name="passport_entries"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("type"), max_length=10, choices=EntryKind.choices)
    title = models.CharField(_("intitulé"), max_length=200)
    occurred_on = models.DateField(_("date"))
    end_on = models.DateField(_("fin de période"), null=True, blank=True)
    place = models.CharField(_("lieu"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    competencies = models.TextField(_("compétences"), blank=True)
    level = models.CharField(_("niveau"), max_length=12, choices=Level.choices, blank=True)
    evaluator = models.CharField(_("évaluateur"), max_length=200, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    author_name = models.CharField(_("auteur"), max_length=200, blank=True)
    produced_uai = models.CharField(_("UAI de production"), max_length=8)
    produced_by = models.CharField(_("établissement de production"), max_length=200, blank=True)
    source_entry = models.ForeignKey(
        "self",
        verbose_name=_("entrée d'origine"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="copies",
    )
    # The entry as first written, whatever the number of schools it went through: a transfer
    # never copies into a passport an entry whose original is already there (A → B → C).
    original_entry = models.ForeignKey(
        "self",
        verbose_name=_("entrée originale"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("créé le"))
    updated_at = models.DateTimeField(_("modifié le"))
    # Not a column: set by passport_entries_by_kind for the passport's templates (a copy from
    # another school, which this one may not change).
    read_only: bool = False

    class Meta:
        verbose_name = _("entrée du passeport")
        verbose_name_plural = _("entrées du passeport")
        ordering = ["kind", "occurred_on", "id"]
        constraints = [
            # A transfer copies each entry at most once into a given student's passport.
            models.UniqueConstraint(fields=["student", "source_entry"], name="one_copy_per_source_entry"),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in EntryKind]), name="passport_entry_kind_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["student", "kind"], name="passport_student_kind_idx"),
            models.Index(fields=["student", "original_entry"], name="passport_student_original_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.title}"

    @property
    def is_copy(self) -> bool:
        return self.source_entry_id is not None
