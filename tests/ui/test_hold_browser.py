"""Safe keys, Undo, held automatic replies and a session that expires mid-edit, in Debian's
chromium against the app on loopback (its worker running, Meta's Send API faked on
loopback), with approvals held UNDO_SECONDS on the server.

Screenshots (laptop 1280x800, phone 390x844) go to $INBOXPILOT_SCREENSHOTS."""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Locator, Page, ViewportSize, expect
from sqlalchemy import delete, select

from app.config import Settings
from app.core.clock import utc_now
from app.models import Account, Conversation, Draft, DraftStatus, OutboundMessage, User, WebSession
from app.outbox.service import queue_reply
from tests.ui.conftest import LiveServer, screenshots_dir, serve
from tests.ui.desk import PASSWORD, Seeded, seed_account, seed_draft, seed_moderator

pytestmark = pytest.mark.asyncio(loop_scope="module")

UNDO = 4
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
_people = itertools.count(1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def held_server(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    folder = tmp_path_factory.mktemp("live-hold")
    path = folder / "live.db"
    shutil.copy(sqlite_template, path)
    async with serve(f"sqlite+aiosqlite:///{path}", folder, UNDO_SECONDS=UNDO) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport=LAPTOP)
    yield context
    await context.close()


async def _desk(server: LiveServer, drafts: int = 1) -> tuple[str, list[Seeded]]:
    async with server.session() as session:
        account = await seed_account(session, server.cipher)
        seeded = [
            await seed_draft(session, account, follower=f"Follower {n}", text=f"Reply {n}: LENA15")
            for n in range(drafts)
        ]
        email = f"hold{next(_people)}@desk.example"
        await seed_moderator(session, email, [account.id])
    return email, seeded


async def _signed_in(server: LiveServer, context: BrowserContext, email: str) -> Page:
    page = await context.new_page()
    await server.sign_in(page, email)
    return page


async def _status(server: LiveServer, draft_id: int) -> str:
    async with server.session() as session:
        draft = await session.get(Draft, draft_id)
        assert draft is not None
        return draft.status


async def _sent_to(server: LiveServer, follower_id: str, seconds: float = 10) -> list[str]:
    deadline = asyncio.get_running_loop().time() + seconds
    while not server.sends_to(follower_id) and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return [s["message"]["text"] for s in server.sends_to(follower_id)]


def _card(page: Page, draft_id: int) -> Locator:
    return page.locator(f"#draft-{draft_id}")


async def _shots(page: Page, name: str, show: Locator | None = None) -> None:
    """The page at laptop and phone size (with `show`, a locator, in view), then back to
    the laptop."""
    for size, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        await page.set_viewport_size(viewport)
        if show is not None:
            await show.scroll_into_view_if_needed()
        await page.screenshot(path=str(screenshots_dir() / f"{name}-{size}.png"))
    await page.set_viewport_size(LAPTOP)


async def test_after_a_wheel_scroll_the_key_acts_on_the_card_in_view(
    held_server: LiveServer, context: BrowserContext
) -> None:
    email, seeded = await _desk(held_server, drafts=14)
    page = await _signed_in(held_server, context, email)
    first, target = seeded[0], seeded[6]
    await expect(_card(page, first.draft_id)).to_have_class(re.compile(r"\bfocused\b"))

    box = await _card(page, target.draft_id).bounding_box()
    assert box is not None
    await page.mouse.move(640, 400)
    await page.mouse.wheel(0, box["y"] - 8)  # the target at the top, the one above gone
    await expect(_card(page, target.draft_id)).to_have_class(re.compile(r"\bfocused\b"))
    await expect(_card(page, first.draft_id)).not_to_have_class(re.compile(r"\bfocused\b"))
    await page.screenshot(path=str(screenshots_dir() / "hold-keys-follow-scroll-laptop.png"))
    await page.keyboard.press("a")

    await expect(_card(page, target.draft_id)).to_contain_text("Approved.")
    assert await _status(held_server, target.draft_id) == "approved"
    assert await _status(held_server, first.draft_id) == "pending"
    await page.set_viewport_size(PHONE)
    await page.mouse.wheel(0, 300)
    await page.screenshot(path=str(screenshots_dir() / "hold-keys-follow-scroll-phone.png"))


async def test_a_draft_link_puts_the_keys_on_that_draft(
    held_server: LiveServer, context: BrowserContext
) -> None:
    email, seeded = await _desk(held_server, drafts=5)
    page = await _signed_in(held_server, context, email)
    target = seeded[4]
    await page.goto(f"{held_server.url}/queue#draft-{target.draft_id}")
    await expect(_card(page, target.draft_id)).to_have_class(re.compile(r"\bfocused\b"))
    await expect(_card(page, target.draft_id)).to_be_in_viewport()
    await page.keyboard.press("a")
    await expect(_card(page, target.draft_id)).to_contain_text("Approved.")
    assert [await _status(held_server, s.draft_id) for s in seeded[:4]] == ["pending"] * 4

    # A link followed later in the same page (hashchange) moves the keys as well; first the
    # approval's swap settles (after it the keys move on to the next card by design).
    await page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )
    other = seeded[1]
    await page.evaluate("id => { location.hash = 'draft-' + id; }", other.draft_id)
    await expect(_card(page, other.draft_id)).to_have_class(re.compile(r"\bfocused\b"))
    await page.keyboard.press("r")
    await expect(_card(page, other.draft_id).get_by_label("Reason for rejecting")).to_be_focused()


