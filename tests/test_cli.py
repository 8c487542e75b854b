"""The `inboxpilot` command, run as a real subprocess against a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def inboxpilot(
    *args: str, env: dict[str, str], input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=env["WORKDIR"],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("META_", "OPENAI_"))}
    env.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
            "PYTHONPATH": str(ROOT),
            "WORKDIR": str(tmp_path),
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def test_migrate_users_tokens_catalog_and_demo(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert inboxpilot("migrate", env=cli_env).returncode == 0
    created = inboxpilot(
        "users",
        "create",
        "--email",
        "Ada@Example.com",
        "--role",
        "admin",
        "--password",
        "long enough",
        env=cli_env,
    )
    assert created.returncode == 0, created.stderr
    again = inboxpilot(
        "users",
        "create",
        "--email",
        "ada@example.com",
        "--role",
        "admin",
        "--password",
        "long enough",
        env=cli_env,
    )
    assert again.returncode != 0
    assert again.stderr.strip().count("\n") == 0
    assert "exists" in again.stderr

    token = inboxpilot("tokens", "create", "--email", "ada@example.com", env=cli_env)
    assert token.returncode == 0
    assert token.stdout.strip().splitlines()[-1].startswith("ip_")

    demo = inboxpilot("demo", env=cli_env)
    assert demo.returncode == 0, demo.stderr
    assert "API token: ip_" in demo.stdout
    assert (tmp_path / ".inboxpilot-secret-key").exists()

    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps([{"brand": "Pulse", "products": [{"name": "Buds"}]}]))
    imported = inboxpilot("catalog", "import", str(catalog), "--account", "1", env=cli_env)
    assert imported.returncode == 0, imported.stderr
    assert "1 cooperation(s), 1 product(s)" in imported.stdout
    again = inboxpilot("catalog", "import", str(catalog), "--account", "1", env=cli_env)
    assert again.returncode == 0, again.stderr
    assert "new 0/0, changed 0/0, unchanged 1/1" in again.stdout  # matched, not duplicated

    broken = tmp_path / "broken.csv"
    broken.write_text("brand,name,price\nPulse,Buds,abc\n")
    failed = inboxpilot("catalog", "import", str(broken), "--account", "1", env=cli_env)
    assert failed.returncode != 0
    assert "line 2" in failed.stderr


def test_missing_secret_outside_sandbox_is_a_clear_error(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "META_APP_SECRET": "x"}
    result = inboxpilot("migrate", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
