"""Web push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payloads (RFC 8291).

py-vapid signs the JWT, http_ece encrypts the payload for the browser's keys, and our
shared httpx client posts it, so nothing here blocks the event loop on the network and
respx sees the push service in tests. Keys: VAPID_PRIVATE_KEY (base64url raw or DER, or PEM),
or in sandbox mode a key generated once and kept in a file beside SECRET_KEY_FILE.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import http_ece
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from app.config import ConfigError, Settings

# How long the push service keeps a notification for a browser that is offline.
TTL_SECONDS = 12 * 3600
TOKEN_LIFETIME_SECONDS = 12 * 3600
# The push service says the subscription is gone: forget it.
GONE = {404, 410}

_keys: dict[str, VapidKeys] = {}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class VapidKeys:
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)

    @property
    def public_key(self) -> str:
        """The application server key a browser subscribes with (base64url, 65 bytes)."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)


def vapid_keys(settings: Settings) -> VapidKeys | None:
    """The VAPID key pair, or None: push is off (no key outside sandbox mode)."""
    if settings.VAPID_PRIVATE_KEY is not None:
        source = settings.VAPID_PRIVATE_KEY.get_secret_value()
        if source not in _keys:
            try:
                if "-----BEGIN" in source:
                    key = Vapid02.from_pem(source.encode()).private_key
                else:
                    key = Vapid02.from_string(source).private_key
            except Exception:
                raise ConfigError("VAPID_PRIVATE_KEY is not a base64url EC P-256 key") from None
            _keys[source] = VapidKeys(key)
        keys = _keys[source]
        if settings.VAPID_PUBLIC_KEY and settings.VAPID_PUBLIC_KEY.rstrip("=") != keys.public_key:
            raise ConfigError("VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY")
        return keys
    if not settings.sandbox:
        return None
    path = settings.vapid_key_file
    if str(path) not in _keys:
        _keys[str(path)] = VapidKeys(_sandbox_key(path))
    return _keys[str(path)]


def _sandbox_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{path} does not hold an EC key")
        return loaded
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created private (0600) from the start, like the sandbox secret key.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return key


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    endpoint: str
    p256dh: str
    auth: str = field(repr=False)


class PushFailed(Exception):
    """The push service refused or could not be reached; try again later."""


class PushGone(Exception):
    """The subscription no longer exists (the browser unsubscribed or expired it)."""


def _vapid_subject(settings: Settings) -> str:
    address = parseaddr(settings.mail_from)[1] or "no-reply@localhost"
    return f"mailto:{address}"


def _authorization(keys: VapidKeys, settings: Settings, endpoint: str) -> str:
    parts = urlsplit(endpoint)
    claims = {
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int(time.time()) + TOKEN_LIFETIME_SECONDS,
        "sub": _vapid_subject(settings),
    }
    signer = Vapid02(keys.private_key, conf={"no-strict": True})
    headers: dict[str, str] = signer.sign(claims)
    return headers["Authorization"]


def encrypt(payload: bytes, subscription: Subscription) -> bytes:
    """The payload for one browser (aes128gcm, a fresh sender key and salt each time)."""
    sender = ec.generate_private_key(ec.SECP256R1())
    body: bytes = http_ece.encrypt(
        payload,
        salt=os.urandom(16),
        private_key=sender,
        dh=b64url_decode(subscription.p256dh),
        auth_secret=b64url_decode(subscription.auth),
        version="aes128gcm",
    )
    return body


async def send_push(
    http: httpx.AsyncClient,
    settings: Settings,
    keys: VapidKeys,
    subscription: Subscription,
    message: dict[str, Any],
) -> None:
    """Posts one notification to the browser's push service."""
    body = encrypt(json.dumps(message).encode(), subscription)
    headers = {
        "Authorization": _authorization(keys, settings, subscription.endpoint),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(TTL_SECONDS),
        "Urgency": "high",
    }
    try:
        response = await http.post(subscription.endpoint, content=body, headers=headers)
    except httpx.HTTPError as exc:
        host = urlsplit(subscription.endpoint).netloc
        raise PushFailed(f"{type(exc).__name__} from {host}") from None
    if response.status_code in GONE:
        raise PushGone(str(response.status_code))
    if response.status_code >= 300:
        raise PushFailed(f"push service answered {response.status_code}")