async def test_undo_stops_an_approval(held_server: LiveServer, context: BrowserContext) -> None:
    email, (seeded,) = await _desk(held_server)
    page = await _signed_in(held_server, context, email)
    card = _card(page, seeded.draft_id)
    await card.get_by_role("button", name="Approve").click()
    await expect(card).to_contain_text("Sending in")
    await _shots(page, "hold-undo")
    await card.get_by_role("button", name="Undo").click()

    await expect(card).to_contain_text("Approval undone: nothing was sent.")
    await expect(card).to_have_attribute("data-state", "pending")
    await asyncio.sleep(UNDO + 1.5)  # the worker polls every 0.1 s: past the hold, nothing
    assert held_server.sends_to(seeded.follower_id) == []
    assert await _status(held_server, seeded.draft_id) == "pending"

    # Approved again and left alone, it goes once the hold is over; Undo disappears.
    await card.get_by_role("button", name="Approve").click()
    await expect(card.get_by_role("button", name="Undo")).to_be_visible()
    await expect(card.get_by_role("button", name="Undo")).to_be_hidden(timeout=(UNDO + 2) * 1000)
    assert await _sent_to(held_server, seeded.follower_id) == [seeded.text]


async def _held_auto_reply(server: LiveServer, seconds: float) -> tuple[str, Seeded]:
    """An automatic reply held by the account's hold_auto_seconds, as the draft job
    queues it."""
    email, (seeded,) = await _desk(server)
    async with server.session() as session:
        draft = await session.get(Draft, seeded.draft_id)
        account = await session.get(Account, seeded.account_id)
        conversation = await session.get(Conversation, seeded.conversation_id)
        assert draft is not None
        assert account is not None
        assert conversation is not None
        draft.status, draft.decision, draft.decided_at = DraftStatus.APPROVED, "auto", utc_now()
        settings: Settings = server.settings
        await queue_reply(
            session,
            settings,
            account=account,
            conversation=conversation,
            text=draft.text,
            draft=draft,
            hold_seconds=seconds,
        )
    return email, seeded


async def test_the_about_to_send_strip_cancels_an_automatic_reply(
    held_server: LiveServer, context: BrowserContext
) -> None:
    email, seeded = await _held_auto_reply(held_server, 90)
    page = await _signed_in(held_server, context, email)
    strip = page.locator("#about-to-send")
    await expect(strip).to_be_visible()
    entry = strip.locator(f"#held-{seeded.draft_id}")
    await expect(entry).to_contain_text("Follower 0")
    await expect(entry).to_contain_text("Is there a code for the vitamin C serum?")
    await expect(entry).to_contain_text(seeded.text)
    await expect(entry).to_contain_text(re.compile(r"\b(8\d|90) s left"))
    await _shots(page, "hold-about-to-send")

    await entry.get_by_role("button", name="Cancel").click()
    await expect(entry).to_contain_text("Cancelled.")
    async with held_server.session() as session:
        draft = await session.get(Draft, seeded.draft_id)
        outbound = await session.scalar(
            select(OutboundMessage).where(OutboundMessage.draft_id == seeded.draft_id)
        )
        assert draft is not None
        assert outbound is not None
        assert (draft.status, draft.reject_reason, outbound.status) == (
            "rejected",
            "cancelled",
            "cancelled",
        )
    assert held_server.sends_to(seeded.follower_id) == []
    await expect(entry).to_be_hidden(timeout=10_000)  # the next poll drops it


