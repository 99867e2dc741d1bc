"""The *Logo* tab against hostile or broken uploads, and how stored images are kept and served."""

from __future__ import annotations

import io
import os
import random
import re
import stat
import zlib
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image, PngImagePlugin

from establishments.models import AuditLogEntry

SAVED = "Modifications enregistrées."
NOT_AN_IMAGE = "Ce fichier n'est pas une image PNG ou JPEG lisible (fichier endommagé ou d'un autre type)."


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


def stored_files(media_root: Path) -> set[Path]:
    return {path for path in media_root.rglob("*") if path.is_file()}


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png(color="red", size=(16, 16)) -> bytes:
    return encode(Image.new("RGB", size, color), "PNG")


def noise_jpeg(size: tuple[int, int]) -> bytes:
    # Random noise does not compress: a few megapixels of it make a JPEG of several megabytes.
    pixels = random.Random(42).randbytes(size[0] * size[1] * 3)
    return encode(Image.frombytes("RGB", size, pixels), "JPEG", quality=100)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width × height`` pixels: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def upload(client, establishment, content: bytes, filename: str, kind="logo", **extra):
    return client.post(
        reverse("settings-logo", kwargs={"uai": establishment.uai}),
        {f"{kind}-kind": kind, f"{kind}-image": ContentFile(content, filename)},
        **extra,
    )


@pytest.fixture
def admin_client(client_for, admin_user):
    return client_for(admin_user)


@pytest.fixture
def previous_logo(admin_client, establishment, media_root):
    """A good logo uploaded through the page, which a bad upload must leave in place."""
    response = upload(admin_client, establishment, png("blue"), "ancien.png", follow=True)
    assert SAVED in response.content.decode()  # shown once, so not on the next page
    establishment.refresh_from_db()
    return establishment.logo.name


def noisy_jpeg_over_two_megabytes() -> bytes:
    data = noise_jpeg((1200, 1000))
    assert len(data) > 2 * 1024 * 1024
    return data


BAD_UPLOADS = {
    "text-renamed-png": (lambda: b"Ceci n'est pas une image.\n" * 10, "logo.png", NOT_AN_IMAGE),
    "svg-with-script": (
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>',
        "logo.svg",
        "Les images SVG ne sont pas acceptées : enregistrez l'image au format PNG ou JPEG.",
    ),
    "svg-renamed-png": (
        lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        "logo.png",
        "Les images SVG ne sont pas acceptées",
    ),
    "5-mb-jpeg": (noisy_jpeg_over_two_megabytes, "photo.jpg", "Le fichier est trop lourd ("),
    "decompression-bomb": (
        lambda: png_declaring(20000, 20000),
        "bombe.png",
        "L'image est trop grande : 16 millions de pixels au plus.",
    ),
    "over-the-pixel-limit": (
        lambda: png_declaring(5000, 5000),
        "grand.png",
        "L'image est trop grande (5000 × 5000 pixels) : 16 millions de pixels au plus.",
    ),
    "truncated-png": (lambda: png("green", (64, 64))[:-40], "coupe.png", NOT_AN_IMAGE),
    "gif": (
        lambda: encode(Image.new("P", (8, 8)), "GIF"),
        "logo.png",
        "Seules les images PNG et JPEG sont acceptées.",
    ),
}


def rendered_forms(html: str, section: str) -> list[dict[str, str]]:
    """The fields each form of an image block submits: hidden inputs, file inputs, named buttons."""
    block = html.split(f'id="image-{section}"', 1)[1].split("</section>", 1)[0]
    forms = []
    for form in block.split("</form>")[:-1]:
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
        fields |= {name: "FILE" for name in re.findall(r'<input type="file" name="([^"]+)"', form)}
        fields |= dict(re.findall(r'<button type="submit" name="([^"]+)" value="([^"]*)"', form))
        forms.append(fields)
    return forms


def test_the_forms_of_the_page_upload_and_delete_the_stamp(admin_client, establishment):
    page = reverse("settings-logo", kwargs={"uai": establishment.uai})
    (upload_form,) = rendered_forms(admin_client.get(page).content.decode(), "stamp")
    data = {
        name: ContentFile(png(), "cachet.png") if value == "FILE" else value
        for name, value in upload_form.items()
    }

    uploaded = admin_client.post(page, data)
    establishment.refresh_from_db()
    stamp = establishment.stamp.name
    _, delete_form = rendered_forms(admin_client.get(page).content.decode(), "stamp")
    deleted = admin_client.post(page, delete_form)

    assert uploaded.status_code == 302
    assert stamp
    assert deleted.status_code == 302
    establishment.refresh_from_db()
    assert not establishment.stamp
    assert list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "Cachet remplacé",
        "Cachet supprimé",
    ]


