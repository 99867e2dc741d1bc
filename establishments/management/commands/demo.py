from django.core.management.base import BaseCommand
from django.db import transaction

from establishments.models import Establishment, Role, User
from establishments.services import establishment_create, user_create

DEMO_PASSWORD = "cerise-demo-2026"
DEMO_ESTABLISHMENTS = [
    ("0750654D", "Lycée professionnel Henri-IV (démo)", "ce.0750654d@example.org", "lp-henri4"),
]
DEMO_ROLES = [
    (Role.ADMINISTRATOR, "admin", "Alice", "ADMIN"),
    (Role.PRINCIPAL, "chef", "Paul", "PROVISEUR"),
    (Role.TEACHER, "prof", "Thomas", "ENSEIGNANT"),
]


class Command(BaseCommand):
    help = "Create the demo establishments and their users (idempotent) and print the logins."

    @transaction.atomic
    def handle(self, *args, **options):
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for uai, name, email, prefix in DEMO_ESTABLISHMENTS:
            establishment = Establishment.objects.filter(uai=uai).first() or establishment_create(
                uai=uai, name=name, email=email
            )
            for role, suffix, first_name, last_name in DEMO_ROLES:
                username = f"{prefix}-{suffix}"
                if not User.objects.filter(username=username).exists():
                    user_create(
                        establishment,
                        username=username,
                        password=DEMO_PASSWORD,
                        role=role,
                        first_name=first_name,
                        last_name=last_name,
                    )
                self.stdout.write(f"  {uai}  {Role(role).label:<22} {username}")
