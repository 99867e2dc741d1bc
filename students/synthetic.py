"""Synthetic SIECLE exports for tests, demos and benchmarks, reproducible from a seed.

The layout copies the real ``BEE_ELEVES`` 3.0 export (see ``shared/samples/siecle``): ISO-8859-15,
two-space indentation, ``PARAMETRES`` then ``DONNEES`` with ``ELEVES``, ``OPTIONS``, ``STRUCTURES``.
The XML is built as text rather than through a DOM so that 20,000 students render in well under a
second; every value goes through :func:`_escape`.
"""

from __future__ import annotations

import io
import random
import string
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape as html_escape

from students.siecle import PARIS

ENCODING = "ISO-8859-15"

# (dispositif, spécialité, duration in years, class prefix of each year, label).
# Codes follow the MEF layout of docs/siecle-format.md; spécialités are plausible, not official.
PROGRAMMES: tuple[tuple[str, str, int, tuple[str, ...], str], ...] = (
    ("247", "32403", 3, ("2GA", "1GA", "TGA"), "BAC PRO GESTION-ADMINISTRATION"),
    ("247", "25511", 3, ("2MELEC", "1MELEC", "TMELEC"), "BAC PRO METIERS DE L'ELECTRICITE ET ENV. CONNECTES"),
    ("247", "31208", 3, ("2COM", "1COM", "TCOM"), "BAC PRO METIERS DU COMMERCE ET DE LA VENTE"),
    ("247", "33103", 3, ("2ASSP", "1ASSP", "TASSP"), "BAC PRO ACCOMPAGNEMENT SOINS ET SERVICES A LA PERS."),
    ("240", "25510", 2, ("1CAP", "TCAP"), "CAP ELECTRICIEN"),
    ("240", "31205", 2, ("1EPC", "TEPC"), "CAP EQUIPIER POLYVALENT DU COMMERCE"),
    ("320", "31210", 2, ("BTS1MCO", "BTS2MCO"), "BTS MANAGEMENT COMMERCIAL OPERATIONNEL"),
    ("311", "31403", 1, ("BTSCG",), "BTS COMPTABILITE ET GESTION (EN 1 AN)"),
)
# Relative weights: a lycée professionnel has more Bac Pro students than BTS students.
PROGRAMME_WEIGHTS = (5, 4, 4, 3, 3, 2, 2, 1)
STUDENTS_PER_CLASS = 24

LAST_NAMES = (
    "MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU",
    "LAURENT", "SIMON", "MICHEL", "LEFÈVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL",
    "FOURNIER", "GIRARD", "BONNET", "DUPONT", "LAMBERT", "FONTAINE", "ROUSSEAU", "VINCENT",
    "MULLER", "FAURE", "ANDRÉ", "MERCIER", "BLANC", "GUÉRIN", "BOYER", "GARNIER", "CHEVALIER",
    "FRANÇOIS", "LEGRAND", "GAUTHIER", "GARCIA", "PERRIN", "ROBIN", "CLÉMENT", "MORIN",
    "NICOLAS", "HENRY", "ROUSSEL", "MATHIEU", "GAUTIER", "MASSON", "MARCHAND", "DUVAL", "DENIS",
    "DUMONT", "MARIE", "LEMAIRE", "NOËL", "MEYER", "DUFOUR", "MEUNIER", "BRUN", "BLANCHARD",
    "GIRAUD", "JOLY", "RIVIÈRE", "LUCAS", "BRUNET", "GAILLARD", "BARBIER", "ARNAUD", "MARTINEZ",
    "GÉRARD", "ROCHE", "RENARD", "SCHMITT", "ROY", "LEROUX", "COLIN", "VIDAL", "CARON", "PICARD",
    "ROGER", "FABRE", "AUBERT", "LEMOINE", "RENAUD", "DUMAS", "LACROIX", "OLIVIER", "PHILIPPE",
    "BOURGEOIS", "PIERRE", "BENOÎT", "REY", "LECLERC", "PAYET", "ROLLAND", "LEBŒUF", "CŒURDEROY",
    "DIALLO", "TRAORÉ", "NGUYEN", "BENALI", "HADDAD", "DA SILVA", "FERREIRA", "D'ALMEIDA",
    "MARTIN-DUBOIS", "SAINT-JUST", "KONATÉ", "DEMIR", "YILMAZ", "CISSÉ",
)  # fmt: skip
FIRST_NAMES_M = (
    "Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules", "Adam", "Raphaël", "Maël", "Noé",
    "Ethan", "Nathan", "Théo", "Tom", "Mathis", "Enzo", "Léo", "Timéo", "Sacha", "Mohamed",
    "Rayan", "Yanis", "Kylian", "Clément", "Jérôme", "François", "Joël", "Noël", "Loïc", "Anaël",
    "Bastien", "Quentin", "Matéo", "Ibrahim", "Amine", "Ilyès", "Kévin", "Dylan", "Évan", "Côme",
)  # fmt: skip
FIRST_NAMES_F = (
    "Emma", "Jade", "Louise", "Alice", "Chloé", "Lina", "Léa", "Rose", "Anna", "Mila", "Inès",
    "Ambre", "Julia", "Manon", "Zoé", "Léna", "Camille", "Lola", "Sarah", "Maëlys", "Océane",
    "Anaïs", "Clémence", "Noémie", "Héloïse", "Françoise", "Aïcha", "Yasmine", "Maïwenn",
    "Élise", "Salomé", "Laïa", "Cœlia", "Naëlle", "Gaëlle", "Jeanne", "Lou", "Agathe", "Romane",
)  # fmt: skip
_INE_SPACE = 676 * 1_000_000_000
LEAVING_REASONS = ("01", "03", "05", "06")  # code of CODE_MOTIF_SORTIE (changement d'établissement…)


