"""The passport pages: teachers write entries, everyone of the school reads, copies stay as received."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from establishments.models import Role
from students.models import PassportEntry
from students.passport.services import PassportEntryReadOnly, passport_entries_by_kind, passport_entry_update
from tests.factories import PassportEntryFactory, StudentFactory, UserFactory


@pytest.fixture
def student(establishment, student_user):
    return StudentFactory(
        establishment=establishment,
        user=student_user,
        last_name="Martin",
        first_name="Léa",
        ine="070832327JA",
        class_code="1GA2",
        mef_label="BAC PRO ASSISTANCE À LA GESTION",
        birth_date=datetime.date(2008, 5, 17),
    )


@pytest.fixture
def teacher(establishment):
    return UserFactory(
        username="prof",
        establishment=establishment,
        role=Role.TEACHER,
        first_name="Thomas",
        last_name="Durand",
    )


@pytest.fixture
def copy_entry(student, other_establishment):
    """An entry received from another school by a transfer."""
    original = PassportEntryFactory(
        student=StudentFactory(establishment=other_establishment),
        title="Tenue de la caisse",
        author_name="Anne LEGRAND",
    )
    return PassportEntryFactory(
        student=student,
        source_entry=original,
        title="Tenue de la caisse",
        author_name="Anne LEGRAND",
        produced_uai=other_establishment.uai,
        produced_by=other_establishment.name,
    )


def passport_url(student, name="passport", **kwargs):
    return reverse(name, kwargs={"uai": student.establishment.uai, "student": student.public_id, **kwargs})


def create_url(student, kind):
    return passport_url(student, "passport-entry-create", kind=kind)


def edit_url(entry):
    return passport_url(entry.student, "passport-entry-edit", entry=entry.public_id)


def field_errors(response, name):
    """The error messages shown inside the block of the field whose input is ``id_<name>``."""
    html = response.content.decode()
    blocks = re.findall(r'<div class="field[^"]*">(.*?)</div>', html, flags=re.S)
    block = next(b for b in blocks if f'id="id_{name}"' in b)
    return re.findall(r'<p class="error" role="alert">(.*?)</p>', block)


def png(color="red"):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return ContentFile(buffer.getvalue())


# --- writing entries -------------------------------------------------------------------------


def test_a_teacher_adds_an_activity_sheet_signed_with_their_name_and_school(
    client_for, teacher, student, establishment
):
    response = client_for(teacher).post(
        create_url(student, "fiche"),
        {
            "title": "Accueil téléphonique",
            "occurred_on": "2026-10-05",
            "place": "Mairie de Poitiers",
            "description": "Prise d'appels et orientation du public.",
            "competencies": "Accueillir, orienter",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "Entrée ajoutée au passeport." in response.content.decode()
    entry = student.passport_entries.get()
    assert (entry.kind, entry.title, entry.occurred_on) == (
        "fiche",
        "Accueil téléphonique",
        datetime.date(2026, 10, 5),
    )
    assert (entry.place, entry.competencies) == ("Mairie de Poitiers", "Accueillir, orienter")
    assert (entry.author, entry.author_name) == (teacher, "Thomas DURAND")
    assert (entry.produced_uai, entry.produced_by) == (establishment.uai, establishment.name)
    assert entry.source_entry is None
    assert entry.created_at == entry.updated_at


def test_a_teacher_adds_an_evaluation_with_its_level(client_for, teacher, student):
    response = client_for(teacher).post(
        create_url(student, "evaluation"),
        {
            "title": "C1.2 Accueillir",
            "level": "acquis",
            "occurred_on": "05/11/2026",
            "evaluator": "M. Durand",
        },
    )

    assert response.status_code == 302
    entry = student.passport_entries.get()
    assert (entry.kind, entry.title, entry.level, entry.evaluator) == (
        "evaluation",
        "C1.2 Accueillir",
        "acquis",
        "M. Durand",
    )
    assert entry.occurred_on == datetime.date(2026, 11, 5)
    page = client_for(teacher).get(passport_url(student)).content.decode()
    assert "Niveau : <strong>Acquis</strong>" in page


def test_a_teacher_adds_a_review_for_a_period(client_for, teacher, student):
    response = client_for(teacher).post(
        create_url(student, "bilan"),
        {
            "occurred_on": "2026-09-01",
            "end_on": "2026-12-18",
            "title": "Bilan du premier trimestre",
            "description": "Progrès nets à l'accueil.",
        },
    )

    assert response.status_code == 302
    entry = student.passport_entries.get()
    assert (entry.kind, entry.end_on, entry.description) == (
        "bilan",
        datetime.date(2026, 12, 18),
        "Progrès nets à l'accueil.",
    )
    page = client_for(teacher).get(passport_url(student)).content.decode()
    assert "Période du 01/09/2026 au 18/12/2026" in page


def test_the_evaluation_form_proposes_the_teacher_as_evaluator(client_for, teacher, student):
    response = client_for(teacher).get(create_url(student, "evaluation"))

    assert response.status_code == 200
    assert 'value="Thomas DURAND"' in response.content.decode()


def test_an_empty_activity_sheet_is_refused_with_french_errors_next_to_the_fields(
    client_for, teacher, student
):
    response = client_for(teacher).post(create_url(student, "fiche"), {})

    assert response.status_code == 400
    assert "Le formulaire contient des erreurs" in response.content.decode()
    for name in ("title", "occurred_on", "description"):
        assert field_errors(response, name) == ["Ce champ est obligatoire."]
    assert field_errors(response, "place") == []
    assert not PassportEntry.objects.exists()


def test_an_evaluation_without_a_level_is_refused(client_for, teacher, student):
    response = client_for(teacher).post(
        create_url(student, "evaluation"),
        {"title": "C1.2 Accueillir", "level": "", "occurred_on": "2026-11-05", "evaluator": "M. Durand"},
    )

    assert response.status_code == 400
    assert field_errors(response, "level") == ["Ce champ est obligatoire."]
    assert not PassportEntry.objects.exists()


def test_a_review_ending_before_it_starts_is_refused(client_for, teacher, student):
    response = client_for(teacher).post(
        create_url(student, "bilan"),
        {"occurred_on": "2026-12-18", "end_on": "2026-09-01", "title": "Bilan", "description": "Texte"},
    )

    assert response.status_code == 400
    assert field_errors(response, "end_on") == ["La fin de la période ne peut pas précéder son début."]
    assert not PassportEntry.objects.exists()


def test_a_date_that_is_not_a_date_is_refused_in_french(client_for, teacher, student):
    response = client_for(teacher).post(
        create_url(student, "fiche"),
        {"title": "Accueil", "occurred_on": "31/02/2026", "description": "Texte"},
    )

    assert response.status_code == 400
    assert field_errors(response, "occurred_on") == ["Saisissez une date valide."]


def test_an_unknown_kind_of_entry_answers_404(client_for, teacher, student):
    assert client_for(teacher).get(create_url(student, "certificat")).status_code == 404


def test_a_teacher_writes_in_the_passport_of_a_student_who_left(client_for, teacher, establishment):
    gone = StudentFactory(establishment=establishment, is_active=False, deactivated_at=timezone.now())

    response = client_for(teacher).post(
        create_url(gone, "fiche"), {"title": "Stage", "occurred_on": "2026-06-02", "description": "Texte"}
    )

    assert response.status_code == 302
    assert gone.passport_entries.count() == 1
    page = client_for(teacher).get(passport_url(gone)).content.decode()
    assert "Élève parti de l'établissement le" in page


def test_a_teacher_edits_an_entry_and_signs_it(client_for, teacher, student, establishment):
    colleague = UserFactory(
        establishment=establishment, role=Role.TEACHER, first_name="Anne", last_name="Roy"
    )
    entry = PassportEntryFactory(student=student, author=colleague, author_name="Anne ROY")
    created_at = entry.created_at

    response = client_for(teacher).post(
        edit_url(entry),
        {
            "title": "Accueil physique",
            "occurred_on": "2026-10-06",
            "place": "Mairie",
            "description": "Corrigé.",
            "competencies": "",
        },
    )

    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.title, entry.occurred_on, entry.description) == (
        "Accueil physique",
        datetime.date(2026, 10, 6),
        "Corrigé.",
    )
    assert (entry.author, entry.author_name) == (teacher, "Thomas DURAND")
    assert entry.created_at == created_at
    assert entry.updated_at > created_at


def test_a_refused_edit_keeps_the_entry_unchanged(client_for, teacher, student):
    entry = PassportEntryFactory(student=student, title="Accueil")

    response = client_for(teacher).post(edit_url(entry), {"title": "", "occurred_on": "2026-10-06"})

    assert response.status_code == 400
    assert field_errors(response, "title") == ["Ce champ est obligatoire."]
    entry.refresh_from_db()
    assert entry.title == "Accueil"


def test_an_entry_of_another_student_cannot_be_edited_through_this_students_url(
    client_for, teacher, student, establishment
):
    other_entry = PassportEntryFactory(student=StudentFactory(establishment=establishment))
    url = passport_url(student, "passport-entry-edit", entry=other_entry.public_id)

    assert client_for(teacher).get(url).status_code == 404


def test_a_student_of_another_school_cannot_be_reached_by_its_public_id(
    client_for, teacher, other_establishment
):
    stranger = StudentFactory(establishment=other_establishment)
    url = reverse("passport", kwargs={"uai": teacher.establishment.uai, "student": stranger.public_id})

    assert client_for(teacher).get(url).status_code == 404
    assert client_for(teacher).post(create_url(stranger, "fiche"), {}).status_code == 404


# --- copies from another school ---------------------------------------------------------------


def test_a_copy_shows_its_provenance_and_no_edit_link(
    client_for, teacher, student, copy_entry, other_establishment
):
    page = client_for(teacher).get(passport_url(student)).content.decode()

    assert f"Produit par {other_establishment.name} ({other_establishment.uai})" in page
    assert "Lecture seule" in page
    assert "les modifier falsifierait le dossier" in page
    assert edit_url(copy_entry) not in page


def test_editing_a_copy_is_refused_and_leaves_it_unchanged(client_for, teacher, student, copy_entry):
    client = client_for(teacher)

    page = client.get(edit_url(copy_entry))
    response = client.post(
        edit_url(copy_entry), {"title": "Falsifié", "occurred_on": "2026-10-06", "description": "Falsifié"}
    )

    assert page.status_code == 403
    assert "la modifier falsifierait le dossier" in page.content.decode()
    assert response.status_code == 403
    copy_entry.refresh_from_db()
    assert (copy_entry.title, copy_entry.author_name) == ("Tenue de la caisse", "Anne LEGRAND")


def test_an_entry_produced_under_another_uai_is_read_only_even_without_its_source(
    client_for, teacher, student, other_establishment
):
    # The original may have been deleted (source_entry is SET_NULL): the UAI still tells.
    entry = PassportEntryFactory(student=student, produced_uai=other_establishment.uai, produced_by="")

    response = client_for(teacher).post(
        edit_url(entry), {"title": "Falsifié", "occurred_on": "2026-10-06", "description": "Falsifié"}
    )

    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.title != "Falsifié"
    page = client_for(teacher).get(passport_url(student)).content.decode()
    assert f"Produit par un autre établissement ({other_establishment.uai})" in page


def test_the_service_refuses_to_update_a_copy(teacher, copy_entry):
    data = {"title": "Falsifié", "occurred_on": datetime.date(2026, 1, 1), "place": "", "description": ""}

    with pytest.raises(PassportEntryReadOnly):
        passport_entry_update(copy_entry, teacher, data | {"competencies": ""}, now=timezone.now())

    copy_entry.refresh_from_db()
    assert copy_entry.title == "Tenue de la caisse"


def test_the_service_refuses_a_writer_who_is_not_a_teacher_of_the_school(admin_user, student):
    entry = PassportEntryFactory(student=student, title="Accueil")
    data = {
        "title": "X",
        "occurred_on": datetime.date(2026, 1, 1),
        "place": "",
        "description": "",
        "competencies": "",
    }

    with pytest.raises(PermissionDenied):
        passport_entry_update(entry, admin_user, data, now=timezone.now())


# --- who reads what ---------------------------------------------------------------------------


def test_a_student_reads_their_own_passport_without_edit_links(client_for, student_user, student, teacher):
    entry = PassportEntryFactory(student=student, author=teacher, title="Accueil physique")

    page = client_for(student_user).get(passport_url(student)).content.decode()

    assert "Accueil physique" in page
    assert "Vous consultez ce passeport en lecture seule" in page
    assert edit_url(entry) not in page
    assert create_url(student, "fiche") not in page
    assert passport_url(student, "passport-print") in page


def test_a_student_gets_404_on_another_students_passport(client_for, student_user, student, establishment):
    classmate = StudentFactory(establishment=establishment)
    PassportEntryFactory(student=classmate, title="Dossier de la camarade")
    client = client_for(student_user)

    for name in ("passport", "passport-print"):
        response = client.get(passport_url(classmate, name))
        assert response.status_code == 404
        assert "Dossier de la camarade" not in response.content.decode()


def test_my_passport_sends_the_student_to_theirs(client_for, student_user, student):
    response = client_for(student_user).get(reverse("my-passport", kwargs={"uai": student.establishment.uai}))

    assert response.status_code == 302
    assert response.url == passport_url(student)


def test_my_passport_answers_404_to_a_student_without_a_record(client_for, establishment):
    lonely = UserFactory(establishment=establishment, role=Role.STUDENT)

    response = client_for(lonely).get(reverse("my-passport", kwargs={"uai": establishment.uai}))

    assert response.status_code == 404


def test_the_administrator_reads_and_prints_without_writing(client_for, admin_user, student):
    PassportEntryFactory(student=student, title="Accueil physique")
    client = client_for(admin_user)

    page = client.get(passport_url(student)).content.decode()
    printable = client.get(passport_url(student, "passport-print"))

    assert "Accueil physique" in page
    assert "Ajouter" not in page
    assert printable.status_code == 200
    assert "Accueil physique" in printable.content.decode()


# --- the printable passport -------------------------------------------------------------------


def test_the_printable_passport_shows_the_school_and_the_student(
    client_for, student_user, student, establishment
):
    establishment.email = "ce.0750654d@ac-paris.fr"
    establishment.save()

    response = client_for(student_user).get(passport_url(student, "passport-print"))

    page = response.content.decode()
    assert response.status_code == 200
    for text in (
        "Lycée professionnel Henri-IV",
        "UAI 0750654D",
        "ce.0750654d@ac-paris.fr",
        "MARTIN",
        "Léa",
        "17/05/2008",
        "1GA2",
        "070832327JA",
        "BAC PRO ASSISTANCE À LA GESTION",
    ):
        assert text in page
    assert "css/print.css" in page
    assert "js/print.js" in page
    assert "data-print" in page and ">Imprimer</button>" in page
    assert "onclick" not in page
    assert 'class="main-nav"' not in page


def test_the_printable_passport_shows_the_logo_and_stamp_when_they_exist(
    client_for, teacher, student, establishment
):
    url = passport_url(student, "passport-print")
    logo_url = reverse("establishment-image", kwargs={"uai": establishment.uai, "kind": "logo"})
    stamp_url = reverse("establishment-image", kwargs={"uai": establishment.uai, "kind": "cachet"})

    before = client_for(teacher).get(url).content.decode()
    establishment.logo.save("logo.png", png())
    establishment.stamp.save("cachet.png", png("blue"))
    after = client_for(teacher).get(url).content.decode()

    assert logo_url not in before and stamp_url not in before
    assert re.search(rf'<img class="logo" src="{re.escape(logo_url)}\?v=[^"]*" alt="Logo de ', after)
    assert re.search(rf'<img class="stamp" src="{re.escape(stamp_url)}\?v=[^"]*" alt="Cachet de ', after)


def test_the_printable_passport_groups_the_entries_by_kind(
    client_for, teacher, student, copy_entry, other_establishment
):
    PassportEntryFactory(
        student=student, kind="bilan", title="Bilan du trimestre", end_on=datetime.date(2026, 12, 18)
    )
    PassportEntryFactory(student=student, kind="evaluation", title="C1.2 Accueillir", level="maitrise")
    PassportEntryFactory(student=student, kind="fiche", title="Accueil physique", author_name="Thomas DURAND")

    page = client_for(teacher).get(passport_url(student, "passport-print")).content.decode()

    sections = dict(re.findall(r'<section class="kind" id="(\w+)">(.*?)</section>', page, flags=re.S))
    assert list(sections) == ["fiche", "evaluation", "bilan"]
    assert "<h2>Fiches d&#x27;activité</h2>" in sections["fiche"]
    assert "Accueil physique" in sections["fiche"] and "Tenue de la caisse" in sections["fiche"]
    assert "<h2>Évaluations</h2>" in sections["evaluation"] and "C1.2 Accueillir" in sections["evaluation"]
    assert "Maîtrisé" in sections["evaluation"]
    assert "<h2>Bilans</h2>" in sections["bilan"] and "Bilan du trimestre" in sections["bilan"]
    assert "Rédigé par Thomas DURAND" in sections["fiche"]
    assert f"Produit par {other_establishment.name} ({other_establishment.uai})" in sections["fiche"]
    assert f"Produit par {student.establishment.name} ({student.establishment.uai})" in sections["fiche"]
    assert "Le 05/10/2026" in sections["fiche"]


@pytest.mark.parametrize("name", ["passport", "passport-print"])
def test_a_title_with_a_script_tag_is_rendered_inert(client_for, teacher, student, name):
    PassportEntryFactory(
        student=student, title="<script>alert('x')</script>", description="<b>gras</b>\nligne 2"
    )

    page = client_for(teacher).get(passport_url(student, name)).content.decode()

    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "&lt;b&gt;gras&lt;/b&gt;<br>ligne 2" in page


# --- queries ----------------------------------------------------------------------------------


def test_the_selector_reads_a_whole_passport_in_one_query(django_assert_num_queries, student):
    PassportEntryFactory.create_batch(3, student=student)
    PassportEntryFactory.create_batch(2, student=student, kind="bilan")

    with django_assert_num_queries(1):
        sections = passport_entries_by_kind(student)

    assert [(s.kind, len(s.entries)) for s in sections] == [("fiche", 3), ("evaluation", 0), ("bilan", 2)]


@pytest.mark.parametrize("name", ["passport", "passport-print"])
@pytest.mark.parametrize("count", [3, 30])
def test_the_passport_page_runs_a_constant_number_of_queries(
    django_assert_max_num_queries, client_for, teacher, student, copy_entry, name, count
):
    for index in range(count):
        PassportEntryFactory(
            student=student, kind=("fiche", "evaluation", "bilan")[index % 3], author=teacher
        )
    client = client_for(teacher)

    with django_assert_max_num_queries(6):
        response = client.get(passport_url(student, name))

    assert response.status_code == 200
    assert response.content.decode().count('class="entry entry-') == count + 1
