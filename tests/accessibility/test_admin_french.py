"""The Django admin speaks French: its index and the change list of every model that technical
staff use show none of the English labels they used to (app names, model names, counts)."""

from __future__ import annotations

import datetime
import re

import lxml.html
import pytest
from django.contrib import admin
from django.urls import reverse

from establishments.admin import readable_changes
from tests.security.scene import hostile_school
from transfers.models import MatchingRun, Trigger

pytestmark = pytest.mark.django_db

# Labels seen in English in the admin before (issue 14), and the usual English words of Django's
# and of the packages' screens.
ENGLISH = [
    "Establishments",
    "Students",
    "Transfers",
    "Privacy",
    "historique des transferts",  # the plural used as a count: "3 historique des transferts"
    "Static devices",
    "TOTP devices",
    "Otp_",
    "Django administration",
    "Site administration",
    "Select ",
    "Search",
    "Add ",
    "Change ",
    "Delete ",
    "History",
    "Filter",
    "Show counts",
    "Recent actions",
    "View site",
    "Log out",
]
THIRD_PARTY = ("otp_static", "otp_totp", "axes")


def visible_text(html: str) -> str:
    document = lxml.html.fromstring(html)
    for node in document.xpath("//script | //style"):
        node.drop_tree()
    return " ".join(document.text_content().split())


def english_in(text: str) -> list[str]:
    return [label for label in ENGLISH if re.search(rf"(?<![\w]){re.escape(label)}", text)]


def changelists() -> list[str]:
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
        if model._meta.app_label not in THIRD_PARTY
    ]


def test_the_admin_index_has_no_english_label(client):
    scene = hostile_school()
    client.force_login(scene.staff)

    text = visible_text(client.get(reverse("admin:index")).content.decode())

    assert english_in(text) == []
    for name in ("Établissements", "Élèves", "Transferts", "Double authentification"):
        assert name in text


def test_no_change_list_has_an_english_label(client):
    scene = hostile_school()
    client.force_login(scene.staff)
    found = {}

    for url in changelists():
        response = client.get(url)
        assert response.status_code == 200, url
        if words := english_in(visible_text(response.content.decode())):
            found[url] = words

    assert found == {}


def test_the_transfer_list_counts_transfers_in_french(client):
    scene = hostile_school()
    client.force_login(scene.staff)

    text = visible_text(client.get(reverse("admin:transfers_transfer_changelist")).content.decode())

    assert re.search(r"\b\d+ transferts\b", text)


def test_the_check_sees_an_english_label():
    """The control: the walk would report the labels it is looking for."""
    assert english_in("Accueil › Transfers › 3 historique des transferts") == [
        "Transfers",
        "historique des transferts",
    ]


def test_the_journal_reads_as_sentences(client):
    scene = hostile_school()
    client.force_login(scene.staff)
    scene.school.audit_log.create(
        username="admin", action="Transfert modifié", changes={"transfer_enabled": [False, True]}
    )

    text = visible_text(client.get(reverse("admin:establishments_auditlogentry_changelist")).content.decode())

    assert "Transfert : désactivé → activé" in text
    assert '{"transfer_enabled"' not in text
    assert readable_changes({"city": ["", "Niort"]}) == "Ville : (vide) → Niort"


def test_the_admin_names_a_run_by_its_paris_time(client):
    """A run started at 17:07 UTC is listed at 18:07, as its *Début* column says."""
    started = datetime.datetime(2026, 12, 1, 17, 7, tzinfo=datetime.UTC)
    run = MatchingRun.objects.create(started_at=started, as_of=started, trigger=Trigger.IMPORT)

    assert str(run) == "Après un import SIECLE — 01/12/2026 18:07"
