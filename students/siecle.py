"""Reading SIECLE exports without any database; what is accepted and refused: docs/siecle-format.md.

``read_student_file`` turns the bytes of an *ElevesSansAdresses* / *ElevesAvecAdresses* export (XML,
or the ZIP SIECLE delivers it in) into a :class:`SiecleExport`; ``read_nomenclature`` turns a
*Nomenclature* export into a :class:`Nomenclature` (its UAI and readable MEF labels). Anything wrong
with the file raises :class:`SiecleFileError`, whose French message is shown to the school
administrator as is. Warnings name students by their ELEVE_ID only, never by INE or name.

Parsing choices, because uploads are untrusted and files reach 20,000 students:

- lxml ``iterparse`` with elements freed once read (a few hundred at a time) keeps memory flat (a
  full tree of a large export costs several hundred bytes per element inside libxml2, out of
  Python's sight).
- defusedxml is not used: its lxml flavour is deprecated and it would not make iterparse safer than
  the parser options below. Safety comes from three layers: a SIECLE export never has a DOCTYPE,
  so one in the prolog is refused before parsing; the parser never substitutes entities, loads a
  DTD or touches the network (``resolve_entities=False, load_dtd=False, no_network=True``), so an
  external entity cannot read a file; and a DOCTYPE the prolog check missed (e.g. in UTF-16) is
  refused as soon as the first element is parsed, while libxml2's amplification limit stops any
  expansion attempted before that.
- ZIP members are streamed through a reader that counts what is actually decompressed, because
  the sizes in a ZIP header are written by whoever made the archive.
- The same reader decides the encoding (an allow-list, and UTF-8 bytes under a single-byte
  declaration) and hands lxml UTF-8 only, so that no wrongly decoded name is ever stored.
- Every text value goes through :func:`cerisepro.text.strip_unsafe_characters` (bidi overrides,
  zero-width and control characters) and is checked against the size of its database column.
"""

from __future__ import annotations

import codecs
import gc
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import IO, Any, NamedTuple
from zoneinfo import ZoneInfo

from lxml import etree

from cerisepro.text import strip_unsafe_characters
from students.ine import APPRENTICE, BEA, BEA_BAD_KEY, INVALID, RNIE, UNUSUAL, ine_kind, normalize_ine

PARIS = ZoneInfo("Europe/Paris")

# Largest XML accepted, compressed or not. Real exports weigh about 2.5 kB per student, so this
# leaves room for the largest lycée while bounding memory and time. Tests monkeypatch it.
MAX_XML_BYTES = 200 * 1024 * 1024
# SIECLE XML compresses about 15:1; a ratio far above that is a decompression bomb. Small members
# may legitimately compress better, hence the floor under which the ratio is not checked.
MAX_COMPRESSION_RATIO = 100
RATIO_FLOOR_BYTES = 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024
# Warnings are stored and shown to the administrator: list a few students, then count the rest.
MAX_LISTED = 10

# The sizes of the students.models.Student columns (this module stays database-free; a test keeps
# them equal). A longer value would be cut on storage but matched in full on the next import.
SIECLE_ID_MAX_LENGTH = 20
LAST_NAME_MAX_LENGTH = 100
FIRST_NAME_MAX_LENGTH = 100
CLASS_CODE_MAX_LENGTH = 50
MEF_CODE_MAX_LENGTH = 11

# Plausible birth dates (docs/siecle-format.md, "Dates"): not before 1900, and not after the day of
# the import (``today``), else the day of the export, else the end of 2100 when neither is known.
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
LATEST_BIRTH_DATE_WITHOUT_EXPORT_DATE = date(2100, 12, 31)

INACTIVE_CLASS = "inactifs"
STUDENT_ROOT = "BEE_ELEVES"
NOMENCLATURE_ROOT = "BEE_NOMENCLATURES"

_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_UTF8_BOM = b"\xef\xbb\xbf"
_STUDENT_MEMBER_RE = re.compile(r".*eleves(?:sans|avec)adresses.*\.xml", re.IGNORECASE)
_NOMENCLATURE_MEMBER_RE = re.compile(r".*nomenclature.*\.xml", re.IGNORECASE)
_ENCODING_DECLARATION_RE = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_NON_ASCII_RE = re.compile(rb"[\x80-\xff]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# The first read is at least this long, so that it holds the whole XML declaration.
_PROLOG_BYTES = 4096
_UAI_SHAPE = re.compile(r"[0-9]{7}[A-Z]")
_DATE_RE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_TIMESTAMP_RE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})")

# Elements that get an "end" event. Bulky repeated sections (options, addresses, grants) are
# listed only so that they can be cleared as they go by.
_STUDENT_TAGS = ("PARAMETRES", "ELEVE", "STRUCTURES_ELEVE", "OPTION", "ADRESSE", "BOURSE")
# The section each of them is read (or freed) in, and how many of a section's elements already read
# stay in memory at most before they are freed together (a few hundred kB).
_SECTIONS = {
    "ELEVE": "ELEVES",
    "STRUCTURES_ELEVE": "STRUCTURES",
    "OPTION": "OPTIONS",
    "ADRESSE": "ADRESSES",
    "BOURSE": "BOURSES",
}
_FREED_TOGETHER = 256
_NOMENCLATURE_TAGS = ("PARAMETRES", "MEF", "MATIERE")
_HELP = "Téléchargez à nouveau l'export XML « ElevesSansAdresses » depuis SIECLE, sans le modifier."


class SiecleFileError(Exception):
    """A file that cannot be imported: ``message`` in French for the page, ``english`` for commands."""

    def __init__(self, message: str, english: str):
        super().__init__(message)
        self.message = message
        self.english = english


def _invalid(reason: str, english: str) -> SiecleFileError:
    return SiecleFileError(f"Le fichier n'est pas un export SIECLE valide : {reason}", english)


class SiecleStudent(NamedTuple):
    """One ELEVE as the import uses it: ``siecle_id`` (ELEVE_ID), ``class_code`` (its STRUCTURES),
    and one attribute per entry of :data:`ELEVE_FIELDS`, which says where each comes from.

    A named tuple, immutable: an import makes one per student, twice for a first import (the
    streamed write, then the export), and a tuple is made six times faster than a frozen
    dataclass (measured: 0.4 µs against 2.6 µs)."""

    siecle_id: str
    ine: str
    last_name: str
    first_name: str
    birth_date: date | None
    class_code: str
    mef_code: str
    left_on: date | None
    # Consistency evidence for the matching job (docs/transfers.md §4), with defaults so that
    # callers that build rows by hand need not give them.
    entered_on: date | None = None
    previous_uai: str = ""

    @property
    def in_inactive_class(self) -> bool:
        return self.class_code.lower() == INACTIVE_CLASS

    def has_left(self, today: date) -> bool:
        # A DATE_SORTIE in the future is announced, not effective (docs/siecle-format.md).
        return (self.left_on is not None and self.left_on <= today) or self.in_inactive_class

    @property
    def ine_kind(self) -> str:
        return ine_kind(self.ine)

    @property
    def identity_complete(self) -> bool:
        """Last name, first name and birth date all known: without them no transfer is proposed."""
        return bool(self.last_name and self.first_name and self.birth_date)


@dataclass
class SiecleExport:
    uai: str
    school_year: int | None
    exported_at: datetime | None
    students: list[SiecleStudent]
    warnings: list[str] = field(default_factory=list)
    file_name: str = ""

    @property
    def without_ine(self) -> int:
        return sum(1 for student in self.students if not student.ine)


@dataclass(frozen=True)
class Nomenclature:
    """A Nomenclature export: its establishment (PARAMETRES/UAJ, "" if absent) and MEF labels."""

    uai: str
    labels: dict[str, str]


# --- Reading bytes safely ----------------------------------------------------------------------