async def test_a_half_typed_edit_survives_a_session_expiry(
    held_server: LiveServer, context: BrowserContext
) -> None:
    email, (seeded,) = await _desk(held_server)
    page = await _signed_in(held_server, context, email)
    card = _card(page, seeded.draft_id)
    edited = "Hi! LENA15 gives you 15% off, and it works until December."
    await card.get_by_label("Reply to send").fill(edited)
    async with held_server.session() as session:  # the session ends on the server
        user_id = await session.scalar(select(User.id).where(User.email == email))
        await session.execute(delete(WebSession).where(WebSession.user_id == user_id))

    await card.get_by_role("button", name="Approve edited").click()

    banner = page.locator("#session-expired")
    await expect(banner).to_contain_text("Your session has expired, so nothing was sent.")
    await expect(page).to_have_url(re.compile(r"/queue$"))
    await _shots(page, "hold-session-expired")
    assert await _status(held_server, seeded.draft_id) == "pending"

    await banner.get_by_role("link", name="Sign in again").click()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(rf"/queue#draft-{seeded.draft_id}$"))
    card = _card(page, seeded.draft_id)
    await expect(card.get_by_label("Reply to send")).to_have_value(edited)
    await expect(card).to_contain_text("Your unsent text was restored.")
    await _shots(page, "hold-edit-restored", show=card)
    await card.get_by_role("button", name="Approve edited").click()
    await expect(card).to_contain_text("Approved with your edit.")
    assert await _sent_to(held_server, seeded.follower_id, UNDO + 6) == [edited]


async def test_a_half_typed_reply_by_hand_survives_a_session_expiry(
    held_server: LiveServer, context: BrowserContext
) -> None:
    email, (seeded,) = await _desk(held_server)
    page = await _signed_in(held_server, context, email)
    await page.goto(f"{held_server.url}/conversations/{seeded.conversation_id}")
    typed = "Hi! I'll check your order myself and write back today."
    await page.get_by_label("Write a reply").fill(typed)
    async with held_server.session() as session:
        user_id = await session.scalar(select(User.id).where(User.email == email))
        await session.execute(delete(WebSession).where(WebSession.user_id == user_id))

    await page.get_by_role("button", name="Send reply").click()

    banner = page.locator("#session-expired")
    await expect(banner).to_contain_text("Your session has expired, so nothing was sent.")
    await banner.get_by_role("link", name="Sign in again").click()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(rf"/conversations/{seeded.conversation_id}(#.*)?$"))
    await expect(page.get_by_label("Write a reply")).to_have_value(typed)
    await page.get_by_role("button", name="Send reply").click()
    await expect(page.locator("#reply")).to_contain_text("Your reply is queued")
    assert await _sent_to(held_server, seeded.follower_id) == [typed]
    # Sent: nothing is restored on the next visit.
    await page.reload()
    await expect(page.get_by_label("Write a reply")).to_have_value("")


async def test_the_rules_page_shows_the_hold_read_only_to_a_moderator(
    held_server: LiveServer, context: BrowserContext
) -> None:
    email, (seeded,) = await _desk(held_server)
    page = await _signed_in(held_server, context, email)
    await page.goto(f"{held_server.url}/accounts/{seeded.account_id}/settings")
    hold = page.get_by_label("Seconds an automatic reply waits before it is sent")
    await expect(hold).to_have_value("0")
    await expect(hold).to_be_disabled()
    await _shots(page, "hold-rules", show=hold)