@dataclass
class SyntheticStudent:
    siecle_id: str
    ine: str
    last_name: str
    first_name: str
    birth_date: date
    class_code: str
    mef_code: str
    entered_on: date
    left_on: date | None
    # Additions: used by the renderer to fill the fields a real export has.
    elenoet: str = ""
    sex: str = "1"  # CODE_SEXE: 1 boy, 2 girl
    second_first_name: str = ""
    previous_mef_code: str = ""
    previous_class_code: str = ""
    groups: tuple[str, ...] = ()
    # SCOLARITE_AN_DERNIER/CODE_RNE; empty: the rendering establishment (a continuing student).
    # An arrival from another school names that school, as SIECLE does.
    previous_uai: str = ""


# --- Students ------------------------------------------------------------------------------------


def make_students(
    count: int,
    seed: int,
    *,
    school_year: int = 2025,
    leaving_ratio: float = 0.05,
    without_ine_ratio: float = 0.02,
    inactive_ratio: float = 0.01,
    id_offset: int = 0,
    future_leaving_ratio: float = 0.0,
) -> list[SyntheticStudent]:
    """Make ``count`` students; the same arguments always give the same students.

    The ratios are exact counts (rounded) on disjoint sets of students, so tests can assert them.
    INEs and ELEVE_IDs are unique across calls whose seeds differ modulo 67,600 or whose
    ``id_offset`` ranges do not overlap (see :func:`synthetic_ine` and :func:`synthetic_eleve_id`),
    so two files of one school made with two seeds never give one ELEVE_ID to two students.
    ``future_leaving_ratio`` gives students a DATE_SORTIE after the export: announced, not left yet.
    """
    rng = random.Random(seed)
    special = _special_indexes(
        rng, count, (leaving_ratio, without_ine_ratio, inactive_ratio, future_leaving_ratio)
    )
    leaving, without_ine, inactive, leaving_later = special
    students = [_make_student(rng, seed, index, id_offset, school_year) for index in range(count)]
    for index in leaving:
        students[index].left_on = _random_date(rng, date(school_year, 9, 8), date(school_year, 10, 15))
    for index in leaving_later:
        students[index].left_on = _random_date(rng, date(school_year + 1, 6, 1), date(school_year + 1, 7, 4))
    for index in without_ine:
        students[index].ine = ""
    for index in inactive:
        students[index].class_code = "Inactifs"
        students[index].groups = ()
    return students


def _special_indexes(rng: random.Random, count: int, ratios: Iterable[float]) -> list[list[int]]:
    wanted = [min(count, round(count * max(ratio, 0.0))) for ratio in ratios]
    pool = rng.sample(range(count), min(count, sum(wanted)))
    sets: list[list[int]] = []
    for size in wanted:
        sets.append(pool[:size])
        pool = pool[size:]
    return sets


