"""E-mail digests delivered to a real SMTP server on loopback (aiosmtpd): the right items
for the right person, once; nothing when nothing is new; retried while SMTP is down, with
no password in a log line."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import Job
from app.worker.kinds import JobKind
from tests.harness import Harness, make_settings, running_app
from tests.notifications.seed import MOD, OTHER, add_draft, run_digest_job, seed
from tests.notifications.smtp import (
    PASSWORD,
    USER,
    SmtpServer,
    free_port,
    html_part,
    smtp_url,
    subject,
    text_part,
)
from tests.ops.test_logs import Lines, json_logs

__all__ = ["json_logs"]  # a fixture, imported to be used here

PUBLIC_URL = "https://desk.inboxpilot.test"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
async def app(database_url: str, tmp_path: Path, port: int) -> AsyncIterator[Harness]:
    settings = make_settings(
        database_url,
        str(tmp_path),
        SMTP_URL=smtp_url(port),
        MAIL_FROM="inboxpilot <alerts@inboxpilot.test>",
        PUBLIC_URL=PUBLIC_URL,
    )
    async with running_app(settings) as harness:
        yield harness


async def test_one_digest_per_person_with_their_items_only_once(app: Harness, port: int) -> None:
    world = await seed(app.runtime)
    with SmtpServer(port) as inbox:
        await run_digest_job(app.runtime)
        assert inbox.logins, "the digest was sent with the SMTP_URL's credentials"
        mine = inbox.to(MOD)
        assert len(mine) == 1
        digest = mine[0]
        assert digest["From"] == "inboxpilot <alerts@inboxpilot.test>"
        assert subject(digest) == (
            "inboxpilot: 1 sensitive message, 1 draft waiting, 1 account to reconnect"
        )
        text, html = text_part(digest), html_part(digest)
        d = world.drafts
        # The waiting draft, the sensitive one, the account to reconnect; links under PUBLIC_URL.
        assert f"{PUBLIC_URL}/queue#draft-{d['waiting']}" in text
        assert f"{PUBLIC_URL}/queue#draft-{d['sensitive']}" in text
        assert f'href="{PUBLIC_URL}/queue#draft-{d["sensitive"]}"' in html
        assert "@fan_sad" in text
        assert "My order never arrived" in text
        assert "Lena Shop cannot send until it is reconnected" in text
        assert f"{PUBLIC_URL}/oauth/instagram/start" in text
        # The follower's words: the first ~80 characters, not the whole message.
        assert "Hi Lena!! I have been following you for ages" in text
        assert "@fan_old (waiting 45 min)" in text
        assert "my cart is ready" not in text
        assert "my cart is ready" not in html
        # Not yet waiting long enough, already decided, or in an account they cannot see.
        assert f"draft-{d['fresh']}" not in text
        assert f"draft-{d['decided']}" not in text
        assert f"draft-{d['hidden']}" not in text
        assert "fan_b" not in html
        # The other person: only their own account's draft (2 hours > their 60 minutes).
        theirs = inbox.to(OTHER)
        assert len(theirs) == 1
        assert f"draft-{d['hidden']}" in text_part(theirs[0])
        assert "fan_old" not in text_part(theirs[0])

        await run_digest_job(app.runtime)
        assert len(inbox.messages) == 2, "nothing new: nothing sent"

        # A new sensitive message: in the next digest once the gap has passed, alone.
        late = await add_draft(
            app.runtime,
            world.lena,
            "fan_angry",
            "I am going to report you",
            reasons=["sensitive message: complaint"],
        )
        await run_digest_job(app.runtime)
        assert len(inbox.to(MOD)) == 1, "at most one e-mail every ten minutes"
        with time_machine.travel(utc_now() + timedelta(minutes=11), tick=True):
            await run_digest_job(app.runtime)
        mine = inbox.to(MOD)
        assert len(mine) == 2
        assert subject(mine[1]) == "inboxpilot: 1 sensitive message"
        second = text_part(mine[1])
        assert f"draft-{late}" in second
        assert f"draft-{d['waiting']}" not in second
        assert "Lena Shop" not in second


async def test_reconnect_alert_comes_again_after_the_account_worked(
    app: Harness, port: int
) -> None:
    world = await seed(app.runtime)
    with SmtpServer(port) as inbox:
        await run_digest_job(app.runtime)
        assert "Lena Shop" in text_part(inbox.to(MOD)[0])
        async with unit_of_work(app.runtime.sessionmaker) as session:
            shop = await session.get(type(world.shop), world.shop.id)
            assert shop is not None
            shop.status = "active"
        await run_digest_job(app.runtime)  # forgets the old alert
        async with unit_of_work(app.runtime.sessionmaker) as session:
            shop = await session.get(type(world.shop), world.shop.id)
            assert shop is not None
            shop.status = "needs_reconnect"
        with time_machine.travel(utc_now() + timedelta(minutes=11), tick=True):
            await run_digest_job(app.runtime)
        mine = inbox.to(MOD)
        assert len(mine) == 2
        assert subject(mine[1]) == "inboxpilot: 1 account to reconnect"


async def test_smtp_down_is_retried_and_loses_nothing_and_logs_no_password(
    app: Harness, port: int, json_logs: Lines
) -> None:
    await seed(app.runtime)
    await run_digest_job(app.runtime)  # nothing listens on the port
    async with unit_of_work(app.runtime.sessionmaker) as session:
        job = await session.scalar(select(Job).where(Job.kind == JobKind.SEND_DIGESTS))
    assert job is not None
    assert job.status == "queued"
    assert job.attempts == 1, "handed back to the queue for a retry"
    assert job.last_error is not None
    assert "127.0.0.1" in job.last_error
    with SmtpServer(port) as inbox:
        from app.registry import build_worker

        await build_worker(app.runtime).run_once()  # the retry
        assert len(inbox.to(MOD)) == 1
        assert len(inbox.to(OTHER)) == 1
        assert "1 draft waiting" in subject(inbox.to(MOD)[0])
    async with unit_of_work(app.runtime.sessionmaker) as session:
        job = await session.get(Job, job.id)
    assert job is not None
    assert job.status == "done"
    lines = json_logs()
    assert any(line.get("event") == "notifications.email_failed" for line in lines)
    everything = json.dumps(lines) + (job.last_error or "")
    plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, plain, base64.b64encode(PASSWORD.encode()).decode()):
        assert secret not in everything
