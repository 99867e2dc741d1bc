"""How an establishment's users log in, and which connector identity is which local user.

A connector never creates a user: a CAS identity logs in only the user it was linked to, in the
establishment where it was linked; a ProConnect e-mail only the staff account a superuser allowed
(docs/connexion.md).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from establishments.models import Establishment


class LoginMode(models.TextChoices):
    LOCAL = "local", _("Mots de passe cerisepro (par défaut)")
    BOTH = "mixte", _("ENT et mots de passe cerisepro (période de transition)")
    ENT = "ent", _("ENT uniquement (les administrateurs et le chef gardent leur mot de passe)")


class LoginSettings(models.Model):
    """*Paramètres › Connexion* of one establishment. No row means local passwords only."""

    establishment = models.OneToOneField(
        Establishment,
        verbose_name=_("établissement"),
        on_delete=models.CASCADE,
        related_name="login_settings",
    )
    mode = models.CharField(_("mode de connexion"), max_length=10, choices=LoginMode.choices)
    # The key of settings.CERISEPRO_KNOWN_ENTS the address was chosen from ("" when typed).
    known_ent = models.CharField(_("ENT connu"), max_length=50, blank=True)
    cas_server_url = models.URLField(_("adresse du serveur CAS de l'ENT"), max_length=300, blank=True)
    changed_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        verbose_name = _("mode de connexion")
        verbose_name_plural = _("modes de connexion")
        constraints = [
            models.CheckConstraint(
                condition=Q(mode=LoginMode.LOCAL) | ~Q(cas_server_url=""),
                name="ent_login_needs_a_cas_server",
            ),
        ]

    def __str__(self) -> str:
        return str(self.get_mode_display())

    @property
    def uses_ent(self) -> bool:
        return self.mode in (LoginMode.ENT, LoginMode.BOTH) and bool(self.cas_server_url)


class CasLink(models.Model):
    """The identifier the establishment's ENT returns for one local user.

    Unique per (establishment, ENT identifier): the same identifier linked in another establishment
    is another link, and logs in nobody here.
    """

    establishment = models.ForeignKey(
        Establishment, verbose_name=_("établissement"), on_delete=models.CASCADE, related_name="cas_links"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        on_delete=models.CASCADE,
        related_name="cas_link",
    )
    cas_user = models.CharField(_("identifiant ENT"), max_length=255)
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
        verbose_name = _("lien avec l'ENT")
        verbose_name_plural = _("liens avec l'ENT")
        constraints = [
            models.UniqueConstraint(fields=["establishment", "cas_user"], name="one_user_per_ent_identifier"),
        ]

    def __str__(self) -> str:
        return f"{self.establishment.uai} · {self.cas_user}"


class CasSession(models.Model):
    """The Django session a service ticket opened, for the ENT's single logout (logoutRequest)."""

    establishment = models.ForeignKey(Establishment, on_delete=models.CASCADE, related_name="+")
    # SHA-256 of the ticket: a leaked table gives no ticket (they are single-use anyway).
    ticket_digest = models.CharField(max_length=64, unique=True)
    session_key = models.CharField(max_length=40)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("session ouverte par l'ENT")
        verbose_name_plural = _("sessions ouvertes par l'ENT")

    def __str__(self) -> str:
        return f"{self.establishment_id} · {self.created_at:%Y-%m-%d %H:%M}"


class CasLinkImport(models.Model):
    """The preview of an ENT export: the links it would make, shown until confirmed or cancelled.

    Deleted once confirmed; an abandoned one is deleted a day later (at the next upload).
    """

    establishment = models.ForeignKey(
        Establishment, verbose_name=_("établissement"), on_delete=models.CASCADE, related_name="+"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("créé le"))
    file_name = models.CharField(_("fichier"), max_length=255, blank=True)
    # {"to_link": [...], "already_linked": [...], "homonyms": [...], "not_found": [...]}: the rows
    # as shown; "to_link" rows carry the user id and the ENT identifier to link.
    preview = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("aperçu d'un export de l'ENT")
        verbose_name_plural = _("aperçus d'exports de l'ENT")

    def __str__(self) -> str:
        return self.file_name or str(self.public_id)


class StaffEmailAllowance(models.Model):
    """A superuser allowed this address to log this staff account in through ProConnect."""

    email = models.EmailField(_("adresse e-mail"), unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("compte de l'équipe technique"),
        on_delete=models.CASCADE,
        related_name="proconnect_allowance",
        limit_choices_to={"is_staff": True},
    )
    # ProConnect's ``sub`` seen at the first login: later logins must carry the same one, so an
    # address handed over to someone else at the identity provider opens nothing.
    subject = models.CharField(_("identifiant ProConnect (sub)"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("autorisé le"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("autorisé par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    last_login_at = models.DateTimeField(_("dernière connexion"), null=True, blank=True)

    class Meta:
        verbose_name = _("adresse autorisée pour ProConnect")
        verbose_name_plural = _("adresses autorisées pour ProConnect")

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)