class _GuardedReader:
    """The file object lxml reads: enforces size limits, decides the encoding, remembers what it saw.

    A UTF-8 BOM is dropped because libxml2 lets a BOM override the declaration, so a BOM before
    ``encoding="ISO-8859-15"`` (which SIECLE sometimes writes) would decode accents as UTF-8 and fail.
    Without a declaration, XML defaults to UTF-8 anyway.

    The declared encoding must be one of :data:`_SINGLE_BYTE_ENCODINGS` or UTF-8. lxml is always
    handed UTF-8, with the declaration rewritten to say so: a single-byte file is decoded here,
    strictly, chunk by chunk, unless its first non-ASCII bytes are valid UTF-8 — a file re-saved in
    UTF-8 by another tool, read as UTF-8 with a warning instead of giving "GrÃ©gory". Deciding at the
    first non-ASCII byte needs no look-ahead (what comes before is ASCII either way), and libxml2
    still refuses any later byte that is not UTF-8, so a wrong guess is refused, never stored.
    Decoding here costs less than it saves: libxml2 parses UTF-8 faster than ISO-8859-15.
    """

    def __init__(self, raw: IO[bytes], size_limit: int, ratio_limit: int | None = None):
        self._raw = raw
        self._size_limit = size_limit
        self._ratio_limit = ratio_limit
        self.head = b""
        self.bytes_read = 0
        self.newlines = 0
        self.eof = False
        self.warnings: list[str] = []
        # The single-byte encoding declared (label, decoder); None for UTF-8, declared or found.
        self.single_byte: tuple[str, Callable[[bytes], bytes]] | None = None
        self.utf8_found_under = ""  # the single-byte label of a file found to be UTF-8
        self._undecided = False

    def read(self, size: int = -1) -> bytes:
        chunk = self._read_raw(READ_CHUNK_BYTES if size is None or size < 0 else min(size, READ_CHUNK_BYTES))
        if not self.bytes_read:
            chunk = self._first_chunk(chunk)
        if not chunk:
            self.eof = True
            return chunk
        if self._undecided and not chunk.isascii():
            chunk = self._choose_encoding(chunk)
        self.bytes_read += len(chunk)
        self._check_limits()
        lines_before = self.newlines
        self.newlines += chunk.count(b"\n")
        if self.single_byte is not None and not chunk.isascii():
            return self._decode(chunk, lines_before)
        return chunk

    def _read_raw(self, size: int) -> bytes:
        try:
            return self._raw.read(size)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise _invalid(
                f"l'archive ZIP est endommagée ou incomplète. {_HELP}", f"corrupt ZIP archive: {error}"
            ) from None

    def _first_chunk(self, chunk: bytes) -> bytes:
        # The whole declaration must be in this chunk, to be read and rewritten: read on if short.
        while len(chunk) < _PROLOG_BYTES and (more := self._read_raw(_PROLOG_BYTES - len(chunk))):
            chunk += more
        if chunk.startswith(_UTF8_BOM):
            chunk = chunk[len(_UTF8_BOM) :]
        self.head = chunk[:_PROLOG_BYTES]
        if not chunk.strip():
            raise _empty_file_error()
        if b"<!DOCTYPE" in chunk:
            raise _doctype_error()
        return self._read_declaration(chunk)

    def _read_declaration(self, chunk: bytes) -> bytes:
        if chunk[:2] in _UTF16_BOMS or b"\0" in chunk[:4]:
            # UTF-16 (Notepad's "Unicode"): libxml2 recognises it from the first bytes and decodes it.
            return chunk
        match = _ENCODING_DECLARATION_RE.match(chunk)
        if match is None:
            if chunk.startswith(b"<?xml") and b"?>" not in chunk:
                raise _invalid(
                    f"sa déclaration XML (<?xml … ?>) est incomplète ou anormalement longue. {_HELP}",
                    f"XML declaration not closed within the first {len(chunk)} bytes",
                )
            return chunk  # UTF-8, as XML says; libxml2 refuses bytes that are not
        declared = match.group(1).decode("ascii")
        codec = _codec_name(declared)
        if codec != "utf-8":
            self.single_byte = _SINGLE_BYTE_ENCODINGS.get(codec)
            if self.single_byte is None:
                raise _unsupported_encoding_error(declared)
            self._undecided = True
        return chunk[: match.start(1)] + b"UTF-8" + chunk[match.end(1) :]

    def _choose_encoding(self, chunk: bytes) -> bytes:
        """At the first non-ASCII byte of a single-byte file: are these bytes in fact UTF-8?"""
        self._undecided = False
        non_ascii = _NON_ASCII_RE.search(chunk)
        assert non_ascii is not None  # called at the first non-ASCII byte
        start = non_ascii.start()
        while True:
            try:
                text = codecs.getincrementaldecoder("utf-8")().decode(chunk[start:])
            except UnicodeDecodeError:
                return chunk  # not UTF-8: decoded as declared
            if text:
                break
            more = self._read_raw(READ_CHUNK_BYTES)  # the chunk ends inside a character
            if not more:
                return chunk
            chunk += more
        assert self.single_byte is not None  # called only for a file declared single-byte
        label = self.single_byte[0]
        self.single_byte, self.utf8_found_under = None, label
        self.warnings.append(
            f"Le fichier déclare l'encodage {label} mais contient de l'UTF-8 : il a été lu comme UTF-8."
        )
        return chunk

    def _decode(self, chunk: bytes, lines_before: int) -> bytes:
        assert self.single_byte is not None  # called only for a file decoded as single-byte
        label, decode = self.single_byte
        # UTF-8 letters among single-byte ones ("Ã©" for "é"): a file pieced together from two.
        # Their lead bytes ("Ã", "Å" in ISO-8859-15) are rare in French text: the pairs are looked
        # for only in a chunk that holds one (two memchr scans instead of a translated copy).
        if b"\xc3" in chunk or b"\xc5" in chunk:
            mixed = chunk.translate(_UTF8_PAIR_TABLE).find(b"LC")
            if mixed >= 0:
                raise _mixed_encodings_error(label, lines_before + chunk.count(b"\n", 0, mixed) + 1)
        try:
            return decode(chunk)
        except UnicodeDecodeError as error:
            line = lines_before + chunk.count(b"\n", 0, error.start) + 1
            raise _bad_bytes_error(label, line, f"byte 0x{chunk[error.start]:02X}") from None

    def _check_limits(self) -> None:
        if self.bytes_read > self._size_limit:
            raise _too_big_error()
        if self._ratio_limit is not None and self.bytes_read > self._ratio_limit:
            raise _zip_bomb_error()

    @property
    def declared_encoding(self) -> str:
        match = _ENCODING_DECLARATION_RE.match(self.head)
        return match.group(1).decode("ascii").upper() if match else ""


# --- Encodings (docs/siecle-format.md, "Encodings") -----------------------------------------------

# ISO-8859-15 without its C1 control characters (0x80–0x9F): no real text holds them, so such a
# byte means another encoding (Windows-1252's "Œ" is 0x8C) and is refused rather than dropped.
_ISO_8859_15_TABLE = (
    bytes(range(0x80)).decode("ascii") + "\ufffe" * 0x20 + bytes(range(0xA0, 0x100)).decode("iso8859-15")
)


def _decode_iso_8859_15(chunk: bytes) -> str:
    return codecs.charmap_decode(chunk, "strict", _ISO_8859_15_TABLE)[0]


