"""factory_boy factories for the test data."""

from __future__ import annotations

import factory

from establishments.models import Establishment, Role, User
from establishments.validators import check_letter

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
