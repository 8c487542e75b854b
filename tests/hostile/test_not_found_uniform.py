"""Another tenant's ids and ids that do not exist get the same answer: same status, same
body, on the API and on the pages, so probing ids tells a moderator nothing."""

from __future__ import annotations

from typing import Any

from app.core.db import unit_of_work
from app.users import service as users
from tests.harness import Harness, text_event
from tests.users.web import browser, create_user, sign_in

MISSING = 987_654


async def _other_tenant(harness: Harness) -> dict[str, int]:
    """An account the moderator is not a member of, with one of everything in it."""
    other = await harness.create_account(external_id="17841400000000222", name="Other")
    cooperation = await harness.add_serum(other["id"])
    response = await harness.post_webhook(text_event("17841400000000222", "IGSID-9", "hi there"))
    assert response.status_code == 200
    await harness.run_worker()
    drafts = (await harness.api("GET", f"/api/v1/drafts?account_id={other['id']}")).json()
    conversations = await harness.api("GET", f"/api/v1/conversations?account_id={other['id']}")
    conversation = conversations.json()[0]
    return {
        "account": other["id"],
        "cooperation": cooperation["id"],
        "product": cooperation["products"][0]["id"],
        "draft": drafts[0]["id"],
        "conversation": conversation["id"],
        "contact": conversation["contact_id"],
    }


def _requests(ids: dict[str, int]) -> list[tuple[str, str, dict[str, Any] | None]]:
    a, p, d = ids["account"], ids["product"], ids["draft"]
    c, k = ids["conversation"], ids["contact"]
    return [
        ("GET", f"/api/v1/accounts/{a}", None),
        ("PATCH", f"/api/v1/accounts/{a}", {"name": "mine now"}),
        ("GET", f"/api/v1/accounts/{a}/policy", None),
        ("GET", f"/api/v1/accounts/{a}/cooperations", None),
        ("GET", f"/api/v1/drafts?account_id={a}", None),
        ("GET", f"/api/v1/conversations?account_id={a}", None),
        ("GET", f"/api/v1/contacts?account_id={a}", None),
        ("GET", f"/api/v1/products/{p}", None),
        ("PATCH", f"/api/v1/products/{p}", {"name": "renamed"}),
        ("DELETE", f"/api/v1/products/{p}", None),
        ("POST", f"/api/v1/drafts/{d}/approve", {}),
        ("POST", f"/api/v1/drafts/{d}/reject", {}),
        ("GET", f"/api/v1/conversations/{c}", None),
        ("POST", f"/api/v1/conversations/{c}/pause", None),
        ("GET", f"/api/v1/contacts/{k}", None),
        ("GET", f"/api/v1/contacts/{k}/export", None),
        ("DELETE", f"/api/v1/contacts/{k}", None),
    ]


async def test_foreign_and_missing_ids_answer_the_same_404(harness: Harness) -> None:
    mine = await harness.create_account(external_id="17841400000000111", name="Mine")
    ids = await _other_tenant(harness)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await users.create_user(
            session,
            email="mod@test.example",
            role="moderator",
            password="long enough password",
            account_ids=[mine["id"]],
        )
        token = await users.create_token(session, email="mod@test.example")
    auth = {"Authorization": f"Bearer {token}"}
    missing = dict.fromkeys(ids, MISSING)
    for (method, path, body), (_, missing_path, _) in zip(
        _requests(ids), _requests(missing), strict=True
    ):
        foreign = await harness.client.request(method, path, headers=auth, json=body)
        absent = await harness.client.request(method, missing_path, headers=auth, json=body)
        assert foreign.status_code == 404, (method, path, foreign.text)
        assert (absent.status_code, absent.json()) == (foreign.status_code, foreign.json()), path
    # Nothing of the other tenant changed.
    product = await harness.api("GET", f"/api/v1/products/{ids['product']}")
    assert product.json()["name"] != "renamed"


async def test_pages_answer_foreign_and_missing_ids_alike(harness: Harness) -> None:
    mine = await harness.create_account(external_id="17841400000000111", name="Mine")
    ids = await _other_tenant(harness)
    await create_user(harness, "mod@test.example", account_ids=[mine["id"]])
    async with browser(harness) as client:
        await sign_in(client, "mod@test.example", "long enough password")
        for template in (
            "/conversations/{conversation}",
            "/conversations/{conversation}/thread",
            "/catalog/products/{product}/edit",
            "/catalog/cooperations/{cooperation}/edit",
            "/catalog/cooperations/{cooperation}/products/new",
        ):
            foreign = await client.get(template.format(**ids))
            absent = await client.get(template.format(**dict.fromkeys(ids, MISSING)))
            assert foreign.status_code == 404, (template, foreign.status_code)
            assert absent.status_code == foreign.status_code, template
            assert _main(absent.text) == _main(foreign.text), template


def _main(html: str) -> str:
    """The page's content, without the per-session parts (CSRF token)."""
    start, end = html.find("<main"), html.find("</main>")
    return html[start:end]


async def test_unknown_addresses_are_a_page_for_browsers_and_json_for_scripts(
    harness: Harness,
) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    page = await harness.client.get("/no/such/page", headers=html)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is no page at this address." in page.text
    assert "content-security-policy" in page.headers
    for path, headers in (
        ("/no/such/page", {}),
        ("/api/v1/no-such-thing", html),
        ("/no/such/page", {**html, "HX-Request": "true"}),
    ):
        answer = await harness.client.get(path, headers=headers)
        assert answer.status_code == 404
        assert answer.json() == {"detail": "Not Found"}
