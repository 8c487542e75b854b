"""A cooperation's report in Debian's chromium on a 390x844 phone, under the real CSP: the
figures and the chart are there, nothing scrolls sideways, the PDF downloads. Screenshot:
report-phone.png in $INBOXPILOT_SCREENSHOTS (default artifacts/screenshots)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, ViewportSize, expect

from app.users import service as users
from tests.reports.seed import seed_month
from tests.ui.conftest import LiveServer, screenshots_dir
from tests.ui.desk import PASSWORD, seed_account

pytestmark = pytest.mark.asyncio(loop_scope="module")

PHONE: ViewportSize = {"width": 390, "height": 844}
EMAIL = "owner@report.example"
_LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


async def test_the_report_on_a_phone(live_server: LiveServer, browser: Browser) -> None:
    async with live_server.session() as session:
        account = await seed_account(session, live_server.cipher, name="Lena Loves")
        person = await users.create_user(
            session, email=EMAIL, role="moderator", password=PASSWORD, account_ids=[account.id]
        )
        seeded = await seed_month(session, account, person.id)
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    await context.add_init_script(_LISTEN)
    page = await context.new_page()
    try:
        await live_server.sign_in(page, EMAIL)
        await page.goto(f"{live_server.url}/catalog?account_id={account.id}")
        await page.get_by_role("link", name="Report for GlowLab Autumn skincare").click()
        await page.get_by_label("From", exact=True).fill("2026-11-01")
        await page.get_by_label("To", exact=True).fill("2026-11-30")
        await page.get_by_role("button", name="Show these dates").click()
        await expect(page.locator('[data-figure="replies_sent"]')).to_have_text("4")
        await expect(page.locator('[data-figure="clicks"]')).to_have_text("7")
        chart = page.locator("figure.chart svg")
        await expect(chart).to_be_visible()
        box = await chart.bounding_box()
        assert box is not None
        assert box["width"] > PHONE["width"] * 0.7
        assert await page.locator("figure.chart rect.replies").count() == 2
        await expect(page.locator(f'tr[data-product="{seeded.serum_id}"]')).to_contain_text(
            "Vitamin C Serum"
        )
        await page.get_by_text("The figures day by day", exact=True).click()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the report scrolls sideways on a phone"
        await page.screenshot(path=str(screenshots_dir() / "report-phone.png"), full_page=True)
        async with page.expect_download() as download:
            await page.get_by_role("link", name="Download PDF").click()
        saved = await download.value
        assert saved.suggested_filename == (
            "report-glowlab-autumn-skincare-2026-11-01-2026-11-30.pdf"
        )
        assert await page.evaluate("window.__violations || []") == []
    finally:
        await context.close()
