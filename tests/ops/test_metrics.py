"""GET /metrics: this process's counters after real traffic, and the database's backlog."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from asgi_lifespan import LifespanManager
from sqlalchemy import update

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.main import create_app
from app.models import Job
from app.worker import queue
from tests.harness import Harness, make_settings, sign, text_event
from tests.ops.promtext import samples, value

IG_ID = "17841400000000001"


async def _scrape(harness: Harness) -> str:
    response = await harness.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def _autopilot_account(harness: Harness) -> dict[str, Any]:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    return account


async def test_every_product_metric_is_exposed(harness: Harness) -> None:
    names = {name for name, _labels in samples(await _scrape(harness))}
    for expected in (
        "inboxpilot_webhook_ack_seconds_count",
        "inboxpilot_database_up",
        "inboxpilot_inbox_backlog",
        "inboxpilot_inbox_oldest_age_seconds",
        "inboxpilot_llm_cost_usd_total",
        "inboxpilot_llm_budget_fallbacks_total",
        "inboxpilot_drafts_outside_window_total",
    ):
        assert expected in names, expected


async def test_webhook_answers_are_counted_by_status(harness: Harness) -> None:
    before = await _scrape(harness)
    assert (await harness.post_webhook(text_event(IG_ID, "IGSID-1", "hallo"))).status_code == 200
    body = json.dumps(text_event(IG_ID, "IGSID-1", "hallo")).encode()
    forged = await harness.client.post(
        "/webhooks/meta", content=body, headers={"X-Hub-Signature-256": sign(body, "wrong")}
    )
    assert forged.status_code == 401
    after = await _scrape(harness)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("inboxpilot_webhook_acks_total", status="200") == 1
    assert delta("inboxpilot_webhook_acks_total", status="401") == 1
    assert delta("inboxpilot_webhook_ack_seconds_count") == 2
    assert delta("inboxpilot_webhook_ack_seconds_bucket", le="2.5") == 2
    assert value(after, "inboxpilot_database_up") == 1
    assert value(after, "inboxpilot_inbox_backlog") == 1


async def test_a_worker_round_that_sends_a_reply_is_counted(harness: Harness) -> None:
    await _autopilot_account(harness)
    before = await _scrape(harness)
    await harness.post_webhook(text_event(IG_ID, "IGSID-2", "What's the Vitamin C Serum code?"))
    await harness.run_worker()
    assert len(harness.graph.sent) == 1
    after = await _scrape(harness)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("inboxpilot_sends_total", channel="graph", outcome="sent") == 1
    assert delta("inboxpilot_worker_items_total", kind="event", outcome="done") == 1
    assert delta("inboxpilot_worker_items_total", kind="send_reply", outcome="done") == 1
    assert delta("inboxpilot_worker_item_seconds_count", kind="send_reply") == 1
    assert delta("inboxpilot_graph_requests_total", operation="send_text", outcome="ok") == 1
    assert delta("inboxpilot_graph_request_seconds_count", operation="send_text") == 1
    assert value(after, "inboxpilot_inbox_backlog") == 0
    assert value(after, "inboxpilot_inbox_oldest_age_seconds") == 0


async def test_throttling_is_counted_per_account(harness: Harness) -> None:
    account = await _autopilot_account(harness)
    harness.graph.throttle()
    before = await _scrape(harness)
    await harness.post_webhook(text_event(IG_ID, "IGSID-3", "Vitamin C Serum code please"))
    await harness.run_worker()
    after = await _scrape(harness)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("inboxpilot_graph_throttled_total", account_id=str(account["id"])) == 1
    assert delta("inboxpilot_sends_total", channel="graph", outcome="throttled") == 1
    assert delta("inboxpilot_graph_requests_total", operation="send_text", outcome="throttled")
    assert delta("inboxpilot_worker_items_total", kind="send_reply", outcome="postponed") == 1
    # The postponed send waits for the account's pause: due later, not now.
    assert value(after, "inboxpilot_jobs_due", kind="send_reply") == 0


async def test_backlog_gauges_reflect_stored_but_unprocessed_work(harness: Harness) -> None:
    for n in range(3):
        response = await harness.post_webhook(text_event(IG_ID, f"fan-{n}", "hi"))
        assert response.status_code == 200
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await queue.enqueue(session, "noop", {"n": 1})
        await queue.enqueue(session, "noop", {"n": 2})
        await queue.enqueue(session, "noop", {}, run_at=utc_now() + timedelta(hours=1))
        parked = await queue.enqueue(session, "send_reply", {})
        await session.execute(update(Job).where(Job.id == parked).values(status="failed"))

    with time_machine.travel(utc_now() + timedelta(seconds=90)):
        text = await _scrape(harness)

    assert value(text, "inboxpilot_database_up") == 1
    assert value(text, "inboxpilot_inbox_backlog") == 3
    assert 90 <= value(text, "inboxpilot_inbox_oldest_age_seconds") < 120
    assert value(text, "inboxpilot_jobs_due", kind="noop") == 2
    assert 90 <= value(text, "inboxpilot_jobs_oldest_due_age_seconds", kind="noop") < 120
    assert value(text, "inboxpilot_jobs_due", kind="send_reply") == 0
    assert value(text, "inboxpilot_jobs_failed", kind="send_reply") == 1
    assert value(text, "inboxpilot_inbox_parked", status="unprocessable") == 0

    await harness.run_worker()
    text = await _scrape(harness)
    assert value(text, "inboxpilot_inbox_backlog") == 0
    assert value(text, "inboxpilot_inbox_oldest_age_seconds") == 0


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never says a word (a hung database)."""
    connections: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    yield port
    for writer in connections:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("where", ["refused", "hung"])
async def test_metrics_answer_when_the_database_does_not(
    where: str, silent_server: int, tmp_path: Path
) -> None:
    port = 1 if where == "refused" else silent_server
    settings = make_settings(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x", str(tmp_path))
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            started = time.monotonic()
            response = await client.get("/metrics")
            elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert value(response.text, "inboxpilot_database_up") == 0
    assert "inboxpilot_inbox_backlog" not in response.text
    assert "# HELP inboxpilot_webhook_ack_seconds" in response.text
    assert elapsed < 5