# The eight letters where ISO-8859-15 differs from ISO-8859-1 (€ Š š Ž ž Œ œ Ÿ), as UTF-8: read as
# ISO-8859-1 → as ISO-8859-15. A UTF-8 lead byte never appears inside another character, so a
# replace cannot touch anything else.
# The eight bytes where ISO-8859-15 differs from ISO-8859-1 ("€", "Š", "š", "Ž", "ž", "Œ", "œ", "Ÿ"):
# each byte → (its ISO-8859-1 letter, its ISO-8859-15 letter), both in UTF-8.
_ISO_8859_15_LETTERS = {
    byte: (
        bytes([byte]).decode("latin-1").encode("utf-8"),
        bytes([byte]).decode("iso8859-15").encode("utf-8"),
    )
    for byte in (0xA4, 0xA6, 0xA8, 0xB4, 0xB8, 0xBC, 0xBD, 0xBE)
}
# Every byte but those eight and the C1 controls (0x80–0x9F): deleting them from a chunk (one pass
# at memory speed) leaves what needs more than ISO-8859-1's decoding, usually nothing.
_NOT_DIFFERING = bytes(sorted(set(range(256)) - set(range(0x80, 0xA0)) - set(_ISO_8859_15_LETTERS)))


def _iso_8859_15_to_utf8(chunk: bytes) -> bytes:
    """An ISO-8859-15 chunk as UTF-8, strictly (C1 controls refused, as :data:`_ISO_8859_15_TABLE`).

    Decoding through ISO-8859-1 runs at memory speed, and the table's per-byte lookup (ten times
    slower) is needed only where they differ: the eight letters above, fixed afterwards (only those
    the chunk holds), and the C1 controls (U+0080–U+009F), which send the chunk to the table so
    that it refuses the byte.
    """
    utf8 = chunk.decode("latin-1").encode("utf-8")
    differing = chunk.translate(None, _NOT_DIFFERING)
    if not differing:
        return utf8
    if min(differing) < 0xA0:
        return _decode_iso_8859_15(chunk).encode("utf-8")  # raises at the first control
    for byte in set(differing):
        latin_1, letter = _ISO_8859_15_LETTERS[byte]
        utf8 = utf8.replace(latin_1, letter)
    return utf8


# Python codec name → (label for messages, strict decoder to UTF-8). ISO-8859-1 is read as Windows-1252, as
# browsers do: the two agree on every printable ISO-8859-1 character, and tools that say ISO-8859-1
# often write Windows-1252's "Œ" or "€".
_SINGLE_BYTE_ENCODINGS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "iso8859-15": ("ISO-8859-15", _iso_8859_15_to_utf8),
    "iso8859-1": ("ISO-8859-1", lambda chunk: chunk.decode("cp1252").encode("utf-8")),
    "cp1252": ("Windows-1252", lambda chunk: chunk.decode("cp1252").encode("utf-8")),
    "ascii": ("US-ASCII", lambda chunk: chunk.decode("ascii").encode("utf-8")),
}
# Marks the two bytes of a UTF-8 "é", "ç", "Œ"… (lead 0xC3 or 0xC5, then a continuation byte) so
# that ``translate`` and ``find`` spot them in a single-byte chunk at C speed. In ISO-8859-15 that
# pair would be "Ã" or "Å" followed by a symbol, which no name holds.
_UTF8_PAIR_TABLE = bytes(
    ord("L") if byte in (0xC3, 0xC5) else ord("C") if 0x80 <= byte <= 0xBF else ord(" ")
    for byte in range(256)
)


def _codec_name(declared: str) -> str:
    """Python's name for a declared encoding ("latin-9" → "iso8859-15"), or "" if unknown."""
    for name in (declared, declared.replace("-", "").replace("_", "")):
        try:
            return codecs.lookup(name).name
        except LookupError:
            continue
    return ""


def _unsupported_encoding_error(declared: str) -> SiecleFileError:
    shown = declared[:40]
    return _invalid(
        f"son encodage déclaré (« {shown} ») n'est pas pris en charge. Les exports SIECLE sont en "
        f"ISO-8859-15 ; UTF-8, ISO-8859-1 et Windows-1252 sont acceptés aussi. {_HELP}",
        f"unsupported declared encoding {shown!r} (accepted: ISO-8859-15, UTF-8, ISO-8859-1, Windows-1252)",
    )


def _bad_bytes_error(label: str, line: int, detail: str) -> SiecleFileError:
    return _invalid(
        f"il déclare l'encodage {label} mais la ligne {line} contient des octets qui n'existent pas dans "
        f"cet encodage (le fichier a sans doute été enregistré dans un autre encodage par un autre "
        f"logiciel). {_HELP}",
        f"bytes invalid for the declared encoding {label} at line {line} ({detail})",
    )


def _mixed_encodings_error(label: str, line: int) -> SiecleFileError:
    return _invalid(
        f"il déclare l'encodage {label} mais la ligne {line} contient des caractères en UTF-8 : le "
        f"fichier mélange deux encodages et ses noms seraient mal lus. {_HELP}",
        f"UTF-8 bytes mixed into a file declared {label} (line {line})",
    )


def _empty_file_error() -> SiecleFileError:
    return SiecleFileError(
        f"Le fichier est vide. {_HELP}",
        "the file is empty",
    )


def _too_big_error() -> SiecleFileError:
    megabytes = MAX_XML_BYTES // (1024 * 1024)
    return SiecleFileError(
        f"Le fichier est trop volumineux (plus de {megabytes} Mo une fois décompressé) : ce n'est pas "
        "un export SIECLE d'un seul établissement.",
        f"file too large (over {megabytes} MB uncompressed)",
    )


def _zip_bomb_error() -> SiecleFileError:
    return _invalid(
        "l'archive ZIP se décompresse en un volume anormalement grand (archive piégée). "
        "Utilisez l'archive téléchargée depuis SIECLE.",
        "ZIP compression ratio too high (decompression bomb refused)",
    )


def _doctype_error() -> SiecleFileError:
    return _invalid(
        "il contient une déclaration DOCTYPE ou des entités XML, qui n'existent pas dans les "
        f"exports SIECLE et sont refusées par sécurité. {_HELP}",
        "DOCTYPE / XML entities are not allowed (XXE and entity expansion refused)",
    )


def _open_source(data: bytes, filename: str, member_re: re.Pattern[str], expected: str):
    """Return a guarded reader on the XML (inside the ZIP if ``data`` is one) and its file name."""
    if not data or data.isspace():
        raise _empty_file_error()
    if len(data) > MAX_XML_BYTES:
        raise _too_big_error()
    if data[:4] in _ZIP_MAGICS:
        return _open_zip_member(data, member_re, expected)
    return _GuardedReader(io.BytesIO(data), MAX_XML_BYTES), strip_unsafe_characters(filename)


def _open_zip_member(data: bytes, member_re: re.Pattern[str], expected: str):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise _invalid(
            f"l'archive ZIP est illisible ou incomplète. {_HELP}", "unreadable or truncated ZIP archive"
        ) from None
    for info in infos:
        _refuse_unsafe_member_name(info.filename)
    info = _single_member(infos, member_re, expected)
    _refuse_declared_bomb(info)
    try:
        stream = archive.open(info)
    except (NotImplementedError, RuntimeError, zipfile.BadZipFile, ValueError, OSError):
        raise _invalid(
            "le fichier de l'archive ZIP est chiffré ou compressé d'une manière non prise en charge. "
            f"{_HELP}",
            "encrypted or unsupported ZIP member",
        ) from None
    ratio_limit = max(RATIO_FLOOR_BYTES, MAX_COMPRESSION_RATIO * info.compress_size)
    return _GuardedReader(stream, MAX_XML_BYTES, ratio_limit), strip_unsafe_characters(info.filename)


def _refuse_unsafe_member_name(name: str) -> None:
    # The member is never written to disk, but an archive built to escape a folder is hostile.
    parts = re.split(r"[\\/]", name)
    absolute = name.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:", name))
    if absolute or ".." in parts:
        shown = strip_unsafe_characters(name if len(name) <= 80 else name[:77] + "…")
        raise _invalid(
            f"l'archive ZIP contient un chemin de fichier dangereux (« {shown} »). "
            "Utilisez l'archive téléchargée depuis SIECLE.",
            f"unsafe path in ZIP archive: {shown!r}",
        )


