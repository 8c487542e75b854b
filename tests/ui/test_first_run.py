"""The first run, as the README tells a new user: `scripts/serve` prints a sign-in, the user
signs in on a phone-sized window, sends a DM from the simulator and approves the draft from
the queue; the reply lands in the sandbox outbox. The real command, the real process, on a
SQLite file of its own; Debian's chromium through Playwright."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.ui.conftest import PHONE, ROOT, _free_port, screenshots_dir

pytestmark = pytest.mark.asyncio(loop_scope="module")

SIGN_IN = re.compile(r"^Sign in: (\S+@\S+) / (\S+)")
COMPLAINT = "The serum gave me a rash and I want my money back"


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """`scripts/serve --port P` in the repository, its database and key in a temp folder;
    yields (url, email, password) as the command printed them."""
    folder = tmp_path_factory.mktemp("first-run")
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("META_", "OPENAI_", "INSTAGRAM_", "DATABASE_", "SECRET_KEY"))
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'first-run.db'}",
        SECRET_KEY_FILE=str(folder / "secret-key"),
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        REPLY_DEBOUNCE_SECONDS="0.2",
    )
    log = (folder / "serve.log").open("w+")
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "serve"), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        email, password = _wait_until_serving(process, log, url)
        yield url, email, password
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _wait_until_serving(process: subprocess.Popen[bytes], log: Any, url: str) -> tuple[str, str]:
    deadline = time.monotonic() + 180  # the first run may install the locked dependencies
    while time.monotonic() < deadline:
        log.seek(0)
        output = log.read()
        found = [m for line in output.splitlines() if (m := SIGN_IN.match(line.strip()))]
        if process.poll() is not None:
            pytest.fail(f"scripts/serve exited with {process.returncode}:\n{output[-3000:]}")
        if found:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return found[-1].group(1), found[-1].group(2)
            except httpx.TransportError:
                pass
        time.sleep(0.2)
    pytest.fail("scripts/serve did not print a sign-in and answer /healthz in time")


async def test_sign_in_simulate_and_approve_on_a_phone(
    first_run: tuple[str, str, str], browser: Browser
) -> None:
    url, email, password = first_run
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = await context.new_page()
        await page.goto(url)
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").tap()

        await (
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Simulator").tap()
        )
        await page.get_by_role("textbox", name="Message").fill(COMPLAINT)
        await page.get_by_role("button", name="Send as the follower").tap()
        progress = page.locator("#progress")
        await expect(progress).to_contain_text("needs review", timeout=20_000)
        await expect(progress).to_contain_text("Waiting for a moderator")
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        await progress.get_by_role("link", name="approval queue").tap()
        found = page.locator("article.qcard").filter(has_text=COMPLAINT)
        await expect(found).to_be_visible()
        card = page.locator(f"#draft-{await found.get_attribute('data-draft')}")
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        reply = await card.get_by_label("Reply to send").input_value()
        assert reply.strip()
        await card.get_by_role("button", name="Approve", exact=True).tap()
        await expect(card).to_contain_text("Approved.")
        await page.screenshot(path=str(screenshots_dir() / "first-run-queue.png"), full_page=True)

        await (
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Simulator").tap()
        )
        await page.get_by_role("link", name="Sandbox outbox").tap()
        sent = page.locator(".outbox-text").filter(has_text=reply.strip()[:40])
        for _ in range(100):  # held UNDO_SECONDS (8 s) for Undo, then sent by the worker
            if await sent.count():
                break
            await asyncio.sleep(0.2)
            await page.reload()
        await expect(sent.first).to_be_visible()
    finally:
        await context.close()
