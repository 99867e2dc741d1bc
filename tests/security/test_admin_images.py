"""The admin's logo and stamp upload: the same checks as the school's page, and no file left
behind when an image is replaced, cleared or its establishment deleted."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


def png(color="red", size=(16, 16), **info) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG", **info)
    return buffer.getvalue()


def stored_files(media_root: Path) -> set[Path]:
    return {path for path in media_root.rglob("*") if path.is_file()}


def change(client, establishment, **files):
    data = {
        "uai": establishment.uai,
        "name": establishment.name,
        "email": establishment.email,
        "uses_siecle": "on",
        "cnil_declaration_number": "",
        "_save": "Enregistrer",
    }
    for field, value in files.items():
        data[field] = value
    return client.post(reverse("admin:establishments_establishment_change", args=[establishment.pk]), data)


@pytest.fixture
def staff_client(client_for, staff_user):
    return client_for(staff_user)


def test_an_svg_is_refused_in_french_next_to_the_field(staff_client, establishment, media_root):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'

    response = change(staff_client, establishment, logo=ContentFile(svg, "logo.png"))

    assert response.status_code == 200
    assert "Les images SVG ne sont pas acceptées" in response.content.decode()
    establishment.refresh_from_db()
    assert not establishment.logo and stored_files(media_root) == set()


def test_a_file_that_is_not_an_image_is_refused(staff_client, establishment, media_root):
    response = change(staff_client, establishment, stamp=ContentFile(b"MZ\x90\x00" * 100, "cachet.jpg"))

    assert "n'est pas une image PNG ou JPEG lisible" in response.content.decode().replace("&#x27;", "'")
    assert stored_files(media_root) == set()


def test_a_too_heavy_file_is_refused(staff_client, establishment, settings):
    settings.IMAGE_MAX_BYTES = 100

    response = change(staff_client, establishment, logo=ContentFile(png(size=(64, 64)), "logo.png"))

    assert "Le fichier est trop lourd" in response.content.decode()


def test_a_good_image_is_reencoded_under_a_random_name(staff_client, establishment):
    upload = png(pnginfo=_text_chunk("secret", "caché dans le fichier"))

    response = change(staff_client, establishment, logo=ContentFile(upload, "../../logo école.png"))

    assert response.status_code == 302
    establishment.refresh_from_db()
    assert establishment.logo.name.startswith(f"establishments/{establishment.media_key}/")
    assert establishment.logo.name.endswith(".png") and "école" not in establishment.logo.name
    stored = establishment.logo.read()
    assert b"secret" not in stored and stored != upload
    assert Image.open(io.BytesIO(stored)).size == (16, 16)


def _text_chunk(key: str, value: str):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    return info


def test_replacing_the_logo_in_the_admin_deletes_the_old_file_once_committed(
    staff_client, establishment, media_root, django_capture_on_commit_callbacks
):
    establishment.logo.save("ancien.png", ContentFile(png("blue")))
    old = Path(establishment.logo.path)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = change(staff_client, establishment, logo=ContentFile(png("green"), "nouveau.png"))
    assert old.exists()  # not before the change commits
    for callback in callbacks:
        callback()

    assert response.status_code == 302
    establishment.refresh_from_db()
    assert not old.exists()
    assert stored_files(media_root) == {Path(establishment.logo.path)}


def test_clearing_the_stamp_in_the_admin_deletes_its_file(
    staff_client, establishment, media_root, django_capture_on_commit_callbacks
):
    establishment.stamp.save("cachet.png", ContentFile(png("blue")))
    old = Path(establishment.stamp.path)

    with django_capture_on_commit_callbacks(execute=True):
        response = change(staff_client, establishment, **{"stamp-clear": "on"})

    assert response.status_code == 302
    establishment.refresh_from_db()
    assert not establishment.stamp and not old.exists()


def test_saving_other_fields_keeps_the_images(
    staff_client, establishment, media_root, django_capture_on_commit_callbacks
):
    establishment.logo.save("logo.png", ContentFile(png("blue")))

    with django_capture_on_commit_callbacks(execute=True):
        assert change(staff_client, establishment).status_code == 302

    establishment.refresh_from_db()
    assert Path(establishment.logo.path).exists()


def test_a_refused_replacement_keeps_the_previous_file(staff_client, establishment, media_root):
    establishment.logo.save("logo.png", ContentFile(png("blue")))
    before = stored_files(media_root)

    change(staff_client, establishment, logo=ContentFile(b"<svg/>", "logo.png"))

    assert stored_files(media_root) == before


def test_deleting_an_establishment_in_the_admin_deletes_its_images(
    staff_client, other_establishment, media_root, django_capture_on_commit_callbacks
):
    other_establishment.logo.save("logo.png", ContentFile(png()))
    other_establishment.stamp.save("cachet.png", ContentFile(png()))

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:establishments_establishment_delete", args=[other_establishment.pk]),
            {"post": "yes"},
        )

    assert response.status_code == 302
    assert stored_files(media_root) == set()
