"""No invitation token or deletion confirmation code in a log line or a span: the app served
by uvicorn on loopback with the real logging set-up (access log included) and tracing on,
while an invitation is opened and accepted and a deletion status page is read."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn

from app.config import Settings
from app.core.db import create_engine, create_sessionmaker, unit_of_work
from app.main import create_app
from app.users.invitations import create_invitation, invitation_link
from tests.harness import make_settings
from tests.ops.test_logs import Lines, json_logs
from tests.ops.test_tracing import Collector, collector
from tests.privacy.helpers import meta_payload, signed_request

__all__ = ["collector", "json_logs"]  # fixtures, imported to be used here


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


@asynccontextmanager
async def _serve(settings: Settings, port: int) -> AsyncIterator[str]:
    """As `inboxpilot serve` runs it: uvicorn's own logging config off, access log on."""
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, lifespan="on"
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the app did not start"
        assert time.monotonic() < deadline, "the app did not start in time"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 30)


async def _invite(database_url: str) -> str:
    engine = create_engine(database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            token, _ = await create_invitation(
                session, admin=None, email="ada@test.example", role="admin"
            )
            return token
    finally:
        await engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_no_token_in_log_lines_or_spans(
    json_logs: Lines, collector: Collector, database_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    public_url = f"http://127.0.0.1:{port}"
    settings = make_settings(
        database_url, str(tmp_path), OTEL_TRACING=True, PUBLIC_URL=public_url, LOG_LEVEL="INFO"
    )
    token = await _invite(database_url)
    link = invitation_link(public_url, token)
    assert link == f"{public_url}/invite#{token}"
    async with _serve(settings, port) as url, httpx.AsyncClient(base_url=url) as client:
        # What a browser sends for the link: the path, never the fragment.
        opener = await client.get(httpx.URL(link).copy_with(fragment=None))
        assert opener.status_code == 200
        # A link of the old shape still works, by a redirect to the fragment.
        old = await client.get(f"/invite/{token}")
        assert old.status_code == 303
        for _ in range(2):  # opening uses nothing up
            form = await client.post("/invite/open", data={"token": token})
            assert form.status_code == 200
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        accepted = await client.post(
            "/invite/accept",
            data={
                "token": token,
                "password": "a long new password",
                "repeat_password": "a long new password",
                "csrf_token": csrf.group(1),
            },
        )
        assert accepted.status_code == 303, accepted.text
        assert (await client.post("/invite/open", data={"token": token})).status_code == 410

        deletion = await client.post(
            "/meta/data-deletion", data={"signed_request": signed_request(meta_payload("42"))}
        )
        code = deletion.json()["confirmation_code"]
        status_page = await client.get(deletion.json()["url"])
        assert status_page.status_code == 200
    # The server's shutdown flushed its spans to the collector.

    logged = "\n".join(str(line) for line in json_logs())
    traced = repr(collector.spans)
    # The test sees what it should: access log lines and spans of these very requests.
    assert "/invite/open" in logged
    assert "/meta/data-deletion/{code}" in logged
    assert "/invite/{token}" in logged
    assert any("/meta/data-deletion/{code}" in str(s.values()) for s in collector.spans)
    for secret in (token, token.removeprefix("inv_"), code):
        assert secret not in logged
        assert secret not in traced
