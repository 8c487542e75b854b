"""Request ids, per-item worker context, and what JSON log lines may contain."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from app.core.db import unit_of_work
from app.logging import REDACTED, configure_logging
from app.models import Job
from app.runtime import Runtime
from app.worker import queue
from app.worker.runner import Worker
from tests.harness import Harness, sign, text_event

IG_ID = "17841400000000001"
# Words the recogniser knows, so the reply goes out and every worker line is written.
SECRET_SENTENCE = "Good evening my dear"

Lines = Callable[[], list[dict[str, Any]]]


def _configure(buffer: io.StringIO, *, personal_data: bool = False) -> Lines:
    configure_logging("INFO", json=True, personal_data=personal_data, stream=buffer)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    return lines


@pytest.fixture
def json_logs() -> Iterator[Lines]:
    """JSON logs into a buffer through the app's own processor chain, undone afterwards."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    yield _configure(buffer)
    for handler in [h for h in root.handlers if h.get_name() == "inboxpilot"]:
        root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


# --- request ids -----------------------------------------------------------------------


async def test_a_request_id_is_generated_and_echoed(harness: Harness) -> None:
    first = await harness.client.get("/healthz")
    second = await harness.client.get("/healthz")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert ids[0] != ids[1]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("lb-7f3a.c9_01", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("has space", False),
        ("semi;colon", False),
        ("", False),
    ],
)
async def test_an_incoming_request_id_is_kept_only_when_sane(
    harness: Harness, sent: str, kept: bool
) -> None:
    response = await harness.client.get("/healthz", headers={"X-Request-ID": sent})
    echoed = response.headers["x-request-id"]
    assert (echoed == sent) is kept
    if not kept:
        assert len(echoed) == 32


async def test_the_webhook_receiver_answers_with_a_request_id_and_logs_it(
    harness: Harness, json_logs: Lines
) -> None:
    body = json.dumps(text_event(IG_ID, "IGSID-1", "hi")).encode()
    response = await harness.client.post(
        "/webhooks/meta",
        content=body,
        headers={"X-Hub-Signature-256": sign(body, "wrong"), "X-Request-ID": "meta-delivery-1"},
    )
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "meta-delivery-1"
    stored = await harness.post_webhook(text_event(IG_ID, "IGSID-1", "hi"))
    assert len(stored.headers["x-request-id"]) == 32
    [line] = [line for line in json_logs() if line["event"] == "webhook.bad_signature"]
    assert line["request_id"] == "meta-delivery-1"
    # The id does not outlive its request.
    assert "request_id" not in structlog.contextvars.get_contextvars()


# --- worker context and personal data ---------------------------------------------------


async def test_worker_lines_carry_the_item_and_no_message_text(
    harness: Harness, json_logs: Lines
) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    await harness.post_webhook(
        text_event(IG_ID, "IGSID-2", f"{SECRET_SENTENCE}! What is the Vitamin C Serum code?")
    )
    await harness.run_worker()
    assert len(harness.graph.sent) == 1

    lines = json_logs()
    assert lines, "nothing was logged"
    processed = [line for line in lines if line["event"] == "inbox.processed"]
    assert processed
    assert all(isinstance(line["event_id"], int) for line in processed)
    settled = [line for line in lines if line["event"] == "outbox.settled"]
    assert settled
    assert settled[0]["job_kind"] == "send_reply"
    assert isinstance(settled[0]["job_id"], int)
    assert settled[0]["account_id"] == account["id"]
    everything = json.dumps(lines)
    assert SECRET_SENTENCE not in everything
    assert "LENA15" not in everything  # nor the reply's text
    assert "job_id" not in structlog.contextvars.get_contextvars()


async def test_personal_and_secret_fields_are_redacted_by_name(json_logs: Lines) -> None:
    log = structlog.get_logger("test")
    log.info(
        "test.event",
        text=SECRET_SENTENCE,
        reply="Hey Mia!",
        name="Mia Muster",
        username="mia.m",
        email="mia@example.com",
        profile={"first_name": "Mia", "kind": "instagram"},
        access_token="EAAB-secret",
        code=190,
        messages=3,
    )
    [line] = [line for line in json_logs() if line["event"] == "test.event"]
    for field in ("text", "reply", "name", "username", "email", "access_token"):
        assert line[field] == REDACTED, field
    assert line["profile"] == {"first_name": REDACTED, "kind": "instagram"}
    assert line["code"] == 190  # Meta's error code, a number
    assert line["messages"] == 3


def test_personal_data_is_logged_only_when_asked_and_tokens_never() -> None:
    buffer = io.StringIO()
    try:
        lines = _configure(buffer, personal_data=True)
        structlog.get_logger("test").info(
            "test.event", text=SECRET_SENTENCE, access_token="EAAB-secret"
        )
        [line] = lines()
    finally:
        structlog.reset_defaults()
        root = logging.getLogger()
        for handler in [h for h in root.handlers if h.get_name() == "inboxpilot"]:
            root.removeHandler(handler)
    assert line["text"] == SECRET_SENTENCE
    assert line["access_token"] == REDACTED


def test_standard_library_records_are_json_too_and_lose_query_strings(
    json_logs: Lines,
) -> None:
    tokens = structlog.contextvars.bind_contextvars(request_id="abc123")
    try:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            "/webhooks/meta?hub.mode=subscribe&hub.verify_token=s3cr3t",
            "1.1",
            200,
        )
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
    [line] = [line for line in json_logs() if line.get("logger") == "uvicorn.access"]
    assert line["request_id"] == "abc123"
    assert "/webhooks/meta" in line["event"]
    assert "s3cr3t" not in line["event"]


async def test_concurrent_items_do_not_share_log_context(
    harness: Harness, json_logs: Lines
) -> None:
    log = structlog.get_logger("test")
    both_started = asyncio.Barrier(2)

    async def bind_and_log(_runtime: Runtime, job: Job) -> None:
        structlog.contextvars.bind_contextvars(conversation_id=job.payload["conversation"])
        await both_started.wait()  # both items in flight, interleaved
        log.info("test.item", conversation=job.payload["conversation"])

    worker = Worker(
        harness.runtime,
        job_handlers={"bind_and_log": bind_and_log},
        event_handler=_no_events,
        concurrency=2,
    )
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        for conversation in (11, 22):
            await queue.enqueue(session, "bind_and_log", {"conversation": conversation})
    await asyncio.wait_for(worker.run_until_idle(), 10)

    lines = [line for line in json_logs() if line["event"] == "test.item"]
    assert sorted(line["conversation_id"] for line in lines) == [11, 22]
    assert all(line["conversation_id"] == line["conversation"] for line in lines)
    assert len({line["job_id"] for line in lines}) == 2
    assert "conversation_id" not in structlog.contextvars.get_contextvars()


async def _no_events(_runtime: Runtime, _item: object) -> None:
    raise AssertionError("no inbox events in this test")
