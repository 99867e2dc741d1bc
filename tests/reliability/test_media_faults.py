"""Fault 6, the part tests/establishments/test_uploads.py cannot reach as root.

A full disk (ENOSPC) and a read-only folder for a non-root user are tested there; root writes
into read-only folders, so here the media folder is made unusable in a way root cannot bypass:
its path runs through a regular file.
"""

from __future__ import annotations

from pathlib import Path

from tests.establishments.test_uploads import png, upload

SAVED = "Modifications enregistrées."
NOT_STORED = "L'image n'a pas pu être enregistrée sur le serveur : l'image précédente est conservée."


def test_a_media_folder_that_cannot_be_created_gives_a_clear_error_and_keeps_the_logo(
    client_for, admin_user, establishment, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    client = client_for(admin_user)
    assert SAVED in upload(client, establishment, png("blue"), "ancien.png", follow=True).content.decode()
    establishment.refresh_from_db()
    previous = establishment.logo.name
    previous_file = Path(settings.MEDIA_ROOT) / previous
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder should be")
    settings.MEDIA_ROOT = str(blocker / "media")

    response = upload(client, establishment, png("yellow"), "nouveau.png")

    assert response.status_code == 400
    assert NOT_STORED in response.content.decode().replace("&#x27;", "'")
    establishment.refresh_from_db()
    assert establishment.logo.name == previous
    assert previous_file.is_file(), "the previous logo's file is untouched"
    assert blocker.read_text() == "a file where the media folder should be"
