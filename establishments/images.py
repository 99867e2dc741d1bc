"""Checks and re-encodes uploaded logos and stamps.

The file name and the declared content type are ignored: only what Pillow decodes counts. The image
is re-encoded so that metadata, trailing data and anything else hidden in the upload is dropped.
"""

from __future__ import annotations

import io
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpg"}


def _refuse(message: str) -> ValidationError:
    return ValidationError(message, code="invalid_image")


def _open_checked(data: bytes) -> tuple[Image.Image, str]:
    """The decoded image and the extension of its format ("png" or "jpg")."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            extension = ACCEPTED_FORMATS.get(image.format or "")
            if extension is None:
                raise _refuse(_("Seules les images PNG et JPEG sont acceptées."))
            width, height = image.size
            if width * height > settings.IMAGE_MAX_PIXELS:
                raise _refuse(
                    _("L'image est trop grande (%(w)s × %(h)s pixels) : %(max)s millions de pixels au plus.")
                    % {"w": width, "h": height, "max": settings.IMAGE_MAX_PIXELS // 1_000_000}
                )
            image.load()  # decodes every pixel: a truncated file fails here
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(
            _("L'image est trop grande : %(max)s millions de pixels au plus.")
            % {"max": settings.IMAGE_MAX_PIXELS // 1_000_000}
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        if _looks_like_svg(data):
            raise _refuse(
                _("Les images SVG ne sont pas acceptées : enregistrez l'image au format PNG ou JPEG.")
            ) from None
        raise _refuse(
            _("Ce fichier n'est pas une image PNG ou JPEG lisible (fichier endommagé ou d'un autre type).")
        ) from None
    return image, extension


def _looks_like_svg(data: bytes) -> bool:
    # Only to word the refusal: an SVG is refused like any other file Pillow cannot decode.
    return b"<svg" in data[:4096].lower()


def sanitize_image(upload) -> ContentFile:
    """Return a freshly encoded copy of an uploaded PNG or JPEG, or raise a French ValidationError."""
    if upload.size > settings.IMAGE_MAX_BYTES:
        raise _refuse(
            _("Le fichier est trop lourd (%(size)s Mo) : 2 Mo au plus.")
            % {"size": f"{upload.size / 1024 / 1024:.1f}".replace(".", ",")}
        )
    data = upload.read()
    image, extension = _open_checked(data)
    return ContentFile(_reencode(image, extension), name=f"image.{extension}")


def _reencode(image: Image.Image, extension: str) -> bytes:
    # Turn the picture upright before EXIF (and its orientation tag) is dropped.
    image = ImageOps.exif_transpose(image)
    if extension == "png" and image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")
    elif extension == "jpg":
        image = image.convert("RGB")
    # Pillow writes back some of what it read (a JPEG comment, an ICC profile, which can carry any
    # bytes): keep only the transparency, which is part of the picture.
    image.info = {key: value for key, value in image.info.items() if key == "transparency"}
    output = io.BytesIO()
    if extension == "png":
        image.save(output, format="PNG", optimize=True)
    else:
        image.save(output, format="JPEG", quality=90)
    return output.getvalue()
