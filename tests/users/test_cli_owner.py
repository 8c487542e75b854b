"""`inboxpilot users create ... --account ID --owner`, run as a real subprocess against the
test database (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.db import unit_of_work
from app.models import AccountMember, AuditEntry, User
from tests.builders import create_account

ROOT = Path(__file__).resolve().parents[2]


def _create(
    database_url: str, workdir: Path, email: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("META_", "OPENAI_"))}
    env |= {"DATABASE_URL": database_url, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    command = ["users", "create", "--email", email, "--role", "moderator"]
    return subprocess.run(
        [sys.executable, "-m", "app", *command, "--password", "long enough", *extra],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _roles(sessionmaker: async_sessionmaker[AsyncSession], account_id: int) -> dict[str, str]:
    async with unit_of_work(sessionmaker) as session:
        rows = await session.execute(
            select(User.email, AccountMember.role)
            .join(AccountMember, AccountMember.user_id == User.id)
            .where(AccountMember.account_id == account_id)
        )
        return {str(row[0]): str(row[1]) for row in rows.all()}


async def test_owner_flag_makes_the_new_user_the_only_owner(
    sessionmaker: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    async with unit_of_work(sessionmaker) as session:
        account_id = (await create_account(session)).id
    first = _create(
        database_url, tmp_path, "lena@test.example", "--account", str(account_id), "--owner"
    )
    assert first.returncode == 0, first.stderr
    assert f"owner of account {account_id}" in first.stdout

    second = _create(
        database_url, tmp_path, "new@test.example", "--account", str(account_id), "--owner"
    )
    plain = _create(database_url, tmp_path, "mod@test.example", "--account", str(account_id))

    assert (second.returncode, plain.returncode) == (0, 0), second.stderr + plain.stderr
    assert await _roles(sessionmaker, account_id) == {
        "new@test.example": "owner",
        "lena@test.example": "moderator",
        "mod@test.example": "moderator",
    }
    async with unit_of_work(sessionmaker) as session:
        audited = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "user.membership_changed")
            )
        ).all()
    assert len(audited) == 3  # two new owners, one demoted owner


async def test_owner_flag_needs_an_account(database_url: str, tmp_path: Path) -> None:
    result = _create(database_url, tmp_path, "lena@test.example", "--owner")

    assert result.returncode != 0
    assert "--account" in result.stderr
    assert result.stderr.strip().count("\n") == 0
