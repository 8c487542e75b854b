"""Text no database can store, and over-long input: a 4xx with {"detail": ...}, never a 500.

The unstorable and non-ASCII cases were 500s before: PostgreSQL refuses NUL in text and
JSONB, no driver can encode a lone surrogate, and `hmac.compare_digest` raises on non-ASCII
`str`. The bounds keep names, lists and numbers to sizes the product can use.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app.core.db import unit_of_work
from app.models import Draft
from app.policy.schemas import Policy
from tests.accounts.conftest import facebook_callback, sign_in, start
from tests.harness import Harness
from tests.ui.desk import seed_account, seed_draft

NUL = "bad\x00text"
SURROGATE = "bad\ud800text"  # json.dumps writes it as the escape "\ud800"


def _bodies(bad: str) -> list[tuple[str, str, dict[str, Any]]]:
    product = {"name": "Serum", "aliases": [bad]}
    return [
        ("POST", "/api/v1/accounts", {"platform": "instagram", "external_id": "9", "name": bad}),
        ("PATCH", "/api/v1/accounts/{account}", {"persona": bad}),
        ("PATCH", "/api/v1/accounts/{account}", {"languages": [bad]}),
        ("PUT", "/api/v1/accounts/{account}/policy", {"auto_intents": [bad]}),
        ("POST", "/api/v1/accounts/{account}/cooperations", {"brand": bad}),
        ("POST", "/api/v1/accounts/{account}/cooperations", {"brand": "B", "notes": bad}),
        ("POST", "/api/v1/accounts/{account}/cooperations", {"brand": "B", "products": [product]}),
        ("POST", "/api/v1/cooperations/{cooperation}/products", {"name": "N", "description": bad}),
        ("PATCH", "/api/v1/products/{product}", {"discount_code": bad}),
        ("PATCH", "/api/v1/products/{product}", {"aliases": ["ok", bad]}),
        ("POST", "/api/v1/drafts/1/approve", {"text": bad}),
        ("POST", "/api/v1/drafts/1/reject", {"reason": bad}),
    ]


async def _seed(harness: Harness) -> dict[str, int]:
    account = await harness.create_account()
    cooperation = await harness.add_serum(account["id"])
    return {
        "account": account["id"],
        "cooperation": cooperation["id"],
        "product": cooperation["products"][0]["id"],
    }


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
async def test_unstorable_text_is_a_422_naming_the_field(harness: Harness, bad: str) -> None:
    ids = await _seed(harness)
    for method, path, body in _bodies(bad):
        response = await harness.client.request(
            method,
            path.format(**ids),
            # As JSON escapes (\u0000, \ud800): what a client can put on the wire.
            content=json.dumps(body).encode(),
            headers={**harness.auth, "Content-Type": "application/json"},
        )
        # Draft 1 does not exist: the body is checked before the handler looks.
        assert response.status_code == 422, (method, path, body, response.text)
        [problem] = response.json()["detail"]
        assert problem["loc"][0] == "body", problem
    cooperations = await harness.api("GET", f"/api/v1/accounts/{ids['account']}/cooperations")
    assert len(cooperations.json()) == 1  # nothing half-written


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/accounts/{account}", {"languages": ["x" * 9]}),
        ("/api/v1/accounts/{account}", {"languages": ["de", "not a language"]}),
        ("/api/v1/accounts/{account}", {"languages": ["de"] * 11}),
        ("/api/v1/products/{product}", {"aliases": ["a" * 301]}),
        ("/api/v1/products/{product}", {"aliases": ["a"] * 51}),
        ("/api/v1/accounts/{account}", {"retention_days": 10**6}),
        ("/api/v1/products/{product}", {"price": "1e400"}),
    ],
)
async def test_over_long_or_out_of_range_input_is_a_422(
    harness: Harness, path: str, body: dict[str, Any]
) -> None:
    ids = await _seed(harness)
    response = await harness.api("PATCH", path.format(**ids), json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


async def test_intents_are_bounded(harness: Harness) -> None:
    ids = await _seed(harness)
    path = f"/api/v1/accounts/{ids['account']}/policy"
    policy = (await harness.api("GET", path)).json()
    for intents in (["x" * 49], [""], ["greeting"] * 101):
        response = await harness.api("PUT", path, json={**policy, "auto_intents": intents})
        assert response.status_code == 422, intents


async def test_a_nul_in_the_sign_in_email_is_a_failed_sign_in(harness: Harness) -> None:
    form = await harness.client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert found is not None
    response = await harness.client.post(
        "/login",
        data={"email": "admin\x00@test.example", "password": "x", "csrf_token": found[1]},
    )
    assert response.status_code == 401


async def test_a_non_ascii_csrf_token_is_refused(harness: Harness) -> None:
    await harness.client.get("/login")  # sets the login CSRF cookie
    response = await harness.client.post(
        "/login",
        data={"email": "admin@test.example", "password": "correct horse", "csrf_token": "é"},
    )
    assert response.status_code == 403


async def test_a_non_ascii_oauth_state_is_not_valid(harness: Harness) -> None:
    await sign_in(harness)
    dialog = await start(harness, "/oauth/meta/start")
    state_id = dialog["state"].split(".")[0]
    for forged in (f"{state_id}.é", f"{state_id}.\x00", "é.é"):
        response = await facebook_callback(harness, state=forged, code="any")
        assert response.status_code == 400, forged
        assert "not valid" in response.text


@pytest.mark.parametrize("code", ["%00abc", "abc%00", "%C3%A9t%C3%A9", "a" * 65])
async def test_a_strange_deletion_code_is_unknown(harness: Harness, code: str) -> None:
    response = await harness.client.get(f"/meta/data-deletion/{code}")
    assert response.status_code == 404


async def test_a_nul_from_the_moderators_pages_is_refused_and_the_draft_stays(
    harness: Harness,
) -> None:
    # The pages post plain form fields, not the API's schemas: the service checks too.
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await seed_account(session, harness.runtime.cipher)
        seeded = await seed_draft(session, account)
    await sign_in(harness)
    queue = await harness.client.get("/queue")
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', queue.text)
    assert found is not None
    headers = {"HX-Request": "true", "X-CSRF-Token": found[1]}
    for action, data in (("approve", {"text": NUL}), ("reject", {"reason": NUL})):
        response = await harness.client.post(
            f"/queue/{seeded.draft_id}/{action}", data=data, headers=headers
        )
        assert response.status_code < 500, response.text
        assert "NUL" in response.text
    reply = await harness.client.post(
        f"/conversations/{seeded.conversation_id}/reply", data={"text": NUL}, headers=headers
    )
    assert reply.status_code < 500
    assert "NUL" in reply.text
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        draft = await session.get(Draft, seeded.draft_id)
        assert draft is not None
        assert draft.status == "pending"


def test_rules_stored_before_intents_were_bounded_still_load() -> None:
    stored: dict[str, object] = {
        "mode": "autopilot",
        "auto_intents": ["greeting", "", "x" * 49, "a\x00", 7],
    }
    assert Policy.of(stored).auto_intents == ["greeting"]


async def test_a_non_ascii_csrf_header_on_the_desk_is_refused(harness: Harness) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await seed_account(session, harness.runtime.cipher)
        seeded = await seed_draft(session, account)
    await sign_in(harness)
    response = await harness.client.post(
        f"/queue/{seeded.draft_id}/reject",
        data={"reason": "x"},
        # Header bytes as a client can send them; the server decodes them as latin-1.
        headers=[(b"HX-Request", b"true"), (b"X-CSRF-Token", b"\xe9t\xe9")],
    )
    assert response.status_code == 403
