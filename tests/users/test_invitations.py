"""Invitation links: created by admins (or the CLI), shown once, single use, expiring."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.pool import QueuePool

from app.audit.service import record
from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import AccountMember, AuditEntry, Invitation, User
from tests.harness import Harness
from tests.users.web import browser, create_user, csrf_of, sign_in

NEW_PASSWORD = "my own secret"


async def _invite(
    harness: Harness, email: str = "new@test.example", role: str = "moderator", **extra: object
) -> httpx.Response:
    csrf = await sign_in(harness.client)
    return await harness.client.post(
        "/admin/users/invitations",
        data={"email": email, "role": role, "csrf_token": csrf, **extra},
    )


def _link(html: str) -> str:
    found = re.search(r'id="invite-link" type="text" readonly value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def _token(link: str) -> str:
    """The link's code: in the fragment, which browsers never send to the server."""
    base, _, token = link.partition("#")
    assert base.endswith("/invite"), link
    assert token.startswith("inv_"), link
    return token


async def _open(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """What /invite's script does with the fragment: posts it (nothing is used up)."""
    return await client.post("/invite/open", data={"token": token})


async def _accept(
    client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD, repeat: str | None = None
) -> httpx.Response:
    form = await _open(client, token)
    assert form.status_code == 200, form.text
    return await client.post(
        "/invite/accept",
        data={
            "token": token,
            "password": password,
            "repeat_password": password if repeat is None else repeat,
            "csrf_token": csrf_of(form.text),
        },
    )


async def _count(harness: Harness, model: type[object]) -> int:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_invitation_happy_path_and_single_use(harness: Harness) -> None:
    account = (await harness.create_account())["id"]
    created = await _invite(harness, email="New@Test.example", account=str(account))
    assert created.status_code == 200, created.text
    link = _link(created.text)
    assert link.startswith("http://127.0.0.1:8000/invite#")
    token = _token(link)
    # Shown once: the listing shows the pending invitation, never the link again.
    listing = await harness.client.get("/admin/users")
    assert "new@test.example" in listing.text
    assert token not in listing.text
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        stored = (await session.scalars(select(Invitation))).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.account_ids == [account]

    async with browser(harness) as invitee:
        opener = await invitee.get("/invite")
        assert opener.status_code == 200
        assert 'action="/invite/open"' in opener.text
        # Opening it (a link scanner, or the person twice) uses nothing up.
        for _ in range(3):
            page = await _open(invitee, token)
            assert page.status_code == 200
        assert "new@test.example" in page.text
        assert 'for="password"' in page.text
        assert 'for="repeat_password"' in page.text
        accepted = await _accept(invitee, token)
        assert accepted.status_code == 303
        assert "inboxpilot_session" in accepted.cookies
        assert (await invitee.get("/account/password")).status_code == 200

        used = await _open(invitee, token)
        assert used.status_code == 410
        assert "used already" in used.text
        again = await invitee.post(
            "/invite/accept",
            data={"token": token, "password": "x" * 12, "repeat_password": "x" * 12},
        )
        assert again.status_code == 410
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        user = (await session.scalars(select(User).where(User.email == "new@test.example"))).one()
        members = (await session.scalars(select(AccountMember))).all()
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert user.role == "moderator"
    assert [(m.account_id, m.user_id, m.role) for m in members] == [(account, user.id, "moderator")]
    assert {"invitation.created", "invitation.accepted"} <= set(actions)
    assert await _count(harness, User) == 2


async def test_accepting_hashes_the_password_with_no_transaction_open(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the new password's hash is being made (~0.1 s, held here), the accepting
    request holds no database connection, so on SQLite no write lock: another write goes
    through at once. The invitation is then accepted as usual."""
    created = await _invite(harness)
    token = _token(_link(created.text))
    started, release = threading.Event(), threading.Event()
    hash_ = PasswordHasher.hash

    def held_hash(self: PasswordHasher, password: str | bytes, *, salt: bytes | None = None) -> str:
        started.set()
        release.wait(timeout=20)
        return hash_(self, password, salt=salt)

    monkeypatch.setattr(PasswordHasher, "hash", held_hash)
    async with browser(harness) as invitee:
        accepting = asyncio.create_task(_accept(invitee, token))
        try:
            assert await asyncio.to_thread(started.wait, 10)
            pool = harness.runtime.engine.sync_engine.pool
            assert isinstance(pool, QueuePool)  # the kind that counts its connections
            assert pool.checkedout() == 0

            async def other_write() -> None:
                async with unit_of_work(harness.runtime.sessionmaker) as session:
                    await record(session, action="test.write_while_hashing")

            await asyncio.wait_for(other_write(), timeout=5)
        finally:
            release.set()
        accepted = await accepting
    assert accepted.status_code == 303, accepted.text
    assert await _count(harness, User) == 2


async def test_unknown_link_is_a_404_page(harness: Harness) -> None:
    response = await _open(harness.client, "inv_not-a-real-token")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "not valid" in response.text
    post = await harness.client.post(
        "/invite/accept",
        data={"token": "inv_not-a-real-token", "password": "x" * 12, "repeat_password": "x" * 12},
    )
    assert post.status_code == 404


async def test_expired_link_is_a_410_page(harness: Harness) -> None:
    token = _token(_link((await _invite(harness)).text))
    with time_machine.travel(utc_now() + timedelta(days=7, seconds=1)):
        response = await _open(harness.client, token)
    assert response.status_code == 410
    assert "expired" in response.text
    assert await _count(harness, User) == 1


async def test_revoked_link_is_a_410_page_and_revoking_needs_csrf(harness: Harness) -> None:
    token = _token(_link((await _invite(harness)).text))
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        invitation_id = (await session.scalars(select(Invitation.id))).one()
    forged = await harness.client.post(f"/admin/invitations/{invitation_id}/revoke")
    assert forged.status_code == 403
    assert (await _open(harness.client, token)).status_code == 200

    listing = await harness.client.get("/admin/users")
    revoked = await harness.client.post(
        f"/admin/invitations/{invitation_id}/revoke", data={"csrf_token": csrf_of(listing.text)}
    )
    assert revoked.status_code == 303
    response = await _open(harness.client, token)
    assert response.status_code == 410
    assert "withdrawn" in response.text
    assert "new@test.example" not in (await harness.client.get("/admin/users")).text


async def test_a_new_invitation_replaces_the_pending_one(harness: Harness) -> None:
    first = _token(_link((await _invite(harness)).text))
    second = _token(_link((await _invite(harness)).text))
    assert (await _open(harness.client, first)).status_code == 410
    assert (await _open(harness.client, second)).status_code == 200


async def test_refused_passwords_leave_the_link_usable(harness: Harness) -> None:
    token = _token(_link((await _invite(harness)).text))
    async with browser(harness) as invitee:
        differ = await _accept(invitee, token, repeat="something else")
        assert differ.status_code == 400
        assert "not the same" in differ.text
        short = await _accept(invitee, token, password="short")
        assert short.status_code == 400
        assert "at least 10 characters" in short.text
        no_csrf = await invitee.post(
            "/invite/accept",
            data={"token": token, "password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD},
        )
        assert no_csrf.status_code == 403
        assert await _count(harness, User) == 1
        assert (await _accept(invitee, token)).status_code == 303


async def test_invitation_form_refusals(harness: Harness) -> None:
    await create_user(harness, "mia@test.example")
    exists = await _invite(harness, email="MIA@test.example")
    assert exists.status_code == 409
    assert "exists already" in exists.text
    bad_role = await _invite(harness, role="owner")
    assert bad_role.status_code == 400
    unknown_account = await _invite(harness, account="4242")
    assert unknown_account.status_code == 404
    no_csrf = await harness.client.post(
        "/admin/users/invitations", data={"email": "x@test.example", "role": "moderator"}
    )
    assert no_csrf.status_code == 403
    assert await _count(harness, Invitation) == 0


async def test_escaping_of_invited_emails(harness: Harness) -> None:
    created = await _invite(harness, email='"<script>alert(1)</script>"@test.example')
    assert created.status_code == 200, created.text
    assert "<script>alert(1)</script>" not in created.text
    assert "&lt;script&gt;" in created.text


def test_cli_prints_an_invitation_link(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("META_", "OPENAI_"))}
    env.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "LOG_LEVEL": "WARNING",
            "PUBLIC_URL": "https://inbox.example",
        }
    )

    def inboxpilot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert inboxpilot("migrate").returncode == 0
    invited = inboxpilot("users", "invite", "--email", "ada@example.com", "--role", "moderator")
    assert invited.returncode == 0, invited.stderr
    assert re.fullmatch(
        r"https://inbox\.example/invite#inv_[\w-]+", invited.stdout.splitlines()[-1]
    )
    bad = inboxpilot("users", "invite", "--email", "ada@example.com", "--role", "boss")
    assert bad.returncode != 0
    assert "role must be one of" in bad.stderr
