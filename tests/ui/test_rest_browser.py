"""In chromium, at laptop (1280x800) and phone (390x844) sizes: the catalog import preview
of a changed file and its Apply, the timed pause after the influencer answered from
Instagram and its Resume now, and a hostile follower name shown as text in the title.

Screenshots go to $INBOXPILOT_SCREENSHOTS (default artifacts/screenshots):
catalog-import-preview-{laptop,phone}.png, conversation-paused-{laptop,phone}.png."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from playwright.async_api import Browser, BrowserContext, FilePayload, Page, expect
from sqlalchemy import func, select

from app.catalog.importer import parse_catalog
from app.catalog.service import import_catalog
from app.core.clock import utc_now
from app.models import Account, Conversation, Message, Product
from tests.catalog.test_reimport import FIRST, SECOND
from tests.ui.conftest import Device, LiveServer, screenshots_dir
from tests.ui.desk import seed_account, seed_draft, seed_moderator

pytestmark = pytest.mark.asyncio(loop_scope="module")

SIZES: dict[str, Device] = {
    "laptop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
_people = itertools.count(1)


async def _member(server: LiveServer, account: Account) -> str:
    email = f"rest{next(_people)}@desk.example"
    async with server.session() as session:
        await seed_moderator(session, email, [account.id])
    return email


async def _page(
    server: LiveServer, browser: Browser, size: str, email: str
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(**SIZES[size])
    page = await context.new_page()
    await server.sign_in(page, email)
    return context, page


async def _fits(page: Page, size: str) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size]["viewport"]["width"], "nothing scrolls sideways"


async def _products(server: LiveServer, account_id: int) -> int:
    async with server.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Product).where(Product.account_id == account_id)
        )
    return int(count or 0)


@pytest.mark.parametrize("size", ["laptop", "phone"])
async def test_the_import_preview_lists_the_changes_and_apply_applies_them(
    live_server: LiveServer, browser: Browser, size: str
) -> None:
    async with live_server.session() as session:
        account = await seed_account(session, live_server.cipher)
        items = parse_catalog(FIRST.encode(), "first.csv")
        await import_catalog(session, account_id=account.id, items=items, user=None)
    email = await _member(live_server, account)
    context, page = await _page(live_server, browser, size, email)
    try:
        await page.goto(f"{live_server.url}/catalog/import?account_id={account.id}")
        await page.set_input_files(
            "#import-file",
            files=[FilePayload(name="season.csv", mimeType="text/csv", buffer=SECOND.encode())],
        )
        await page.get_by_role("button", name="Preview").click()
        await expect(
            page.get_by_role("heading", name="What importing season.csv changes")
        ).to_be_visible()
        await expect(page.locator("del", has_text="LENA15")).to_be_visible()
        await expect(page.locator("ins", has_text="LENA20")).to_be_visible()
        await expect(page.get_by_role("link", name="Cancel")).to_be_visible()
        await _fits(page, size)
        counts_fit = "(t => t.scrollWidth <= t.parentElement.clientWidth)"
        assert await page.evaluate(f"{counts_fit}(document.querySelector('table.import-counts'))")
        await page.screenshot(
            path=str(screenshots_dir() / f"catalog-import-preview-{size}.png"), full_page=True
        )
        assert await _products(live_server, account.id) == 4
        await page.get_by_role("button", name="Apply").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "Updated: 1 cooperation, 1 product"
        )
        assert await _products(live_server, account.id) == 6
    finally:
        await context.close()


async def _paused_conversation(server: LiveServer, follower: str) -> tuple[Account, int]:
    async with server.session() as session:
        account = await seed_account(session, server.cipher)
        seeded = await seed_draft(session, account, follower=follower)
        conversation = await session.get(Conversation, seeded.conversation_id)
        assert conversation is not None
        session.add(
            Message(
                account_id=account.id,
                conversation_id=conversation.id,
                mid=f"echo-{seeded.draft_id}",
                direction="out",
                author="influencer",
                kind="text",
                text="Hey, answered you myself: LENA15!",
                payload={},
                sent_at=utc_now(),
            )
        )
        conversation.paused_until = utc_now() + timedelta(minutes=45)
    return account, conversation.id


@pytest.mark.parametrize("size", ["laptop", "phone"])
async def test_the_timed_pause_is_shown_and_resume_now_ends_it(
    live_server: LiveServer, browser: Browser, size: str
) -> None:
    account, conversation_id = await _paused_conversation(live_server, "Mia Follower")
    email = await _member(live_server, account)
    context, page = await _page(live_server, browser, size, email)
    try:
        await page.goto(f"{live_server.url}/conversations/{conversation_id}")
        pause = page.locator("#timed-pause")
        await expect(pause).to_contain_text("Paused until")
        await expect(pause).to_contain_text("because you answered from Instagram")
        await _fits(page, size)
        await page.screenshot(
            path=str(screenshots_dir() / f"conversation-paused-{size}.png"), full_page=True
        )
        await page.get_by_role("button", name="Resume now").click()
        await expect(page.locator("#automation")).to_contain_text("Automation on")
        async with live_server.session() as session:
            conversation = await session.get(Conversation, conversation_id)
            assert conversation is not None
            assert conversation.paused_until is None
    finally:
        await context.close()


async def test_a_hostile_follower_name_is_text_in_the_title(
    live_server: LiveServer, browser: Browser
) -> None:
    hostile = "<script>alert(1)</script>Eve"
    account, conversation_id = await _paused_conversation(live_server, hostile)
    email = await _member(live_server, account)
    context, page = await _page(live_server, browser, "laptop", email)
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    try:
        await page.goto(f"{live_server.url}/conversations/{conversation_id}")
        # The tab title may start with the waiting count ("(1) "), from app/static/alerts.js.
        title = re.sub(r"^\(\d+\) ", "", await page.title())
        assert title == f"{hostile} · inboxpilot"
        await expect(page.get_by_role("heading", name=hostile)).to_be_visible()
        missing = await page.goto(f"{live_server.url}/no/such/page")
        assert missing is not None
        assert missing.status == 404
        await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    finally:
        await context.close()
    assert dialogs == []
