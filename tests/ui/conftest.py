"""Fixtures of the desk's tests: the real app served on loopback (uvicorn in a thread, its
worker running, a real SQLite file or PostgreSQL database, Meta's Send API faked on
loopback) and Debian's chromium driven by Playwright.

`live_server` / `pg_live_server` yield a `LiveServer`: its `url`, the fake Send API, a
`session()` on the same database for seeding, and `sign_in(page, email)`. `browser` is a
chromium shared by one test module (tests in it run on the module's event loop).

Without /usr/bin/chromium the browser tests skip, or fail when INBOXPILOT_REQUIRE_BROWSER=1
(CI sets it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Required, TypedDict

import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import Browser, Page, ViewportSize
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.core.crypto import TokenCipher
from app.core.db import create_engine, create_sessionmaker, unit_of_work
from app.main import create_app
from app.runtime import Runtime
from tests.fakes.send_api_server import SendApiServer
from tests.harness import make_settings, truncate_all
from tests.ui.desk import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("INBOXPILOT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE_BROWSER = os.environ.get("INBOXPILOT_REQUIRE_BROWSER") == "1"
PHONE: ViewportSize = {"width": 360, "height": 740}


class Device(TypedDict, total=False):
    """Options of `Browser.new_context` that make a laptop or a phone."""

    viewport: Required[ViewportSize]
    is_mobile: bool
    has_touch: bool


def screenshots_dir() -> Path:
    folder = Path(os.environ.get("INBOXPILOT_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    settings: Settings
    send_api: SendApiServer
    sessionmaker: async_sessionmaker[AsyncSession]
    cipher: TokenCipher

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A unit of work on the server's database (commits on exit)."""
        return unit_of_work(self.sessionmaker)

    async def sign_in(self, page: Page, email: str, password: str = PASSWORD) -> None:
        await page.goto(f"{self.url}/login?next=/queue")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{self.url}/queue")

    async def wait_for_sends(self, count: int, seconds: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while self.send_api.count() < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return list(self.send_api.sends)

    def sends_to(self, recipient: str) -> list[dict[str, Any]]:
        return [s for s in self.send_api.sends if s["recipient"]["id"] == recipient]


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own
        pass


@asynccontextmanager
async def serve(database_url: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[LiveServer]:
    """The app with its worker, served by uvicorn on a free loopback port in a thread;
    `overrides` are settings."""
    with SendApiServer() as send_api:
        port = _free_port()
        settings = make_settings(
            database_url,
            str(tmp_path),
            META_GRAPH_URL=send_api.url,
            INSTAGRAM_GRAPH_URL=send_api.url,
            PUBLIC_URL=f"http://127.0.0.1:{port}",
            WORKER_POLL_SECONDS=0.1,
            **overrides,
        )
        app = create_app(settings, run_worker=True)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        server = _Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the app did not start on loopback")
            await asyncio.sleep(0.02)
        runtime: Runtime = app.state.runtime
        engine: AsyncEngine = create_engine(database_url)
        try:
            yield LiveServer(
                url=f"http://127.0.0.1:{port}",
                settings=settings,
                send_api=send_api,
                sessionmaker=create_sessionmaker(engine),
                cipher=runtime.cipher,
            )
        finally:
            await engine.dispose()
            server.should_exit = True
            await asyncio.to_thread(thread.join, 30)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live_server(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    """The app on a SQLite file, one per test module; tests seed their own accounts."""
    folder = tmp_path_factory.mktemp("live-sqlite")
    path = folder / "live.db"
    shutil.copy(sqlite_template, path)
    async with serve(f"sqlite+aiosqlite:///{path}", folder) as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pg_live_server(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    folder = tmp_path_factory.mktemp("live-postgres")
    try:
        async with serve(postgres_url, folder) as server:
            yield server
    finally:
        await truncate_all(postgres_url)


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()
