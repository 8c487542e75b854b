"""Meta's signed_request: verified in constant time, every malformed or forged form a 400.

The values are built here with the standard library (tests/privacy/helpers.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.meta.signed_request import SignedRequestError, field_from_form, parse_signed_request
from app.models import DeletionRequest, Job
from tests.harness import APP_SECRET, Harness
from tests.privacy.helpers import b64url, meta_payload, signed_request

SECRETS = [APP_SECRET]


def test_valid_signed_request_gives_the_user_id() -> None:
    parsed = parse_signed_request(signed_request(meta_payload("4242")), SECRETS)
    assert parsed.user_id == "4242"
    assert isinstance(parsed.issued_at, int)


def test_padding_and_integer_user_id_are_accepted() -> None:
    value = signed_request(meta_payload(1234567890123))
    signature, payload = value.split(".")
    padded = signature + "=" * (-len(signature) % 4) + "." + payload
    assert parse_signed_request(padded, SECRETS).user_id == "1234567890123"


def test_any_configured_secret_verifies() -> None:
    value = signed_request(meta_payload("7"), secret="rotated-secret")
    assert parse_signed_request(value, ["old", "rotated-secret"]).user_id == "7"
    with pytest.raises(SignedRequestError):
        parse_signed_request(value, SECRETS)


def test_signature_is_over_the_segment_as_received() -> None:
    # The same JSON re-serialised (different spacing) has another segment: not accepted.
    raw = b'{"algorithm": "HMAC-SHA256",  "user_id": "9"}'
    signature = hmac.new(APP_SECRET.encode(), b64url(raw).encode(), hashlib.sha256).digest()
    other_segment = b64url(json.dumps(json.loads(raw)).encode())
    assert parse_signed_request(f"{b64url(signature)}.{b64url(raw)}", SECRETS).user_id == "9"
    with pytest.raises(SignedRequestError, match="signature"):
        parse_signed_request(f"{b64url(signature)}.{other_segment}", SECRETS)


def _tampered() -> str:
    signature, _ = signed_request(meta_payload("1")).split(".")
    return f"{signature}.{b64url(json.dumps(meta_payload('2')).encode())}"


MALFORMED: dict[str, str] = {
    "no dot": b64url(b"x" * 32) + b64url(json.dumps(meta_payload()).encode()),
    "empty signature": "." + b64url(json.dumps(meta_payload()).encode()),
    "empty payload": signed_request(meta_payload()).split(".")[0] + ".",
    "bad base64 characters": "!!!!." + b64url(json.dumps(meta_payload()).encode()),
    "impossible base64 length": "abcde." + b64url(json.dumps(meta_payload()).encode()),
    "bad JSON": signed_request(b"{not json"),
    "not UTF-8": signed_request(b'{"user_id": "\xff"}'),
    "JSON array": signed_request(b"[1, 2]"),
    "deeply nested JSON": signed_request(b"[" * 5000 + b"]" * 5000),
    "missing user_id": signed_request({"algorithm": "HMAC-SHA256", "issued_at": 1}),
    "empty user_id": signed_request(meta_payload("  ")),
    "boolean user_id": signed_request(meta_payload(True)),
    "long user_id": signed_request(meta_payload("9" * 65)),
    "missing algorithm": signed_request({"user_id": "1"}),
    "wrong algorithm": signed_request(meta_payload(algorithm="HMAC-SHA1")),
    "no algorithm name": signed_request(meta_payload(algorithm=None)),
    "forged": signed_request(meta_payload(), secret="not-the-app-secret"),
    "tampered payload": _tampered(),
    "too large": signed_request(meta_payload(padding="x" * 9000)),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_or_forged_is_rejected(case: str) -> None:
    with pytest.raises(SignedRequestError) as caught:
        parse_signed_request(MALFORMED[case], SECRETS)
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    "body",
    [b"", b"other=1", b"signed_request=", b"signed_request=a&signed_request=b", b"\xff\xfe"],
)
def test_form_without_exactly_one_field_is_rejected(body: bytes) -> None:
    with pytest.raises(SignedRequestError):
        field_from_form(body)


def test_form_field_is_url_decoded() -> None:
    assert field_from_form(b"signed_request=ab-_%2Ecd&x=1") == "ab-_.cd"


# Through the running app, on both databases: 400 with {"detail": ...}, nothing stored.

ENDPOINT_CASES: dict[str, dict[str, Any]] = {
    "missing field": {"data": {"other": "1"}},
    "empty body": {"content": b""},
    "not a form": {"json": {"signed_request": signed_request(meta_payload())}},
    "forged": {"data": {"signed_request": MALFORMED["forged"]}},
    "wrong algorithm": {"data": {"signed_request": MALFORMED["wrong algorithm"]}},
    "missing user_id": {"data": {"signed_request": MALFORMED["missing user_id"]}},
    "bad JSON": {"data": {"signed_request": MALFORMED["bad JSON"]}},
    "no dot": {"data": {"signed_request": MALFORMED["no dot"]}},
    "huge body": {"data": {"signed_request": "a" * 40_000}},
    "binary body": {
        "content": b"\x00\xff" * 100,
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    },
}


@pytest.mark.parametrize("path", ["/meta/deauthorize", "/meta/data-deletion"])
@pytest.mark.parametrize("case", sorted(ENDPOINT_CASES))
async def test_endpoints_answer_400_and_store_nothing(
    harness: Harness, path: str, case: str
) -> None:
    response = await harness.client.post(path, **ENDPOINT_CASES[case])
    assert response.status_code == 400, response.text
    assert isinstance(response.json()["detail"], str)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        assert await session.scalar(select(func.count()).select_from(DeletionRequest)) == 0
        assert await session.scalar(select(func.count()).select_from(Job)) == 0