@pytest.mark.parametrize("name", BAD_UPLOADS)
def test_a_bad_upload_is_refused_in_french_and_keeps_the_previous_logo(
    name, admin_client, establishment, previous_logo, media_root
):
    make, filename, message = BAD_UPLOADS[name]
    content = make()
    files_before = stored_files(media_root)

    response = upload(admin_client, establishment, content, filename)

    html = response.content.decode()
    assert response.status_code == 400
    assert message in html.replace("&#x27;", "'")
    assert SAVED not in html
    establishment.refresh_from_db()
    assert establishment.logo.name == previous_logo
    assert stored_files(media_root) == files_before
    assert AuditLogEntry.objects.count() == 1  # the good upload only


def test_the_five_megabyte_jpeg_is_reported_with_its_size(admin_client, establishment):
    content = noise_jpeg((1800, 1600))

    response = upload(admin_client, establishment, content, "photo.jpg")

    size = f"{len(content) / 1024 / 1024:.1f}".replace(".", ",")
    assert float(size.replace(",", ".")) >= 5
    assert f"Le fichier est trop lourd ({size} Mo) : 2 Mo au plus." in response.content.decode()


def test_a_good_png_is_reencoded_without_its_metadata_or_trailing_data(admin_client, establishment):
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "secret-author")
    info.add_itxt("Comment", "secret-gps 48.85,2.35", zip=True)
    exif = Image.Exif()
    exif[0x010F] = "secret-camera"
    content = encode(Image.new("RGBA", (32, 24), (200, 0, 50, 128)), "PNG", pnginfo=info, exif=exif.tobytes())
    content += b"<?php system($_GET['c']); ?>"

    response = upload(admin_client, establishment, content, "logo.png")

    assert response.status_code == 302
    establishment.refresh_from_db()
    stored = Path(establishment.logo.path).read_bytes()
    assert b"secret" not in stored
    assert b"php" not in stored
    assert b"eXIf" not in stored and b"tEXt" not in stored and b"iTXt" not in stored
    image = Image.open(io.BytesIO(stored))
    assert (image.format, image.size, image.mode) == ("PNG", (32, 24), "RGBA")
    assert image.getpixel((0, 0)) == (200, 0, 50, 128)


def test_a_jpeg_stays_a_jpeg_without_its_exif_comment_or_color_profile(admin_client, establishment):
    exif = Image.Exif()
    exif[0x010F] = "secret-camera"
    content = encode(
        Image.new("RGB", (40, 30), "navy"),
        "JPEG",
        exif=exif.tobytes(),
        comment=b"secret-comment",
        icc_profile=b"secret-icc" * 20,
    )

    upload(admin_client, establishment, content, "cachet.jpeg", kind="stamp")

    establishment.refresh_from_db()
    assert establishment.stamp.name.endswith(".jpg")
    stored = Path(establishment.stamp.path).read_bytes()
    assert b"secret" not in stored
    assert Image.open(io.BytesIO(stored)).format == "JPEG"


def test_a_photo_taken_sideways_is_stored_upright(admin_client, establishment):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    content = encode(Image.new("RGB", (40, 20), "white"), "JPEG", exif=exif.tobytes())

    upload(admin_client, establishment, content, "cachet.jpg", kind="stamp")

    establishment.refresh_from_db()
    assert Image.open(establishment.stamp.path).size == (20, 40)


def test_the_file_name_and_declared_type_are_ignored(admin_client, establishment):
    response = upload(admin_client, establishment, encode(Image.new("RGB", (8, 8)), "JPEG"), "logo.png.exe")

    assert response.status_code == 302
    establishment.refresh_from_db()
    assert establishment.logo.name.endswith(".jpg")
    assert "exe" not in establishment.logo.name
    assert establishment.logo.name.startswith(f"establishments/{establishment.media_key}/")


def test_stored_images_are_not_executable(admin_client, establishment):
    upload(admin_client, establishment, png(), "logo.png")

    establishment.refresh_from_db()
    path = Path(establishment.logo.path)
    assert path.stat().st_mode & 0o111 == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_the_image_is_served_with_its_type_and_nosniff(client_for, admin_client, teacher, establishment):
    upload(admin_client, establishment, png(), "logo.png")
    upload(admin_client, establishment, encode(Image.new("RGB", (8, 8)), "JPEG"), "c.jpg", kind="stamp")

    client = client_for(teacher)
    logo = client.get(reverse("establishment-image", kwargs={"uai": establishment.uai, "kind": "logo"}))
    stamp = client.get(reverse("establishment-image", kwargs={"uai": establishment.uai, "kind": "cachet"}))

    assert logo.status_code == 200
    assert logo["Content-Type"] == "image/png"
    assert logo["X-Content-Type-Options"] == "nosniff"
    assert b"".join(logo.streaming_content).startswith(b"\x89PNG")
    assert stamp["Content-Type"] == "image/jpeg"
    assert stamp["X-Content-Type-Options"] == "nosniff"


