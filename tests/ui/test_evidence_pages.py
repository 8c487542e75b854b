"""The account dashboard and the list of replies sent automatically, against a known data
set: the figures, the chart, marks through the page, and who may pause an intent."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import Account, Draft, ReplyMark, User
from tests.builders import create_contact, create_conversation, create_draft, create_message
from tests.harness import Harness
from tests.users.web import browser, create_user, csrf_of, sign_in

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
OWNER, MODERATOR, STRANGER = "lena@test.example", "mod@test.example", "x@test.example"
PASSWORD = "long enough password"


async def _seed(harness: Harness) -> dict[str, Any]:
    """Today: 3 DMs (and a reply, a reaction), 2 replies sent alone (one marked wrong, one
    right), 1 approved by a person, 2 waiting (the oldest for 90 minutes). Yesterday: 2 DMs,
    1 sent alone. 40 days ago: 1 DM (outside the chart)."""
    yesterday, old = NOW - timedelta(days=1), NOW - timedelta(days=40)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await session.get(Account, (await harness.create_account())["id"])
        assert account is not None
        admin = await session.scalar(select(User).where(User.role == "admin"))
        assert admin is not None
        contact = await create_contact(session, account, name="Mia", username="mia.glow")
        conversation = await create_conversation(session, account, contact)
        ids = []
        for at, text in [
            (NOW, "code?"),
            (NOW, "link?"),
            (NOW, "price?"),
            (yesterday, "hi"),
            (yesterday, "thanks"),
            (old, "old"),
        ]:
            message = await create_message(session, conversation, text=text, created_at=at)
            ids.append(message)
        await create_message(session, conversation, direction="out", author="bot", created_at=NOW)
        await create_message(session, conversation, kind="reaction", text=None, created_at=NOW)
        auto = {"decision": "auto", "status": "sent", "intent": "discount_code"}
        wrong = await create_draft(
            session,
            conversation,
            ids[0],
            **auto,
            created_at=NOW,
            text="LENA15 gives you 15% off!",
            decided_at=NOW,
        )
        right = await create_draft(session, conversation, ids[1], **auto, created_at=NOW)
        await create_draft(session, conversation, ids[3], **auto, created_at=yesterday)
        await create_draft(
            session,
            conversation,
            ids[2],
            status="sent",
            decided_by_user_id=admin.id,
            created_at=NOW,
        )
        await create_draft(session, conversation, ids[2], created_at=NOW - timedelta(minutes=90))
        await create_draft(session, conversation, ids[2], created_at=NOW - timedelta(minutes=10))
        session.add_all(
            [
                ReplyMark(draft_id=wrong.id, account_id=account.id, mark="wrong", marked_at=NOW),
                ReplyMark(draft_id=right.id, account_id=account.id, mark="right", marked_at=NOW),
            ]
        )
        account_id = account.id
    await create_user(harness, OWNER, password=PASSWORD, account_ids=[account_id])
    await create_user(harness, MODERATOR, password=PASSWORD, account_ids=[account_id])
    await create_user(harness, STRANGER, password=PASSWORD)
    await harness.set_policy(account_id, mode="autopilot")
    members = (await harness.api("GET", f"/api/v1/accounts/{account_id}/members")).json()
    owner_id = next(m["user_id"] for m in members if m["email"] == OWNER)
    await harness.api("PUT", f"/api/v1/accounts/{account_id}/owner", json={"user_id": owner_id})
    return {"account_id": account_id, "wrong": wrong.id, "right": right.id}


@pytest.fixture
async def seeded(harness: Harness) -> Any:
    with time_machine.travel(NOW, tick=True):
        yield await _seed(harness)


def _figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">(?:<a [^>]*>)?([^<]*)<', html)
    assert found is not None, name
    return found.group(1).strip()


async def test_dashboard_figures_and_chart(harness: Harness, seeded: dict[str, Any]) -> None:
    account_id = seeded["account_id"]
    with time_machine.travel(NOW, tick=True):
        figures = (await harness.api("GET", f"/api/v1/accounts/{account_id}/dashboard")).json()
        async with browser(harness) as client:
            await sign_in(client, MODERATOR, PASSWORD)
            page = await client.get(f"/accounts/{account_id}")
            home = await client.get("/")
    assert (figures["dms_today"], figures["sent_today"], figures["auto_sent_today"]) == (3, 3, 2)
    assert figures["auto_share_today"] == pytest.approx(0.667)
    assert (figures["waiting_now"], figures["marked_wrong"], figures["marked_right"]) == (2, 1, 1)
    assert len(figures["days"]) == 30
    assert figures["days"][-1] == {"day": "2026-12-07", "dms": 3, "auto_sent": 2, "approved": 1}
    assert figures["days"][-2] == {"day": "2026-12-06", "dms": 2, "auto_sent": 1, "approved": 0}
    assert sum(d["dms"] for d in figures["days"]) == 5

    assert page.status_code == 200
    assert [
        _figure(page.text, n)
        for n in ("dms_today", "auto_share_today", "waiting_now", "oldest_wait", "marked_wrong")
    ] == ["3", "67%", "2", "1 h 30 min", "1"]
    assert page.text.count('<rect class="dms"') == 2
    assert page.text.count('<rect class="auto"') == 2
    assert 'style="' not in page.text
    assert f'href="/accounts/{account_id}"' in home.text
    line = re.sub(r"\s+", " ", home.text.split('class="today"', 1)[1].split("</p>", 1)[0])
    assert "3 DMs · 67% of 3 replies sent automatically" in line
    assert "2 waiting</a> (oldest 90 min)" in line
    assert "1 marked wrong" in line


async def test_pages_are_for_members_only(harness: Harness, seeded: dict[str, Any]) -> None:
    account_id = seeded["account_id"]
    async with browser(harness) as client:
        csrf = await sign_in(client, STRANGER, PASSWORD)
        for path in (f"/accounts/{account_id}", f"/accounts/{account_id}/sent"):
            assert (await client.get(path)).status_code == 404, path
        marked = await client.post(
            f"/accounts/{account_id}/sent/{seeded['right']}/mark",
            data={"csrf_token": csrf, "mark": "wrong"},
        )
        assert marked.status_code == 404
        paused = await client.post(
            f"/accounts/{account_id}/intents/discount_code/pause", data={"csrf_token": csrf}
        )
        assert paused.status_code == 404


async def _policy(harness: Harness, account_id: int) -> dict[str, Any]:
    policy: dict[str, Any] = (
        await harness.api("GET", f"/api/v1/accounts/{account_id}/policy")
    ).json()
    return policy


async def test_a_moderator_marks_only_the_owner_pauses(
    harness: Harness, seeded: dict[str, Any]
) -> None:
    account_id, right = seeded["account_id"], seeded["right"]
    async with browser(harness) as client:
        await sign_in(client, MODERATOR, PASSWORD)
        listed = await client.get(f"/accounts/{account_id}/sent")
        assert listed.status_code == 200
        assert "LENA15 gives you 15% off!" in listed.text
        assert "Mia (@mia.glow)" in listed.text
        assert "Only the account's owner or an admin can stop sending" in listed.text
        assert "Stop sending discount-code answers automatically</button>" not in listed.text
        marked = await client.post(
            f"/accounts/{account_id}/sent/{right}/mark?back=/accounts/{account_id}/sent%3Fmark%3Dright",
            data={"csrf_token": csrf_of(listed.text), "mark": "wrong", "note": "wrong link"},
        )
        assert marked.status_code == 303
        assert marked.headers["location"].startswith(f"/accounts/{account_id}/sent?mark=right&")
        wrong_only = await client.get(f"/accounts/{account_id}/sent?mark=wrong")
        assert wrong_only.text.count('class="card wrong"') == 2
        assert f"Marked wrong by {MODERATOR}, " in wrong_only.text
        assert ": “wrong link”</p>" in wrong_only.text
        refused = await client.post(
            f"/accounts/{account_id}/intents/discount_code/pause",
            data={"csrf_token": csrf_of(listed.text)},
        )
        assert refused.status_code == 403
    assert "discount_code" in (await _policy(harness, account_id))["auto_intents"]

    async with browser(harness) as client:
        await sign_in(client, OWNER, PASSWORD)
        listed = await client.get(f"/accounts/{account_id}/sent?mark=wrong")
        assert "Stop sending discount-code answers automatically</button>" in listed.text
        paused = await client.post(
            f"/accounts/{account_id}/intents/discount_code/pause",
            data={"csrf_token": csrf_of(listed.text)},
        )
        assert paused.status_code == 303
        after = await client.get(paused.headers["location"])
        assert "From now on, discount-code answers wait for review." in after.text
    assert "discount_code" not in (await _policy(harness, account_id))["auto_intents"]
    stats = (await harness.api("GET", f"/api/v1/accounts/{account_id}/approval-stats")).json()
    assert sum(r["marked_wrong"] for r in stats) == 2
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        assert (await session.get(Draft, right)) is not None


async def test_the_navigation_leads_to_the_sent_list(
    harness: Harness, seeded: dict[str, Any]
) -> None:
    account_id = seeded["account_id"]
    async with browser(harness) as client:
        await sign_in(client, MODERATOR, PASSWORD)
        assert 'href="/sent"' in (await client.get("/queue")).text
        one = await client.get("/sent")
        assert one.status_code == 303
        assert one.headers["location"] == f"/accounts/{account_id}/sent"
    other = await harness.create_account(external_id="other-ig", name="Other Account")
    async with browser(harness) as client:
        await sign_in(client)  # the admin sees both
        choice = await client.get("/sent")
    assert choice.status_code == 200
    assert f'href="/accounts/{account_id}/sent"' in choice.text
    assert f'href="/accounts/{other["id"]}/sent"' in choice.text