def synthetic_ine(seed: int, serial: int) -> str:
    """An INE-RNIE-shaped identifier, distinct for each (seed mod 67,600, serial < 10**7).

    (seed, serial) is numbered into the 676 × 10**9 possible "nine digits, two letters" values and
    scrambled by an affine bijection (the multiplier, near 0.618 × the space, is prime to 2, 5 and
    13), so that consecutive students get unrelated-looking INEs without any risk of collision.
    """
    number = (seed % 67_600) * 10_000_000 + serial % 10_000_000
    scrambled = (number * 417_788_208_811 + 123_456_789) % _INE_SPACE
    digits, letters = divmod(scrambled, 676)
    alphabet = string.ascii_uppercase
    return f"{digits:09d}{alphabet[letters // 26]}{alphabet[letters % 26]}"


def synthetic_eleve_id(seed: int, serial: int) -> str:
    """An ELEVE_ID distinct for each (seed mod 67,600, serial < 10**7), like :func:`synthetic_ine`.

    Real SIECLE never gives one ELEVE_ID to two students of an establishment, and the import treats
    an ELEVE_ID that comes back with another INE as another person (docs/identity.md), so the id
    depends on the seed as well as the serial: ``1 + seed mod 67,600``, then the serial on seven
    digits ("20000000" for seed 1, serial 0). That is 8 to 12 digits, within SIECLE's 20 characters.
    """
    return f"{seed % 67_600 + 1}{serial % 10_000_000:07d}"


def _make_student(
    rng: random.Random, seed: int, index: int, id_offset: int, school_year: int
) -> SyntheticStudent:
    serial = id_offset + index
    dispositif, specialite, duration, prefixes, _label = rng.choices(PROGRAMMES, PROGRAMME_WEIGHTS)[0]
    year = rng.randint(1, duration)
    sex = rng.choice("12")
    first_names = FIRST_NAMES_M if sex == "1" else FIRST_NAMES_F
    age_at_entry = 18 if dispositif in ("320", "311") else 15
    born_in = school_year - age_at_entry - (year - 1) - (1 if rng.random() < 0.2 else 0)
    return SyntheticStudent(
        siecle_id=synthetic_eleve_id(seed, serial),
        ine=synthetic_ine(seed, serial),
        last_name=rng.choice(LAST_NAMES),
        first_name=rng.choice(first_names),
        birth_date=_random_date(rng, date(born_in, 1, 1), date(born_in, 12, 31)),
        class_code=f"{prefixes[year - 1]}{rng.randint(1, 2)}",
        mef_code=_mef(dispositif, specialite, duration, year),
        entered_on=_entry_date(rng, school_year - (year - 1), school_year),
        left_on=None,
        elenoet=str(1000 + serial),
        sex=sex,
        second_first_name=rng.choice(first_names) if rng.random() < 0.5 else "",
        previous_mef_code=_mef(dispositif, specialite, duration, year - 1) if year > 1 else "",
        previous_class_code=f"{prefixes[year - 2]}{rng.randint(1, 2)}" if year > 1 else "",
        groups=(f"GR_ANG{rng.randint(1, 3)}",) if rng.random() < 0.3 else (),
    )


def _mef(dispositif: str, specialite: str, duration: int, year: int) -> str:
    # Last digit: type of MEF; "0" for the usual school-based course.
    return f"{dispositif}{specialite}{duration}{year}0"


def _entry_date(rng: random.Random, year: int, school_year: int) -> date:
    # Most students start at the rentrée; a few arrived during an earlier year of their course
    # (never during the current one, which could put the arrival after the export or a departure).
    if year == school_year or rng.random() < 0.9:
        return date(year, 9, 1)
    return _random_date(rng, date(year, 9, 15), date(year + 1, 2, 28))


