"""The desk for volume over HTTP (the app in-process, SQLite and PostgreSQL): search,
filters and sorts on /queue and its poll, groups of near-identical questions, bulk
approve / reject through POST /queue/bulk, and a morning of 200 drafts."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.models import Account, AuditEntry, Contact, Conversation, Draft, OutboundMessage
from tests.accounts.conftest import sign_in
from tests.builders import create_cooperation, create_product
from tests.harness import Harness
from tests.ui.desk import (
    PASSWORD,
    Seeded,
    seed_account,
    seed_moderator,
    seed_morning,
    seed_queued,
)
from tests.ui.test_queue_pages import HX, csrf_token

CARD = re.compile(r'<article class="card qcard[^"]*" id="(draft|group)-(\d+)"')


def shown(html: str) -> list[str]:
    """The cards of a queue page, in order: "draft-12" or "group-7"."""
    return [f"{kind}-{n}" for kind, n in CARD.findall(html)]


async def _account(harness: Harness, name: str = "Lena Loves") -> Account:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return await seed_account(session, harness.runtime.cipher, name=name)


async def _queued(harness: Harness, account: Account, **values: Any) -> Seeded:
    defaults: dict[str, Any] = {
        "follower": "Mia Follower",
        "follower_text": "Is there a code for the serum?",
        "text": "Yes: LENA15 gives you 15% off.",
    }
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return await seed_queued(session, account, **{**defaults, **values})


async def _token(harness: Harness, path: str = "/queue") -> tuple[str, str]:
    page = await harness.client.get(path)
    assert page.status_code == 200, page.text
    return page.text, csrf_token(page.text)


async def _outbound(harness: Harness, draft_id: int | None = None) -> int:
    statement = select(func.count()).select_from(OutboundMessage)
    if draft_id is not None:
        statement = statement.where(OutboundMessage.draft_id == draft_id)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return int(await session.scalar(statement) or 0)


async def _statuses(harness: Harness, ids: list[int]) -> dict[int, str]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        rows = await session.execute(select(Draft.id, Draft.status).where(Draft.id.in_(ids)))
        return {row[0]: row[1] for row in rows}


# Search, filters, sorts


async def test_filters_narrow_the_queue_and_the_headline_is_plain(harness: Harness) -> None:
    account = await _account(harness)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        cooperation = await create_cooperation(session, account)
        mat = await create_product(session, cooperation, name="Cloud Yoga Mat", aliases=[])
        serum = await create_product(session, cooperation, name="Serum 12", aliases=[])
    sensitive = await _queued(
        harness,
        account,
        follower_text="My skin burns after the serum, is that dangerous?",
        text="Please stop using it and see a doctor.",
        reasons=["sensitive message: health_safety", "confidence 0.30 below 0.80"],
        product_ids=[serum.id],
    )
    unsure = await _queued(
        harness,
        account,
        follower="Tom Unsure",
        follower_text="what about the mat?",
        text="The mat is 6 mm thick.",
        reasons=["confidence 0.00 below 0.70", "intent 'other' needs review"],
        product_ids=[mat.id],
        intent="other",
        confidence=0.0,
    )
    nothing = await _queued(
        harness,
        account,
        follower="Gina Question",
        follower_text="Hast du einen Tipp für Pickel?",
        text="Leider kenne ich dafür kein Produkt.",
        reasons=["needs a person: it names no product of the catalog"],
        language="de",
    )
    other = await _queued(
        harness,
        account,
        follower="Otto Other",
        follower_text="Can you follow me back?",
        text="Thanks for the love!",
        reasons=["mode is copilot"],
        product_ids=[mat.id, serum.id],
    )
    everyone = [f"draft-{s.draft_id}" for s in (sensitive, unsure, nothing, other)]
    await sign_in(harness)

    html, _ = await _token(harness)
    assert shown(html) == everyone
    # One headline per card in plain words; the engine's words only behind the toggle.
    assert "Sensitive: the follower mentions a health or safety problem" in html
    assert "The bot is not sure of this answer" in html
    assert "No product from your catalog is mentioned" in html
    assert "You review every reply (copilot mode)" in html
    assert "Answers about something else always wait for you" in html
    assert "low certainty" in html

    async def cards(query: str) -> list[str]:
        page = await harness.client.get(f"/queue?{query}")
        assert page.status_code == 200, page.text
        return shown(page.text)

    assert await cards("reason=sensitive") == [f"draft-{sensitive.draft_id}"]
    assert await cards("reason=low_confidence") == [f"draft-{unsure.draft_id}"]
    assert await cards("reason=no_product") == [f"draft-{nothing.draft_id}"]
    assert await cards("reason=other") == [f"draft-{other.draft_id}"]
    assert await cards("language=de") == [f"draft-{nothing.draft_id}"]
    assert await cards(f"product_id={mat.id}") == [
        f"draft-{unsure.draft_id}",
        f"draft-{other.draft_id}",
    ]
    assert await cards(f"product_id={serum.id}") == [
        f"draft-{sensitive.draft_id}",
        f"draft-{other.draft_id}",
    ]
    # Search: the follower's name, their message, the reply; case does not matter.
    assert await cards("q=tom+unsure") == [f"draft-{unsure.draft_id}"]
    assert await cards("q=PICKEL") == [f"draft-{nothing.draft_id}"]
    assert await cards("q=follow+me") == [f"draft-{other.draft_id}"]
    assert await cards("q=6+mm") == [f"draft-{unsure.draft_id}"]
    assert await cards("q=100%25") == []  # a % is a character, not a wildcard
    assert await cards("q=tom&reason=sensitive") == []
    # Values the desk does not know are ignored, never an error.
    assert await cards("reason=nonsense&sort=sideways&product_id=x&language=") == everyone


async def test_sorts_sensitive_first_and_window_closing_first(harness: Harness) -> None:
    account = await _account(harness)
    fresh = await _queued(harness, account, inbound_age=timedelta(hours=1))
    closing = await _queued(
        harness, account, follower_text="price of the mask?", inbound_age=timedelta(hours=23)
    )
    sensitive = await _queued(
        harness,
        account,
        follower_text="I want a refund now",
        reasons=["sensitive message: refund"],
        inbound_age=timedelta(hours=5),
    )
    await sign_in(harness)
    ids = {s: f"draft-{s.draft_id}" for s in (fresh, closing, sensitive)}
    oldest = shown((await harness.client.get("/queue")).text)
    assert oldest == [ids[fresh], ids[closing], ids[sensitive]]  # as they were drafted
    by_sensitivity = shown((await harness.client.get("/queue?sort=sensitive")).text)
    assert by_sensitivity == [ids[sensitive], ids[fresh], ids[closing]]
    by_window = shown((await harness.client.get("/queue?sort=window")).text)
    assert by_window == [ids[closing], ids[sensitive], ids[fresh]]


async def test_the_poll_keeps_the_filters(harness: Harness) -> None:
    account = await _account(harness)
    await sign_in(harness)
    html, _ = await _token(harness, "/queue?reason=sensitive&q=refund")
    assert re.search(r'hx-get="/queue/items\?after=0&amp;q=refund&amp;reason=sensitive"', html)
    await _queued(harness, account, follower_text="code please")
    wanted = await _queued(
        harness,
        account,
        follower_text="I want a refund",
        reasons=["sensitive message: refund"],
    )
    poll = await harness.client.get("/queue/items?after=0&q=refund&reason=sensitive")
    assert poll.status_code == 200
    assert shown(poll.text) == [f"draft-{wanted.draft_id}"]
    assert 'hx-get="/queue/items?after=' + str(wanted.draft_id) in poll.text


# Groups


async def test_near_identical_questions_with_the_same_reply_form_one_group(
    harness: Harness,
) -> None:
    account = await _account(harness)
    variants = [
        "code for the yoga mat?",
        "Code for the Yoga mat??",
        "hi! code for the yoga mat 🙏",
        "CODE FOR THE YOGA MAT",
        "Hey, code for the yóga mat?!",
    ]
    names = ["Mia", "Tom", "Sara", "Luca", "Emma"]
    members = [
        await _queued(
            harness,
            account,
            follower=f"{name} K.",
            follower_text=text,
            text=f"Hi {name}! Yes: YOGA10 gives you 10% off the yoga mat.",
        )
        for name, text in zip(names, variants, strict=True)
    ]
    # Same question, another answer; and the same answer to another question: not grouped.
    other_answer = await _queued(
        harness,
        account,
        follower_text="code for the yoga mat?",
        text="Hi Ben! The yoga mat has no code right now.",
    )
    other_question = await _queued(
        harness,
        account,
        follower="Ida",
        follower_text="does the yoga mat slip when wet?",
        text="Hi Ida! Yes: YOGA10 gives you 10% off the yoga mat.",
    )
    await sign_in(harness)
    html, _ = await _token(harness)
    assert shown(html) == [
        f"group-{members[0].draft_id}",
        f"draft-{other_answer.draft_id}",
        f"draft-{other_question.draft_id}",
    ]
    assert "5 followers asked this" in html
    assert "Approve all 5" in html
    for name in names:
        assert f"{name} K." in html  # the list of followers, behind the toggle
    # One by one on request.
    single = shown((await harness.client.get("/queue?group=0")).text)
    assert len(single) == 7


async def test_approve_all_sends_each_follower_their_own_reply_once(harness: Harness) -> None:
    account = await _account(harness)
    names = ["Mia", "Tom", "Sara", "Luca"]
    members = [
        await _queued(
            harness,
            account,
            follower=name,
            follower_text="code for the yoga mat?" if i % 2 else "Code for the yoga mat!!",
            text=f"Hi {name}! Yes: YOGA10 gives you 10% off the yoga mat.",
        )
        for i, name in enumerate(names)
    ]
    ids = [m.draft_id for m in members]
    # Another moderator approves one of them first, from their own screen.
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await seed_moderator(session, "other@desk.example", [account.id])
    await sign_in(harness, "other@desk.example", PASSWORD)
    _, token = await _token(harness)
    first = await harness.client.post(
        f"/queue/{ids[2]}/approve", data={"csrf_token": token}, headers=HX
    )
    assert first.status_code == 200, first.text

    await sign_in(harness)
    html, token = await _token(harness)
    group = f"group-{ids[0]}"
    assert "3 followers asked this" in html  # the decided one left the queue
    response = await harness.client.post(
        "/queue/bulk",
        data={
            "action": "approve",
            "ids": ",".join(map(str, ids)),  # a stale screen still lists all four
            "group": group,
            "csrf_token": token,
        },
        headers=HX,
    )
    assert response.status_code == 200, response.text
    assert f'id="{group}"' in response.text
    assert "Approved 3: 3 replies on the way." in response.text
    assert "1 was already handled by someone else; nothing was sent twice." in response.text
    assert "other@desk.example" in response.text
    await harness.run_worker()
    sent = sorted((s.recipient_id, s.text) for s in harness.graph.sent)
    assert sent == sorted((m.follower_id, m.text) for m in members)  # four, each once
    for draft_id in ids:
        assert await _outbound(harness, draft_id) == 1
    assert set((await _statuses(harness, ids)).values()) == {"sent"}
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        audit = (await session.scalars(select(AuditEntry.action))).all()
    assert audit.count("draft.approved") == 4


# Bulk


async def test_bulk_reject_with_one_reason_sends_nothing(harness: Harness) -> None:
    account = await _account(harness)
    a = await _queued(harness, account, follower_text="first question")
    b = await _queued(harness, account, follower_text="a second one, different")
    keep = await _queued(harness, account, follower_text="the third stays")
    await sign_in(harness)
    _, token = await _token(harness)
    response = await harness.client.post(
        "/queue/bulk",
        data={
            "action": "reject",
            "ids": f"{a.draft_id},{b.draft_id}",
            "reason": "  spam wave  ",
            "csrf_token": token,
        },
        headers=HX,
    )
    assert response.status_code == 200, response.text
    assert 'id="desk-result"' in response.text
    assert "Rejected 2." in response.text
    for seeded in (a, b):  # each draft's outcome, one by one
        assert f"Draft {seeded.draft_id}</a>: rejected" in response.text
    statuses = await _statuses(harness, [a.draft_id, b.draft_id, keep.draft_id])
    assert statuses == {a.draft_id: "rejected", b.draft_id: "rejected", keep.draft_id: "pending"}
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        reasons = (
            await session.scalars(select(Draft.reject_reason).where(Draft.status == "rejected"))
        ).all()
    assert reasons == ["spam wave", "spam wave"]
    assert await _outbound(harness) == 0
    assert shown((await harness.client.get("/queue")).text) == [f"draft-{keep.draft_id}"]


async def test_bulk_refuses_without_csrf_and_never_reaches_other_accounts(
    harness: Harness,
) -> None:
    mine = await _account(harness, "Mine")
    theirs = await _account(harness, "Theirs")
    own = await _queued(harness, mine)
    foreign = await _queued(harness, theirs, follower="Secret Sam")
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await seed_moderator(session, "mod@desk.example", [mine.id])
    await sign_in(harness, "mod@desk.example", PASSWORD)
    html, token = await _token(harness)
    assert "Secret Sam" not in html
    ids = f"{own.draft_id},{foreign.draft_id}"
    refused = await harness.client.post(
        "/queue/bulk", data={"action": "approve", "ids": ids}, headers=HX
    )
    assert refused.status_code == 403
    assert await _outbound(harness) == 0
    bad = await harness.client.post(
        "/queue/bulk", data={"action": "send", "ids": ids, "csrf_token": token}, headers=HX
    )
    assert bad.status_code == 422
    empty = await harness.client.post(
        "/queue/bulk", data={"action": "approve", "ids": "x,", "csrf_token": token}, headers=HX
    )
    assert empty.status_code == 422
    response = await harness.client.post(
        "/queue/bulk", data={"action": "approve", "ids": ids, "csrf_token": token}, headers=HX
    )
    assert response.status_code == 200, response.text
    assert "Approved 1" in response.text
    assert "1 no longer exists" in response.text  # as if the other did not exist
    statuses = await _statuses(harness, [own.draft_id, foreign.draft_id])
    assert statuses == {own.draft_id: "approved", foreign.draft_id: "pending"}


async def test_bulk_keeps_a_refused_draft_waiting_and_decides_the_rest(
    harness: Harness,
) -> None:
    account = await _account(harness)
    fine = await _queued(harness, account, follower_text="short question")
    too_long = await _queued(harness, account, follower_text="another one", text="word " * 1300)
    await sign_in(harness)
    _, token = await _token(harness)
    response = await harness.client.post(
        "/queue/bulk",
        data={
            "action": "approve",
            "ids": f"{too_long.draft_id},{fine.draft_id}",
            "csrf_token": token,
        },
        headers=HX,
    )
    assert response.status_code == 200, response.text
    assert "Approved 1" in response.text
    assert "1 could not be approved and still waits." in response.text
    assert f'data-keep="{too_long.draft_id}"' in response.text
    statuses = await _statuses(harness, [fine.draft_id, too_long.draft_id])
    assert statuses == {fine.draft_id: "approved", too_long.draft_id: "pending"}
    assert await _outbound(harness, too_long.draft_id) == 0


# The follower, one way everywhere


async def test_the_follower_is_named_the_same_on_queue_conversations_and_outbox(
    harness: Harness,
) -> None:
    account = await _account(harness)
    story = await _queued(
        harness,
        account,
        follower=None,
        follower_text="love this story! code?",
        payload={"reply_to_story_id": "1799"},
    )
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        contact = await session.scalar(
            select(Contact).join(Conversation).where(Conversation.id == story.conversation_id)
        )
        assert contact is not None
        label = (
            f"Follower …{contact.external_id[-4:]}"
            if len(contact.external_id) > 10
            else contact.external_id
        )
    await sign_in(harness)
    html, token = await _token(harness)
    assert f">{label}</h2>" in html
    assert "a reply to a story" in html
    conversations = (await harness.client.get("/conversations")).text
    assert f"<strong>{label}</strong>" in conversations
    assert "a reply to a story" in conversations
    thread = (await harness.client.get(f"/conversations/{story.conversation_id}")).text
    assert f"<h1>{label}</h1>" in thread
    approved = await harness.client.post(
        f"/queue/{story.draft_id}/approve", data={"csrf_token": token}, headers=HX
    )
    assert approved.status_code == 200
    outbox = (await harness.client.get(f"/accounts/{account.id}/outbox")).text
    assert f"To {label}</strong>" in outbox


# A morning's queue


async def test_clearing_200_drafts_of_which_60_near_identical_takes_under_150_decisions(
    harness: Harness,
) -> None:
    account = await _account(harness)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        sizes = await seed_morning(session, account)
    assert sum(sizes.values()) == 60
    await sign_in(harness)
    started = time.perf_counter()
    html, token = await _token(harness)
    took = time.perf_counter() - started
    filtered = time.perf_counter()
    assert (await harness.client.get("/queue?q=yoga&sort=window")).status_code == 200
    searched = time.perf_counter() - filtered
    print(f"desk: /queue with 200 drafts {took:.2f} s, searched {searched:.2f} s")  # noqa: T201
    assert "200 waiting." in html
    cards = shown(html)
    groups = [c for c in cards if c.startswith("group-")]
    decisions = len(cards)
    print(f"desk: 200 drafts, {len(groups)} groups, {decisions} decisions")  # noqa: T201
    assert sorted(re.findall(r"(\d+) followers asked this", html), key=int) == sorted(
        str(n) for n in sizes.values()
    )
    assert decisions == 140 + len(sizes) < 150
    # Each group decided with one action clears its drafts.
    for group in groups:
        ids = re.search(
            rf'id="{group}" data-draft="g\d+" data-state="pending"\s+data-ids="([\d,]+)"', html
        )
        assert ids is not None
        response = await harness.client.post(
            "/queue/bulk",
            data={"action": "approve", "ids": ids.group(1), "group": group, "csrf_token": token},
            headers=HX,
        )
        assert response.status_code == 200, response.text
    left = (await harness.client.get("/queue")).text
    assert "140 waiting." in left
    assert not [c for c in shown(left) if c.startswith("group-")]
    assert await _outbound(harness) == 60
