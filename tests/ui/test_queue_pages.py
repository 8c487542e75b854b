"""The queue pages over HTTP (the app in-process, SQLite and PostgreSQL): access, CSRF,
approve / edit / reject through the page routes, escaping, and a race for one draft."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.models import AuditEntry, Draft, DraftStatus, OutboundMessage
from tests.accounts.conftest import sign_in
from tests.harness import Harness
from tests.ui.desk import PASSWORD, Seeded, seed_account, seed_draft, seed_moderator

HX = {"HX-Request": "true"}


async def _seed(harness: Harness, **draft: Any) -> Seeded:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await seed_account(session, harness.runtime.cipher)
        return await seed_draft(session, account, **draft)


async def _moderator(harness: Harness, email: str, *account_ids: int) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await seed_moderator(session, email, list(account_ids))


def csrf_token(html: str) -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


async def _queue_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/queue")
    assert page.status_code == 200, page.text
    return csrf_token(page.text)


async def _draft(harness: Harness, draft_id: int) -> Draft:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        draft = await session.get(Draft, draft_id)
        assert draft is not None
        return draft


async def _outbound_count(harness: Harness) -> int:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return int(await session.scalar(select(func.count()).select_from(OutboundMessage)) or 0)


async def test_the_queue_needs_sign_in(harness: Harness) -> None:
    for path in ("/queue", "/queue/items"):
        response = await harness.client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=/queue")


async def test_a_card_shows_what_a_moderator_decides_on(harness: Harness) -> None:
    seeded = await _seed(harness, reasons=["the message asks for a refund"])
    await sign_in(harness)
    page = (await harness.client.get("/queue")).text
    assert "1 waiting" in page
    assert f'id="draft-{seeded.draft_id}"' in page
    assert "Mia Follower" in page
    assert 'src="https://cdn.example/pic.jpg"' in page
    assert "Is there a code for the vitamin C serum?" in page
    assert seeded.text in page
    assert "Vitamin C Serum" in page
    assert "LENA15" in page
    assert "until 2026-12-31" in page
    assert "Night Cream" in page
    assert "expired " in page
    assert "confidence 0.42" in page
    assert "the message asks for a refund" in page
    assert re.search(r"2[12] h \d\d min left", page), "time left in the 24-hour window"
    assert f'href="/conversations/{seeded.conversation_id}"' in page
    assert 'src="/static/queue.js"' in page


async def test_approve_from_the_page_sends_the_draft_once(harness: Harness) -> None:
    seeded = await _seed(harness)
    await sign_in(harness)
    token = await _queue_token(harness.client)
    response = await harness.client.post(
        f"/queue/{seeded.draft_id}/approve",
        data={"text": seeded.text},
        headers={**HX, "X-CSRF-Token": token},
    )
    assert response.status_code == 200, response.text
    assert "Approved." in response.text
    assert 'data-state="done"' in response.text
    await harness.run_worker()
    assert [s.text for s in harness.graph.sent] == [seeded.text]
    assert harness.graph.sent[0].recipient_id == seeded.follower_id
    draft = await _draft(harness, seeded.draft_id)
    assert draft.status == "sent"
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "draft.approved" in actions


async def test_edit_then_approve_sends_the_edited_text(harness: Harness) -> None:
    seeded = await _seed(harness)
    await sign_in(harness)
    token = await _queue_token(harness.client)
    response = await harness.client.post(
        f"/queue/{seeded.draft_id}/approve",
        data={"text": "  Hi Mia, the code is LENA15 (15% off). Enjoy!  "},
        headers={**HX, "X-CSRF-Token": token},
    )
    assert "with your edit" in response.text
    await harness.run_worker()
    assert [s.text for s in harness.graph.sent] == ["Hi Mia, the code is LENA15 (15% off). Enjoy!"]
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "draft.approved_edited" in actions


async def test_reject_with_a_reason_sends_nothing(harness: Harness) -> None:
    seeded = await _seed(harness)
    await sign_in(harness)
    token = await _queue_token(harness.client)
    response = await harness.client.post(
        f"/queue/{seeded.draft_id}/reject",
        data={"reason": "wrong product"},
        headers={**HX, "X-CSRF-Token": token},
    )
    assert "Rejected." in response.text
    assert "wrong product" in response.text
    await harness.run_worker()
    assert harness.graph.sent == []
    draft = await _draft(harness, seeded.draft_id)
    assert (draft.status, draft.reject_reason) == ("rejected", "wrong product")
    assert f'id="draft-{seeded.draft_id}"' not in (await harness.client.get("/queue")).text


async def test_a_plain_form_post_works_without_javascript(harness: Harness) -> None:
    seeded = await _seed(harness)
    await sign_in(harness)
    token = await _queue_token(harness.client)
    response = await harness.client.post(
        f"/queue/{seeded.draft_id}/reject", data={"csrf_token": token, "reason": ""}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/queue"
    assert (await _draft(harness, seeded.draft_id)).status == "rejected"


async def test_csrf_missing_or_wrong_is_refused_and_nothing_happens(harness: Harness) -> None:
    seeded = await _seed(harness)
    await sign_in(harness)
    await _queue_token(harness.client)
    for headers in ({}, {"X-CSRF-Token": "guess"}):
        for action, data in (("approve", {"text": "hi"}), ("reject", {"reason": "x"})):
            response = await harness.client.post(
                f"/queue/{seeded.draft_id}/{action}", data=data, headers={**HX, **headers}
            )
            assert response.status_code == 403, response.text
    wrong_form = await harness.client.post(
        f"/queue/{seeded.draft_id}/approve", data={"csrf_token": "guess"}
    )
    assert wrong_form.status_code == 403
    assert (await _draft(harness, seeded.draft_id)).status == "pending"
    assert await _outbound_count(harness) == 0


async def test_a_moderator_never_sees_or_decides_another_accounts_draft(
    harness: Harness,
) -> None:
    mine = await _seed(harness, follower="Mine Follower")
    theirs = await _seed(harness, follower="Their Follower")
    await _moderator(harness, "mo@test.example", mine.account_id)
    await sign_in(harness, "mo@test.example", PASSWORD)
    page = (await harness.client.get("/queue")).text
    assert "Mine Follower" in page
    assert "Their Follower" not in page
    items = (await harness.client.get("/queue/items?after=0")).text
    assert "Mine Follower" in items
    assert "Their Follower" not in items
    shown = await harness.client.get(f"/queue/items?shown={theirs.draft_id}")
    assert "Their Follower" not in shown.text
    assert (await harness.client.get(f"/queue?account_id={theirs.account_id}")).status_code == 404
    assert (
        await harness.client.get(f"/queue/items?account_id={theirs.account_id}")
    ).status_code == 404
    token = csrf_token(page)
    for action in ("approve", "reject"):
        response = await harness.client.post(
            f"/queue/{theirs.draft_id}/{action}", headers={**HX, "X-CSRF-Token": token}
        )
        assert response.status_code == 404
    assert (await _draft(harness, theirs.draft_id)).status == "pending"
    assert await _outbound_count(harness) == 0


async def test_follower_script_is_escaped_on_the_card(harness: Harness) -> None:
    await _seed(
        harness,
        follower="<img src=x onerror=alert(1)>",
        follower_text="<script>alert('owned')</script>",
        reasons=["<b>reason</b>"],
    )
    await sign_in(harness)
    page = (await harness.client.get("/queue")).text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert "<b>reason</b>" not in page
    items = (await harness.client.get("/queue/items")).text
    assert "<script>alert" not in items
    assert "&lt;script&gt;" in items


async def test_new_drafts_arrive_through_the_poll_and_handled_ones_are_reported(
    harness: Harness,
) -> None:
    first = await _seed(harness, follower="First Fan")
    await sign_in(harness)
    page = (await harness.client.get("/queue")).text
    assert f"/queue/items?after={first.draft_id}" in page
    second = await _seed(harness, follower="Second Fan")
    items = (await harness.client.get(f"/queue/items?after={first.draft_id}")).text
    assert "Second Fan" in items
    assert "First Fan" not in items
    assert 'hx-swap-oob="beforeend:#queue-list"' in items
    assert f"/queue/items?after={second.draft_id}" in items
    # Another moderator (here: through the API) rejects the first while it is on screen.
    await harness.api("POST", f"/api/v1/drafts/{first.draft_id}/reject", json={"reason": "dup"})
    shown = f"{first.draft_id},{second.draft_id}"
    items = (await harness.client.get(f"/queue/items?after={second.draft_id}&shown={shown}")).text
    assert f'id="draft-{first.draft_id}"' in items
    assert 'hx-swap-oob="true"' in items
    assert "Already handled by you" in items  # the API token is the admin's own
    assert f'id="draft-{second.draft_id}"' not in items


async def test_two_moderators_racing_for_one_draft_send_it_once(harness: Harness) -> None:
    seeded = await _seed(harness)
    await _moderator(harness, "one@test.example", seeded.account_id)
    await _moderator(harness, "two@test.example", seeded.account_id)
    transport = httpx.ASGITransport(app=harness.app)
    clients = [httpx.AsyncClient(transport=transport, base_url="http://testserver") for _ in "12"]
    try:
        tokens = []
        for client, email in zip(clients, ("one@test.example", "two@test.example"), strict=True):
            form = await client.get("/login")
            login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert login_csrf is not None
            signed = await client.post(
                "/login",
                data={"email": email, "password": PASSWORD, "csrf_token": login_csrf.group(1)},
            )
            assert signed.status_code == 303
            tokens.append(await _queue_token(client))
        answers = await asyncio.gather(
            *(
                client.post(
                    f"/queue/{seeded.draft_id}/approve",
                    data={"text": f"reply from {n}"},
                    headers={**HX, "X-CSRF-Token": token},
                )
                for n, (client, token) in enumerate(zip(clients, tokens, strict=True))
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    assert [a.status_code for a in answers] == [200, 200]
    texts = [a.text for a in answers]
    assert sum("Already handled by" in t for t in texts) == 1, texts
    loser = next(t for t in texts if "Already handled by" in t)
    assert re.search(r"Already handled by (one|two)@test\.example", loser)
    assert "Nothing was sent by you" in loser
    await harness.run_worker()
    assert len(harness.graph.sent) == 1
    assert await _outbound_count(harness) == 1


async def test_a_reply_too_long_to_send_keeps_the_draft_waiting(harness: Harness) -> None:
    seeded = await _seed(harness)
    await sign_in(harness)
    token = await _queue_token(harness.client)
    response = await harness.client.post(
        f"/queue/{seeded.draft_id}/approve",
        data={"text": "word " * 1300},
        headers={**HX, "X-CSRF-Token": token},
    )
    assert response.status_code == 200
    assert "reply too long for instagram" in response.text
    assert 'data-state="pending"' in response.text
    assert (await _draft(harness, seeded.draft_id)).status == "pending"
    assert await _outbound_count(harness) == 0
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert not [a for a in actions if a.startswith("draft.")]


async def test_a_draft_superseded_meanwhile_is_reported_not_sent(harness: Harness) -> None:
    seeded = await _seed(harness)
    await sign_in(harness)
    token = await _queue_token(harness.client)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        draft = await session.get(Draft, seeded.draft_id)
        assert draft is not None
        draft.status, draft.reject_reason = DraftStatus.SUPERSEDED, "newer follower message"
    response = await harness.client.post(
        f"/queue/{seeded.draft_id}/approve", headers={**HX, "X-CSRF-Token": token}
    )
    assert "No longer waiting." in response.text
    assert "Replaced by a newer draft" in response.text
    assert await _outbound_count(harness) == 0
