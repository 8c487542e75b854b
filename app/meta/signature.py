"""Webhook signatures: X-Hub-Signature-256 = HMAC-SHA256(app secret, raw body), hex."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def signature_valid(raw_body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """True when `header` is `sha256=<hex>` of the raw body under any of `secrets`.
    Compared in constant time; hashing the raw bytes, never re-serialised JSON. Never
    raises: any other header value (missing, another algorithm, not hex, not ASCII) is False."""
    if not header or not header.startswith("sha256="):
        return False
    try:
        # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, so
        # a 500), and a header is whatever bytes the sender put there.
        received = header[len("sha256=") :].strip().lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    return any(hmac.compare_digest(received, _hex_digest(s, raw_body)) for s in secrets if s)


def _hex_digest(secret: str, raw_body: bytes) -> bytes:
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest().encode("ascii")


def sign(raw_body: bytes, secret: str) -> str:
    """The header value Meta would send; used by the sandbox simulator."""
    return "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