def _single_member(
    infos: list[zipfile.ZipInfo], member_re: re.Pattern[str], expected: str
) -> zipfile.ZipInfo:
    files = [info for info in infos if not _is_desktop_metadata(info)]
    matches = [info for info in files if member_re.fullmatch(_base_name(info))]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        found = ", ".join(_shown_name(info) for info in files[:5]) or "aucun fichier"
        raise _invalid(
            f"l'archive ZIP ne contient pas de fichier {expected} (contenu : {found}).",
            f"no {expected} in the ZIP archive",
        )
    names = ", ".join(_shown_name(info) for info in matches[:5])
    raise _invalid(
        f"l'archive ZIP contient plusieurs fichiers {expected} ({names}) : envoyez-en un seul.",
        f"several {expected} files in the ZIP archive",
    )


def _is_desktop_metadata(info: zipfile.ZipInfo) -> bool:
    """Folders, and what desktops add when they zip: ``__MACOSX/``, ``._name``, ``.DS_Store``…

    macOS "Compresser" stores each file's resource fork as ``__MACOSX/<folder>/._<name>``, which
    would otherwise count as a second ``ElevesSansAdresses.xml`` (docs/siecle-format.md, "ZIP").
    """
    # Not ZipInfo.is_dir(): it fails on an empty name, which a damaged archive can hold.
    parts = re.split(r"[\\/]", info.filename)
    return not parts[-1] or "__MACOSX" in parts or parts[-1].startswith(".")


def _base_name(info: zipfile.ZipInfo) -> str:
    return re.split(r"[\\/]", info.filename)[-1]


def _shown_name(info: zipfile.ZipInfo) -> str:
    return strip_unsafe_characters(_base_name(info))[:80]


def _refuse_declared_bomb(info: zipfile.ZipInfo) -> None:
    # A cheap early refusal; the reader enforces the same limits on the bytes actually produced.
    if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_COMPRESSION_RATIO * info.compress_size:
        raise _zip_bomb_error()
    if info.file_size > MAX_XML_BYTES:
        raise _too_big_error()


# --- Parsing ---------------------------------------------------------------------------------------


def _iter_end_events(
    reader: _GuardedReader, tags: tuple[str, ...], root_tag: str
) -> Iterator[etree._Element]:
    """Yield the elements named ``tags`` as they end, after checking the root and the DOCTYPE."""
    context = etree.iterparse(
        reader,
        events=("end",),
        tag=tags,
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        # The whitespace between elements is never read: libxml2 then builds (and frees) half
        # as many nodes. The text of an element, blank or not, is kept as it is.
        remove_blank_text=True,
    )
    checked = False
    try:
        for _event, element in context:
            if not checked:
                _check_document(element.getroottree(), root_tag)
                checked = True
            yield element
    except etree.LxmlError as error:
        raise _syntax_error(error, reader) from None
    if not checked:
        _check_document(context.root.getroottree(), root_tag)


def _check_document(tree: etree._ElementTree, root_tag: str) -> None:
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise _doctype_error()
    tag = tree.getroot().tag
    if tag == root_tag:
        return
    if root_tag == STUDENT_ROOT and tag == NOMENCLATURE_ROOT:
        raise SiecleFileError(
            "Ce fichier est une nomenclature, pas l'export des élèves : choisissez le fichier "
            "« ElevesSansAdresses » (ou l'archive ZIP qui le contient) exporté de SIECLE.",
            "this is a Nomenclature file, not the students export (ElevesSansAdresses)",
        )
    if root_tag == NOMENCLATURE_ROOT and tag == STUDENT_ROOT:
        raise SiecleFileError(
            "Ce fichier est l'export des élèves, pas la nomenclature : choisissez le fichier "
            "« Nomenclature » exporté de SIECLE.",
            "this is the students export, not the Nomenclature file",
        )
    shown = strip_unsafe_characters(str(tag)[:40])
    raise _invalid(
        f"l'élément racine est « {shown} » au lieu de « {root_tag} ». {_HELP}",
        f"wrong root element {shown!r} (expected {root_tag})",
    )


def _syntax_error(error: etree.LxmlError, reader: _GuardedReader) -> SiecleFileError:
    text = str(error)
    line = getattr(error, "lineno", None) or 0
    if "entity" in text.lower() or "amplification" in text.lower():
        return _doctype_error()
    if not reader.head.lstrip().startswith(b"<"):
        return _invalid(
            f"son contenu n'est pas du XML. {_HELP}",
            "not an XML file",
        )
    if "encoding" in text.lower() or "UTF-8" in text:
        return _encoding_error(reader, line, text)
    if reader.eof and line >= reader.newlines:
        return _invalid(
            f"le fichier est incomplet (il s'arrête à la ligne {line}), probablement tronqué lors du "
            f"téléchargement. {_HELP}",
            f"truncated XML (ends at line {line}): {text}",
        )
    return _invalid(
        f"le contenu XML est mal formé (ligne {line}). {_HELP}",
        f"malformed XML at line {line}: {text}",
    )


def _encoding_error(reader: _GuardedReader, line: int, text: str) -> SiecleFileError:
    if reader.utf8_found_under:
        label = reader.utf8_found_under
        return _invalid(
            f"il déclare l'encodage {label} ; son début est en UTF-8 mais pas la ligne {line} : le "
            f"fichier mélange deux encodages et ses noms seraient mal lus. {_HELP}",
            f"declared {label}, starts in UTF-8, but line {line} is not UTF-8 (mixed encodings)",
        )
    declared = reader.declared_encoding
    if not declared:
        return _invalid(
            "son encodage n'est pas déclaré et ce n'est pas de l'UTF-8 (les exports SIECLE déclarent "
            f'encoding="ISO-8859-15" ; le fichier a peut-être été modifié). {_HELP}',
            f"undeclared encoding and not valid UTF-8 (line {line})",
        )
    if _codec_name(declared) == "utf-8":
        return _invalid(
            f"il déclare l'encodage UTF-8 mais la ligne {line} contient des caractères dans un autre "
            "encodage (sans doute ISO-8859-15 ou Windows-1252) : il a probablement été enregistré par "
            f"un autre logiciel. {_HELP}",
            f"declared UTF-8 but line {line} is not UTF-8 (probably ISO-8859-15 or Windows-1252)",
        )
    return _invalid(
        f"il contient des caractères qui ne correspondent pas à l'encodage déclaré ({declared}), "
        f"ligne {line}. {_HELP}",
        f"bytes invalid for the declared encoding {declared} at line {line}: {text}",
    )


