"""MAX_REQUEST_BODY_BYTES: a 413 with {"detail": ...} for any request body over the limit,
declared or streamed, before anything is stored; the webhook keeps its own limit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.catalog.router import MAX_IMPORT_BYTES
from app.config import Settings
from tests.harness import Harness, make_settings, text_event

LIMIT = 64 * 1024


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, str(tmp_path), MAX_REQUEST_BODY_BYTES=LIMIT)


def _json(harness: Harness) -> dict[str, str]:
    return {**harness.auth, "Content-Type": "application/json"}


def _account(name_size: int) -> bytes:
    # Oversized on the wire only: the schema would refuse a name this long anyway.
    body = {"platform": "instagram", "external_id": "555", "name": "Lena", "pad": "x" * name_size}
    return json.dumps(body).encode()


async def _chunks(body: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def _accounts(harness: Harness) -> list[object]:
    listed: list[object] = (await harness.api("GET", "/api/v1/accounts")).json()
    return listed


def _assert_413(response_status: int, body: object) -> None:
    assert response_status == 413
    assert isinstance(body, dict)
    assert f"larger than {LIMIT} bytes" in body["detail"]


async def test_a_declared_length_over_the_limit_is_413_unread(harness: Harness) -> None:
    body = _account(LIMIT)
    response = await harness.client.post("/api/v1/accounts", content=body, headers=_json(harness))
    assert response.request.headers["content-length"] == str(len(body))
    _assert_413(response.status_code, response.json())
    assert response.headers["connection"] == "close"
    assert await _accounts(harness) == []


async def test_a_chunked_body_growing_past_the_limit_is_413(harness: Harness) -> None:
    response = await harness.client.post(
        "/api/v1/accounts",
        content=_chunks(_account(2 * LIMIT)),
        headers=_json(harness),
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    _assert_413(response.status_code, response.json())
    assert await _accounts(harness) == []


async def test_a_chunked_upload_past_the_limit_is_413(harness: Harness) -> None:
    # Multipart: the form parser, not the JSON one, meets the failed read.
    boundary = "hostile-boundary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="catalog.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
        "brand,name\n" + "GlowLab,Serum\n" * (LIMIT // 10) + f"\r\n--{boundary}--\r\n"
    ).encode()
    account = await harness.create_account()
    response = await harness.client.post(
        f"/api/v1/accounts/{account['id']}/catalog/import",
        content=_chunks(body),
        headers={**harness.auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    _assert_413(response.status_code, response.json())
    cooperations = await harness.api("GET", f"/api/v1/accounts/{account['id']}/cooperations")
    assert cooperations.json() == []


async def test_bodies_under_the_limit_pass_declared_or_chunked(harness: Harness) -> None:
    body = json.dumps({"platform": "instagram", "external_id": "556", "name": "Lena"}).encode()
    declared = await harness.client.post("/api/v1/accounts", content=body, headers=_json(harness))
    assert declared.status_code == 201, declared.text
    body = body.replace(b"556", b"557")
    chunked = await harness.client.post(
        "/api/v1/accounts",
        content=_chunks(body, size=7),
        headers=_json(harness),
    )
    assert chunked.status_code == 201, chunked.text


async def test_the_webhook_keeps_its_own_larger_limit(harness: Harness) -> None:
    response = await harness.post_webhook(text_event("1784", "IGSID", "x" * (4 * LIMIT)))
    assert response.status_code == 200


def test_the_default_leaves_room_for_a_catalog_import() -> None:
    default = Settings.model_fields["MAX_REQUEST_BODY_BYTES"].default
    # The largest file the importer takes, plus generous multipart framing.
    assert default >= MAX_IMPORT_BYTES + 64 * 1024
    assert default < Settings.model_fields["WEBHOOK_MAX_BODY_BYTES"].default * 100


async def test_an_import_just_under_the_importer_limit_reaches_the_importer(
    database_url: str, tmp_path: Path
) -> None:
    from tests.harness import running_app

    content = b"not,a,catalog\n" + b"#" * (MAX_IMPORT_BYTES - 100)
    async with running_app(make_settings(database_url, str(tmp_path))) as harness:
        account = await harness.create_account()
        response = await harness.api(
            "POST",
            f"/api/v1/accounts/{account['id']}/catalog/import",
            files={"file": ("catalog.csv", content, "text/csv")},
        )
    # The importer's own refusal (bad columns), not the body limit's 413.
    assert response.status_code == 422, response.text
    assert "missing column" in response.json()["detail"]
