"""Autonomy earned: proposals on the rules page from seeded approval and mark history,
accepted by the owner with one click (the policy changes), refused to a moderator."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.models import Account, AuditEntry, ReplyMark, User
from tests.builders import create_contact, create_conversation, create_draft, create_message
from tests.harness import Harness
from tests.ui.test_settings_owner import _form
from tests.users.web import browser, create_user, csrf_of, sign_in

OWNER, MODERATOR = "lena@test.example", "mod@test.example"
PASSWORD = "long enough password"
GRANT = (
    "Discount-code answers: 29 of the last 30 with a confidence of at least 0.80 were "
    "approved unchanged."
)
WITHDRAW = "Price answers: 2 of the last 3 sent automatically were marked wrong."


async def _history(harness: Harness, account_id: int) -> None:
    """30 discount-code drafts at 0.85 a person decided (29 unchanged, 1 edited); 3 price
    answers sent alone, 2 of them marked wrong."""
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await session.get(Account, account_id)
        assert account is not None
        admin = await session.scalar(select(User).where(User.role == "admin"))
        assert admin is not None
        contact = await create_contact(session, account)
        conversation = await create_conversation(session, account, contact)
        message = await create_message(session, conversation)
        for n in range(30):
            await create_draft(
                session,
                conversation,
                message,
                intent="discount_code",
                confidence=0.85,
                status="sent",
                reasons=["intent 'discount_code' needs review"],
                text="LENA15",
                final_text="LENA15 :)" if n == 0 else None,
                decided_by_user_id=admin.id,
            )
        for n in range(3):
            draft = await create_draft(
                session,
                conversation,
                message,
                intent="price",
                confidence=0.9,
                status="sent",
                decision="auto",
            )
            if n < 2:
                session.add(ReplyMark(draft_id=draft.id, account_id=account_id, mark="wrong"))


@pytest.fixture
async def account_id(harness: Harness) -> int:
    account = await harness.create_account()
    await create_user(
        harness, OWNER, password=PASSWORD, account_ids=[account["id"]], role="moderator"
    )
    await create_user(harness, MODERATOR, password=PASSWORD, account_ids=[account["id"]])
    members = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/members")).json()
    owner_id = next(m["user_id"] for m in members if m["email"] == OWNER)
    await harness.api("PUT", f"/api/v1/accounts/{account['id']}/owner", json={"user_id": owner_id})
    everything_but_codes = ["product_link", "price", "code_validity", "greeting", "thanks"]
    await harness.set_policy(account["id"], mode="autopilot", auto_intents=everything_but_codes)
    await _history(harness, account["id"])
    return int(account["id"])


async def _policy(harness: Harness, account_id: int) -> dict[str, Any]:
    policy: dict[str, Any] = (
        await harness.api("GET", f"/api/v1/accounts/{account_id}/policy")
    ).json()
    return policy


async def test_proposals_from_history_and_one_click(harness: Harness, account_id: int) -> None:
    proposals = (await harness.api("GET", f"/api/v1/accounts/{account_id}/proposals")).json()
    assert [(p["kind"], p["intent"], p["min_confidence"]) for p in proposals] == [
        ("send_alone", "discount_code", 0.8),
        ("withdraw", "price", None),
    ]
    # The 3 price answers went out alone; with discount codes, the 30 would have too.
    assert proposals[0]["answers_a_day_now"] == pytest.approx(3 / 14, abs=0.01)
    assert proposals[0]["answers_a_day_after"] == pytest.approx(33 / 14, abs=0.01)
    assert proposals[1]["answers_a_day_after"] == 0

    async with browser(harness) as client:
        await sign_in(client, MODERATOR, PASSWORD)
        page = await client.get(f"/accounts/{account_id}/settings")
        assert GRANT in page.text
        assert WITHDRAW in page.text
        assert (
            "From then on, about 2 answers a day go out without review "
            "(until now fewer than one answer a day)." in page.text
        )
        assert "Yes, send them automatically" not in page.text
        refused = await client.post(
            f"/accounts/{account_id}/proposals",
            data={
                "csrf_token": csrf_of(page.text),
                "kind": "send_alone",
                "intent": "discount_code",
            },
        )
        assert refused.status_code == 403
    before = await _policy(harness, account_id)
    assert "discount_code" not in before["auto_intents"]

    async with browser(harness) as client:
        await sign_in(client, OWNER, PASSWORD)
        page = await client.get(f"/accounts/{account_id}/settings")
        assert "Yes, send them automatically at ≥ 0.80</button>" in page.text
        for kind, intent in (("send_alone", "discount_code"), ("withdraw", "price")):
            accepted = await client.post(
                f"/accounts/{account_id}/proposals",
                data={"csrf_token": csrf_of(page.text), "kind": kind, "intent": intent},
            )
            assert accepted.status_code == 303, accepted.text
        page = await client.get(accepted.headers["location"])
        assert GRANT not in page.text
        assert WITHDRAW not in page.text
        again = await client.post(
            f"/accounts/{account_id}/proposals",
            data={"csrf_token": csrf_of(page.text), "kind": "withdraw", "intent": "price"},
        )
        assert again.status_code == 409

    after = await _policy(harness, account_id)
    assert "discount_code" in after["auto_intents"]
    assert "price" not in after["auto_intents"]
    assert after["intent_min_confidence"] == {"discount_code": 0.8}
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        accepted_count = await session.scalar(
            select(func.count()).where(AuditEntry.action == "policy.proposal_accepted")
        )
    assert accepted_count == 2


async def test_too_little_history_proposes_nothing(harness: Harness) -> None:
    account = await harness.create_account()
    assert (await harness.api("GET", f"/api/v1/accounts/{account['id']}/proposals")).json() == []


async def test_the_confirmation_estimates_from_the_last_14_days(
    harness: Harness, account_id: int
) -> None:
    """Allowing discount codes by hand: the 30 held only by that rule would have gone out,
    with the 3 price answers: about 2 a day instead of fewer than one."""
    async with browser(harness) as client:
        await sign_in(client, OWNER, PASSWORD)
        page = await client.get(f"/accounts/{account_id}/settings")
        form = _form(page.text)
        form["auto_intents"] = [*form["auto_intents"], "discount_code"]
        confirm = await client.post(f"/accounts/{account_id}/settings", data=form)
    assert confirm.status_code == 200
    assert "Discount-code answers may be sent without review." in confirm.text
    estimate = " ".join(confirm.text.split('id="estimate">', 1)[1].split("</p>", 1)[0].split())
    assert estimate.startswith(
        "From now on, about 2 answers a day go out without review "
        "(until now fewer than one answer a day)."
    )
    assert "Estimated from the 33 drafts of the last 14 days" in estimate
    assert "discount_code" not in (await _policy(harness, account_id))["auto_intents"]
