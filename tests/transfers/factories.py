"""factory_boy factories for transfer history rows."""

from __future__ import annotations

import factory
from django.utils import timezone

from transfers.models import Kind, Transfer

from ..factories import EstablishmentFactory, StudentFactory


class TransferFactory(factory.django.DjangoModelFactory):
    """A done automatic transfer between two establishments, with a student record on each side."""

    class Meta:
        model = Transfer

    created_at = factory.LazyFunction(timezone.now)
    origin_establishment = factory.SubFactory(EstablishmentFactory)
    destination_establishment = factory.SubFactory(EstablishmentFactory)
    origin_student = factory.SubFactory(
        StudentFactory,
        establishment=factory.SelfAttribute("..origin_establishment"),
        is_active=False,
        deactivated_at=factory.LazyFunction(timezone.now),
    )
    destination_student = factory.SubFactory(
        StudentFactory,
        establishment=factory.SelfAttribute("..destination_establishment"),
        ine=factory.SelfAttribute("..origin_student.ine"),
        last_name=factory.SelfAttribute("..origin_student.last_name"),
        first_name=factory.SelfAttribute("..origin_student.first_name"),
    )
    ine = factory.LazyAttribute(lambda o: o.origin_student.ine if o.origin_student else "123456789AB")
    student_name = factory.LazyAttribute(
        lambda o: o.destination_student.display_name if o.destination_student else ""
    )
    kind = Kind.AUTOMATIC
    done = True
    cause = ""
    fiches_copied = 3
    evaluations_copied = 2
    bilans_copied = 1


class RefusedTransferFactory(TransferFactory):
    done = False
    cause = "changement_diplome"
    fiches_copied = 0
    evaluations_copied = 0
    bilans_copied = 0
