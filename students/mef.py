"""MEF codes (module élémentaire de formation) and the diploma they lead to (docs/formats.md).

``CODE_MEF`` is 11 characters: dispositif ``[0:3]``, spécialité ``[3:8]``, duration ``[8]``, year
within the course ``[9]``, type ``[10]``. Moving up a year or repeating one only changes ``[8:11]``,
so the diploma is the level given by the dispositif plus the spécialité.
"""

from __future__ import annotations

from dataclasses import dataclass

MEF_LENGTH = 11

# Dispositif ranges of docs/formats.md (31x–32x BTS: 320 is the BTS in two years); any other
# dispositif is kept as its three digits, which still compares correctly between two enrolments of
# the same dispositif.
_LEVELS: tuple[tuple[range, str], ...] = (
    (range(240, 243), "CAP"),
    (range(245, 248), "BAC PRO"),
    (range(310, 330), "BTS"),
)


@dataclass(frozen=True)
class Diploma:
    level: str
    specialite: str


def _level_of(dispositif: str) -> str:
    if dispositif.isdigit():
        number = int(dispositif)
        for numbers, level in _LEVELS:
            if number in numbers:
                return level
    return dispositif


def diploma_of(mef_code: str) -> Diploma | None:
    code = (mef_code or "").strip()
    if len(code) != MEF_LENGTH:
        return None
    return Diploma(level=_level_of(code[0:3]), specialite=code[3:8])


def same_diploma(a: str, b: str) -> bool:
    """Whether two enrolments lead to the same diploma (no "changement de diplôme").

    Two identical codes are the same enrolment even when they are not 11 characters long (test
    exports contain such codes); otherwise a code we cannot read never matches, so the pair is
    refused and technical staff can force it.
    """
    a, b = (a or "").strip(), (b or "").strip()
    if a and a == b:
        return True
    diploma_a, diploma_b = diploma_of(a), diploma_of(b)
    return diploma_a is not None and diploma_a == diploma_b
