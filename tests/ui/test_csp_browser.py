"""The desk under its Content-Security-Policy, in chromium: no page reports a violation
(an inline script, an inline style, htmx evaluating code) or a console error, and the
htmx behaviour that used to sit in inline attributes still works."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from app.users.invitations import create_invitation, invitation_link
from tests.ui.conftest import LiveServer
from tests.ui.desk import seed_account, seed_draft, seed_moderator

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Recorded by the page itself from its first moment (an init script is not subject to CSP).
_LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(
    e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    await context.add_init_script(_LISTEN)
    yield context
    await context.close()


async def _violations(page: Page) -> list[str]:
    return list(await page.evaluate("window.__violations || []"))


async def test_main_pages_report_no_csp_violation(
    live_server: LiveServer, context: BrowserContext
) -> None:
    async with live_server.session() as session:
        account = await seed_account(session, live_server.cipher, name="Csp Lena")
        seeded = await seed_draft(session, account)
        await seed_moderator(session, "csp@desk.example", [account.id])
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await live_server.sign_in(page, "csp@desk.example")
    paths = (
        "/queue",
        "/conversations",
        f"/conversations/{seeded.conversation_id}",
        "/catalog",
        "/",
        "/account/password",
        "/docs",
        "/no-such-page",
    )
    for path in paths:
        await page.goto(f"{live_server.url}{path}")
        await page.wait_for_load_state("networkidle")
        assert await _violations(page) == [], path
        # The title is text, never markup that leaked into the tab.
        assert "<" not in await page.title(), path
    # /docs really drew Swagger UI from our own files.
    await page.goto(f"{live_server.url}/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("inboxpilot")
    assert await _violations(page) == []
    # htmx still works under the policy: approving a draft swaps the card in place.
    await page.goto(f"{live_server.url}/queue")
    card = page.locator(f"#draft-{seeded.draft_id}")
    await card.get_by_role("button", name="Approve").click()
    await expect(card).to_contain_text("Approved.")
    assert await _violations(page) == []
    # Loading errors are expected (/no-such-page answers 404; seeded pictures point at hosts
    # that do not exist); anything else (a blocked script, htmx refusing to eval) is not.
    unexpected = [e for e in errors if not e.startswith("Failed to load resource")]
    assert unexpected == []


async def test_an_invitation_link_opens_from_its_fragment(
    live_server: LiveServer, context: BrowserContext
) -> None:
    async with live_server.session() as session:
        token, _ = await create_invitation(
            session, admin=None, email="fragment@desk.example", role="moderator"
        )
    page = await context.new_page()
    await page.goto(invitation_link(live_server.url, token))
    # static/pages.js posted the code from the fragment: the form for this invitation.
    await expect(page.get_by_role("heading", name="Welcome to inboxpilot")).to_be_visible()
    await expect(page.locator("main")).to_contain_text("fragment@desk.example")
    await page.locator("#password").fill("a long enough password")
    await page.get_by_label("Password again").fill("a long enough password")
    await page.get_by_role("button", name="Set password and sign in").click()
    await page.wait_for_url(f"{live_server.url}/")
    assert token not in page.url
    assert await _violations(page) == []