def _discard(element: etree._Element) -> None:
    """Free an element already read, and its earlier siblings, so memory stays flat."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _parent_tag(element: etree._Element) -> str:
    parent = element.getparent()
    return parent.tag if parent is not None else ""


def _clean(value: str | None) -> str:
    """A text value as stored: without unsafe characters (docs/siecle-format.md), stripped."""
    if not value:
        return ""
    if value.isprintable():
        # strip_unsafe_characters removes or replaces only characters that are not printable
        # (format, control, surrogate, line and paragraph separators: a test checks every code
        # point), so for printable text it is its NFC step alone; this runs for every field.
        return (value if value.isascii() else unicodedata.normalize("NFC", value)).strip()
    return strip_unsafe_characters(value).strip()


def _text(element: etree._Element | None) -> str:
    return _clean(element.text) if element is not None else ""


# --- Dates --------------------------------------------------------------------------------------


def _parse_date(value: str | None) -> date | None:
    """A ``dd/mm/yyyy`` date, ``None`` when empty; ``ValueError`` for anything else."""
    # Slicing the usual "dd/mm/yyyy" is several times faster than a regular expression, and
    # this runs three times per student.
    if value and len(value) == 10 and value[2] == "/" and value[5] == "/":
        return date(int(value[6:]), int(value[3:5]), int(value[:2]))
    value = (value or "").strip()
    if not value:
        return None
    match = _DATE_RE.fullmatch(value)
    if match is None:
        raise ValueError(value)
    day, month, year = (int(part) for part in match.groups())
    return date(year, month, day)


def _impossible_date_error(label: str, tag: str, value: str | None, eleve_id: str) -> SiecleFileError:
    shown = strip_unsafe_characters((value or "").strip()[:20])
    return _invalid(
        f"la {label} ({tag}) de l'élève n° {eleve_id} est impossible : « {shown} » "
        "(format attendu jj/mm/aaaa). Corrigez la fiche dans SIECLE puis refaites l'export.",
        f"invalid {tag} {shown!r} for ELEVE_ID {eleve_id}",
    )


def _implausible_birth_date_error(eleve_id: str, value: str | None, latest: date) -> SiecleFileError:
    shown = strip_unsafe_characters((value or "").strip()[:20])
    return _invalid(
        f"la date de naissance (DATE_NAISS) de l'élève n° {eleve_id} est invraisemblable : « {shown} » "
        f"(elle doit être comprise entre le {EARLIEST_BIRTH_DATE:%d/%m/%Y} et le {latest:%d/%m/%Y}). "
        "Corrigez la fiche dans SIECLE puis refaites l'export.",
        f"implausible DATE_NAISS {shown!r} for ELEVE_ID {eleve_id} "
        f"(expected {EARLIEST_BIRTH_DATE:%d/%m/%Y} to {latest:%d/%m/%Y})",
    )


def _parse_timestamp(horodatage: str, date_export: str) -> datetime | None:
    match = _TIMESTAMP_RE.fullmatch(horodatage)
    try:
        if match:
            day, month, year, hour, minute, second = (int(part) for part in match.groups())
            return datetime(year, month, day, hour, minute, second, tzinfo=PARIS)
        match = _DATE_RE.fullmatch(date_export)
        if match:
            day, month, year = (int(part) for part in match.groups())
            return datetime(year, month, day, tzinfo=PARIS)
    except ValueError:
        return None
    return None


# --- Students --------------------------------------------------------------------------------------


def _ine(value: str | None) -> str:
    return normalize_ine(_clean(value))


def _uai(value: str | None) -> str:
    """A UAI as stored, or "" when the value does not look like one (it is only evidence)."""
    code = _clean(value).upper()
    return code if _UAI_SHAPE.fullmatch(code) else ""


class EleveField(NamedTuple):
    """Where one value of an ELEVE comes from, how it is read, and what bounds it."""

    attribute: str  # of SiecleStudent, named after the students.models.Student column that stores it
    tags: tuple[str, ...]  # the ELEVE children (or paths) holding it: the first non-empty one wins
    parse: Callable[[str | None], Any]  # raises ValueError for a value that cannot be read
    max_length: int | None = None  # the column's size: a longer value refuses the file
    label: str = ""  # in French, for messages
    # An unreadable value is a warning and None rather than a refusal of the whole file: for values
    # that are only consistency evidence (docs/siecle-format.md, "Dates").
    lenient: bool = False


# One row per value read from an ELEVE; a new SIECLE field is one row here and one attribute of
# SiecleStudent (and, to store it, a Student column listed in students/identity.py).
ELEVE_FIELDS: tuple[EleveField, ...] = (
    EleveField("ine", ("ID_NATIONAL",), _ine),
    # NOM in files before 2016.
    EleveField("last_name", ("NOM_DE_FAMILLE", "NOM"), _clean, LAST_NAME_MAX_LENGTH, "nom de famille"),
    EleveField("first_name", ("PRENOM",), _clean, FIRST_NAME_MAX_LENGTH, "prénom"),
    EleveField("birth_date", ("DATE_NAISS",), _parse_date, label="date de naissance"),
    EleveField("mef_code", ("CODE_MEF",), _clean, MEF_CODE_MAX_LENGTH, "code MEF"),
    EleveField("left_on", ("DATE_SORTIE",), _parse_date, label="date de sortie"),
    EleveField("entered_on", ("DATE_ENTREE",), _parse_date, label="date d'entrée", lenient=True),
    # Last school year's establishment, "" when absent or not a UAI.
    EleveField("previous_uai", ("SCOLARITE_AN_DERNIER/CODE_RNE",), _uai),
)
# Stands in for an empty last name, with a warning (docs/siecle-format.md, "Identity fields"); read
# like the last name, but not a SiecleStudent attribute of its own.
USUAL_NAME_FIELD = EleveField("last_name", ("NOM_USAGE",), _clean)
MAX_LENGTHS = {
    "siecle_id": SIECLE_ID_MAX_LENGTH,
    **{spec.attribute: spec.max_length for spec in ELEVE_FIELDS if spec.max_length},
    "class_code": CLASS_CODE_MAX_LENGTH,
}
# One pass over an ELEVE's children is cheaper than one findtext() per field (measured: 5×), and a
# path ("SCOLARITE_AN_DERNIER/CODE_RNE") is read below the child that starts it, as findtext() would
# (the first such child that has it): a findtext() of a path goes through ElementPath in Python.
_CHILD_TAGS = frozenset(tag for spec in ELEVE_FIELDS for tag in spec.tags if "/" not in tag) | set(
    USUAL_NAME_FIELD.tags
)
_PATHS_BY_CHILD: dict[str, tuple[tuple[str, str], ...]] = {}
for _path in (tag for spec in ELEVE_FIELDS for tag in spec.tags if "/" in tag):
    _first, _rest = _path.split("/", 1)
    _PATHS_BY_CHILD[_first] = (*_PATHS_BY_CHILD.get(_first, ()), (_path, _rest))
# The position of each SiecleStudent attribute: an ELEVE is read straight into a list in that order,
# which becomes the SiecleStudent once the classes (read after the ELEVES) are known.
_ROW_FIELDS = SiecleStudent._fields
_ROW_INDEX = {name: index for index, name in enumerate(_ROW_FIELDS)}
_SIECLE_ID_INDEX, _CLASS_INDEX = _ROW_INDEX["siecle_id"], _ROW_INDEX["class_code"]
STUDENT_ID_INDEX, STUDENT_CLASS_INDEX = _SIECLE_ID_INDEX, _CLASS_INDEX  # for read_student_file's on_student
_LAST_NAME_INDEX, _BIRTH_DATE_INDEX = _ROW_INDEX["last_name"], _ROW_INDEX["birth_date"]
_INE_INDEX = _ROW_INDEX["ine"]
_LIMITED_FIELDS = tuple((_ROW_INDEX[spec.attribute], spec) for spec in ELEVE_FIELDS if spec.max_length)
# The fields as plain tuples (row index, tags, parser, empty value, field), which the loop over
# 20,000 students unpacks faster than it reads NamedTuple attributes. The empty value is what the
# parser gives for an absent or blank tag, so that such a tag is not parsed at all.
_Reader = tuple[int, tuple[str, ...], Callable[[str | None], Any], Any, EleveField]
# A field read from one tag only (most of them) is one tag, not a tuple of them: no inner loop.
_SingleTagReader = tuple[int, str, Callable[[str | None], Any], Any, EleveField]
_Readers = tuple[tuple[_SingleTagReader, ...], tuple[_Reader, ...]]


def _readers(specs: tuple[EleveField, ...], dates: Callable[[str | None], date | None]) -> _Readers:
    """The readers of one file: its dates go through ``dates``, a cache of the dates already read
    (a school has a few hundred distinct entry dates and birth days, read thousands of times)."""
    readers = [
        (
            _ROW_INDEX[spec.attribute],
            spec.tags,
            dates if spec.parse is _parse_date else spec.parse,
            spec.parse(None),
            spec,
        )
        for spec in specs
    ]
    single = tuple(
        (index, tags[0], parse, empty, spec) for index, tags, parse, empty, spec in readers if len(tags) == 1
    )
    return single, tuple(reader for reader in readers if len(reader[1]) > 1)


@dataclass
class _StudentFileState:
    """What has been read so far; STRUCTURES come after ELEVES, so classes are joined at the end."""

    # The latest plausible birth date: ``today``, else the export's date once PARAMETRES is read.
    latest_birth_date: date
    today_given: bool
    parameters: dict[str, str] | None = None
    # Each ELEVE read, as SiecleStudent's values in order (its class still None): one list per
    # student until the end, then one SiecleStudent, and nothing in between.
    records: list[list[Any]] = field(default_factory=list)
    eleve_ids: set[str] = field(default_factory=set)
    eleve_id_by_ine: dict[str, str] = field(default_factory=dict)
    class_by_eleve_id: dict[str, str] = field(default_factory=dict)
    # ELEVE_IDs whose NOM_DE_FAMILLE was empty and replaced by their NOM_USAGE.
    usual_name_ids: list[str] = field(default_factory=list)
    # (ELEVE_ID, field, tag, value as shown) of the lenient values that could not be read: left empty.
    unreadable: list[tuple[str, EleveField, str, str]] = field(default_factory=list)
    readers: _Readers = ((), ())
    usual_name_readers: _Readers = ((), ())
    on_student: Callable[[list[Any] | None], None] | None = None
    students_ended: bool = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a file's students are read and applied.

    Reading 5,000 students allocates some 100,000 objects that live until the import ends, which
    sets off the collector's full passes over every object of the process again and again (a third
    of the parse, measured). Nothing the import builds is cyclic: reference counting frees all of
    it, and whatever cycles other code leaves are collected once the collector is back on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_student_file(
    data: bytes,
    filename: str = "",
    *,
    today: date | None = None,
    on_student: Callable[[list[Any] | None], None] | None = None,
) -> SiecleExport:
    """Read an ElevesSansAdresses / ElevesAvecAdresses export (XML bytes or the ZIP containing it).

    ``today`` (the import's day, in Paris) is the latest birth date accepted; without it, the
    export's own date is, and without that, the end of 2100 (docs/siecle-format.md, "Dates").
    ``on_student`` is given each student's values as soon as they are read and checked, in
    :class:`SiecleStudent`'s order, before its class is known (:data:`STUDENT_CLASS_INDEX` is
    None), and with None once the ELEVES section ends: a first import writes them meanwhile.
    Whatever it does with them must be undone if this function raises, since a refusal can come
    from a later part of the file.
    """
    with gc_paused():
        return _read_student_file(data, filename, today, on_student)


def _read_student_file(
    data: bytes, filename: str, today: date | None, on_student: Callable[[list[Any] | None], None] | None
) -> SiecleExport:
    reader, file_name = _open_source(data, filename, _STUDENT_MEMBER_RE, "ElevesSansAdresses.xml")
    dates = lru_cache(maxsize=None)(_parse_date)  # for this file only; ValueErrors are not cached
    state = _StudentFileState(
        latest_birth_date=today or LATEST_BIRTH_DATE_WITHOUT_EXPORT_DATE,
        today_given=today is not None,
        readers=_readers(ELEVE_FIELDS, dates),
        usual_name_readers=_readers((USUAL_NAME_FIELD,), dates),
        on_student=on_student,
    )
    read_since_freed = 0
    for element in _iter_end_events(reader, _STUDENT_TAGS, STUDENT_ROOT):
        tag = element.tag
        if tag == "PARAMETRES":
            # Small and read once: kept in the tree, which is simpler than clearing it.
            if _parent_tag(element) == STUDENT_ROOT:
                _read_parameters(element, state)
            continue
        section = element.getparent()
        if section is None or section.tag != _SECTIONS[tag]:
            _discard(element)  # not where SIECLE puts it: not read, and freed at once
            continue
        if tag == "ELEVE":
            _read_eleve(element, state)
        else:
            if state.on_student is not None and state.records and not state.students_ended:
                state.students_ended = True
                state.on_student(None)  # the ELEVES are read: what is pending can be written
            if tag == "STRUCTURES_ELEVE":
                _read_structures(element, state)
        # Everything else listed in _STUDENT_TAGS (OPTION, ADRESSE…) is only there to be freed.
        # What was read is freed a batch at a time: one C call instead of four per element.
        read_since_freed += 1
        if read_since_freed == _FREED_TOGETHER:
            read_since_freed = 0
            del section[: section.index(element)]
    export = _build_export(state, file_name)
    export.warnings[:0] = reader.warnings
    return export


def _read_parameters(element: etree._Element, state: _StudentFileState) -> None:
    state.parameters = {child.tag: _text(child) for child in element}
    exported_at = _parse_timestamp(
        state.parameters.get("HORODATAGE", ""), state.parameters.get("DATE_EXPORT", "")
    )
    if exported_at is not None and not state.today_given:
        state.latest_birth_date = exported_at.date()


def _read_eleve(element: etree._Element, state: _StudentFileState) -> None:
    """Read one ELEVE straight into its row (SiecleStudent's values in order). Runs once per
    student, so it is written for speed: one pass over the children, plain tuples, no call but the
    parsers'."""
    eleve_id = _read_eleve_id(element, state)
    texts: dict[str, str | None] = {}
    for child in element:
        tag = child.tag
        if tag in _CHILD_TAGS:
            texts[tag] = child.text  # the last one wins, as it always did
        elif tag in _PATHS_BY_CHILD:
            for path, rest in _PATHS_BY_CHILD[tag]:
                if texts.get(path) is None:
                    texts[path] = child.findtext(rest)
    row: list[Any] = [None] * len(_ROW_FIELDS)
    row[_SIECLE_ID_INDEX] = eleve_id
    _fill(row, state.readers, texts, eleve_id, state)
    if not row[_LAST_NAME_INDEX]:
        _fill(row, state.usual_name_readers, texts, eleve_id, state)
        if row[_LAST_NAME_INDEX]:
            # NOM_USAGE stands in for an empty NOM_DE_FAMILLE / NOM, with a warning (docs/siecle-format.md).
            state.usual_name_ids.append(eleve_id)
    _check_eleve(eleve_id, row, texts, element.sourceline, state)
    _check_unique_ine(row[_INE_INDEX], eleve_id, state)
    state.records.append(row)
    if state.on_student is not None:
        state.on_student(row)


def _read_eleve_id(element: etree._Element, state: _StudentFileState) -> str:
    eleve_id = _clean(element.get("ELEVE_ID"))
    if not eleve_id:
        raise _invalid(
            f"un élève n'a pas d'identifiant ELEVE_ID (ligne {element.sourceline}). {_HELP}",
            f"ELEVE without ELEVE_ID at line {element.sourceline}",
        )
    if len(eleve_id) > SIECLE_ID_MAX_LENGTH:
        raise _too_long_id_error(eleve_id, element.sourceline)
    if eleve_id in state.eleve_ids:
        raise _invalid(
            f"l'identifiant d'élève n° {eleve_id} apparaît deux fois. {_HELP}",
            f"duplicate ELEVE_ID {eleve_id}",
        )
    state.eleve_ids.add(eleve_id)
    return eleve_id


def _fill(
    row: list[Any], readers: _Readers, texts: dict[str, str | None], eleve_id: str, state: _StudentFileState
) -> None:
    """Each field's value, from the first of its tags that gives one; an absent or blank tag is not
    parsed (its parser would give the field's empty value, as it gives for a blank value)."""
    get = texts.get
    single, multi = readers
    for index, tag, parse, empty, spec in single:
        text = get(tag)
        if not text:
            row[index] = empty
            continue
        try:
            row[index] = parse(text)
        except ValueError:
            _unreadable(spec, tag, text, eleve_id, state)  # refuses the file, or leaves it empty
            row[index] = empty
    for index, tags, parse, empty, spec in multi:
        value = empty
        for tag in tags:
            text = get(tag)
            if not text:
                continue
            try:
                value = parse(text)
            except ValueError:
                _unreadable(spec, tag, text, eleve_id, state)
                value = empty
            if value:
                break
        row[index] = value


def _unreadable(
    spec: EleveField, tag: str, text: str | None, eleve_id: str, state: _StudentFileState
) -> None:
    """A value that cannot be read refuses the file, unless its field is lenient: then it is left empty."""
    if not spec.lenient:
        raise _impossible_date_error(spec.label, tag, text, eleve_id) from None
    state.unreadable.append((eleve_id, spec, tag, strip_unsafe_characters((text or "").strip()[:20])))


def _check_eleve(
    eleve_id: str, row: list[Any], texts: dict[str, str | None], line: int, state: _StudentFileState
) -> None:
    birth_date = row[_BIRTH_DATE_INDEX]
    if birth_date is not None and not EARLIEST_BIRTH_DATE <= birth_date <= state.latest_birth_date:
        raise _implausible_birth_date_error(eleve_id, texts.get("DATE_NAISS"), state.latest_birth_date)
    for index, spec in _LIMITED_FIELDS:
        value = row[index]
        assert spec.max_length is not None  # what makes a field "limited"
        if len(value) > spec.max_length:
            raise _too_long_error(eleve_id, line, spec.label, spec.tags[0], len(value), spec.max_length)


def _too_long_id_error(eleve_id: str, line: int) -> SiecleFileError:
    shown = eleve_id[:SIECLE_ID_MAX_LENGTH] + "…"
    return _invalid(
        f"l'identifiant ELEVE_ID « {shown} » de l'élève de la ligne {line} a {len(eleve_id)} caractères ; "
        f"{SIECLE_ID_MAX_LENGTH} au plus sont acceptés. {_HELP}",
        f"ELEVE_ID {shown!r} at line {line} is {len(eleve_id)} characters long "
        f"(at most {SIECLE_ID_MAX_LENGTH})",
    )


def _too_long_error(
    eleve_id: str, line: int, label: str, tag: str, length: int, limit: int
) -> SiecleFileError:
    return _invalid(
        f"le {label} ({tag}) de l'élève n° {eleve_id} (ligne {line}) a {length} caractères ; {limit} au plus "
        "sont acceptés. Corrigez la fiche dans SIECLE puis refaites l'export.",
        f"{tag} of ELEVE_ID {eleve_id} at line {line} is {length} characters long (at most {limit})",
    )


def _check_unique_ine(ine: str, eleve_id: str, state: _StudentFileState) -> None:
    if not ine:
        return
    other = state.eleve_id_by_ine.setdefault(ine, eleve_id)
    if other != eleve_id:
        # The INE itself stays out of the message: it is stored in the import record.
        raise _invalid(
            f"les élèves n° {other} et n° {eleve_id} ont le même INE (ID_NATIONAL). Corrigez leurs "
            "fiches dans SIECLE puis refaites l'export.",
            f"duplicate ID_NATIONAL for ELEVE_ID {other} and {eleve_id}",
        )


def _read_structures(element: etree._Element, state: _StudentFileState) -> None:
    eleve_id = _clean(element.get("ELEVE_ID"))
    if not eleve_id or eleve_id in state.class_by_eleve_id:
        return
    for structure in element:
        # D is the class (division); G groups are ignored. The last of each tag wins.
        code = kind = None
        for child in structure:
            tag = child.tag
            if tag == "CODE_STRUCTURE":
                code = child.text
            elif tag == "TYPE_STRUCTURE":
                kind = child.text
        if not (code and kind and (kind == "D" or _clean(kind).upper() == "D")):
            continue
        code = _clean(code)
        if code:
            if len(code) > CLASS_CODE_MAX_LENGTH:
                line, limit = structure.sourceline, CLASS_CODE_MAX_LENGTH
                raise _too_long_error(eleve_id, line, "code de classe", "CODE_STRUCTURE", len(code), limit)
            state.class_by_eleve_id[eleve_id] = code
            return


# --- Classes read ahead (docs/siecle-format.md, "Classes read ahead") ---------------------------

# Each STRUCTURES_ELEVE as one line, its ELEVE_ID and the CODE_STRUCTURE of its first class
# (TYPE_STRUCTURE D), in one C pass (libxslt) instead of one Python visit per element.
_CLASSES_AHEAD = etree.XSLT(
    etree.XML(
        """<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:output method="text" encoding="UTF-8"/>
<xsl:template match="/STRUCTURES"><xsl:for-each select="STRUCTURES_ELEVE">
<xsl:value-of select="@ELEVE_ID"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="STRUCTURE[TYPE_STRUCTURE = 'D'][1]/CODE_STRUCTURE"/><xsl:text>&#10;</xsl:text>
</xsl:for-each></xsl:template>
</xsl:stylesheet>"""
    )
)
_STRUCTURES_START, _STRUCTURES_END = b"<STRUCTURES>", b"</STRUCTURES>"
_AHEAD_CHUNK_BYTES = 1024 * 1024


def read_classes_ahead(data: bytes) -> dict[str, str] | None:
    """The class of each student, read from the STRUCTURES section alone, or None if that fails.

    SIECLE writes the classes after all the students, so an import that writes each student while
    the file is read (``students/services.py``, first imports) needs them first. This reads only
    the end of the file: the section's bytes, found by their tags, decoded to UTF-8 and parsed as a
    document of their own with the same safe parser options. It is a guess, never the truth: what
    it returns is compared with what :func:`read_student_file` reads from the whole file, and any
    difference (a comment holding the tag, a class with spaces, anything) only means that the
    import writes the students afterwards instead. Any failure returns None for the same reason.
    """
    try:
        section = _structures_bytes(data)
        if section is None:
            return None
        parser = etree.XMLParser(
            resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False, remove_blank_text=True
        )
        lines = str(_CLASSES_AHEAD(etree.fromstring(section, parser))).splitlines()
        classes: dict[str, str] = {}
        for line in lines:
            eleve_id, _tab, code = line.partition("\t")
            if code and eleve_id not in classes:  # the first STRUCTURES_ELEVE of a student wins
                classes[eleve_id] = code
        return classes
    except Exception:  # noqa: BLE001 - a guess that failed: the import reads the classes in order
        return None


def _structures_bytes(data: bytes) -> bytes | None:
    """The STRUCTURES section as a UTF-8 document of its own (a ZIP's member is decompressed a
    chunk at a time and only what follows the section's start kept), or None if not found."""
    if data[:4] in _ZIP_MAGICS:
        archive = zipfile.ZipFile(io.BytesIO(data))
        info = _single_member(archive.infolist(), _STUDENT_MEMBER_RE, "ElevesSansAdresses.xml")
        with archive.open(info) as member:
            head = member.read(_PROLOG_BYTES)
            xml, read = _from_structures(member, head)
            if read > MAX_XML_BYTES:
                return None
    else:
        head, xml = data[:_PROLOG_BYTES], data
    start, end = xml.find(_STRUCTURES_START), xml.rfind(_STRUCTURES_END)
    if start < 0 or end < start:
        return None
    section = xml[start : end + len(_STRUCTURES_END)]
    match = _ENCODING_DECLARATION_RE.match(head.removeprefix(_UTF8_BOM))
    codec = _codec_name(match.group(1).decode("ascii")) if match else "utf-8"
    if codec != "utf-8":
        single_byte = _SINGLE_BYTE_ENCODINGS.get(codec)
        if single_byte is None:
            return None
        section = single_byte[1](section)  # the reader's own decoder (UTF-8 out)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + section


def _from_structures(member: IO[bytes], head: bytes) -> tuple[bytes, int]:
    """What follows the first STRUCTURES tag of a stream (``head`` is its start), and how many
    bytes were read; stops reading past MAX_XML_BYTES."""
    read, window, kept = len(head), head, bytearray()
    while read <= MAX_XML_BYTES and (chunk := member.read(_AHEAD_CHUNK_BYTES)):
        read += len(chunk)
        if kept:
            kept += chunk
            continue
        window = window[-len(_STRUCTURES_START) :] + chunk  # a tag cut between two chunks is found
        at = window.find(_STRUCTURES_START)
        if at >= 0:
            kept += window[at:]
    return bytes(kept), read


def _build_export(state: _StudentFileState, file_name: str) -> SiecleExport:
    parameters = state.parameters or {}
    uai = parameters.get("UAJ", "").upper()
    if not uai:
        raise _invalid(
            f"le code de l'établissement (PARAMETRES/UAJ) est absent. {_HELP}",
            "missing PARAMETRES/UAJ",
        )
    warnings: list[str] = []
    classes = state.class_by_eleve_id
    students = []
    for row in state.records:
        row[_CLASS_INDEX] = classes.get(row[_SIECLE_ID_INDEX], "")
        students.append(SiecleStudent(*row))
    state.records.clear()  # one copy of 20,000 students at a time
    exported_at = _parse_timestamp(parameters.get("HORODATAGE", ""), parameters.get("DATE_EXPORT", ""))
    if exported_at is None:
        warnings.append("La date de l'export (PARAMETRES/HORODATAGE, DATE_EXPORT) est absente ou illisible.")
    school_year = _school_year(parameters.get("ANNEE_SCOLAIRE", ""), warnings)
    warnings.extend(_usual_name_warnings(state.usual_name_ids))
    warnings.extend(_unreadable_value_warnings(state.unreadable))
    warnings.extend(student_warnings(students))
    return SiecleExport(
        uai=uai,
        school_year=school_year,
        exported_at=exported_at,
        students=students,
        warnings=warnings,
        file_name=file_name,
    )


def _school_year(value: str, warnings: list[str]) -> int | None:
    if value.isdigit() and len(value) == 4:
        return int(value)
    if value:
        warnings.append(f"L'année scolaire du fichier (ANNEE_SCOLAIRE) est illisible : « {value[:10]} ».")
    return None


# --- Warnings ---------------------------------------------------------------------------------


_INE_WARNINGS = {
    BEA_BAD_KEY: ("Élève n° {id} : INE {ine} à clé invalide.", "élèves à l'INE à clé invalide"),
    UNUSUAL: ("Élève n° {id} : INE {ine} de forme inhabituelle.", "élèves à l'INE de forme inhabituelle"),
    INVALID: (
        "Élève n° {id} : INE « {ine} » invalide (un INE comporte 11 caractères).",
        "élèves à l'INE invalide",
    ),
}
_ACCEPTED_INE_KINDS = (RNIE, BEA, APPRENTICE)


def student_warnings(students: list[SiecleStudent]) -> list[str]:
    """French warnings about a file's students, identified by ELEVE_ID and kept short."""
    if not students:
        return ["Le fichier ne contient aucun élève."]
    warnings = _ine_warnings(students)
    without_ine = [student.siecle_id for student in students if not student.ine]
    if without_ine:
        warnings.append(_without_ine_warning(len(without_ine)))
    without_class = [student.siecle_id for student in students if not student.class_code]
    if without_class:
        warnings.append(_without_class_warning(without_class))
    warnings.extend(_incomplete_identity_warnings(students))
    return warnings


def _listed_briefly(lines: list[str], plural: str) -> list[str]:
    """The first MAX_LISTED lines, then how many more."""
    if len(lines) <= MAX_LISTED:
        return lines
    return [*lines[:MAX_LISTED], f"… et {len(lines) - MAX_LISTED} autres {plural}."]


def _ine_warnings(students: list[SiecleStudent]) -> list[str]:
    flagged: dict[str, list[SiecleStudent]] = {kind: [] for kind in _INE_WARNINGS}
    for student in students:
        if student.ine:
            kind = ine_kind(student.ine)
            if kind not in _ACCEPTED_INE_KINDS:
                flagged[kind].append(student)
    warnings: list[str] = []
    for kind, (template, plural) in _INE_WARNINGS.items():
        lines = [template.format(id=student.siecle_id, ine=student.ine) for student in flagged[kind]]
        warnings.extend(_listed_briefly(lines, plural))
    return warnings


def _usual_name_warnings(eleve_ids: list[str]) -> list[str]:
    lines = [
        f"Élève n° {eleve_id} : nom de famille absent, le nom d'usage (NOM_USAGE) le remplace."
        for eleve_id in eleve_ids
    ]
    return _listed_briefly(lines, "élèves dont le nom d'usage remplace le nom de famille absent")


def _unreadable_value_warnings(unreadable: list[tuple[str, EleveField, str, str]]) -> list[str]:
    lines = [
        f"Élève n° {eleve_id} : {spec.label} ({tag}) illisible (« {value} »), ignorée."
        for eleve_id, spec, tag, value in unreadable
    ]
    return _listed_briefly(lines, "élèves dont une valeur illisible est ignorée")


def _incomplete_identity_warnings(students: list[SiecleStudent]) -> list[str]:
    lines = [
        f"Élève n° {student.siecle_id} : identité incomplète (manque : {_missing_identity(student)}) ; "
        "il ne pourra pas être transféré."
        for student in students
        if not student.identity_complete
    ]
    return _listed_briefly(lines, "élèves à l'identité incomplète")


def _missing_identity(student: SiecleStudent) -> str:
    missing = [
        label
        for label, value in (
            ("nom de famille", student.last_name),
            ("prénom", student.first_name),
            ("date de naissance", student.birth_date),
        )
        if not value
    ]
    return ", ".join(missing)


def _without_ine_warning(count: int) -> str:
    if count == 1:
        return "1 élève sans INE : il ne pourra pas être transféré."
    return f"{count} élèves sans INE : ils ne pourront pas être transférés."


def _without_class_warning(eleve_ids: list[str]) -> str:
    listed = ", ".join(eleve_ids[:MAX_LISTED]) + ("…" if len(eleve_ids) > MAX_LISTED else "")
    noun = "élève sans classe" if len(eleve_ids) == 1 else "élèves sans classe"
    return f"{len(eleve_ids)} {noun} (n° {listed})."


# --- Nomenclature ---------------------------------------------------------------------------------


def read_nomenclature(data: bytes, filename: str = "") -> Nomenclature:
    """Read a Nomenclature export (XML or ZIP): its UAJ and the readable label of each CODE_MEF."""
    reader, _file_name = _open_source(data, filename, _NOMENCLATURE_MEMBER_RE, "Nomenclature.xml")
    uai = ""
    labels: dict[str, str] = {}
    for element in _iter_end_events(reader, _NOMENCLATURE_TAGS, NOMENCLATURE_ROOT):
        if element.tag == "PARAMETRES":
            if _parent_tag(element) == NOMENCLATURE_ROOT:
                uai = _text(element.find("UAJ")).upper()
            continue
        if element.tag == "MEF" and _parent_tag(element) == "MEFS":
            _read_mef(element, labels)
        _discard(element)
    return Nomenclature(uai=uai, labels=labels)


def _read_mef(element: etree._Element, labels: dict[str, str]) -> None:
    code = _clean(element.get("CODE_MEF")) or _text(element.find("CODE_MEF"))
    if not code:
        return
    for tag in ("LIBELLE_LONG", "LIBELLE_EDITION", "FORMATION"):
        label = _text(element.find(tag))
        if label:
            labels[code] = label
            return
