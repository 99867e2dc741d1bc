"""SIECLE exports as they reach us from schools: re-saved by other tools, zipped on every desktop.

Each file here is one of the published samples (``shared/samples/siecle``) transformed the way a
tool transforms it, so the parser is checked against the real format rather than its own output.
"""

from __future__ import annotations

import io
import zipfile

import pytest

from students.siecle import SiecleFileError, read_nomenclature, read_student_file

STUDENTS_SAMPLE = "dossiersco-eleves-avec-adresses.xml"
PIX_SAMPLE = "pix-registrations-no-longer-in-school.xml"
NOMENCLATURE_SAMPLE = "dossiersco-nomenclature.xml"
# The header of an AppleDouble file (the resource fork macOS writes as "._name"): magic, version,
# "Mac OS X" filler, then one entry. Its bytes are not XML.
APPLE_DOUBLE = (
    b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x01"
    b"\x00\x00\x00\x09\x00\x00\x00\x32\x00\x00\x00\x20" + b"\x00" * 32
)
UTF8_WARNING = "Le fichier déclare l'encodage ISO-8859-15 mais contient de l'UTF-8 : il a été lu comme UTF-8."


def sample(samples_dir, name: str = STUDENTS_SAMPLE) -> bytes:
    return (samples_dir / name).read_bytes()


def accented(data: bytes) -> bytes:
    """The students sample with its only accented value, PRENOM2 « Koïta » (which the parser does not
    read), as the first name too, so that a test sees how the accent was decoded."""
    return data.replace(b"<PRENOM>Ibrahim</PRENOM>", "<PRENOM>Koïta</PRENOM>".encode("iso-8859-15"))


def resaved(data: bytes, codec: str, *, declaration: str | None = None, bom: bytes = b"") -> bytes:
    """The sample as an editor saves it again: other bytes, the declaration kept unless told."""
    text = data.decode("iso-8859-15")
    if declaration is not None:
        text = text.replace('encoding="ISO-8859-15"', f'encoding="{declaration}"')
    return bom + text.encode(codec)


def identities(export) -> list[tuple]:
    return [
        (student.siecle_id, student.ine, student.last_name, student.first_name, student.birth_date)
        for student in export.students
    ]


def mac_zip(files: dict[str, bytes], folder: str = "") -> bytes:
    """An archive as macOS "Compresser" makes it: a folder entry, then for each file its AppleDouble
    twin under ``__MACOSX/`` (and a ``.DS_Store`` when a folder is compressed)."""
    prefix = f"{folder}/" if folder else ""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if folder:
            archive.writestr(_entry(prefix), b"")
            archive.writestr(_entry(f"{prefix}.DS_Store"), b"\x00\x00\x00\x01Bud1" + b"\x00" * 60)
        for name, content in files.items():
            archive.writestr(_entry(prefix + name), content)
        archive.writestr(_entry("__MACOSX/"), b"")
        if folder:
            archive.writestr(_entry(f"__MACOSX/{prefix}"), b"")
        for name in files:
            archive.writestr(_entry(f"__MACOSX/{prefix}._{name}"), APPLE_DOUBLE)
    return buffer.getvalue()


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2025, 10, 20, 8, 30, 0))
    info.create_system = 3  # Unix, as on macOS
    info.external_attr = (0o40755 << 16) | 0x10 if name.endswith("/") else 0o100644 << 16
    info.compress_type = zipfile.ZIP_STORED if name.endswith("/") else zipfile.ZIP_DEFLATED
    return info


def plain_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# --- Re-saved in another encoding ------------------------------------------------------------------


def test_a_sample_re_saved_in_utf8_under_its_old_declaration_gives_the_same_students(samples_dir):
    original = read_student_file(accented(sample(samples_dir)))

    export = read_student_file(resaved(accented(sample(samples_dir)), "utf-8"))

    assert identities(export) == identities(original)
    assert export.students[0].first_name == "Koïta"
    assert export.warnings == [UTF8_WARNING]


def test_a_sample_re_saved_in_utf8_with_a_bom_gives_the_same_students(samples_dir):
    original = read_student_file(sample(samples_dir))

    export = read_student_file(resaved(sample(samples_dir), "utf-8", bom=b"\xef\xbb\xbf"))

    assert identities(export) == identities(original)
    assert export.warnings == [UTF8_WARNING]


def test_a_sample_converted_to_utf8_with_its_declaration_is_read_without_warning(samples_dir):
    export = read_student_file(resaved(accented(sample(samples_dir)), "utf-8", declaration="UTF-8"))

    assert export.students[0].first_name == "Koïta"
    assert export.warnings == []


