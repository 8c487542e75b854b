"""Sandbox mode: no Meta credentials, webhooks from the local simulator, replies to the
sandbox outbox. Run in-process, and as the real processes a new user starts."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import OutboundMessage
from tests.harness import make_settings, running_app, sign, text_event

ROOT = Path(__file__).resolve().parents[2]


async def test_sandbox_replies_go_to_the_outbox_not_to_meta(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url, str(tmp_path), META_APP_SECRET=None, META_APP_ID=None, META_VERIFY_TOKEN=None
    )
    assert settings.sandbox
    async with running_app(settings) as harness:
        account = await harness.create_account(external_id="sandbox-ig")
        await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
        await harness.add_serum(account["id"])
        body = json.dumps(text_event("sandbox-ig", "fan-1", "vitamin c serum code?")).encode()
        wrong = await harness.client.post(
            "/webhooks/meta", content=body, headers={"X-Hub-Signature-256": sign(body, "guess")}
        )
        assert wrong.status_code == 401
        ok = await harness.client.post(
            "/webhooks/meta",
            content=body,
            headers={"X-Hub-Signature-256": sign(body, settings.webhook_secrets[0])},
        )
        assert ok.status_code == 200
        await harness.run_worker()

        assert harness.graph.calls == []
        outbox = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/outbox")).json()
        assert [(o["channel"], o["status"]) for o in outbox] == [("sandbox", "sent")]
        assert "LENA15" in outbox[0]["parts"][0]
        async with unit_of_work(harness.runtime.sessionmaker) as session:
            assert len((await session.scalars(select(OutboundMessage))).all()) == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_serve_demo_and_simulate_as_a_new_user_would(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("META_", "OPENAI_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "REPLY_DEBOUNCE_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.pop("DATABASE_URL", None)  # the embedded default: a SQLite file in the working dir
    _run(["migrate"], env, tmp_path)
    demo = _run(["demo"], env, tmp_path).stdout
    token = next(line.split()[-1] for line in demo.splitlines() if line.startswith("API token:"))
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base)
        _run(
            ["simulate", "--account", "1", "What was the code for the vitamin C serum?"],
            env,
            tmp_path,
        )
        outbox = _wait_for_outbox(base, token)
        assert outbox[0]["channel"] == "sandbox"
        assert "DEMO15" in outbox[0]["parts"][0]
        _sign_in_with_the_printed_credentials(base, demo)
        # A second start prints a working password again (only its hash is stored).
        _sign_in_with_the_printed_credentials(base, _run(["demo"], env, tmp_path).stdout)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert (tmp_path / "inboxpilot.db").exists()


def _sign_in_with_the_printed_credentials(base: str, demo_output: str) -> None:
    line = next(line for line in demo_output.splitlines() if line.startswith("Sign in:"))
    email, password = line.removeprefix("Sign in:").split()[0:3:2]
    with httpx.Client(base_url=base) as browser:
        form = browser.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        signed_in = browser.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": csrf.group(1), "next": "/"},
        )
        assert signed_in.status_code == 303
        home = browser.get("/")
        assert home.status_code == 200
        assert "Demo Creator" in home.text


def _wait_ready(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("service did not become ready")


def _wait_for_outbox(base: str, token: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        outbox: list[dict[str, Any]] = httpx.get(
            f"{base}/api/v1/accounts/1/outbox", headers={"Authorization": f"Bearer {token}"}
        ).json()
        if outbox and outbox[0]["status"] == "sent":
            return outbox
        time.sleep(0.2)
    raise AssertionError("no reply reached the sandbox outbox")
