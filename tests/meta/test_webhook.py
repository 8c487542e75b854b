"""GET/POST /webhooks/meta through the running app."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import create_engine, create_sessionmaker, unit_of_work
from app.models import InboxEvent
from tests.harness import VERIFY_TOKEN, Harness, make_settings, running_app, sign, text_event


async def _count_events(database_url: str) -> int:
    # A separate engine: proves the row is durable, not just visible in the app's session.
    engine: AsyncEngine = create_engine(database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            return int(await session.scalar(select(func.count()).select_from(InboxEvent)) or 0)
    finally:
        await engine.dispose()


async def test_handshake_echoes_the_challenge(harness: Harness) -> None:
    response = await harness.client.get(
        "/webhooks/meta",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")


async def test_handshake_with_wrong_token_is_refused(harness: Harness) -> None:
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {},
    ):
        response = await harness.client.get("/webhooks/meta", params=params)
        assert response.status_code == 403


async def test_valid_event_is_durable_before_the_answer(
    harness: Harness, database_url: str
) -> None:
    response = await harness.post_webhook(text_event("1784", "IGSID", "hallo"))
    assert response.status_code == 200
    assert await _count_events(database_url) == 1


async def test_bad_or_missing_signature_is_401_and_nothing_stored(
    harness: Harness, database_url: str
) -> None:
    body = json.dumps(text_event("1784", "IGSID", "hi")).encode()
    for headers in (
        {},
        {"X-Hub-Signature-256": sign(body, "wrong-secret")},
        {"X-Hub-Signature-256": "sha1=abc"},
        {"X-Hub-Signature-256": sign(body + b" ")},
    ):
        response = await harness.client.post("/webhooks/meta", content=body, headers=headers)
        assert response.status_code == 401
        assert "detail" in response.json()
    assert await _count_events(database_url) == 0


async def test_non_ascii_body_is_checked_on_the_raw_bytes(
    harness: Harness, database_url: str
) -> None:
    # Meta escapes non-ASCII as \\uXXXX; hashing re-serialised JSON would break this.
    body = (
        b'{"object":"instagram","entry":[{"id":"1","time":1,"messaging":[{"sender":{"id":"2"},'
        b'"recipient":{"id":"1"},"timestamp":1,'
        b'"message":{"mid":"m_u","text":"Gr\\u00fc\\u00dfe \\ud83d\\ude0d"}}]}]}'
    )
    response = await harness.post_webhook(body)
    assert response.status_code == 200
    assert await _count_events(database_url) == 1


async def test_oversized_body_is_413(harness: Harness, database_url: str) -> None:
    body = b'{"object":"page","entry":[],"pad":"' + b"x" * (1024 * 1024) + b'"}'
    response = await harness.post_webhook(body)
    assert response.status_code == 413
    assert await _count_events(database_url) == 0


async def test_malformed_json_is_400(harness: Harness, database_url: str) -> None:
    for body in (b"{not json", b"[1, 2]", b"\xff\xfe", b"[" * 200_000 + b"]" * 200_000):
        response = await harness.post_webhook(body)
        assert response.status_code == 400, body
    assert await _count_events(database_url) == 0


async def test_unknown_object_is_kept_and_set_aside(harness: Harness) -> None:
    response = await harness.post_webhook({"object": "whatsapp_business_account", "entry": []})
    assert response.status_code == 200
    await harness.run_worker()
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        event = await session.scalar(select(InboxEvent))
        assert event is not None
        assert event.status == "unprocessable"
        assert event.last_error


async def test_event_for_an_unknown_account_is_processed_without_reply(harness: Harness) -> None:
    await harness.post_webhook(text_event("not-connected", "IGSID", "hello?"))
    await harness.run_worker()
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        event = await session.scalar(select(InboxEvent))
        assert event is not None
        assert event.status == "done"
    assert harness.graph.sent == []


async def test_instagram_app_secret_is_accepted_for_instagram_events_only(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, str(tmp_path), INSTAGRAM_APP_SECRET="ig-app-secret")
    async with running_app(settings) as harness:
        for secret in ("ig-app-secret", "test-app-secret"):
            response = await harness.post_webhook(
                text_event("1784", "IGSID", secret), secret=secret
            )
            assert response.status_code == 200
        # Messenger (object: page), or any other object, only with the Meta app secret.
        messenger = text_event("555", "PSID", "hi", platform="messenger")
        refused = await harness.post_webhook(messenger, secret="ig-app-secret")
        assert refused.status_code == 401
        other = {**text_event("1784", "IGSID", "x"), "object": "user"}
        assert (await harness.post_webhook(other, secret="ig-app-secret")).status_code == 401
        accepted = await harness.post_webhook(messenger, secret="test-app-secret")
        assert accepted.status_code == 200
        wrong = await harness.post_webhook(text_event("1784", "IGSID", "x"), secret="other")
        assert wrong.status_code == 401
    assert await _count_events(database_url) == 3
