"""Sandbox mode with PUBLIC_URL unset: the links the service makes follow the address
`inboxpilot serve` listens on; outside sandbox mode, or with PUBLIC_URL set, unchanged."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from app.config import Settings, listening_settings
from tests.harness import make_settings, running_app
from tests.users.web import sign_in

ROOT = Path(__file__).resolve().parents[2]
SANDBOX = {"META_APP_ID": None, "META_APP_SECRET": None, "META_VERIFY_TOKEN": None}


def _sandbox(tmp_path: Path, **overrides: object) -> Settings:
    return make_settings("sqlite+aiosqlite:///unused.db", str(tmp_path), **SANDBOX, **overrides)


def test_sandbox_links_follow_the_port_unless_public_url_is_set(tmp_path: Path) -> None:
    sandbox = _sandbox(tmp_path)
    assert sandbox.PUBLIC_URL == "http://127.0.0.1:8000"
    served = listening_settings(sandbox, host="127.0.0.1", port=8123)
    assert served.PUBLIC_URL == "http://127.0.0.1:8123"
    assert served.sandbox
    assert listening_settings(sandbox, host="0.0.0.0", port=9000).PUBLIC_URL == (
        "http://127.0.0.1:9000"
    )
    assert listening_settings(sandbox, host="::", port=9000).PUBLIC_URL == "http://[::1]:9000"
    assert listening_settings(sandbox, host="localhost", port=80).PUBLIC_URL == (
        "http://localhost:80"
    )

    chosen = _sandbox(tmp_path, PUBLIC_URL="https://tunnel.example")
    assert listening_settings(chosen, host="127.0.0.1", port=8123).PUBLIC_URL == (
        "https://tunnel.example"
    )
    meta_mode = make_settings("sqlite+aiosqlite:///unused.db", str(tmp_path))
    assert not meta_mode.sandbox
    assert listening_settings(meta_mode, host="127.0.0.1", port=8123).PUBLIC_URL == (
        "http://127.0.0.1:8000"
    )


async def test_an_invitation_from_a_service_on_another_port_links_to_that_port(
    database_url: str, tmp_path: Path
) -> None:
    settings = listening_settings(
        make_settings(database_url, str(tmp_path), **SANDBOX), host="127.0.0.1", port=8123
    )
    async with running_app(settings) as harness:
        csrf = await sign_in(harness.client)
        response = await harness.client.post(
            "/admin/users/invitations",
            data={"email": "new@test.example", "role": "moderator", "csrf_token": csrf},
        )
        assert response.status_code == 200, response.text
        found = re.search(r'id="invite-link" type="text" readonly value="([^"]+)"', response.text)
        assert found is not None
        assert found.group(1).startswith("http://127.0.0.1:8123/invite#inv_")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_announces_the_address_it_listens_on(tmp_path: Path) -> None:
    """The real command: `inboxpilot serve --port P` in sandbox mode prints P's address."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("META_", "OPENAI_"))}
    env.pop("PUBLIC_URL", None)
    env |= {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/serve.db",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    }
    port = _free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--no-worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert f"open http://127.0.0.1:{port}/" in banner, banner
    assert "8000" not in banner


def test_the_demo_prints_links_for_the_port_serve_will_use(tmp_path: Path) -> None:
    """scripts/serve passes its --port to `inboxpilot demo` too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("META_", "OPENAI_"))}
    env.pop("PUBLIC_URL", None)
    env |= {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/demo.db",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    }

    def inboxpilot(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "app", *args]
        return subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    assert inboxpilot("migrate").returncode == 0
    demo = inboxpilot("demo", "--port", "8123", "--no-worker")
    assert demo.returncode == 0, demo.stderr
    assert "Open http://127.0.0.1:8123/ " in demo.stdout
    assert "simulate --url http://127.0.0.1:8123 --account" in demo.stdout
    assert "8000" not in demo.stdout
    plain = inboxpilot("demo")
    assert "Open http://127.0.0.1:8000/ " in plain.stdout
    assert "simulate --account" in plain.stdout
