"""The dashboard, the list of replies sent automatically and the rules page's proposals and
confirmation in Debian's chromium, laptop (1280x800) and phone (390x844) sized, under the
real CSP. Screenshots go to $INBOXPILOT_SCREENSHOTS (default artifacts/screenshots)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from app.core.clock import utc_now
from app.models import Account
from app.policy.schemas import Policy
from app.users import service as users
from tests.builders import create_contact, create_conversation, create_draft, create_message
from tests.ui.conftest import LiveServer, screenshots_dir
from tests.ui.desk import PASSWORD, seed_account

pytestmark = pytest.mark.asyncio(loop_scope="module")

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
_people = itertools.count(1)
REPLY = "The Vitamin C Serum is 29.90 EUR: https://glowlab.example/serum"


async def _seed(server: LiveServer) -> dict[str, Any]:
    """30 days of history: DMs every day, replies sent alone and approved; 30 discount-code
    drafts a person approved (29 unchanged) at 0.85; price answers sent alone; 2 waiting."""
    n = next(_people)
    owner, moderator = f"owner{n}@evidence.example", f"mod{n}@evidence.example"
    now = utc_now()
    async with server.session() as session:
        account = await seed_account(session, server.cipher, name="Lena Loves")
        account.policy = Policy(
            mode="autopilot",
            auto_intents=["product_link", "price", "code_validity", "greeting", "thanks"],
        ).model_dump()
        people = [
            await users.create_user(
                session,
                email=email,
                role="moderator",
                password=PASSWORD,
                account_ids=[account.id],
                owner=is_owner,
            )
            for email, is_owner in ((owner, True), (moderator, False))
        ]
        contact = await create_contact(session, account, name="Mia", username="mia.glow")
        conversation = await create_conversation(session, account, contact)
        for day in reversed(range(30)):  # oldest first, as they arrived
            at = now - timedelta(days=day)
            for k in range(3 + (day * 7) % 9):
                message = await create_message(
                    session, conversation, text="How much is the serum?", created_at=at
                )
                if k % 3 == 0:
                    await create_draft(
                        session,
                        conversation,
                        message,
                        decision="auto",
                        status="sent",
                        intent="price",
                        confidence=0.9,
                        text=REPLY,
                        product_ids=[],
                        created_at=at,
                        decided_at=at,
                    )
        message = await create_message(session, conversation, text="Code for the serum please?")
        for k in range(30):
            await create_draft(
                session,
                conversation,
                message,
                intent="discount_code",
                confidence=0.85,
                status="sent",
                reasons=["intent 'discount_code' needs review"],
                text="LENA15 gives you 15% off.",
                final_text="LENA15!" if k == 0 else None,
                created_at=now - timedelta(days=k % 14),
                decided_by_user_id=people[1].id,
            )
        for minutes in (95, 12):
            await create_draft(
                session, conversation, message, created_at=now - timedelta(minutes=minutes)
            )
        account_id = account.id
    return {"account_id": account_id, "owner": owner, "moderator": moderator}


# Recorded by the page itself from its first moment (an init script is not subject to CSP).
_LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


async def _page(server: LiveServer, browser: Browser, email: str, viewport: ViewportSize) -> Page:
    context = await browser.new_context(
        viewport=viewport, is_mobile=viewport is PHONE, has_touch=viewport is PHONE
    )
    await context.add_init_script(_LISTEN)
    page = await context.new_page()
    await server.sign_in(page, email)
    return page


async def _no_violations(page: Page) -> None:
    assert await page.evaluate("window.__violations || []") == [], page.url


async def _shot(page: Page, name: str, viewport: ViewportSize) -> None:
    size = "phone" if viewport is PHONE else "laptop"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"{name} scrolls sideways at {size} size"
    await page.screenshot(path=str(screenshots_dir() / f"{name}-{size}.png"), full_page=True)
    await _no_violations(page)


async def _policy(server: LiveServer, account_id: int) -> Policy:
    async with server.session() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        return Policy.of(account.policy)


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
async def test_the_pages_at_both_sizes(
    live_server: LiveServer, browser: Browser, viewport: ViewportSize
) -> None:
    seeded = await _seed(live_server)
    account_id = seeded["account_id"]
    page = await _page(live_server, browser, seeded["owner"], viewport)
    try:
        await page.goto(f"{live_server.url}/")
        await page.get_by_role("link", name="Dashboard").click()
        await expect(page.locator('[data-figure="waiting_now"]')).to_have_text("2")
        await expect(page.locator('[data-figure="oldest_wait"]')).to_have_text("1 h 35 min")
        chart = page.locator("figure.chart svg")
        await expect(chart).to_be_visible()
        box = await chart.bounding_box()
        assert box is not None
        assert box["width"] > viewport["width"] * 0.7
        assert await page.locator("figure.chart rect.auto").count() == 30
        await _shot(page, "dashboard", viewport)

        await page.get_by_role("link", name="Sent automatically").first.click()
        await expect(page.get_by_text(REPLY).first).to_be_visible()
        await _shot(page, "sent", viewport)

        await page.goto(f"{live_server.url}/accounts/{account_id}/settings")
        proposal = page.locator('.proposal[data-intent="discount_code"]')
        await expect(proposal).to_contain_text("29 of the last 30")
        await proposal.scroll_into_view_if_needed()
        await _shot(page, "rules-proposal", viewport)

        await page.locator("#f-intent-price").uncheck()
        await page.get_by_role("button", name="Save persona and rules").click()
        await expect(page.locator("#estimate")).to_contain_text("go out without review")
        await expect(page.locator(".changes")).to_contain_text(
            "Price answers will wait for review."
        )
        await _shot(page, "rules-confirm", viewport)
        await page.get_by_role("button", name="No, back to the rules").click()
        await expect(page.locator("#f-intent-price")).not_to_be_checked()
        assert "price" in (await _policy(live_server, account_id)).auto_intents
    finally:
        await page.context.close()


async def test_mark_wrong_pause_and_accept_a_proposal(
    live_server: LiveServer, browser: Browser
) -> None:
    seeded = await _seed(live_server)
    account_id = seeded["account_id"]
    page = await _page(live_server, browser, seeded["moderator"], LAPTOP)
    try:
        await page.goto(f"{live_server.url}/accounts/{account_id}/sent")
        card = page.locator("li.card").first
        await card.get_by_label("Note").fill("the price is 24.90 since Monday")
        await card.get_by_role("button", name="Wrong").click()
        card = page.locator("li.card").first
        await expect(card).to_contain_text("marked wrong")
        await expect(card).to_contain_text("Only the account's owner or an admin can stop")
        await page.goto(f"{live_server.url}/accounts/{account_id}/settings#stats")
        price_row = page.locator("#stats ~ .table-wrap tr", has_text="price")
        await expect(price_row.locator(".badge.bad")).to_have_text("1")
    finally:
        await page.context.close()

    page = await _page(live_server, browser, seeded["owner"], LAPTOP)
    try:
        await page.goto(f"{live_server.url}/accounts/{account_id}/sent?mark=wrong")
        await expect(page.locator("li.card").get_by_label("Note")).to_have_value(
            "the price is 24.90 since Monday"
        )
        await _shot(page, "sent-marked-wrong", LAPTOP)
        await page.get_by_role("button", name="Stop sending price answers automatically").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "From now on, price answers wait for review."
        )
        assert "price" not in (await _policy(live_server, account_id)).auto_intents

        await page.goto(f"{live_server.url}/accounts/{account_id}/settings")
        await page.get_by_role("button", name="Yes, send them automatically at ≥ 0.80").click()
        await expect(page.get_by_role("status").first).to_contain_text("Done")
        policy = await _policy(live_server, account_id)
        assert "discount_code" in policy.auto_intents
        assert policy.intent_min_confidence == {"discount_code": 0.8}
        await page.locator("#f-mode-copilot").check()
        await page.get_by_role("button", name="Save persona and rules").click()
        await expect(page.locator("#estimate")).to_contain_text("every answer waits for review")
        await page.get_by_role("button", name="Yes, save the new rules").click()
        await expect(page.get_by_text("Saved.")).to_be_visible()
        assert (await _policy(live_server, account_id)).mode == "copilot"
    finally:
        await page.context.close()


async def test_the_chart_on_postgresql(pg_live_server: LiveServer, browser: Browser) -> None:
    seeded = await _seed(pg_live_server)
    page = await _page(pg_live_server, browser, seeded["moderator"], PHONE)
    try:
        await page.goto(f"{pg_live_server.url}/accounts/{seeded['account_id']}")
        assert await page.locator("figure.chart rect.auto").count() == 30
        assert await page.locator("figure.chart rect.dms").count() == 30
        await expect(page.locator('[data-figure="waiting_now"]')).to_have_text("2")
        await _no_violations(page)
    finally:
        await page.context.close()
