"""factory_boy factories for the test data."""

from __future__ import annotations

import datetime

import factory
from django.utils import timezone

from establishments.models import Establishment, Role, User
from establishments.validators import check_letter
from students.synthetic import make_students, render_export

PASSWORD = "correct-horse-battery-staple"


def make_uai(n: int) -> str:
    digits = f"{n:07d}"
    return digits + check_letter(digits)


class EstablishmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Establishment

    uai = factory.Sequence(lambda n: make_uai(750100 + n))
    name = factory.Sequence(lambda n: f"Lycée professionnel n°{n}")
    email = factory.Sequence(lambda n: f"ce.{n}@example.org")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Camille"
    last_name = "Martin"
    establishment = factory.SubFactory(EstablishmentFactory)
    role = Role.ADMINISTRATOR
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save()


class StaffFactory(UserFactory):
    establishment = None
    role = ""
    is_staff = True
    is_superuser = True


class StudentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "students.Student"

    establishment = factory.SubFactory(EstablishmentFactory)
    ine = factory.Sequence(lambda n: f"{100000000 + n:09d}AB")
    siecle_id = factory.Sequence(lambda n: str(5000 + n))
    last_name = factory.Sequence(lambda n: f"DUPONT{n}")
    first_name = "Léa"
    birth_date = datetime.date(2008, 5, 17)
    class_code = "2GA2"
    mef_code = "24731001110"
    diploma_level = "BAC PRO"
    diploma_specialite = "31001"
    origin = "siecle"
    created_at = factory.LazyFunction(timezone.now)


class PassportEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "students.PassportEntry"

    student = factory.SubFactory(StudentFactory)
    kind = "fiche"
    title = "Accueil physique et téléphonique"
    occurred_on = datetime.date(2026, 10, 5)
    place = "Mairie de Poitiers"
    description = "Accueil du public au guichet de l'état civil."
    competencies = "Accueillir, orienter"
    author_name = "Thomas ENSEIGNANT"
    produced_uai = factory.LazyAttribute(lambda o: o.student.establishment.uai)
    produced_by = factory.LazyAttribute(lambda o: o.student.establishment.name)
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


class SiecleImportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "students.SiecleImport"

    establishment = factory.SubFactory(EstablishmentFactory)
    created_at = factory.LazyFunction(timezone.now)
    status = "apercu"
    file_name = "ElevesSansAdresses.xml"
    sha256 = "0" * 64
    pending_content = factory.LazyAttribute(
        lambda o: render_export(o.establishment.uai, make_students(3, seed=7))
    )
