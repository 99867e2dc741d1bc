"""Business rules of establishments: registration, settings tabs and their audit log."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import models, transaction
from django.utils.translation import gettext as _

from .models import AuditLogEntry, Establishment, Role, User, establishment_image_path
from .validators import normalize_cnil_number, normalize_uai, validate_cnil_number

logger = logging.getLogger(__name__)

DETAIL_FIELDS = (
    "name",
    "email",
    "phone",
    "address",
    "postal_code",
    "city",
    "academy",
    "website",
    "uses_siecle",
)
# Field → the word used in the audit log (stored text, hence not translated lazily).
IMAGE_FIELDS = {"logo": "logo", "stamp": "cachet"}


def image_storage(field: str) -> Storage:
    """Where the establishments' logos (``field="logo"``) or stamps (``"stamp"``) are stored."""
    model_field = Establishment._meta.get_field(field)
    assert isinstance(model_field, models.FileField)
    return model_field.storage


def audit_record(
    establishment: Establishment, user: User | None, action: str, changes: dict[str, Any]
) -> AuditLogEntry:
    return AuditLogEntry.objects.create(
        establishment=establishment,
        user=user,
        username=user.get_username() if user else "",
        action=action,
        changes=changes,
    )


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {field: [before[field], after[field]] for field in after if before[field] != after[field]}


def establishment_create(
    *,
    uai: str,
    name: str,
    email: str,
    admin_username: str | None = None,
    admin_password: str | None = None,
    principal_username: str | None = None,
    principal_password: str | None = None,
) -> Establishment:
    """Register an establishment and, optionally, its first administrator and principal."""
    establishment = Establishment(uai=normalize_uai(uai), name=name.strip(), email=email.strip())
    establishment.full_clean()
    with transaction.atomic():
        establishment.save()
        for username, password, role in (
            (admin_username, admin_password, Role.ADMINISTRATOR),
            (principal_username, principal_password, Role.PRINCIPAL),
        ):
            if username:
                user_create(establishment, username=username, password=password, role=role)
    logger.info("Registered establishment %s", establishment.uai)
    return establishment


def user_create(
    establishment: Establishment, *, username: str, password: str | None, role: str, **fields: Any
) -> User:
    user = User(username=username, establishment=establishment, role=role, **fields)
    if password:
        # The same rules as a password chosen on the site: an operator must not set a weak one.
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise ValidationError({"password": error.error_list}) from None
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    return user


@transaction.atomic
def establishment_update_details(
    establishment: Establishment, user: User, data: dict[str, Any]
) -> dict[str, list[Any]]:
    """Save the *Établissement* tab; returns (and records) the changed fields."""
    locked = Establishment.objects.select_for_update().get(pk=establishment.pk)
    before = {field: getattr(locked, field) for field in DETAIL_FIELDS}
    after = {field: data.get(field, before[field]) for field in DETAIL_FIELDS}
    changes = _diff(before, after)
    if changes:
        for field, (_old, new) in changes.items():
            setattr(locked, field, new)
        locked.full_clean()
        locked.save(update_fields=list(changes))
        audit_record(locked, user, "Établissement modifié", changes)
    establishment.refresh_from_db()
    return changes


def establishment_set_image(
    establishment: Establishment, user: User, kind: str, content: ContentFile
) -> None:
    """Store a sanitised logo or stamp. The previous file is removed only once the change commits,
    and the new file is removed if it does not, so a failure keeps the previous image."""
    field = _image_field(kind)
    storage = image_storage(field)
    try:
        # content.name: "image.png" or "image.jpg" (sanitize_image); the stored name keeps its extension.
        stored = storage.save(establishment_image_path(establishment, content.name or ""), content)
    except OSError:
        # Disk full or unwritable media folder: nothing changed.
        logger.exception("Could not store the %s of establishment %s", field, establishment.uai)
        raise ValidationError(
            _(
                "L'image n'a pas pu être enregistrée sur le serveur : l'image précédente est "
                "conservée. Réessayez plus tard ou contactez l'assistance."
            ),
            code="storage",
        ) from None
    try:
        with transaction.atomic():
            locked = Establishment.objects.select_for_update().get(pk=establishment.pk)
            previous = getattr(locked, field).name
            setattr(locked, field, stored)
            locked.save(update_fields=[field])
            audit_record(locked, user, f"{IMAGE_FIELDS[field].capitalize()} remplacé", {field: "remplacé"})
            if previous:
                transaction.on_commit(lambda: storage.delete(previous))
    except BaseException:
        storage.delete(stored)
        raise
    establishment.refresh_from_db()


def establishment_delete_image(establishment: Establishment, user: User, kind: str) -> bool:
    field = _image_field(kind)
    storage = image_storage(field)
    with transaction.atomic():
        locked = Establishment.objects.select_for_update().get(pk=establishment.pk)
        previous = getattr(locked, field).name
        if not previous:
            return False
        setattr(locked, field, "")
        locked.save(update_fields=[field])
        audit_record(locked, user, f"{IMAGE_FIELDS[field].capitalize()} supprimé", {field: "supprimé"})
        transaction.on_commit(lambda: storage.delete(previous))
    establishment.refresh_from_db()
    return True


def _image_field(kind: str) -> str:
    if kind not in IMAGE_FIELDS:
        raise ValueError(f"Unknown image kind {kind!r}")
    return kind


@transaction.atomic
def establishment_set_transfer(
    establishment: Establishment,
    user: User,
    *,
    enabled: bool,
    cnil_number: str,
    now: datetime,
    reminders: bool | None = None,
) -> dict[str, list[Any]]:
    """Turn transfers on or off. Turning them on requires a valid CNIL declaration number.

    ``reminders`` (None: unchanged) turns the reminder e-mails about waiting passports on or off
    (docs/transfers.md §9); audited with the rest of the tab.
    """
    cnil_number = normalize_cnil_number(cnil_number)
    if cnil_number:
        validate_cnil_number(cnil_number)
    if enabled and not cnil_number:
        raise ValidationError(
            {
                "cnil_declaration_number": _(
                    "Indiquez le numéro de déclaration CNIL de l'établissement pour activer le transfert."
                )
            },
            code="cnil_required",
        )
    locked = Establishment.objects.select_for_update().get(pk=establishment.pk)
    before = {
        "transfer_enabled": locked.transfer_enabled,
        "cnil_declaration_number": locked.cnil_declaration_number,
    }
    after: dict[str, Any] = {"transfer_enabled": enabled, "cnil_declaration_number": cnil_number}
    if reminders is not None:
        before["transfer_reminders_enabled"] = locked.transfer_reminders_enabled
        after["transfer_reminders_enabled"] = reminders
    changes = _diff(before, after)
    if changes:
        locked.transfer_enabled = enabled
        locked.cnil_declaration_number = cnil_number
        if reminders is not None:
            locked.transfer_reminders_enabled = reminders
        if set(changes) - {"transfer_reminders_enabled"}:
            locked.transfer_changed_by = user
            locked.transfer_changed_at = now
        locked.save()
        audit_record(locked, user, "Transfert modifié", changes)
        logger.info("Transfer %s for establishment %s", "enabled" if enabled else "disabled", locked.uai)
    establishment.refresh_from_db()
    return changes
