"""Establishments (the tenants), their users and the audit log of their settings."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .validators import validate_uai


def establishment_image_path(instance: Establishment, filename: str) -> str:
    # Random names: an image URL never reveals or guesses another school's file.
    return f"establishments/{instance.media_key}/{uuid.uuid4().hex}{filename[filename.rfind('.') :]}"


class Establishment(models.Model):
    uai = models.CharField(_("UAI"), max_length=8, unique=True, validators=[validate_uai])
    name = models.CharField(_("nom"), max_length=200)
    email = models.EmailField(_("adresse e-mail"))
    phone = models.CharField(_("téléphone"), max_length=30, blank=True)
    address = models.CharField(_("adresse"), max_length=300, blank=True)
    postal_code = models.CharField(_("code postal"), max_length=10, blank=True)
    city = models.CharField(_("ville"), max_length=100, blank=True)
    academy = models.CharField(_("académie"), max_length=100, blank=True)
    website = models.URLField(_("site web"), blank=True)
    uses_siecle = models.BooleanField(_("utilise SIECLE"), default=True)
    media_key = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    logo = models.FileField(_("logo"), upload_to=establishment_image_path, blank=True)
    stamp = models.FileField(_("cachet"), upload_to=establishment_image_path, blank=True)
    transfer_enabled = models.BooleanField(_("transfert activé"), default=False)
    cnil_declaration_number = models.CharField(_("numéro de déclaration CNIL"), max_length=20, blank=True)
    transfer_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("transfert modifié par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    transfer_changed_at = models.DateTimeField(_("transfert modifié le"), null=True, blank=True)
    # Paramètres › Transferts: the reminder e-mails of docs/transfers.md §9 (on by default).
    transfer_reminders_enabled = models.BooleanField(_("rappels de transfert par e-mail"), default=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("établissement")
        verbose_name_plural = _("établissements")
        ordering = ["uai"]
        constraints = [
            models.CheckConstraint(
                condition=Q(transfer_enabled=False) | ~Q(cnil_declaration_number=""),
                name="transfer_requires_cnil_number",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.uai} — {self.name}"


class Role(models.TextChoices):
    ADMINISTRATOR = "administrateur", _("Administrateur")
    PRINCIPAL = "chef", _("Chef d'établissement")
    TEACHER = "enseignant", _("Enseignant")
    STUDENT = "eleve", _("Élève")


class User(AbstractUser):
    """A school user belongs to one establishment with one role; technical staff to none."""

    establishment = models.ForeignKey(
        Establishment,
        verbose_name=_("établissement"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    role = models.CharField(_("rôle"), max_length=20, choices=Role.choices, blank=True)

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")
        constraints = [
            models.CheckConstraint(
                condition=(Q(establishment__isnull=True) & Q(role=""))
                | (Q(establishment__isnull=False) & ~Q(role="")),
                name="school_user_has_establishment_and_role",
            ),
        ]

    @property
    def is_school_administrator(self) -> bool:
        return self.role == Role.ADMINISTRATOR

    @property
    def is_principal(self) -> bool:
        return self.role == Role.PRINCIPAL


class AuditLogEntry(models.Model):
    """One change to an establishment's settings: who, when, and each field's old → new value."""

    establishment = models.ForeignKey(
        Establishment,
        verbose_name=_("établissement"),
        on_delete=models.CASCADE,
        related_name="audit_log",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    username = models.CharField(_("identifiant"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("date"), auto_now_add=True, db_index=True)
    action = models.CharField(_("action"), max_length=100)
    changes = models.JSONField(_("modifications"), default=dict, blank=True)

    class Meta:
        verbose_name = _("entrée du journal")
        verbose_name_plural = _("journal des modifications")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{timezone.localtime(self.created_at):%d/%m/%Y %H:%M} {self.action}"
