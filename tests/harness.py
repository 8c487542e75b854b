"""The app in-process and unpatched, with Meta and the LLM faked at the HTTP boundary.

Webhooks are signed here with the standard library's hmac, never with the app's code.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import respx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select, text

from app.config import Settings
from app.core.crypto import hash_password
from app.core.db import create_engine, unit_of_work
from app.main import create_app
from app.models import Base, InboxEvent, Job, User
from app.registry import build_worker
from app.runtime import Runtime
from app.users import service as users
from tests.fakes.graph import FakeGraphAPI

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
FACEBOOK_URL = "https://graph.facebook.test"
INSTAGRAM_URL = "https://graph.instagram.test"
LLM_URL = "http://llm.test.invalid/v1"

_mids = itertools.count(1)


def make_settings(database_url: str, tmp_dir: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-0123456789",
        "META_APP_ID": "999000111",
        "META_APP_SECRET": APP_SECRET,
        "META_VERIFY_TOKEN": VERIFY_TOKEN,
        "META_GRAPH_URL": FACEBOOK_URL,
        "INSTAGRAM_GRAPH_URL": INSTAGRAM_URL,
        "OPENAI_API_KEY": None,
        "OPENAI_BASE_URL": LLM_URL,
        "EMBEDDING_MODEL": None,
        "REPLY_DEBOUNCE_SECONDS": 0,
        "JOB_BACKOFF_BASE_SECONDS": 0,
        "JOB_BACKOFF_MAX_SECONDS": 0,
        # Approvals go out at once unless a test is about Undo (tests/outbox/test_hold.py).
        "UNDO_SECONDS": 0,
        "SECRET_KEY_FILE": f"{tmp_dir}/secret-key",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def envelope(
    platform: str, account_external_id: str, item: dict[str, Any], ts: int
) -> dict[str, Any]:
    """One messaging item in Meta's webhook envelope (one entry, one item)."""
    return {
        "object": "instagram" if platform == "instagram" else "page",
        "entry": [{"id": account_external_id, "time": ts, "messaging": [item]}],
    }


def text_event(
    account_external_id: str,
    sender: str,
    text: str,
    *,
    platform: str = "instagram",
    mid: str | None = None,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    ts = timestamp_ms or int(time.time() * 1000)
    item = {
        "sender": {"id": sender},
        "recipient": {"id": account_external_id},
        "timestamp": ts,
        "message": {"mid": mid or f"m_{next(_mids)}_{ts}", "text": text},
    }
    return envelope(platform, account_external_id, item, ts)


def echo_event(
    account_external_id: str,
    follower: str,
    text: str,
    *,
    platform: str = "instagram",
    app_id: int | None = None,
    metadata: str | None = None,
    mid: str | None = None,
) -> dict[str, Any]:
    ts = int(time.time() * 1000)
    message: dict[str, Any] = {"mid": mid or f"echo_{next(_mids)}", "text": text, "is_echo": True}
    if app_id is not None:
        message["app_id"] = app_id
    if metadata is not None:
        message["metadata"] = metadata
    item = {
        "sender": {"id": account_external_id},
        "recipient": {"id": follower},
        "timestamp": ts,
        "message": message,
    }
    return envelope(platform, account_external_id, item, ts)


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    graph: FakeGraphAPI
    router: respx.MockRouter
    token: str

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def post_webhook(
        self, payload: dict[str, Any] | bytes, *, secret: str = APP_SECRET
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return await self.client.post(
            "/webhooks/meta",
            content=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)},
        )

    async def run_worker(self) -> int:
        return await build_worker(self.runtime).run_until_idle()

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, headers=self.auth, **kwargs)

    async def create_account(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "platform": "instagram",
            "external_id": "17841400000000001",
            "name": "Lena Loves",
            "access_token": "IGAAtoken-lena",
            "graph_host": "instagram",
            "languages": ["de", "en"],
        }
        body.update(overrides)
        if body.get("access_token"):
            # The test vouches the token is the account's: Meta's GET /me says so.
            self.graph.own_token(
                body["access_token"],
                platform=body["platform"],
                external_id=body["external_id"],
                graph_host=body.get("graph_host")
                or ("instagram" if body["platform"] == "instagram" else "facebook"),
                page_id=body.get("page_id"),
            )
        response = await self.api("POST", "/api/v1/accounts", json=body)
        assert response.status_code == 201, response.text
        account: dict[str, Any] = response.json()
        return account

    async def set_policy(self, account_id: int, **rules: Any) -> None:
        current = (await self.api("GET", f"/api/v1/accounts/{account_id}/policy")).json()
        response = await self.api(
            "PUT", f"/api/v1/accounts/{account_id}/policy", json={**current, **rules}
        )
        assert response.status_code == 200, response.text

    async def add_serum(self, account_id: int, **product: Any) -> dict[str, Any]:
        body = {
            "brand": "GlowLab",
            "title": "Autumn skincare",
            "starts_on": "2026-01-01",
            "ends_on": "2030-12-31",
            "products": [
                {
                    "name": "Vitamin C Serum",
                    "aliases": ["Glow Serum"],
                    "description": "Brightening serum with 15% vitamin C.",
                    "price": "29.90",
                    "currency": "EUR",
                    "url": "https://glowlab.example/serum",
                    "discount_code": "LENA15",
                    "discount_details": "15% off the first order",
                    "code_valid_until": "2030-12-31",
                    **product,
                }
            ],
        }
        response = await self.api("POST", f"/api/v1/accounts/{account_id}/cooperations", json=body)
        assert response.status_code == 201, response.text
        cooperation: dict[str, Any] = response.json()
        return cooperation


