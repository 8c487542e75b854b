"""Real `inboxpilot worker` and `inboxpilot serve` processes stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.core.db import create_engine, create_sessionmaker, unit_of_work
from app.models import InboxEvent, Job, OutboundMessage
from tests.fakes.send_api_server import SendApiServer
from tests.harness import (
    APP_SECRET,
    VERIFY_TOKEN,
    Harness,
    make_settings,
    running_app,
    sign,
    text_event,
)
from tests.ops.promtext import value

ROOT = Path(__file__).resolve().parents[2]
IG_ID = "17841400000000077"
SEND_DELAY = 4.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("META_", "OPENAI_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key-0123456789",
            "META_APP_ID": "999000111",
            "META_APP_SECRET": APP_SECRET,
            "META_VERIFY_TOKEN": VERIFY_TOKEN,
            "REPLY_DEBOUNCE_SECONDS": "0",
            "WORKER_POLL_SECONDS": "0.05",
            "LOG_JSON": "true",
            **extra,
        }
    )
    return env


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app", *args], env=env, cwd=ROOT, stdout=out, stderr=out
        )


async def _until(condition: Callable[[], Awaitable[bool]], seconds: float) -> None:
    """Polls another process's progress (no event crosses a process boundary)."""
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _exit_code(process: subprocess.Popen[bytes], seconds: float) -> int:
    async def exited() -> bool:
        return process.poll() is not None

    await _until(exited, seconds)
    return int(process.returncode)


@pytest.fixture
def send_api() -> Iterator[SendApiServer]:
    with SendApiServer(delay_seconds=SEND_DELAY) as server:
        yield server


@pytest.fixture
async def slow_meta(
    database_url: str, tmp_path: Path, send_api: SendApiServer
) -> AsyncIterator[Harness]:
    settings = make_settings(
        database_url, str(tmp_path), META_GRAPH_URL=send_api.url, INSTAGRAM_GRAPH_URL=send_api.url
    )
    async with running_app(settings) as harness:
        yield harness


async def test_a_worker_process_serves_metrics_and_hands_back_a_send_on_sigterm(
    slow_meta: Harness, database_url: str, send_api: SendApiServer, tmp_path: Path
) -> None:
    harness = slow_meta
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    await harness.post_webhook(text_event(IG_ID, "fan-1", "what is the vitamin c serum code?"))

    port = _free_port()
    env = _env(
        database_url,
        META_GRAPH_URL=send_api.url,
        INSTAGRAM_GRAPH_URL=send_api.url,
        SHUTDOWN_GRACE_SECONDS="0.5",
        METRICS_PORT=str(port),
        METRICS_HOST="127.0.0.1",
    )
    log = tmp_path / "worker.log"
    worker = _start(["worker"], env, log)
    try:

        async def sending() -> bool:
            async with unit_of_work(harness.runtime.sessionmaker) as session:
                job = await session.scalar(select(Job).where(Job.kind == "send_reply"))
            return job is not None and job.status == "running"

        await _until(sending, 30)  # the worker now waits on the (slow) Send API
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        harness.router.get(metrics_url).pass_through()  # the worker's own port: real HTTP
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(metrics_url)).text
        assert value(metrics, "inboxpilot_worker_items_total", kind="event", outcome="done") == 1
        assert value(metrics, "inboxpilot_worker_items_total", kind="draft_reply", outcome="done")

        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert await _exit_code(worker, 15) == 0, log.read_text()[-3000:]
        assert time.monotonic() - started < SEND_DELAY  # did not wait for Meta's answer
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    async with unit_of_work(harness.runtime.sessionmaker) as session:
        job = await session.scalar(select(Job).where(Job.kind == "send_reply"))
    assert job is not None
    assert (job.status, job.locked_by, job.attempts) == ("queued", None, 0)
    # The next worker takes it at once; the call may have reached Meta, so without an echo
    # it is parked for a human, never sent twice.
    await harness.run_worker()
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        outbound = await session.scalar(select(OutboundMessage))
    assert outbound is not None
    assert (outbound.status, outbound.error_code) == ("failed", "outcome_unknown")
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(line["event"] == "worker.released" for line in lines)
    assert any(line.get("job_kind") == "draft_reply" for line in lines)


async def test_a_web_process_stores_every_webhook_it_answered_200_before_exiting(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "web.db"
    shutil.copy(sqlite_template, database)
    url = f"sqlite+aiosqlite:///{database}"
    port = _free_port()
    log = tmp_path / "web.log"
    web = _start(
        ["serve", "--no-worker", "--port", str(port)],
        _env(url, SHUTDOWN_GRACE_SECONDS="5"),
        log,
    )
    base = f"http://127.0.0.1:{port}"
    bodies = [json.dumps(text_event(IG_ID, f"fan-{n}", "hi")).encode() for n in range(300)]
    try:
        async with httpx.AsyncClient(base_url=base, timeout=20) as client:

            async def up() -> bool:
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await _until(up, 30)
            handshake = await client.get(
                "/webhooks/meta",
                params={
                    "hub.mode": "subscribe",
                    "hub.verify_token": VERIFY_TOKEN,
                    "hub.challenge": "42",
                },
            )
            assert handshake.text == "42"
            answered: list[int | None] = [None] * len(bodies)

            async def deliver(n: int) -> None:
                try:
                    response = await client.post(
                        "/webhooks/meta",
                        content=bodies[n],
                        headers={"X-Hub-Signature-256": sign(bodies[n])},
                    )
                    answered[n] = response.status_code
                except httpx.TransportError:
                    pass

            deliveries = [asyncio.create_task(deliver(n)) for n in range(len(bodies))]

            async def some_answered() -> bool:
                return sum(1 for status in answered if status == 200) >= 20

            await _until(some_answered, 30)
            web.send_signal(signal.SIGTERM)
            await asyncio.gather(*deliveries)
        # uvicorn re-raises the signal once it has shut down gracefully.
        assert await _exit_code(web, 20) in (0, -signal.SIGTERM), log.read_text()[-3000:]
    finally:
        if web.poll() is None:
            web.kill()
            web.wait()

    accepted = {
        hashlib.sha256(body).hexdigest()
        for body, status in zip(bodies, answered, strict=True)
        if status == 200
    }
    assert len(accepted) >= 20
    engine = create_engine(url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            stored = set((await session.scalars(select(InboxEvent.body_sha256))).all())
    finally:
        await engine.dispose()
    assert accepted <= stored, "a webhook answered 200 was lost"

    text = log.read_text()
    assert VERIFY_TOKEN not in text  # the handshake's query string is not logged
    access = [
        line
        for line in (json.loads(raw) for raw in text.splitlines() if raw.startswith("{"))
        if line.get("logger") == "uvicorn.access"
    ]
    assert access
    assert all(len(line["request_id"]) == 32 for line in access)
