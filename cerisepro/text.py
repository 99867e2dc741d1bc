"""Text from outside (SIECLE files, form inputs) made safe to store and show: see docs/siecle-format.md.

Invisible characters can make a name or a UAI read differently from what it is: a right-to-left
override (U+202E) shows "0750654D" as "D4560570" on a page, in the CSV and on the printed passport;
a zero-width space makes two identical-looking names different. Control characters break the CSV
and the PDF. :func:`strip_unsafe_characters` removes them and NFC-normalises what is left, so that
"é" typed as "e" + combining accent is stored like the "é" SIECLE writes.

Pure Python and database-free: the SIECLE parser calls it for every text field of every student.
"""

from __future__ import annotations

import re
import unicodedata

# Every format character (Unicode category Cf, up to Unicode 15): bidi embeddings, overrides and
# isolates (U+202A–U+202E, U+2066–U+2069), marks (U+200E, U+200F, U+061C), zero-width characters
# (U+200B–U+200D, U+2060, U+FEFF), the soft hyphen, invisible operators, interlinear annotations and
# tag characters. None of them belongs in a name, a class code or a passport entry.
_FORMAT_CHARACTERS = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
# C0 controls, DEL and C1 controls, except the ones that separate lines or words (handled below);
# lone surrogates, which cannot be encoded at all.
_CONTROLS = "\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff"
# Whitespace controls: kept as line breaks in multi-line text, turned into a space otherwise.
_LINE_BREAKS = "\n\r\x0b\x0c\x85\u2028\u2029"

_REMOVED_RE = re.compile(f"[{_FORMAT_CHARACTERS}{_CONTROLS}]+")
_SINGLE_LINE_SPACES_RE = re.compile(f"[\t{_LINE_BREAKS}]")
_MULTILINE_BREAKS_RE = re.compile(f"\r\n|[{_LINE_BREAKS}]")


def strip_unsafe_characters(value: str, *, multiline: bool = False) -> str:
    """``value`` without invisible or control characters, NFC-normalised.

    Single-line text (names, codes) gets a space for a tab or a line break; multi-line text keeps
    tabs and line breaks, with every kind of line break (``\\r\\n``, ``\\r``, U+2028…) made ``\\n``.
    Leading and trailing spaces are left to the caller, which usually strips them.
    """
    if value.isascii() and value.isprintable():
        # The usual case, and the fast path: printable ASCII has nothing to remove or normalise.
        return value
    breaks, replacement = (_MULTILINE_BREAKS_RE, "\n") if multiline else (_SINGLE_LINE_SPACES_RE, " ")
    return unicodedata.normalize("NFC", breaks.sub(replacement, _REMOVED_RE.sub("", value)))
