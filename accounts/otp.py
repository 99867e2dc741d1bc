"""The second factor: a TOTP application (RFC 6238) and ten single-use recovery codes.

Built on django-otp's ``TOTPDevice`` and ``StaticDevice``, whose verification is throttled
(exponential back-off after each wrong code) and refuses a TOTP code already used.
"""

from __future__ import annotations

import re
import time
from base64 import b32encode
from binascii import unhexlify
from dataclasses import dataclass
from datetime import datetime

import segno
from django.db import transaction
from django_otp import user_has_device
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from establishments.models import User

from .sessions import ENROL, VERIFY

TOTP_NAME = "Application d'authentification"
RECOVERY_NAME = "Codes de secours"
RECOVERY_CODE_COUNT = 10
TOTP_TOKEN = re.compile(r"\d{6}")


def second_factor_required(user: User) -> str:
    """At login: ``VERIFY`` when the user has a second factor, ``ENROL`` for technical staff
    without one (it is mandatory for them), ``""`` otherwise."""
    if user_has_device(user):
        return VERIFY
    return ENROL if user.is_staff else ""


def has_totp(user: User) -> bool:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def new_totp_key() -> str:
    return random_hex(20)


def totp_setup_url(user: User, key: str) -> str:
    """The ``otpauth://`` address the application reads from the QR code (an unsaved device)."""
    return TOTPDevice(user=user, key=key).config_url


def qr_code_data_uri(text: str) -> str:
    # A PNG in a data: URI: allowed by the CSP (img-src data:), no inline SVG or script needed.
    return segno.make(text, error="m").png_data_uri(scale=5, border=4)


def secret_for_display(key: str) -> str:
    """The key in base 32, by groups of four, for an application that cannot read QR codes."""
    secret = b32encode(unhexlify(key)).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def normalise_token(token: str) -> str:
    return re.sub(r"[\s-]", "", token or "").lower()


@transaction.atomic
def totp_enrol(user: User, key: str, token: str) -> list[str] | None:
    """Confirm the application with one of its codes; replace any previous one; return fresh
    recovery codes, or ``None`` when the code is wrong."""
    token = normalise_token(token)
    if not TOTP_TOKEN.fullmatch(token):
        return None
    totp = TOTP(unhexlify(key))
    totp.time = time.time()
    if not totp.verify(int(token), tolerance=1):
        return None
    TOTPDevice.objects.filter(user=user).delete()
    # last_t: the code just typed cannot be replayed at the next login.
    TOTPDevice.objects.create(user=user, key=key, name=TOTP_NAME, confirmed=True, last_t=totp.t())
    return recovery_codes_reset(user)


@transaction.atomic
def recovery_codes_reset(user: User) -> list[str]:
    """Replace the user's recovery codes by ten new ones (the old ones stop working)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def second_factor_remove(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


@dataclass(frozen=True)
class Verification:
    device: Device | None
    # Set when every device able to check the code is throttled after wrong codes.
    retry_at: datetime | None = None

    @property
    def is_recovery_code(self) -> bool:
        return isinstance(self.device, StaticDevice)


@transaction.atomic
def second_factor_verify(user: User, token: str) -> Verification:
    """Check a code from the application (six digits) or a recovery code (used up once accepted)."""
    token = normalise_token(token)
    model = TOTPDevice if TOTP_TOKEN.fullmatch(token) else StaticDevice
    # Row locks: two requests with the same code cannot both pass (django-otp's for_verify).
    devices = list(model.objects.devices_for_user(user, confirmed=True).select_for_update())
    blocked_until: list[datetime | None] = []
    for device in devices:
        allowed, data = device.verify_is_allowed()
        if not allowed:
            blocked_until.append((data or {}).get("locked_until"))
            continue
        if device.verify_token(token):
            return Verification(device)
    locks = [until for until in blocked_until if until is not None]
    if locks and len(locks) == len(devices):  # every device is throttled
        return Verification(None, retry_at=max(locks))
    return Verification(None)
