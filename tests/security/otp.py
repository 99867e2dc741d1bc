"""Helpers for tests of the second factor: a device for a user and the code its application shows."""

from __future__ import annotations

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


def totp_device(user) -> TOTPDevice:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="téléphone", confirmed=True
    )


def code_for_key(key_hex: str, offset_steps: int = 0) -> str:
    from binascii import unhexlify

    return f"{totp(unhexlify(key_hex), drift=offset_steps):06d}"


def current_code(device: TOTPDevice, offset_steps: int = 0) -> str:
    """The code the application shows now (``offset_steps`` later or earlier)."""
    device.refresh_from_db()
    return code_for_key(device.key, offset_steps)
