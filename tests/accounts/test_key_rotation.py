"""`inboxpilot tokens rotate-key`: stored tokens move to the new SECRET_KEY, none is lost."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core.crypto import TokenCipher
from app.core.db import unit_of_work
from app.models import Account, OAuthState
from tests.accounts.conftest import facebook_login, instagram_login, sign_in
from tests.fakes.meta_oauth import FakeMetaOAuth
from tests.harness import Harness

ROOT = Path(__file__).resolve().parents[2]
OLD_KEY = "test-secret-key-0123456789"  # the harness's SECRET_KEY
NEW_KEY = "a-brand-new-secret-key-9876543210"


async def _cli(database_url: str, workdir: Path, **env: str) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("META_", "OPENAI_", "SECRET"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        "tokens",
        "rotate-key",
        cwd=workdir,
        env={**base, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def _stored(harness: Harness) -> tuple[list[str], list[str]]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        tokens = (await session.scalars(select(Account.access_token_encrypted))).all()
        payloads = (await session.scalars(select(OAuthState.payload_encrypted))).all()
    return [t for t in tokens if t], [p for p in payloads if p]


async def test_rotate_key_reencrypts_tokens_and_pending_logins(
    harness: Harness, meta: FakeMetaOAuth, database_url: str, tmp_path: Path
) -> None:
    await sign_in(harness)
    await instagram_login(harness, meta)
    await facebook_login(harness, meta)  # left at the picker: its Pages wait, encrypted
    [token], [payload] = await _stored(harness)
    plain_token = TokenCipher(OLD_KEY).decrypt(token)
    plain_payload = TokenCipher(OLD_KEY).decrypt(payload)

    code, out, err = await _cli(
        database_url, tmp_path, SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=f"unused-key, {OLD_KEY}"
    )
    assert code == 0, err
    assert "re-encrypted 1 account token(s) and 1 pending login(s)" in out

    [rotated], [rotated_payload] = await _stored(harness)
    assert TokenCipher(NEW_KEY).decrypt(rotated) == plain_token
    assert TokenCipher(NEW_KEY).decrypt(rotated_payload) == plain_payload
    with pytest.raises(ValueError, match="cannot be decrypted"):
        TokenCipher(OLD_KEY).decrypt(rotated)
    assert plain_token not in out + err


async def test_rotate_key_without_the_old_key_loses_nothing_and_says_so(
    harness: Harness, meta: FakeMetaOAuth, database_url: str, tmp_path: Path
) -> None:
    await sign_in(harness)
    await instagram_login(harness, meta)
    [before], _ = await _stored(harness)

    code, _out, err = await _cli(database_url, tmp_path, SECRET_KEY=NEW_KEY)
    assert code != 0
    assert err.strip().count("\n") == 0
    assert "SECRET_KEY_FALLBACKS" in err
    [after], _ = await _stored(harness)
    assert after == before  # untouched, still opens with the old key