def test_a_sample_saved_by_notepad_as_unicode_gives_the_same_students(samples_dir):
    original = read_student_file(sample(samples_dir))

    export = read_student_file(resaved(sample(samples_dir), "utf-16-le", bom=b"\xff\xfe"))

    assert identities(export) == identities(original)


def test_a_sample_with_windows_line_endings_gives_the_same_students(samples_dir):
    original = read_student_file(sample(samples_dir, PIX_SAMPLE))

    export = read_student_file(sample(samples_dir, PIX_SAMPLE).replace(b"\n", b"\r\n"))

    assert identities(export) == identities(original)
    assert export.warnings == original.warnings


def test_a_nomenclature_re_saved_in_utf8_keeps_its_labels_readable(samples_dir):
    nomenclature = read_nomenclature(resaved(sample(samples_dir, NOMENCLATURE_SAMPLE), "utf-8"))

    assert nomenclature.labels == {"10110001110": "5EME"}
    assert nomenclature.uai == "0140070A"


def test_a_sample_re_saved_in_utf8_is_read_as_utf8_inside_its_zip_too(samples_dir):
    data = plain_zip({"ElevesSansAdresses.xml": resaved(accented(sample(samples_dir)), "utf-8")})

    export = read_student_file(data)

    assert export.students[0].first_name == "Koïta"
    assert export.warnings == [UTF8_WARNING]


def test_a_sample_re_saved_in_latin1_under_a_utf8_declaration_is_refused_saying_why(samples_dir):
    data = resaved(sample(samples_dir), "iso-8859-15", declaration="UTF-8")

    with pytest.raises(SiecleFileError) as caught:
        read_student_file(data)

    assert "il déclare l'encodage UTF-8 mais la ligne 18 contient des caractères dans un autre encodage" in (
        caught.value.message
    )


# --- ZIPs from every desktop -------------------------------------------------------------------------


def test_a_file_zipped_by_macos_is_read_despite_its_metadata_twin(samples_dir):
    data = mac_zip({"ElevesSansAdresses.xml": sample(samples_dir)})

    export = read_student_file(data, "ElevesSansAdresses.xml.zip")

    assert export.file_name == "ElevesSansAdresses.xml"
    assert identities(export) == identities(read_student_file(sample(samples_dir)))


def test_a_folder_zipped_by_macos_is_read_from_inside_the_folder(samples_dir):
    data = mac_zip({"ElevesSansAdresses.xml": sample(samples_dir)}, folder="ExportXML_ElevesSansAdresses")

    export = read_student_file(data, "ExportXML_ElevesSansAdresses.zip")

    assert export.file_name == "ExportXML_ElevesSansAdresses/ElevesSansAdresses.xml"
    assert len(export.students) == 1


def test_a_folder_zipped_by_windows_is_read_from_inside_the_folder(samples_dir):
    data = plain_zip({"Export SIECLE/": b"", "Export SIECLE/ElevesAvecAdresses.xml": sample(samples_dir)})

    assert read_student_file(data).file_name == "Export SIECLE/ElevesAvecAdresses.xml"


def test_a_nomenclature_zipped_by_macos_is_read(samples_dir):
    data = mac_zip({"Nomenclature.xml": sample(samples_dir, NOMENCLATURE_SAMPLE)}, folder="Nomenclature")

    assert read_nomenclature(data).labels == {"10110001110": "5EME"}


def test_a_zip_holding_only_a_metadata_twin_is_refused_listing_the_real_files(samples_dir):
    data = plain_zip({"__MACOSX/._ElevesSansAdresses.xml": APPLE_DOUBLE, "Lisez-moi.txt": b"x"})

    with pytest.raises(SiecleFileError) as caught:
        read_student_file(data)

    assert (
        "ne contient pas de fichier ElevesSansAdresses.xml (contenu : Lisez-moi.txt)" in caught.value.message
    )


def test_a_hidden_dot_file_beside_the_export_is_ignored(samples_dir):
    data = plain_zip(
        {"._ElevesSansAdresses.xml": APPLE_DOUBLE, "ElevesSansAdresses.xml": sample(samples_dir)}
    )

    assert read_student_file(data).file_name == "ElevesSansAdresses.xml"


def test_two_real_student_files_are_still_refused_naming_only_them(samples_dir):
    data = mac_zip(
        {"ElevesSansAdresses.xml": sample(samples_dir), "ElevesAvecAdresses.xml": sample(samples_dir)}
    )

    with pytest.raises(SiecleFileError) as caught:
        read_student_file(data)

    assert "plusieurs fichiers ElevesSansAdresses.xml (ElevesSansAdresses.xml, ElevesAvecAdresses.xml)" in (
        caught.value.message
    )