def _random_date(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


# --- Rendering ------------------------------------------------------------------------------------


def _escape(value: str) -> str:
    # Apostrophes stay as typed ("D'ALMEIDA"), as in real exports; values go in double quotes.
    return html_escape(value, quote=False).replace('"', "&quot;")


def _date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def render_export(
    uai: str,
    students: list[SyntheticStudent],
    *,
    school_year: int = 2025,
    exported_at: datetime | None = None,
    with_addresses: bool = False,
) -> bytes:
    """Render an ElevesSansAdresses (or …AvecAdresses) export, as SIECLE writes it (ISO-8859-15)."""
    exported_at = exported_at or datetime(school_year, 10, 20, 8, 30, tzinfo=PARIS)
    if exported_at.tzinfo is not None:
        exported_at = exported_at.astimezone(PARIS)
    parts = [
        f'<?xml version="1.0" encoding="{ENCODING}"?>\n<BEE_ELEVES VERSION="3.0">\n',
        _parameters(uai, school_year, exported_at),
        "  <DONNEES>\n    <ELEVES>\n",
    ]
    parts.extend(_eleve(uai, student, with_addresses) for student in students)
    parts.append("    </ELEVES>\n    <OPTIONS>\n")
    parts.extend(_option(student) for student in students)
    parts.append("    </OPTIONS>\n    <STRUCTURES>\n")
    parts.extend(_structures(student) for student in students if student.class_code or student.groups)
    parts.append("    </STRUCTURES>\n    <BOURSES />\n")
    if with_addresses:
        parts.append("    <ADRESSES>\n")
        parts.extend(_address(student) for student in students)
        parts.append("    </ADRESSES>\n")
    parts.append("  </DONNEES>\n</BEE_ELEVES>\n")
    # xmlcharrefreplace: a character outside ISO-8859-15 becomes &#…; instead of failing.
    return "".join(parts).encode(ENCODING, errors="xmlcharrefreplace")


def _parameters(uai: str, school_year: int, exported_at: datetime) -> str:
    return (
        "  <PARAMETRES>\n"
        f"    <UAJ>{_escape(uai)}</UAJ>\n"
        f"    <ANNEE_SCOLAIRE>{school_year}</ANNEE_SCOLAIRE>\n"
        f"    <DATE_EXPORT>{exported_at:%d/%m/%Y}</DATE_EXPORT>\n"
        f"    <HORODATAGE>{exported_at:%d/%m/%Y %H:%M:%S}</HORODATAGE>\n"
        "  </PARAMETRES>\n"
    )


def _eleve(uai: str, student: SyntheticStudent, with_addresses: bool) -> str:
    ine = _escape(student.ine)
    elenoet = _escape(student.elenoet)
    lines = [
        f'      <ELEVE ELEVE_ID="{_escape(student.siecle_id)}" ELENOET="{elenoet}">\n',
        f"        <ID_NATIONAL>{ine}</ID_NATIONAL>\n" if ine else "",
        f"        <INE_RNIE>{ine}</INE_RNIE>\n" if ine else "",
        f"        <ELENOET>{elenoet}</ELENOET>\n",
        f"        <ID_ELEVE_ETAB>{student.elenoet.zfill(5)}{_escape(uai[1:7])}</ID_ELEVE_ETAB>\n",
        f"        <NOM_DE_FAMILLE>{_escape(student.last_name)}</NOM_DE_FAMILLE>\n",
        "        <NOM_USAGE></NOM_USAGE>\n",
        f"        <PRENOM>{_escape(student.first_name)}</PRENOM>\n",
        f"        <PRENOM2>{_escape(student.second_first_name)}</PRENOM2>\n",
        f"        <DATE_NAISS>{_date(student.birth_date)}</DATE_NAISS>\n",
        "        <DOUBLEMENT>0</DOUBLEMENT>\n        <CODE_PAYS>100</CODE_PAYS>\n",
        f"        <ADRESSE_ID>{_escape(student.siecle_id)}</ADRESSE_ID>\n" if with_addresses else "",
        "        <CODE_REGIME>2</CODE_REGIME>\n",
        f"        <DATE_ENTREE>{_date(student.entered_on)}</DATE_ENTREE>\n",
        _leaving(student),
        f"        <CODE_SEXE>{student.sex}</CODE_SEXE>\n",
        "        <CODE_STATUT>ST</CODE_STATUT>\n",
        f"        <CODE_MEF>{_escape(student.mef_code)}</CODE_MEF>\n",
        _last_year(uai, student),
        "      </ELEVE>\n",
    ]
    return "".join(lines)


def _leaving(student: SyntheticStudent) -> str:
    if student.left_on is None:
        return ""
    reason = LEAVING_REASONS[int(student.siecle_id) % len(LEAVING_REASONS)]
    return (
        f"        <DATE_SORTIE>{_date(student.left_on)}</DATE_SORTIE>\n"
        f"        <CODE_MOTIF_SORTIE>{reason}</CODE_MOTIF_SORTIE>\n"
    )


def _last_year(uai: str, student: SyntheticStudent) -> str:
    if not student.previous_mef_code:
        return ""
    return (
        "        <SCOLARITE_AN_DERNIER>\n"
        f"          <CODE_MEF>{_escape(student.previous_mef_code)}</CODE_MEF>\n"
        f"          <CODE_STRUCTURE>{_escape(student.previous_class_code)}</CODE_STRUCTURE>\n"
        f"          <CODE_RNE>{_escape(student.previous_uai or uai)}</CODE_RNE>\n"
        "        </SCOLARITE_AN_DERNIER>\n"
    )


def _option(student: SyntheticStudent) -> str:
    return (
        f'      <OPTION ELEVE_ID="{_escape(student.siecle_id)}" ELENOET="{_escape(student.elenoet)}">\n'
        "        <OPTIONS_ELEVE>\n"
        "          <NUM_OPTION>1</NUM_OPTION>\n"
        "          <CODE_MODALITE_ELECT>O</CODE_MODALITE_ELECT>\n"
        "          <CODE_MATIERE>030201</CODE_MATIERE>\n"
        "        </OPTIONS_ELEVE>\n"
        "      </OPTION>\n"
    )


def _structures(student: SyntheticStudent) -> str:
    ids = f'ELEVE_ID="{_escape(student.siecle_id)}" ELENOET="{_escape(student.elenoet)}"'
    parts = [f"      <STRUCTURES_ELEVE {ids}>\n"]
    if student.class_code:
        parts.append(_structure(student.class_code, "D"))
    parts.extend(_structure(group, "G") for group in student.groups)
    parts.append("      </STRUCTURES_ELEVE>\n")
    return "".join(parts)


def _structure(code: str, kind: str) -> str:
    return (
        "        <STRUCTURE>\n"
        f"          <CODE_STRUCTURE>{_escape(code)}</CODE_STRUCTURE>\n"
        f"          <TYPE_STRUCTURE>{kind}</TYPE_STRUCTURE>\n"
        "        </STRUCTURE>\n"
    )


def _address(student: SyntheticStudent) -> str:
    number = int(student.siecle_id) % 120 + 1
    return (
        f'      <ADRESSE ADRESSE_ID="{_escape(student.siecle_id)}">\n'
        f"        <LIGNE1_ADRESSE>{number} rue de la République</LIGNE1_ADRESSE>\n"
        "        <CODE_POSTAL>86000</CODE_POSTAL>\n"
        "        <CODE_PAYS>100</CODE_PAYS>\n"
        "        <LL_PAYS>FRANCE</LL_PAYS>\n"
        "        <LIBELLE_POSTAL>POITIERS</LIBELLE_POSTAL>\n"
        "      </ADRESSE>\n"
    )


# --- ZIP and nomenclature ------------------------------------------------------------------------


def zip_export(xml: bytes, member: str = "ElevesSansAdresses.xml") -> bytes:
    """Wrap an export the way SIECLE delivers it (``ExportXML_ElevesSansAdresses.zip``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, xml)
    return buffer.getvalue()


def mef_labels() -> dict[str, str]:
    """The label of every MEF code :func:`make_students` can produce."""
    labels: dict[str, str] = {}
    for dispositif, specialite, duration, _prefixes, label in PROGRAMMES:
        for year in range(1, duration + 1):
            labels[_mef(dispositif, specialite, duration, year)] = label
    return labels


def render_nomenclature(mef_codes: Iterable[str], *, uai: str = "", school_year: int = 2025) -> bytes:
    """Render a BEE_NOMENCLATURES export naming ``mef_codes`` (unknown codes get a generic label)."""
    labels = mef_labels()
    parts = [
        f'<?xml version="1.0" encoding="{ENCODING}"?>\n<BEE_NOMENCLATURES VERSION="3.1">\n',
        f"  <PARAMETRES>\n    <UAJ>{_escape(uai)}</UAJ>\n"
        f"    <ANNEE_SCOLAIRE>{school_year}</ANNEE_SCOLAIRE>\n  </PARAMETRES>\n",
        "  <DONNEES>\n    <MEFS>\n",
    ]
    for code in sorted(set(mef_codes)):
        label = labels.get(code, f"FORMATION {code}")
        parts.append(
            f'      <MEF CODE_MEF="{_escape(code)}">\n'
            f"        <FORMATION>{_escape(label[:20])}</FORMATION>\n"
            f"        <LIBELLE_LONG>{_escape(label)}</LIBELLE_LONG>\n"
            f"        <LIBELLE_EDITION>{_escape(label.capitalize())}</LIBELLE_EDITION>\n"
            f"        <MEF_RATTACHEMENT>{_escape(code)}</MEF_RATTACHEMENT>\n"
            "      </MEF>\n"
        )
    parts.append("    </MEFS>\n  </DONNEES>\n</BEE_NOMENCLATURES>\n")
    return "".join(parts).encode(ENCODING, errors="xmlcharrefreplace")