def test_another_school_cannot_fetch_the_logo(client_for, admin_client, outsider, establishment):
    upload(admin_client, establishment, png(), "logo.png")

    response = client_for(outsider).get(
        reverse("establishment-image", kwargs={"uai": establishment.uai, "kind": "logo"})
    )

    assert response.status_code == 404


def test_a_missing_image_answers_not_found(admin_client, establishment):
    response = admin_client.get(
        reverse("establishment-image", kwargs={"uai": establishment.uai, "kind": "cachet"})
    )

    assert response.status_code == 404


def test_an_image_lost_from_the_media_folder_answers_not_found(admin_client, establishment, media_root):
    upload(admin_client, establishment, png(), "logo.png")
    establishment.refresh_from_db()
    Path(establishment.logo.path).unlink()

    response = admin_client.get(
        reverse("establishment-image", kwargs={"uai": establishment.uai, "kind": "logo"})
    )

    assert response.status_code == 404


def test_replacing_the_logo_removes_the_old_file_after_commit(
    admin_client, establishment, previous_logo, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client, establishment, png("yellow"), "nouveau.png")

    assert response.status_code == 302
    establishment.refresh_from_db()
    assert establishment.logo.name != previous_logo
    assert stored_files(media_root) == {Path(establishment.logo.path)}
    assert AuditLogEntry.objects.filter(action="Logo remplacé").count() == 2


def test_deleting_the_logo_removes_its_file_after_commit(
    admin_client, establishment, previous_logo, media_root, django_capture_on_commit_callbacks
):
    path = media_root / previous_logo

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            reverse("settings-logo", kwargs={"uai": establishment.uai}), {"kind": "logo", "delete": "1"}
        )
    assert path.exists()  # not before the transaction commits
    for callback in callbacks:
        callback()

    assert response.status_code == 302
    assert not path.exists()
    establishment.refresh_from_db()
    assert not establishment.logo
    assert AuditLogEntry.objects.filter(action="Logo supprimé", changes={"logo": "supprimé"}).exists()


def test_deleting_a_logo_that_does_not_exist_changes_nothing(admin_client, establishment):
    response = admin_client.post(
        reverse("settings-logo", kwargs={"uai": establishment.uai}),
        {"kind": "logo", "delete": "1"},
        follow=True,
    )

    assert response.status_code == 200
    assert "Image supprimée." not in response.content.decode()
    assert not AuditLogEntry.objects.exists()


def test_a_full_disk_gives_a_clear_french_error_and_keeps_the_previous_logo(
    admin_client, establishment, previous_logo, media_root, monkeypatch
):
    files_before = stored_files(media_root)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(default_storage._wrapped), "_save", disk_full)
    response = upload(admin_client, establishment, png("yellow"), "nouveau.png")

    html = response.content.decode().replace("&#x27;", "'")
    assert response.status_code == 400
    assert "L'image n'a pas pu être enregistrée sur le serveur : l'image précédente est conservée." in html
    establishment.refresh_from_db()
    assert establishment.logo.name == previous_logo
    assert stored_files(media_root) == files_before
    assert AuditLogEntry.objects.count() == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_media_folder_gives_the_same_error(admin_client, establishment, media_root):
    media_root.mkdir(parents=True, exist_ok=True)
    media_root.chmod(0o500)
    try:
        response = upload(admin_client, establishment, png(), "logo.png")
    finally:
        media_root.chmod(0o700)

    assert response.status_code == 400
    assert "n&#x27;a pas pu être enregistrée sur le serveur" in response.content.decode()
    establishment.refresh_from_db()
    assert not establishment.logo


def test_a_failing_database_save_removes_the_new_file(
    admin_client, establishment, previous_logo, media_root, monkeypatch
):
    from establishments import services

    files_before = stored_files(media_root)

    def broken_audit(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "audit_record", broken_audit)
    admin_client.raise_request_exception = False
    response = upload(admin_client, establishment, png("yellow"), "nouveau.png")

    assert response.status_code == 500
    assert stored_files(media_root) == files_before
    establishment.refresh_from_db()
    assert establishment.logo.name == previous_logo
