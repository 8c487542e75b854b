"""Webhook signatures: X-Hub-Signature-256 = HMAC-SHA256(app secret, raw body), hex."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def signature_valid(raw_body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """True when `header` is `sha256=<hex>` of the raw body under any of `secrets`.
    Compared in constant time; hashing the raw bytes, never re-serialised JSON."""
    if not header or not header.startswith("sha256="):
        return False
    received = header[len("sha256=") :].strip().lower()
    return any(
        hmac.compare_digest(received, hmac.new(s.encode(), raw_body, hashlib.sha256).hexdigest())
        for s in secrets
        if s
    )


def sign(raw_body: bytes, secret: str) -> str:
    """The header value Meta would send; used by the sandbox simulator."""
    return "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
