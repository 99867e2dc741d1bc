"""Validators for the identifiers of docs/formats.md: UAI and CNIL declaration number."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# A–Z without I, O and Q: the check-key alphabet shared by UAI and INE-BEA.
CHECK_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ"

UAI_RE = re.compile(r"^[0-9]{7}[A-Z]$")
CNIL_RE = re.compile(r"^\d{6,8}(\s*[vV]\s*\d{1,2})?$")


def check_letter(digits: str) -> str:
    """Return the check key of a string of digits (UAI: 7 digits, INE-BEA: 10 digits)."""
    return CHECK_ALPHABET[int(digits) % len(CHECK_ALPHABET)]


def normalize_uai(value: str) -> str:
    return (value or "").strip().upper()


def is_valid_uai(value: str) -> bool:
    uai = normalize_uai(value)
    return bool(UAI_RE.match(uai)) and check_letter(uai[:7]) == uai[7]


def validate_uai(value: str) -> None:
    uai = normalize_uai(value)
    if not UAI_RE.match(uai):
        raise ValidationError(
            _("Le code UAI doit comporter 7 chiffres suivis d'une lettre (par exemple 0750654D)."),
            code="uai_format",
        )
    expected = check_letter(uai[:7])
    if uai[7] != expected:
        raise ValidationError(
            _("La lettre clé du code UAI %(uai)s est incorrecte : la lettre attendue est %(key)s."),
            code="uai_key",
            params={"uai": uai, "key": expected},
        )


def normalize_cnil_number(value: str) -> str:
    return " ".join((value or "").split())


def validate_cnil_number(value: str) -> None:
    if not CNIL_RE.match(normalize_cnil_number(value)):
        raise ValidationError(
            _(
                "Le numéro de déclaration CNIL comporte 6 à 8 chiffres, éventuellement suivis "
                "d'une version (par exemple « 1929152 V0 »)."
            ),
            code="cnil_format",
        )
