"""The alerts page and the waiting count in the tab title, in Debian's chromium: the title
counts the drafts the person can see and changes when a draft arrives (the page's poll,
driven by Playwright's clock); a browser's push subscription is saved through the page's
endpoint (a real push subscription needs a push service, which is not reachable offline).
Screenshots of the alerts page at 1280x800 and 390x844."""

from __future__ import annotations

import base64
import itertools
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.ui.conftest import LiveServer, screenshots_dir, serve
from tests.ui.desk import seed_account, seed_draft, seed_moderator

pytestmark = pytest.mark.asyncio(loop_scope="module")

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
_emails = itertools.count(1)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


KEY = ec.generate_private_key(ec.SECP256R1())
VAPID_PRIVATE = _b64url(KEY.private_numbers().private_value.to_bytes(32, "big"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def alerts_server(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    folder = tmp_path_factory.mktemp("live-alerts")
    path = folder / "live.db"
    shutil.copy(sqlite_template, path)
    async with serve(
        f"sqlite+aiosqlite:///{path}", folder, VAPID_PRIVATE_KEY=VAPID_PRIVATE
    ) as server:
        yield server


async def _moderator_with_drafts(server: LiveServer, drafts: int) -> tuple[str, Any]:
    email = f"alerts{next(_emails)}@test.example"
    async with server.session() as session:
        account = await seed_account(session, server.cipher, name="Lena Loves")
        other = await seed_account(session, server.cipher, name="Someone Else")
        await seed_moderator(session, email, [account.id])
        for _ in range(drafts):
            await seed_draft(session, account)
        await seed_draft(session, other)  # not theirs: never counted
    return email, account


async def _page(
    browser: Browser, server: LiveServer, email: str, viewport: ViewportSize
) -> tuple[Page, list[str]]:
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    errors: list[str] = []
    # Refusals by the Content-Security-Policy (the seeded pictures' host does not resolve).
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.clock.install()
    await server.sign_in(page, email)
    return page, errors


async def test_the_tab_title_counts_waiting_drafts_and_follows_new_ones(
    alerts_server: LiveServer, browser: Browser
) -> None:
    email, account = await _moderator_with_drafts(alerts_server, 2)
    page, errors = await _page(browser, alerts_server, email, LAPTOP)
    try:
        await expect(page).to_have_title("(2) Queue · inboxpilot")
        async with alerts_server.session() as session:
            await seed_draft(session, account)
        await page.clock.run_for(31_000)  # the next poll
        await expect(page).to_have_title("(3) Queue · inboxpilot")
        await page.goto(f"{alerts_server.url}/account/alerts")
        await expect(page).to_have_title("(3) Alerts · inboxpilot")
        assert errors == [], errors  # nothing refused by the CSP
    finally:
        await page.context.close()


async def test_alerts_page_saves_choices_and_a_browser_subscription(
    alerts_server: LiveServer, browser: Browser
) -> None:
    email, _ = await _moderator_with_drafts(alerts_server, 1)
    page, errors = await _page(browser, alerts_server, email, LAPTOP)
    try:
        await page.goto(f"{alerts_server.url}/account/alerts")
        await expect(page.get_by_text("E-mail is not set up on this server")).to_be_visible()
        await page.get_by_label("Drafts waiting longer than").select_option("60")
        await page.get_by_label("Sensitive messages, as soon as they arrive").check()
        await page.get_by_role("button", name="Save alerts").click()
        await expect(page.get_by_role("status").first).to_have_text("Saved.")
        await expect(page.get_by_label("Drafts waiting longer than")).to_have_value("60")
        await expect(
            page.get_by_label("Sensitive messages, as soon as they arrive")
        ).to_be_checked()
        await expect(page.get_by_label("Accounts that need reconnecting")).not_to_be_checked()
        browser_key = ec.generate_private_key(ec.SECP256R1())
        p256dh = _b64url(
            browser_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )
        status = await page.evaluate(
            """async ([p256dh, auth]) => {
                const csrf = document.getElementById("push-on").dataset.csrf;
                const r = await fetch("/account/alerts/push", {
                    method: "POST",
                    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
                    body: JSON.stringify({endpoint: "https://push.example.test/send/1",
                                          keys: {p256dh, auth}})});
                return r.status;
            }""",
            [p256dh, _b64url(os.urandom(16))],
        )
        assert status == 204
        await page.reload()
        await expect(page.locator("#push-status")).to_have_text(
            "Push is on for 1 browser of yours."
        )
        await page.screenshot(path=str(screenshots_dir() / "alerts.png"), full_page=True)
        assert errors == [], errors
    finally:
        await page.context.close()


async def test_alerts_page_on_a_phone(alerts_server: LiveServer, browser: Browser) -> None:
    email, _ = await _moderator_with_drafts(alerts_server, 4)
    page, errors = await _page(browser, alerts_server, email, PHONE)
    try:
        await page.goto(f"{alerts_server.url}/account/alerts")
        await expect(page).to_have_title("(4) Alerts · inboxpilot")
        save = page.get_by_role("button", name="Save alerts")
        await expect(save).to_be_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "nothing wider than the phone"
        await page.screenshot(path=str(screenshots_dir() / "alerts-phone.png"), full_page=True)
        assert errors == [], errors
    finally:
        await page.context.close()
