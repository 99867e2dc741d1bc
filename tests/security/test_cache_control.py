"""No browser or proxy cache keeps a page or an export with personal data; static files stay
cacheable."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ..factories import PassportEntryFactory, SiecleImportFactory, StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def school(establishment, admin_user, teacher):
    student = StudentFactory(establishment=establishment)
    PassportEntryFactory(student=student, author=teacher)
    return {
        "uai": establishment.uai,
        "student": student.public_id,
        "record": SiecleImportFactory(establishment=establishment).public_id,
    }


PAGES = {
    "student list": ("student-list", lambda s: [s["uai"]]),
    "passport": ("passport", lambda s: [s["uai"], s["student"]]),
    "printable passport": ("passport-print", lambda s: [s["uai"], s["student"]]),
    "transfer history": ("transfer-history", lambda s: [s["uai"]]),
    "history CSV export": ("transfer-history-csv", lambda s: [s["uai"]]),
    "SIECLE import preview": ("siecle-import-preview", lambda s: [s["uai"], s["record"]]),
    "manual transfers": ("manual-transfers", lambda s: [s["uai"]]),
    "settings": ("settings-transfers", lambda s: [s["uai"]]),
    "second factor": ("otp-setup", lambda s: []),
}


@pytest.mark.parametrize("name", PAGES)
def test_pages_and_exports_with_personal_data_are_never_stored(name, school, client_for, admin_user):
    url_name, args = PAGES[name]

    response = client_for(admin_user).get(reverse(url_name, args=args(school)))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_the_logo_is_not_stored_either(school, client_for, admin_user, establishment):
    import io

    from django.core.files.base import ContentFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    establishment.logo.save("logo.png", ContentFile(buffer.getvalue()))
    response = client_for(admin_user).get(reverse("establishment-image", args=[establishment.uai, "logo"]))

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("url", ["/connexion/", "/etablissements/0750654D/", "/page-qui-n-existe-pas/"])
def test_anonymous_answers_are_not_stored(url, client, establishment):
    assert "no-store" in client.get(url)["Cache-Control"]


def test_the_admin_is_not_stored(client_for, staff_user):
    response = client_for(staff_user).get(reverse("admin:students_student_changelist"))

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]


def test_static_files_stay_cacheable(client):
    response = client.get("/static/css/app.css")

    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