ADMIN_PASSWORD = "correct horse"
_admin_hash: dict[str, str] = {}


async def admin_password_hash() -> str:
    """The admin's Argon2 hash, made once per test run: every harness has the admin, and a
    hash costs 0.1-0.3 s of CPU here. Signing in still checks it with Argon2."""
    if "admin" not in _admin_hash:
        _admin_hash["admin"] = await hash_password(ADMIN_PASSWORD)
    return _admin_hash["admin"]


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Harness]:
    async with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        graph = FakeGraphAPI(router, facebook_url=FACEBOOK_URL, instagram_url=INSTAGRAM_URL)
        if settings.META_GRAPH_URL not in (FACEBOOK_URL, INSTAGRAM_URL):
            graph.answer_me_at(router, settings.META_GRAPH_URL, "facebook")
        if settings.INSTAGRAM_GRAPH_URL not in (FACEBOOK_URL, INSTAGRAM_URL):
            graph.answer_me_at(router, settings.INSTAGRAM_GRAPH_URL, "instagram")
        app = create_app(settings)
        async with LifespanManager(app):
            runtime: Runtime = app.state.runtime
            async with unit_of_work(runtime.sessionmaker) as session:
                session.add(
                    User(
                        email="admin@test.example",
                        role="admin",
                        password_hash=await admin_password_hash(),
                    )
                )
                await session.flush()
                token = await users.create_token(session, email="admin@test.example")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                yield Harness(app=app, client=client, graph=graph, router=router, token=token)


async def truncate_all(url: str) -> None:
    """Empties every table (PostgreSQL tests share one database per test process)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


# What a DM goes through after its webhook: drafting, then sending.
PATH_KINDS = ("draft_reply", "send_reply")


async def pending_path_items(harness: Harness) -> int:
    """Inbox events and path jobs still queued or running (periodic and profile jobs keep
    their own schedule): 0 once a whole-path test has drained."""
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        jobs = await session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.status.in_(["queued", "running"]), Job.kind.in_(PATH_KINDS))
        )
        events = await session.scalar(
            select(func.count())
            .select_from(InboxEvent)
            .where(InboxEvent.status.in_(["queued", "running"]))
        )
    return int(jobs or 0) + int(events or 0)
