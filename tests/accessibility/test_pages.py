"""What the pages say and how they are built, as a screen-reader or keyboard user meets them:
fields tied to their help and errors, checkboxes before their labels, the current page marked,
French plurals, the forced transfers marked, the import's warning before its lists."""

from __future__ import annotations

from datetime import timedelta

import lxml.html
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from establishments.models import Role
from students.services import import_siecle_export
from students.synthetic import make_students, render_export
from transfers.models import Cause, Kind

from ..factories import EstablishmentFactory, StudentFactory, UserFactory
from ..transfers.factories import TransferFactory

pytestmark = pytest.mark.django_db


def html(response) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(response.content.decode())


def text(element) -> str:
    return " ".join(element.text_content().split())


def test_an_error_is_tied_to_its_field(client_for, admin_user, establishment):
    url = reverse("settings-details", args=[establishment.uai])

    document = html(client_for(admin_user).post(url, {"name": "", "email": "pas-un-courriel"}))

    name = document.get_element_by_id("id_name")
    described = name.get("aria-describedby").split()
    assert name.get("aria-invalid") == "true"
    assert any("obligatoire" in text(document.get_element_by_id(ident)) for ident in described)


def test_a_checkbox_comes_before_its_label(client_for, admin_user, establishment):
    document = html(client_for(admin_user).get(reverse("settings-details", args=[establishment.uai])))

    row = document.get_element_by_id("id_uses_siecle").getparent()
    assert [child.tag for child in row] == ["input", "label"]
    assert row.xpath("./label/@for") == ["id_uses_siecle"]


def test_every_page_starts_with_a_skip_link_and_ends_with_the_accessibility_statement(client):
    document = html(client.get(reverse("login")))

    first_link = document.xpath("//body//a")[0]
    assert text(first_link) == "Aller au contenu" and first_link.get("href") == "#contenu"
    assert document.xpath("//main/@id") == ["contenu"]
    footer = document.xpath("//footer//a")[0]
    assert footer.get("href") == reverse("accessibility")
    statement = html(client.get(footer.get("href")))
    assert text(statement.xpath("//h1")[0]) == "Déclaration d'accessibilité"
    assert "partiellement conforme" in text(statement)


def test_the_navigation_marks_the_current_page(client_for, admin_user, establishment):
    uai = establishment.uai

    document = html(client_for(admin_user).get(reverse("transfer-history", args=[uai])))

    nav = document.xpath('//nav[@aria-label="Navigation principale"]')[0]
    assert [(text(a), a.get("aria-current")) for a in nav.xpath(".//a[@aria-current]")] == [
        ("Transferts", "page")
    ]


def test_logging_out_says_so(client_for, teacher):
    client = client_for(teacher)

    response = client.post(reverse("logout"), follow=True)

    assert "Déconnexion effectuée" in response.content.decode()


def test_an_empty_student_list_says_0_eleve_in_french(client_for, admin_user, establishment):
    document = html(client_for(admin_user).get(reverse("student-list", args=[establishment.uai])))

    assert text(document.get_element_by_id("student-count")) == "0 élève"


def test_a_raw_mef_code_says_that_no_nomenclature_named_it(client_for, admin_user, establishment):
    StudentFactory(establishment=establishment, mef_code="24733301210", mef_label="")

    document = html(client_for(admin_user).get(reverse("student-list", args=[establishment.uai])))

    notice = document.xpath('//p[contains(@class, "notice")]')[0]
    assert "Nomenclature" in text(notice)
    assert notice.xpath(".//a/@href") == [reverse("siecle-import", args=[establishment.uai])]
    # Column 6: the administrator's list starts with the selection box (student accounts).
    assert "code MEF 24733301210" in text(document.xpath("//tbody/tr/td[6]")[0])


def test_a_forced_transfer_reads_forced_in_the_history(client_for, principal, establishment):
    other = EstablishmentFactory(uai="0920131T", name="Lycée Auguste-Renoir")
    TransferFactory(
        origin_establishment=other,
        destination_establishment=establishment,
        done=True,
        kind=Kind.FORCED,
        cause=Cause.DIPLOMA_CHANGE,
    )
    TransferFactory(origin_establishment=other, destination_establishment=establishment, kind=Kind.MANUAL)

    document = html(client_for(principal).get(reverse("transfer-history", args=[establishment.uai])))

    rows = [
        [text(cell) for cell in row.xpath("./td")]
        for row in document.xpath('//section[@aria-labelledby="heading-recus"]//tbody/tr')
    ]
    kinds = sorted(row[5] for row in rows)
    assert kinds == ["forcé", "manuel"]
    forced = next(row for row in rows if row[5] == "forcé")
    assert forced[3] == "oui" and forced[4] == "Forcé par l'assistance malgré : Changement de diplôme"


def _mass_deactivation_preview(client, establishment):
    students = make_students(6, 1, leaving_ratio=0, without_ine_ratio=0, inactive_ratio=0)
    now = timezone.now() - timedelta(days=1)
    import_siecle_export(establishment, render_export(establishment.uai, students), "e.xml", now=now)
    upload = SimpleUploadedFile("e.xml", render_export(establishment.uai, students[:2]))
    return client.post(reverse("siecle-import", args=[establishment.uai]), {"export": upload})["Location"]


def test_the_mass_deactivation_warning_comes_before_the_lists_and_the_buttons_sit_side_by_side(
    client_for, admin_user, establishment
):
    client = client_for(admin_user)
    preview_url = _mass_deactivation_preview(client, establishment)

    document = html(client.get(preview_url))

    headings = [text(h) for h in document.xpath("//main//h3")]
    assert headings.index("À vérifier avant de confirmer") < headings.index("Élèves qui seront désactivés")
    actions = document.xpath('//form[@id="confirmation"]//div[@class="actions"]')[0]
    assert [text(button) for button in actions.xpath("./button")] == ["Confirmer l'import", "Abandonner"]


def test_confirming_without_the_checkbox_shows_one_red_box(client_for, admin_user, establishment):
    client = client_for(admin_user)
    preview_url = _mass_deactivation_preview(client, establishment)

    document = html(client.post(preview_url, {}))

    boxes = document.xpath(
        '//*[contains(concat(" ", @class, " "), " errors ") or contains(@class, "warning-block")]'
    )
    assert len(boxes) == 1
    assert "plus de la moitié" in text(document.get_element_by_id("confirmation"))


def test_the_import_list_names_who_imported(client_for, establishment):
    admin = UserFactory(
        username="a.martin",
        first_name="Anne",
        last_name="Martin",
        establishment=establishment,
        role=Role.ADMINISTRATOR,
    )
    client = client_for(admin)
    upload = SimpleUploadedFile("e.xml", render_export(establishment.uai, make_students(2, 3)))
    client.post(
        client.post(reverse("siecle-import", args=[establishment.uai]), {"export": upload})["Location"]
    )

    document = html(client.get(reverse("siecle-import", args=[establishment.uai])))

    assert text(document.xpath("//table//tbody/tr/td[3]")[0]) == "Anne Martin"
