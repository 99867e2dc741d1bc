"""What an account carries besides Django's user: an initial password still to be replaced, and a
deactivation by a SIECLE import that a later import may undo (docs/accounts.md, "Student accounts")."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class InitialPassword(models.Model):
    """The user's password was set by someone else (an administrator's *fiche de connexion*): the
    next login must choose a new one. The password itself is only in ``User.password``, hashed;
    this row is deleted once the user has set their own."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        on_delete=models.CASCADE,
        related_name="initial_password",
    )
    # Which password hash the row is about (an HMAC of ``User.password``, never the password): once
    # the user has set another password, however they did it, the hash differs and the row is stale.
    fingerprint = models.CharField(max_length=64, default="", editable=False)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("créé par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("mot de passe initial")
        verbose_name_plural = _("mots de passe initiaux")

    def __str__(self) -> str:
        return str(_("Mot de passe initial à changer"))


class ImportDeactivation(models.Model):
    """The account was disabled because a SIECLE import deactivated its student. Only such an
    account is re-enabled when a later import reactivates the student: one disabled for another
    reason stays disabled."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        on_delete=models.CASCADE,
        related_name="import_deactivation",
    )
    deactivated_at = models.DateTimeField(_("désactivé le"))

    class Meta:
        verbose_name = _("désactivation par un import")
        verbose_name_plural = _("désactivations par un import")

    def __str__(self) -> str:
        return str(_("Compte désactivé par un import SIECLE"))
