"""Reading SIECLE exports: the real samples, the awkward cases, and hostile or broken files."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import pytest

from students import siecle
from students.identity import SYNCED_FIELDS
from students.models import Student
from students.siecle import PARIS, Nomenclature, SiecleFileError, read_nomenclature, read_student_file

INVALID = "Le fichier n'est pas un export SIECLE valide"


def export_xml(eleves: str, structures: str = "", *, uai: str = "0750654D", prolog: str | None = None) -> str:
    prolog = '<?xml version="1.0" encoding="ISO-8859-15"?>\n' if prolog is None else prolog
    return (
        f'{prolog}<BEE_ELEVES VERSION="3.0">\n'
        f"  <PARAMETRES><UAJ>{uai}</UAJ><ANNEE_SCOLAIRE>2025</ANNEE_SCOLAIRE>"
        "<DATE_EXPORT>20/10/2025</DATE_EXPORT></PARAMETRES>\n"
        f"  <DONNEES>\n    <ELEVES>\n{eleves}    </ELEVES>\n"
        f"    <STRUCTURES>\n{structures}    </STRUCTURES>\n  </DONNEES>\n</BEE_ELEVES>\n"
    )


def eleve(
    eleve_id: str,
    ine: str = "",
    *,
    name_tag: str = "NOM_DE_FAMILLE",
    last_name: str = "LEBŒUF",
    **fields: str,
) -> str:
    values = {"DATE_NAISS": "12/12/2008", "PRENOM": "Zoé", "CODE_MEF": "24732403310", **fields}
    children = f"<ID_NATIONAL>{ine}</ID_NATIONAL>" if ine else ""
    children += f"<{name_tag}>{last_name}</{name_tag}>"
    children += "".join(f"<{tag}>{value}</{tag}>" for tag, value in values.items())
    return f'      <ELEVE ELEVE_ID="{eleve_id}">{children}</ELEVE>\n'


def division(eleve_id: str, code: str, kind: str = "D") -> str:
    return (
        f'      <STRUCTURES_ELEVE ELEVE_ID="{eleve_id}"><STRUCTURE><CODE_STRUCTURE>{code}</CODE_STRUCTURE>'
        f"<TYPE_STRUCTURE>{kind}</TYPE_STRUCTURE></STRUCTURE></STRUCTURES_ELEVE>\n"
    )


ONE_STUDENT = export_xml(eleve("1", "070832327JA"), division("1", "2GA2"))


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def refusal(data: bytes) -> str:
    with pytest.raises(SiecleFileError) as caught:
        read_student_file(data, "upload")
    assert caught.value.english and "\n" not in caught.value.english
    return caught.value.message


# --- The real samples ---------------------------------------------------------------------------


def test_the_dossiersco_sample_gives_its_school_and_its_student(samples_dir):
    data = (samples_dir / "dossiersco-eleves-avec-adresses.xml").read_bytes()

    export = read_student_file(data, "dossiersco-eleves-avec-adresses.xml")

    assert export.uai == "0752387M"
    assert export.school_year == 2019
    assert export.exported_at == datetime(2019, 7, 6, 19, 1, 46, tzinfo=PARIS)
    assert export.file_name == "dossiersco-eleves-avec-adresses.xml"
    [student] = export.students
    assert (student.siecle_id, student.ine, student.last_name, student.first_name) == (
        "1816400",
        "070832327JA",
        "ISSILAHI",
        "Ibrahim",
    )
    assert student.birth_date == date(2004, 12, 12)
    assert student.class_code == "3 A"
    assert student.mef_code == "10310019110"
    assert student.left_on is None
    assert export.warnings == []


def test_the_pix_sample_gives_every_awkward_case(samples_dir):
    data = (samples_dir / "pix-registrations-no-longer-in-school.xml").read_bytes()

    export = read_student_file(data)

    assert export.uai == "123ABC"
    students = {student.siecle_id: student for student in export.students}
    assert list(students) == ["0001", "0002", "0003", "0004", "0005"]
    assert students["0002"].in_inactive_class
    assert students["0002"].has_left(date(2019, 6, 1))
    assert students["0003"].ine == ""
    assert students["0003"].class_code == "4e 1"
    assert students["0004"].class_code == ""
    assert students["0005"].left_on == date(2019, 9, 1)
    assert students["0005"].has_left(date(2019, 9, 1))
    assert not students["0005"].has_left(date(2019, 8, 31))
    assert "Élève n° 0001 : INE 00000000123 de forme inhabituelle." in export.warnings
    assert "1 élève sans INE : il ne pourra pas être transféré." in export.warnings
    assert "2 élèves sans classe (n° 0001, 0004)." in export.warnings


def test_the_nomenclature_sample_gives_its_school_and_names_its_mef(samples_dir):
    data = (samples_dir / "dossiersco-nomenclature.xml").read_bytes()

    assert read_nomenclature(data) == Nomenclature(uai="0140070A", labels={"10110001110": "5EME"})


def test_the_nomenclature_sample_is_refused_as_the_students_file(samples_dir):
    data = (samples_dir / "dossiersco-nomenclature.xml").read_bytes()

    assert refusal(data).startswith("Ce fichier est une nomenclature, pas l'export des élèves")


def test_a_students_file_is_refused_as_the_nomenclature(samples_dir):
    data = (samples_dir / "dossiersco-eleves-avec-adresses.xml").read_bytes()

    with pytest.raises(SiecleFileError, match="pas la nomenclature"):
        read_nomenclature(data)


# --- Students and their fields ------------------------------------------------------------------


def test_the_class_is_the_division_and_groups_are_ignored():
    structures = division("1", "GR_ANG1", "G") + division("1", "1MELEC")

    export = read_student_file(export_xml(eleve("1", "070832327JA"), structures).encode("iso-8859-15"))

    assert export.students[0].class_code == "1MELEC"


def test_a_leaving_date_in_the_future_means_the_student_has_not_left_yet():
    xml = export_xml(eleve("1", "070832327JA", DATE_SORTIE="30/06/2026"), division("1", "TGA1"))

    student = read_student_file(xml.encode("iso-8859-15")).students[0]

    assert not student.has_left(date(2025, 11, 1))
    assert student.has_left(date(2026, 6, 30))


def test_files_before_2016_give_the_last_name_in_nom():
    xml = export_xml(eleve("1", "070832327JA", name_tag="NOM"))

    assert read_student_file(xml.encode("iso-8859-15")).students[0].last_name == "LEBŒUF"


def test_the_ine_is_normalised():
    xml = export_xml(eleve("1", " 070832327ja "), division("1", "2GA2"))

    assert read_student_file(xml.encode("iso-8859-15")).students[0].ine == "070832327JA"


def test_the_export_time_falls_back_to_the_export_date_at_midnight_in_paris():
    export = read_student_file(ONE_STUDENT.encode("iso-8859-15"))

    assert export.exported_at == datetime(2025, 10, 20, tzinfo=PARIS)


def test_a_bea_ine_with_a_wrong_key_is_a_warning_naming_the_student_by_id():
    xml = export_xml(eleve("1816400", "0494004062A"), division("1816400", "2GA2"))

    export = read_student_file(xml.encode("iso-8859-15"))

    assert export.warnings == ["Élève n° 1816400 : INE 0494004062A à clé invalide."]


def test_many_unusual_ines_are_listed_briefly():
    eleves = "".join(eleve(str(n), f"{n:011d}") for n in range(1, 26))
    structures = "".join(division(str(n), "2GA2") for n in range(1, 26))

    export = read_student_file(export_xml(eleves, structures).encode("iso-8859-15"))

    assert len(export.warnings) == siecle.MAX_LISTED + 1
    assert export.warnings[-1] == "… et 15 autres élèves à l'INE de forme inhabituelle."


def test_students_without_ine_are_counted():
    eleves = eleve("1") + eleve("2", "") + eleve("3", "070832327JA")
    structures = "".join(division(str(n), "2GA2") for n in range(1, 4))

    export = read_student_file(export_xml(eleves, structures).encode("iso-8859-15"))

    assert export.without_ine == 2
    assert export.warnings == ["2 élèves sans INE : ils ne pourront pas être transférés."]


# --- Encodings -----------------------------------------------------------------------------------


def test_an_iso_8859_15_file_with_a_bom_is_read():
    data = b"\xef\xbb\xbf" + ONE_STUDENT.encode("iso-8859-15")

    assert read_student_file(data).students[0].last_name == "LEBŒUF"


def test_a_utf8_file_with_a_bom_and_no_declaration_is_read():
    data = b"\xef\xbb\xbf" + export_xml(eleve("1", "070832327JA"), prolog="").encode("utf-8")

    student = read_student_file(data).students[0]

    assert (student.last_name, student.first_name) == ("LEBŒUF", "Zoé")


def test_a_utf8_file_without_a_bom_is_read():
    data = export_xml(eleve("1", "070832327JA"), prolog='<?xml version="1.0" encoding="UTF-8"?>\n')

    assert read_student_file(data.encode("utf-8")).students[0].first_name == "Zoé"


def test_an_undeclared_encoding_that_is_not_utf8_is_refused():
    data = export_xml(eleve("1", "070832327JA"), prolog="").encode("iso-8859-15")

    assert "encodage n'est pas déclaré" in refusal(data)


# --- Broken files ---------------------------------------------------------------------------------


def test_an_empty_file_is_refused():
    assert refusal(b"").startswith("Le fichier est vide")
    assert refusal(b" \n ").startswith("Le fichier est vide")


def test_a_file_that_is_not_xml_is_refused():
    message = refusal(b"%PDF-1.7 not an export")

    assert message.startswith(INVALID)
    assert "n'est pas du XML" in message


def test_a_truncated_file_is_refused():
    data = ONE_STUDENT.encode("iso-8859-15")

    assert "incomplet" in refusal(data[: len(data) // 2])


def test_malformed_xml_in_the_middle_is_refused_with_its_line():
    data = ONE_STUDENT.replace("<PRENOM>", "<PRENOM>a < b", 1).encode("iso-8859-15")

    assert "mal formé (ligne" in refusal(data)


def test_a_file_with_another_root_element_is_refused():
    data = b"<BEE_RESPONSABLES><PARAMETRES><UAJ>0750654D</UAJ></PARAMETRES></BEE_RESPONSABLES>"

    assert "l'élément racine est « BEE_RESPONSABLES »" in refusal(data)


def test_a_file_without_the_school_code_is_refused():
    data = ONE_STUDENT.replace("<UAJ>0750654D</UAJ>", "").encode("iso-8859-15")

    assert "PARAMETRES/UAJ" in refusal(data)


def test_two_students_with_the_same_ine_are_refused_naming_their_ids_only():
    xml = export_xml(eleve("101", "070832327JA") + eleve("102", "070832327ja"))

    message = refusal(xml.encode("iso-8859-15"))

    assert "les élèves n° 101 et n° 102 ont le même INE" in message
    assert "070832327JA" not in message


def test_a_student_id_given_twice_is_refused():
    xml = export_xml(eleve("101", "070832327JA") + eleve("101", "0494004062M"))

    assert "n° 101 apparaît deux fois" in refusal(xml.encode("iso-8859-15"))


def test_an_impossible_date_is_refused_naming_the_field_and_the_student():
    xml = export_xml(eleve("555", "070832327JA", DATE_NAISS="31/02/2008"))

    message = refusal(xml.encode("iso-8859-15"))

    assert "date de naissance (DATE_NAISS) de l'élève n° 555 est impossible" in message
    assert "31/02/2008" in message


def test_an_impossible_leaving_date_is_refused_too():
    xml = export_xml(eleve("555", "070832327JA", DATE_SORTIE="31/02/2026"))

    assert "date de sortie (DATE_SORTIE) de l'élève n° 555 est impossible" in refusal(
        xml.encode("iso-8859-15")
    )


@pytest.mark.parametrize("value", ["31/02/2020", "2020-09-01", "rentrée"])
def test_an_unreadable_entry_date_is_left_empty_with_a_warning_rather_than_refusing_the_file(value):
    xml = export_xml(eleve("555", "070832327JA", DATE_ENTREE=value), division("555", "2GA2"))

    export = read_student_file(xml.encode("iso-8859-15"))

    assert export.students[0].entered_on is None
    assert f"Élève n° 555 : date d'entrée (DATE_ENTREE) illisible (« {value} »), ignorée." in export.warnings


def test_a_file_over_the_size_limit_is_refused(monkeypatch):
    monkeypatch.setattr(siecle, "MAX_XML_BYTES", 1000)

    assert "trop volumineux" in refusal(export_xml(eleve("1") * 20).encode("iso-8859-15"))


# --- Hostile XML -----------------------------------------------------------------------------------


def test_an_external_entity_is_never_read():
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE BEE_ELEVES [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b'<BEE_ELEVES><PARAMETRES><UAJ>0750654D</UAJ></PARAMETRES><DONNEES><ELEVES><ELEVE ELEVE_ID="1">'
        b"<NOM_DE_FAMILLE>&xxe;</NOM_DE_FAMILLE></ELEVE></ELEVES></DONNEES></BEE_ELEVES>"
    )

    message = refusal(data)

    assert "DOCTYPE" in message
    assert "root:" not in message


def test_an_external_entity_hidden_in_utf16_is_never_read_either():
    xml = (
        '<!DOCTYPE BEE_ELEVES [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        "<BEE_ELEVES><PARAMETRES><UAJ>&xxe;</UAJ></PARAMETRES></BEE_ELEVES>"
    )

    message = refusal(xml.encode("utf-16"))

    assert "DOCTYPE" in message
    assert "root:" not in message


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE BEE_ELEVES [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">' for i in range(1, 10))
    + ']>\n<BEE_ELEVES A="&lol9;"><PARAMETRES><UAJ>&lol9;</UAJ></PARAMETRES></BEE_ELEVES>'
)


def test_a_billion_laughs_file_is_refused_without_expanding_it():
    assert "entités XML" in refusal(BILLION_LAUGHS.encode())


def test_a_doctype_hidden_in_utf16_is_refused_too():
    assert "entités XML" in refusal(BILLION_LAUGHS.replace('<?xml version="1.0"?>', "").encode("utf-16"))


def test_the_nomenclature_reader_refuses_entities_too():
    data = BILLION_LAUGHS.replace("BEE_ELEVES", "BEE_NOMENCLATURES").encode()

    with pytest.raises(SiecleFileError, match="entités XML"):
        read_nomenclature(data)


# --- ZIP archives -----------------------------------------------------------------------------------


def test_the_zip_siecle_delivers_is_read_and_names_its_member():
    data = make_zip({"ElevesSansAdresses.xml": ONE_STUDENT.encode("iso-8859-15")})

    export = read_student_file(data, "ExportXML_ElevesSansAdresses.zip")

    assert export.file_name == "ElevesSansAdresses.xml"
    assert export.students[0].ine == "070832327JA"


def test_a_zip_is_recognised_by_its_content_not_its_name():
    data = make_zip({"export/elevesavecadresses.XML": ONE_STUDENT.encode("iso-8859-15")})

    assert read_student_file(data, "export.xml").file_name == "export/elevesavecadresses.XML"


def test_a_zip_without_the_students_file_is_refused():
    data = make_zip({"Nomenclature.xml": b"<BEE_NOMENCLATURES/>"})

    assert "ne contient pas de fichier ElevesSansAdresses.xml" in refusal(data)


def test_a_zip_with_two_students_files_is_refused():
    content = ONE_STUDENT.encode("iso-8859-15")
    data = make_zip({"ElevesSansAdresses.xml": content, "ElevesAvecAdresses.xml": content})

    assert "plusieurs fichiers" in refusal(data)


@pytest.mark.parametrize("name", ["../ElevesSansAdresses.xml", "/tmp/ElevesSansAdresses.xml", "a\\..\\x.xml"])
def test_a_zip_with_a_path_escaping_its_folder_is_refused(name):
    content = ONE_STUDENT.encode("iso-8859-15")
    data = make_zip(
        {name: content, "ElevesSansAdresses.xml": content} if "Eleves" not in name else {name: content}
    )

    assert "chemin de fichier dangereux" in refusal(data)


def test_a_zip_member_without_a_name_is_ignored():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo(""), b"?")  # a damaged archive can hold one
        archive.writestr("ElevesSansAdresses.xml", ONE_STUDENT.encode("iso-8859-15"))

    assert read_student_file(buffer.getvalue()).file_name == "ElevesSansAdresses.xml"


def test_a_truncated_zip_is_refused():
    data = make_zip({"ElevesSansAdresses.xml": ONE_STUDENT.encode("iso-8859-15")})

    assert "archive ZIP" in refusal(data[: len(data) // 2])


def zip_bomb(size: int, *, start: bytes = b"", filler: bytes = b"\0") -> bytes:
    """A ZIP whose member is ``start`` then ``size`` bytes of ``filler``, streamed so the test stays small."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("ElevesSansAdresses.xml", "w", force_zip64=True) as member,
    ):
        member.write(start)
        chunk = filler * (1024 * 1024)
        for _ in range(size // len(chunk)):
            member.write(chunk)
    return buffer.getvalue()


def test_a_zip_bomb_is_refused():
    data = zip_bomb(300 * 1024 * 1024)

    assert len(data) < 1_000_000
    assert "anormalement grand" in refusal(data)


def test_a_zip_bomb_with_lying_sizes_is_stopped_while_decompressing(monkeypatch):
    # Pretend the header is honest and small: the reader must still stop on what it produces.
    monkeypatch.setattr(siecle, "_refuse_declared_bomb", lambda info: None)

    # Valid XML (a root full of spaces), so that the parser keeps asking for more.
    data = zip_bomb(8 * 1024 * 1024, start=b"<BEE_ELEVES>", filler=b" ")

    assert "anormalement grand" in refusal(data)


def test_a_zip_member_over_the_size_limit_is_refused(monkeypatch):
    monkeypatch.setattr(siecle, "MAX_XML_BYTES", 2000)
    data = make_zip({"ElevesSansAdresses.xml": export_xml(eleve("1") * 20).encode("iso-8859-15")})

    assert "trop volumineux" in refusal(data)


def test_the_nomenclature_is_read_from_a_zip_too():
    xml = (
        '<?xml version="1.0" encoding="ISO-8859-15"?><BEE_NOMENCLATURES><DONNEES><MEFS>'
        '<MEF CODE_MEF="24732403310"><FORMATION>2NDPRO GA</FORMATION></MEF>'
        '<MEF CODE_MEF="24732403320"><LIBELLE_EDITION>1re pro GA</LIBELLE_EDITION></MEF>'
        "</MEFS></DONNEES></BEE_NOMENCLATURES>"
    )

    nomenclature = read_nomenclature(make_zip({"Nomenclature.xml": xml.encode("iso-8859-15")}))

    assert nomenclature.labels == {"24732403310": "2NDPRO GA", "24732403320": "1re pro GA"}


def test_a_nomenclature_without_parametres_has_no_school_code():
    xml = '<BEE_NOMENCLATURES><DONNEES><MEFS><MEF CODE_MEF="24732403310"><FORMATION>2NDPRO GA</FORMATION>'

    nomenclature = read_nomenclature(f"{xml}</MEF></MEFS></DONNEES></BEE_NOMENCLATURES>".encode())

    assert nomenclature == Nomenclature(uai="", labels={"24732403310": "2NDPRO GA"})


# --- Identity fields -------------------------------------------------------------------------------


def test_an_empty_family_name_is_replaced_by_the_usual_name_with_a_warning_naming_the_id():
    xml = export_xml(eleve("42", "070832327JA", last_name="", NOM_USAGE="DUPONT"), division("42", "2GA2"))

    export = read_student_file(xml.encode("iso-8859-15"))

    [student] = export.students
    assert student.last_name == "DUPONT"
    assert student.identity_complete
    assert export.warnings == ["Élève n° 42 : nom de famille absent, le nom d'usage (NOM_USAGE) le remplace."]


def test_the_usual_name_does_not_replace_a_family_name():
    xml = export_xml(eleve("42", "070832327JA", NOM_USAGE="DUPONT"), division("42", "2GA2"))

    export = read_student_file(xml.encode("iso-8859-15"))

    assert export.students[0].last_name == "LEBŒUF"
    assert export.warnings == []


def test_rows_without_last_name_first_name_or_birth_date_get_a_warning_naming_their_id_only():
    eleves = (
        eleve("1", "070832327JA", last_name="")
        + eleve("2", "0494004062M", PRENOM="")
        + eleve("3", "0113014881M", DATE_NAISS="", PRENOM=" ")
        + eleve("4", "070832328JA")
    )
    structures = "".join(division(str(n), "2GA2") for n in range(1, 5))

    export = read_student_file(export_xml(eleves, structures).encode("iso-8859-15"))

    assert [student.identity_complete for student in export.students] == [False, False, False, True]
    assert export.warnings == [
        "Élève n° 1 : identité incomplète (manque : nom de famille) ; il ne pourra pas être transféré.",
        "Élève n° 2 : identité incomplète (manque : prénom) ; il ne pourra pas être transféré.",
        "Élève n° 3 : identité incomplète (manque : prénom, date de naissance) ; il ne pourra pas être "
        "transféré.",
    ]
    assert not any("LEBŒUF" in warning or "JA" in warning for warning in export.warnings)


def test_many_incomplete_identities_are_listed_briefly():
    eleves = "".join(eleve(str(n), PRENOM="") for n in range(1, 26))
    structures = "".join(division(str(n), "2GA2") for n in range(1, 26))

    export = read_student_file(export_xml(eleves, structures).encode("iso-8859-15"))

    identity = [
        warning for warning in export.warnings if "identité incomplète" in warning or "autres" in warning
    ]
    assert len(identity) == siecle.MAX_LISTED + 1
    assert identity[-1] == "… et 15 autres élèves à l'identité incomplète."


# --- Birth dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["31/12/9999", "21/10/2025", "31/12/1899", "01/01/0001"])
def test_an_implausible_birth_date_is_refused_naming_the_student_and_the_value(value):
    xml = export_xml(eleve("555", "070832327JA", DATE_NAISS=value))

    message = refusal(xml.encode("iso-8859-15"))

    assert f"date de naissance (DATE_NAISS) de l'élève n° 555 est invraisemblable : « {value} »" in message
    assert "entre le 01/01/1900 et le 20/10/2025" in message


@pytest.mark.parametrize("value", ["01/01/1900", "20/10/2025"])
def test_birth_dates_from_1900_to_the_export_date_are_accepted(value):
    xml = export_xml(eleve("555", "070832327JA", DATE_NAISS=value))

    assert read_student_file(xml.encode("iso-8859-15")).students[0].birth_date.strftime("%d/%m/%Y") == value


def test_today_when_given_is_the_latest_birth_date_rather_than_the_export_date():
    after_export = export_xml(eleve("1", "070832327JA", DATE_NAISS="01/11/2025")).encode("iso-8859-15")
    before_today = export_xml(eleve("1", "070832327JA", DATE_NAISS="02/10/2025")).encode("iso-8859-15")

    assert read_student_file(after_export, today=date(2026, 1, 5)).students[0].birth_date == date(2025, 11, 1)
    with pytest.raises(SiecleFileError, match="entre le 01/01/1900 et le 01/10/2025"):
        read_student_file(before_today, today=date(2025, 10, 1))


def test_without_an_export_date_birth_dates_are_accepted_up_to_2100():
    def without_export_date(value: str) -> bytes:
        xml = export_xml(eleve("1", "070832327JA", DATE_NAISS=value))
        return xml.replace("<DATE_EXPORT>20/10/2025</DATE_EXPORT>", "").encode("iso-8859-15")

    assert read_student_file(without_export_date("31/12/2100")).students[0].birth_date == date(2100, 12, 31)
    assert "entre le 01/01/1900 et le 31/12/2100" in refusal(without_export_date("01/01/2101"))


# --- Field lengths -------------------------------------------------------------------------------------


def test_each_value_read_from_an_eleve_is_one_attribute_of_the_row_and_each_is_stored_but_the_leaving_date():
    attributes = {spec.attribute for spec in siecle.ELEVE_FIELDS}
    row_fields = set(siecle.SiecleStudent._fields)

    assert row_fields == attributes | {"siecle_id", "class_code"}
    assert len(attributes) == len(siecle.ELEVE_FIELDS)
    # DATE_SORTIE decides the deactivation and is not stored itself.
    assert row_fields - {"left_on"} <= set(SYNCED_FIELDS)
    assert all(Student._meta.get_field(name) for name in SYNCED_FIELDS)


def test_the_parser_limits_are_the_sizes_of_the_student_columns():
    columns = {name: Student._meta.get_field(name).max_length for name in siecle.MAX_LENGTHS}

    assert (
        columns
        == siecle.MAX_LENGTHS
        == {
            "siecle_id": 20,
            "last_name": 100,
            "first_name": 100,
            "class_code": 50,
            "mef_code": 11,
        }
    )


def test_an_eleve_id_too_long_for_its_column_is_refused_shown_truncated_with_its_line():
    long_id = "1234567890" * 3
    xml = export_xml(eleve("1", "070832327JA") + eleve(long_id, "0494004062M"))

    message = refusal(xml.encode("iso-8859-15"))

    assert (
        "l'identifiant ELEVE_ID « 12345678901234567890… » de l'élève de la ligne 7 a 30 caractères" in message
    )
    assert "20 au plus" in message
    assert long_id not in message


@pytest.mark.parametrize(
    ("fields", "structure", "label", "length", "limit"),
    [
        ({"last_name": "A" * 101}, "2GA2", "nom de famille (NOM_DE_FAMILLE)", 101, 100),
        ({"PRENOM": "Zoé" * 34}, "2GA2", "prénom (PRENOM)", 102, 100),
        ({"CODE_MEF": "247324033101"}, "2GA2", "code MEF (CODE_MEF)", 12, 11),
        ({}, "C" * 51, "code de classe (CODE_STRUCTURE)", 51, 50),
    ],
)
def test_a_value_too_long_for_its_column_is_refused_naming_the_student_and_the_line(
    fields, structure, label, length, limit
):
    xml = export_xml(
        eleve("1", "070832327JA") + eleve("777", "0494004062M", **fields), division("777", structure)
    )

    message = refusal(xml.encode("iso-8859-15"))

    assert f"le {label} de l'élève n° 777 (ligne " in message
    assert f"a {length} caractères ; {limit} au plus sont acceptés" in message


def test_values_as_long_as_their_columns_are_accepted():
    xml = export_xml(
        eleve("9" * 20, "070832327JA", last_name="A" * 100, PRENOM="é" * 100, CODE_MEF="24732403310"),
        division("9" * 20, "C" * 50),
    )

    [student] = read_student_file(xml.encode("iso-8859-15")).students

    assert (len(student.siecle_id), len(student.last_name), len(student.first_name)) == (20, 100, 100)
    assert len(student.class_code) == 50


# --- Declared encodings ----------------------------------------------------------------------------


def declared(encoding: str, xml: str = ONE_STUDENT) -> str:
    return xml.replace('encoding="ISO-8859-15"', f'encoding="{encoding}"')


@pytest.mark.parametrize(
    ("encoding", "codec"),
    [
        ("ISO-8859-15", "iso-8859-15"),
        ("iso-8859-15", "iso-8859-15"),
        ("latin-9", "iso-8859-15"),
        ("Latin9", "iso-8859-15"),
        ("Windows-1252", "cp1252"),
        ("cp1252", "cp1252"),
        ("ISO-8859-1", "cp1252"),
        ("latin1", "cp1252"),
        ("UTF-8", "utf-8"),
        ("utf8", "utf-8"),
    ],
)
def test_the_usual_encodings_and_their_aliases_are_read(encoding, codec):
    export = read_student_file(declared(encoding).encode(codec))

    assert (export.students[0].last_name, export.students[0].first_name) == ("LEBŒUF", "Zoé")
    assert export.warnings == []


def test_utf8_bytes_under_an_iso_8859_15_declaration_are_read_as_utf8_with_a_warning():
    export = read_student_file(ONE_STUDENT.encode("utf-8"))

    assert (export.students[0].last_name, export.students[0].first_name) == ("LEBŒUF", "Zoé")
    assert export.warnings == [
        "Le fichier déclare l'encodage ISO-8859-15 mais contient de l'UTF-8 : il a été lu comme UTF-8."
    ]


def test_utf8_first_met_far_into_the_file_is_still_read_as_utf8():
    eleves = "".join(eleve(str(n), last_name="MARTIN", PRENOM="Lea") for n in range(1, 2000))
    xml = export_xml(eleves + eleve("2000", "070832327JA"))

    export = read_student_file(xml.encode("utf-8"))

    assert len(xml.encode("utf-8")) > 4 * siecle.READ_CHUNK_BYTES
    assert export.students[-1].first_name == "Zoé"
    assert export.warnings[0].startswith("Le fichier déclare l'encodage ISO-8859-15 mais contient de l'UTF-8")


@pytest.mark.parametrize("codec", ["utf-8", "iso-8859-15"])
@pytest.mark.parametrize("padding", range(7))
def test_characters_cut_between_two_reads_are_decoded_whole(monkeypatch, codec, padding):
    # Reads of 7 bytes after the first 4 kB, and ASCII up to there: one of the seven paddings puts
    # the first byte of the first accented letter at the end of a read.
    monkeypatch.setattr(siecle, "READ_CHUNK_BYTES", 7)
    ascii_students = "".join(eleve(str(n), last_name="MARTIN", PRENOM="Lea") for n in range(1, 40))
    accented = "".join(
        eleve(f"{n}{'0' * padding}", last_name="CŒURDEROY", PRENOM="Maëlys") for n in range(40, 60)
    )
    xml = export_xml(ascii_students + accented)

    export = read_student_file(xml.encode(codec))

    assert {(student.last_name, student.first_name) for student in export.students[39:]} == {
        ("CŒURDEROY", "Maëlys")
    }


def test_latin_bytes_under_a_utf8_declaration_are_refused_naming_the_line():
    message = refusal(declared("UTF-8").encode("iso-8859-15"))

    assert (
        "il déclare l'encodage UTF-8 mais la ligne 6 contient des caractères dans un autre encodage"
        in message
    )


def test_a_windows_1252_oe_under_an_iso_8859_15_declaration_is_refused_not_dropped():
    message = refusal(ONE_STUDENT.encode("cp1252"))

    assert (
        "il déclare l'encodage ISO-8859-15 mais la ligne 6 contient des octets qui n'existent pas" in message
    )


@pytest.mark.parametrize("utf8_first", [True, False])
def test_a_file_mixing_utf8_and_iso_8859_15_is_refused(utf8_first):
    utf8 = eleve("1", "070832327JA", last_name="GRÉGOIRE", PRENOM="Grégory").encode("utf-8")
    latin = eleve("2", "0494004062M", last_name="GRÉGOIRE", PRENOM="Grégory").encode("iso-8859-15")
    head, tail = export_xml("@").encode("ascii").split(b"@")

    message = refusal(head + (utf8 + latin if utf8_first else latin + utf8) + tail)

    assert "mélange deux encodages" in message


@pytest.mark.parametrize("encoding", ["EBCDIC-FOO", "UTF-16", "Shift_JIS", "UTF-7"])
def test_an_unsupported_declared_encoding_is_refused_naming_it(encoding):
    message = refusal(declared(encoding).encode("iso-8859-15"))

    assert f"son encodage déclaré (« {encoding} ») n'est pas pris en charge" in message
    assert "ISO-8859-15" in message


def test_an_xml_declaration_that_never_ends_is_refused():
    # Longer than any read: the declaration could not be read, nor rewritten for lxml.
    data = ONE_STUDENT.replace('version="1.0"', 'version="1.0"' + " " * 100_000).encode("iso-8859-15")

    assert "sa déclaration XML (<?xml … ?>) est incomplète ou anormalement longue" in refusal(data)
