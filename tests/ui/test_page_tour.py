"""Every page of the service in Debian's chromium, laptop (1280x800) and phone (390x844)
sized, as an admin with one account and a draft waiting: each answers, nothing on it
scrolls sideways, the CSP refuses nothing, and a full-page screenshot of each goes to
$INBOXPILOT_SCREENSHOTS (default artifacts/screenshots) as tour-<page>-<size>.png. (The
simulator exists in sandbox mode only: tests/ui/test_simulator_pages.py.)"""

from __future__ import annotations

import itertools

import pytest
from playwright.async_api import Browser, Page, ViewportSize

from app.users import service as users
from tests.builders import create_cooperation, create_product
from tests.ui.conftest import LiveServer, screenshots_dir
from tests.ui.desk import PASSWORD, seed_account, seed_draft

pytestmark = pytest.mark.asyncio(loop_scope="module")

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
_admins = itertools.count(1)


async def _seed(server: LiveServer, admin_email: str) -> dict[str, int]:
    async with server.session() as session:
        account = await seed_account(session, server.cipher, name="Lena Loves")
        admin = await users.create_user(
            session, email=admin_email, role="admin", password=PASSWORD, account_ids=[account.id]
        )
        seeded = await seed_draft(session, account, follower="Mia Follower")
        cooperation = await create_cooperation(
            session,
            account,
            utm={"utm_source": "instagram", "utm_campaign": "autumn-serum-" + "x" * 80},
        )
        product = await create_product(session, cooperation, name="Tour Serum")
        return {
            "account": account.id,
            "conversation": seeded.conversation_id,
            "cooperation": cooperation.id,
            "product": product.id,
            "admin": admin.id,
        }


def _pages(ids: dict[str, int]) -> list[tuple[str, str, int]]:
    """(name, path, expected status) of every page a person opens."""
    account, cooperation = ids["account"], ids["cooperation"]
    return [
        ("accounts", "/", 200),
        ("dashboard", f"/accounts/{account}", 200),
        ("queue", "/queue", 200),
        ("sent", "/sent", 200),
        ("sent-account", f"/accounts/{account}/sent", 200),
        ("conversations", "/conversations", 200),
        ("conversation", f"/conversations/{ids['conversation']}", 200),
        ("catalog", "/catalog", 200),
        ("catalog-new-cooperation", f"/catalog/cooperations/new?account_id={account}", 200),
        ("catalog-edit-cooperation", f"/catalog/cooperations/{cooperation}/edit", 200),
        ("catalog-new-product", f"/catalog/cooperations/{cooperation}/products/new", 200),
        ("catalog-edit-product", f"/catalog/products/{ids['product']}/edit", 200),
        ("catalog-import", f"/catalog/import?account_id={account}", 200),
        ("cooperation-report", f"/cooperations/{cooperation}/report", 200),
        ("rules", f"/accounts/{account}/settings", 200),
        ("comment-triggers", f"/accounts/{account}/comment-triggers", 200),
        ("outbox", f"/accounts/{account}/outbox", 200),
        ("alerts", "/account/alerts", 200),
        ("password", "/account/password", 200),
        ("people", "/admin/users", 200),
        ("person", f"/admin/users/{ids['admin']}", 200),
        ("audit", "/admin/audit", 200),
        ("not-found", "/no/such/page", 404),
    ]


async def _check(page: Page, base: str, name: str, path: str, status: int, size: str) -> None:
    response = await page.goto(base + path)
    assert response is not None
    assert response.status == status, f"{path}: {response.status}"
    await page.wait_for_load_state("networkidle")
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None
    assert width <= viewport["width"], f"{path} scrolls sideways at {size} size ({width} px)"
    await page.screenshot(path=str(screenshots_dir() / f"tour-{name}-{size}.png"), full_page=True)


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
async def test_every_page_at_both_sizes(
    live_server: LiveServer, browser: Browser, viewport: ViewportSize
) -> None:
    admin = f"tour-admin-{next(_admins)}@test.example"
    ids = await _seed(live_server, admin)
    phone = viewport is PHONE
    context = await browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    refused: list[str] = []
    page = await context.new_page()
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    try:
        await live_server.sign_in(page, admin)
        size = "phone" if phone else "laptop"
        for name, path, status in _pages(ids):
            await _check(page, live_server.url, name, path, status, size)
        # Signed out: the sign-in page and an invitation's opener.
        await context.clear_cookies()
        for name, path in (("sign-in", "/login"), ("invite", "/invite")):
            await _check(page, live_server.url, name, path, 200, size)
        # A follower's tracked link that leads nowhere (app/links).
        await _check(
            page, live_server.url, "link-not-found", "/l/tok_unknown_0123456789", 404, size
        )
    finally:
        await context.close()
    assert refused == []
