"""INE, the national student identifier (docs/formats.md): normalisation and kind.

The kind decides how much we trust an INE. Only INE-BEA carries a public check key; INE-RNIE and
apprentice INEs can only be checked by their shape, and test exports use odd values such as
``00000000123`` that an import must keep rather than reject.
"""

from __future__ import annotations

import re

from establishments.validators import check_letter

RNIE = "rnie"
BEA = "bea"
BEA_BAD_KEY = "bea_bad_key"
APPRENTICE = "apprentice"
UNUSUAL = "unusual"
INVALID = "invalid"

_RNIE_RE = re.compile(r"^\d{9}[A-Z]{2}$")
_BEA_RE = re.compile(r"^\d{10}[A-Z]$")
_APPRENTICE_RE = re.compile(r"^\d{4}A\d{5}[A-Z]$")
# ASCII only: \w would also accept "é" or Arabic digits, which no INE contains.
_ELEVEN_WORD_CHARS_RE = re.compile(r"^[0-9A-Za-z_]{11}$")


def normalize_ine(value: str | None) -> str:
    return (value or "").strip().upper()


def ine_kind(ine: str) -> str:
    """Classify an already normalised INE (see the module constants)."""
    if _RNIE_RE.match(ine):
        return RNIE
    if _BEA_RE.match(ine):
        return BEA if check_letter(ine[:10]) == ine[10] else BEA_BAD_KEY
    # Checked after BEA: "1234A12345B" cannot be a BEA (a letter at index 4) so the order is free,
    # but an apprentice INE must not fall into "unusual".
    if _APPRENTICE_RE.match(ine):
        return APPRENTICE
    if _ELEVEN_WORD_CHARS_RE.match(ine):
        return UNUSUAL
    return INVALID
