from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import CommandError, no_translations

from cerisepro.commands import OperatorCommand
from establishments.services import establishment_create


class Command(OperatorCommand):
    help = "Register an establishment and, optionally, its first administrator."

    def add_arguments(self, parser):
        parser.add_argument("uai")
        parser.add_argument("name")
        parser.add_argument("--email", required=True)
        parser.add_argument("--admin-username")
        parser.add_argument("--admin-password")

    @no_translations  # Django's own messages (e.g. the password rules) in English, for operators
    def handle(self, *args, uai, name, email, admin_username, admin_password, **options):
        if admin_password and not admin_username:
            raise CommandError("--admin-password needs --admin-username")
        try:
            establishment = establishment_create(
                uai=uai,
                name=name,
                email=email,
                admin_username=admin_username,
                admin_password=admin_password,
            )
        except ValidationError as error:
            raise CommandError(_one_line(error)) from None
        self.stdout.write(f"Created establishment {establishment.uai} ({establishment.name})")
        if admin_username:
            self.stdout.write(f"Created administrator {admin_username}")


ENGLISH = {
    "uai_format": "must be 7 digits followed by a letter, e.g. 0750654D",
    "uai_key": "{uai} has a wrong check letter (expected {key})",
    "unique": "already exists",
    "invalid": "is invalid",
    "required": "is required",
    "blank": "is required",
}


def _one_line(error: ValidationError) -> str:
    """An English one-line summary of a validation error, for operators."""
    by_field = error.error_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.error_list}
    parts = []
    for field, errors in by_field.items():
        for item in errors:
            parts.append(_english(item) if field == NON_FIELD_ERRORS else f"{field}: {_english(item)}")
    return "; ".join(parts)


def _english(item: ValidationError) -> str:
    if item.code in ENGLISH:
        return ENGLISH[item.code].format(**(item.params or {}))
    message = str(item.message)
    return (message % item.params if item.params else message).rstrip(".")
