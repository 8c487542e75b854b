"""In chromium at phone size (390x844): the account's owner adds a comment trigger with
its product and two public replies, and sees it listed.

Screenshot: comment-triggers-phone.png in $INBOXPILOT_SCREENSHOTS."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from app.models import CommentTrigger
from app.users import service as users
from tests.builders import create_cooperation, create_product
from tests.ui.conftest import Device, LiveServer, screenshots_dir
from tests.ui.desk import PASSWORD, seed_account

pytestmark = pytest.mark.asyncio(loop_scope="module")

PHONE: Device = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


async def test_the_owner_adds_a_trigger(live_server: LiveServer, browser: Browser) -> None:
    async with live_server.session() as session:
        account = await seed_account(session, live_server.cipher)
        cooperation = await create_cooperation(session, account)
        product = await create_product(session, cooperation, name="Glow Serum")
        await users.create_user(
            session,
            email="owner@desk.example",
            role="moderator",
            password=PASSWORD,
            account_ids=[account.id],
            owner=True,
        )
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    try:
        await live_server.sign_in(page, "owner@desk.example")
        await page.goto(f"{live_server.url}/accounts/{account.id}/settings")
        await page.get_by_role("link", name="Comment triggers").click()
        await expect(page.get_by_text("No comment triggers yet.")).to_be_visible()

        await page.get_by_label("Keywords").fill("SERUM, glow drops")
        await page.get_by_label("Post").fill("17990001")
        await page.get_by_label("Product").select_option(label="Glow Serum")
        await page.get_by_label("Public reply under the comment").fill(
            "Sent you a DM 💌\nCheck your inbox ✨"
        )
        await page.get_by_role("button", name="Add trigger").click()

        await expect(page.get_by_role("status")).to_have_text("Trigger added.")
        card = page.locator("section.trigger")
        await expect(card).to_have_count(1)
        await expect(card).to_contain_text("SERUM, glow drops")
        await expect(card).to_contain_text("Post 17990001")
        await expect(card).to_contain_text("Glow Serum")
        await expect(card).to_contain_text("2 public replies")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["viewport"]["width"], "nothing scrolls sideways"
        await page.screenshot(
            path=str(screenshots_dir() / "comment-triggers-phone.png"), full_page=True
        )
    finally:
        await context.close()
    async with live_server.session() as session:
        [trigger] = (await session.scalars(select(CommentTrigger))).all()
    assert trigger.keywords == ["SERUM", "glow drops"]
    assert trigger.product_id == product.id
    assert trigger.public_reply == "Sent you a DM 💌\nCheck your inbox ✨"
