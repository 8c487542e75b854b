"""Error answers: a page in the layout for a browser (403, 404), `{"detail": ...}` for the
API and for scripts; titles escaped, whatever a follower calls themselves."""

from __future__ import annotations

import re

import httpx

from app.core.db import unit_of_work
from tests.accounts.conftest import sign_in
from tests.harness import Harness
from tests.ui.desk import PASSWORD, seed_account, seed_draft, seed_moderator
from tests.ui.test_queue_pages import HX

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
HOSTILE = "</title><script>alert(1)</script>"


def _title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    assert found is not None, html[:300]
    return found.group(1)


def _is_page(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "<main" in response.text


async def test_a_page_a_role_may_not_see_is_a_403_page_and_the_api_stays_json(
    harness: Harness,
) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await seed_account(session, harness.runtime.cipher)
        await seed_moderator(session, "mo@test.example", [account.id])
    await sign_in(harness, "mo@test.example", PASSWORD)
    for path in ("/admin/users", "/admin/audit"):
        refused = await harness.client.get(path, headers=HTML)
        _is_page(refused, 403)
        assert _title(refused.text) == "Not allowed · inboxpilot"
        assert "Only admins may open this page." in refused.text
    # A signed-in browser posting a form with a stale CSRF token: a page, not JSON.
    forged = await harness.client.post(
        "/account/password", data={"csrf_token": "stale"}, headers=HTML
    )
    _is_page(forged, 403)
    assert "The form expired or came from another site" in forged.text
    # The API answers JSON whatever the Accept header says.
    api = await harness.client.post("/api/v1/accounts", json={}, headers={**HTML, **harness.auth})
    assert api.status_code in (403, 422)
    assert "detail" in api.json()


async def test_another_accounts_thread_is_a_404_page_for_browsers_json_for_htmx(
    harness: Harness,
) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        mine = await seed_account(session, harness.runtime.cipher)
        other = await seed_account(session, harness.runtime.cipher, name="Other")
        theirs = await seed_draft(session, other, follower="Their Follower")
        await seed_moderator(session, "mo2@test.example", [mine.id])
    await sign_in(harness, "mo2@test.example", PASSWORD)
    path = f"/conversations/{theirs.conversation_id}/thread"
    page = await harness.client.get(path, headers=HTML)
    _is_page(page, 404)
    assert _title(page.text) == "Not found · inboxpilot"
    assert "Their Follower" not in page.text
    fragment = await harness.client.get(path, headers={**HTML, **HX})
    assert fragment.status_code == 404
    assert fragment.json() == {"detail": "conversation not found"}
    unknown = await harness.client.get("/conversations/1/nothing-here", headers=HTML)
    _is_page(unknown, 404)
    assert (await harness.client.get("/nothing-here")).json() == {"detail": "Not Found"}


async def test_a_hostile_follower_name_is_text_in_titles_and_pages(harness: Harness) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await seed_account(session, harness.runtime.cipher, name=HOSTILE)
        seeded = await seed_draft(session, account, follower=HOSTILE)
    await sign_in(harness)
    escaped = "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    conversation = await harness.client.get(f"/conversations/{seeded.conversation_id}")
    assert conversation.status_code == 200
    assert _title(conversation.text) == f"{escaped} · inboxpilot"
    for path in (
        f"/conversations/{seeded.conversation_id}",
        "/conversations",
        "/queue",
        f"/accounts/{account.id}/settings",
        f"/catalog?account_id={account.id}",
        "/",
    ):
        response = await harness.client.get(path)
        assert response.status_code == 200, path
        assert "<script>alert(1)" not in response.text, path
        assert "</title><script>" not in response.text, path
        assert _title(response.text).count("<") == 0, path
    assert escaped in conversation.text
