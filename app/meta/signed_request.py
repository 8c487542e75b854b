"""Meta's `signed_request`, the form field of the deauthorize and data deletion callbacks.

Format: `<signature>.<payload>`, both base64url without padding. The signature is
HMAC-SHA256 with the app secret over the payload segment exactly as received; the payload
is JSON: `{"algorithm": "HMAC-SHA256", "issued_at": ..., "expires": ..., "user_id": ...}`,
`user_id` being the app-scoped id of the Meta user who used our app (the influencer).

Every way the value can be wrong raises `SignedRequestError` (a 400), never anything else.
`expires` is not enforced: Meta's own sample code ignores it and a replayed callback only
repeats an idempotent disconnection or deletion.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from app.errors import AppError

FIELD_NAME = "signed_request"
# A genuine signed_request is a few hundred characters; anything far larger is not Meta's.
MAX_SIGNED_REQUEST_CHARS = 8 * 1024
MAX_FORM_FIELDS = 20
ALGORITHM = "HMAC-SHA256"
MAX_USER_ID_CHARS = 64  # accounts.meta_user_id is VARCHAR(64)

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class SignedRequestError(AppError):
    """The signed_request is missing, malformed, forged or not HMAC-SHA256."""

    status_code = 400


@dataclass(frozen=True, slots=True)
class SignedRequest:
    user_id: str
    issued_at: int | None
    payload: dict[str, Any]


def field_from_form(body: bytes) -> str:
    """The `signed_request` field of an application/x-www-form-urlencoded body."""
    try:
        fields = parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise SignedRequestError("the form body cannot be read") from exc
    values = fields.get(FIELD_NAME)
    if not values or not values[0]:
        raise SignedRequestError("missing signed_request")
    if len(values) > 1:
        raise SignedRequestError("more than one signed_request")
    return values[0]


def parse_signed_request(value: str, secrets: Iterable[str]) -> SignedRequest:
    """Verifies `value` against any of `secrets` (constant time) and returns its payload."""
    if len(value) > MAX_SIGNED_REQUEST_CHARS:
        raise SignedRequestError("signed_request too large")
    signature_segment, dot, payload_segment = value.partition(".")
    if not dot:
        raise SignedRequestError("signed_request is not <signature>.<payload>")
    signature = _b64url_decode(signature_segment)
    raw_payload = _b64url_decode(payload_segment)
    if not _signature_matches(signature, payload_segment, secrets):
        raise SignedRequestError("signed_request signature does not match")
    return _read_payload(raw_payload)


def _b64url_decode(segment: str) -> bytes:
    # Meta omits the padding; tolerate it if present. The character check matters:
    # the decoder silently skips characters outside the alphabet.
    segment = segment.rstrip("=")
    if not _BASE64URL.fullmatch(segment):
        raise SignedRequestError("signed_request is not base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SignedRequestError("signed_request is not base64url") from exc


def _signature_matches(signature: bytes, payload_segment: str, secrets: Iterable[str]) -> bool:
    # Over the segment as received (ASCII, checked above), never over re-encoded JSON.
    message = payload_segment.encode("ascii")
    return any(
        hmac.compare_digest(signature, hmac.new(s.encode(), message, hashlib.sha256).digest())
        for s in secrets
        if s
    )


def _read_payload(raw: bytes) -> SignedRequest:
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise SignedRequestError("signed_request payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise SignedRequestError("signed_request payload is not a JSON object")
    algorithm = payload.get("algorithm")
    if not isinstance(algorithm, str) or algorithm.upper() != ALGORITHM:
        raise SignedRequestError("signed_request algorithm must be HMAC-SHA256")
    user_id = payload.get("user_id")
    # Meta sends a string; an integer is accepted, a float or a bool is not an id.
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if not isinstance(user_id, str) or not user_id.strip():
        raise SignedRequestError("signed_request has no user_id")
    if len(user_id) > MAX_USER_ID_CHARS:
        raise SignedRequestError("signed_request user_id is too long")
    issued_at = payload.get("issued_at")
    return SignedRequest(
        user_id=user_id.strip(),
        issued_at=issued_at if type(issued_at) is int else None,
        payload=payload,
    )
