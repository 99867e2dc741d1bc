"""Every kind of passport entry is complete: a form, fields, a section, and a place on both pages.

A kind is declared once (``students/passport/kinds.py``); this test loops over ``EntryKind``, so a
kind added to the enum without the rest fails here.
"""

from __future__ import annotations

import pytest
from django.template.loader import get_template
from django.urls import reverse
from django.utils.html import escape

from students.models import EntryKind, PassportEntry
from students.passport.forms import FORMS
from students.passport.kinds import KIND_FIELDS, KINDS, SECTION_TITLES, entry_template
from tests.factories import PassportEntryFactory, StudentFactory

KINDS_ = list(EntryKind)


def test_the_declaration_covers_exactly_the_kinds_in_their_order():
    assert list(KINDS) == list(FORMS) == list(KIND_FIELDS) == list(SECTION_TITLES) == list(EntryKind)


@pytest.mark.parametrize("kind", KINDS_)
def test_each_kind_has_its_fields_its_form_its_section_and_its_template(kind):
    fields = KIND_FIELDS[kind]

    assert fields and all(PassportEntry._meta.get_field(name) for name in fields)
    assert set(KINDS[kind].required) <= set(fields)
    form = FORMS[kind]()
    assert form.kind == kind and list(form.fields) == list(fields)
    assert all(form.fields[name].required for name in KINDS[kind].required)
    assert str(SECTION_TITLES[kind])
    assert get_template(entry_template(kind))


@pytest.mark.parametrize("kind", KINDS_)
def test_each_kind_appears_on_the_passport_page_and_the_print_view(kind, client_for, teacher, establishment):
    student = StudentFactory(establishment=establishment)
    entry = PassportEntryFactory(student=student, kind=kind, title=f"Entrée de type {kind}")
    client = client_for(teacher)
    args = [establishment.uai, student.public_id]

    page = client.get(reverse("passport", args=args)).content.decode()
    printed = client.get(reverse("passport-print", args=args)).content.decode()

    add_url = reverse("passport-entry-create", args=[*args, kind])
    assert f'href="{add_url}"' in page and f"Ajouter : {escape(str(EntryKind(kind).label))}" in page
    for html in (page, printed):
        assert f'id="{kind}"' in html and escape(str(SECTION_TITLES[kind])) in html
        assert f'id="entree-{entry.public_id}"' in html and escape(entry.title) in html


@pytest.mark.parametrize("kind", KINDS_)
def test_each_kind_can_be_written_through_its_form(kind, client_for, teacher, establishment):
    student = StudentFactory(establishment=establishment)
    url = reverse("passport-entry-create", args=[establishment.uai, student.public_id, kind])

    response = client_for(teacher).get(url)

    assert response.status_code == 200
    assert all(f'name="{name}"' in response.content.decode() for name in KIND_FIELDS[kind])
