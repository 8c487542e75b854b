"""Product links in sent replies become tracked links; drafts and the queue keep the
catalog URL. The whole path: signed webhook, drafting, the send job, the fake Send API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import Draft, LinkClick, Message, OutboundMessage, TrackedLink
from tests.harness import Harness, make_settings, running_app, sign, text_event

IG_ID = "17841400000000001"
SERUM_URL = "https://glowlab.example/serum"
SHORT = re.compile(r"http://127\.0\.0\.1:8000/l/([A-Za-z0-9_-]{24})(?![A-Za-z0-9_-])")


async def _account(harness: Harness, *, mode: str = "autopilot") -> tuple[int, int]:
    created = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(created["id"], mode=mode, min_confidence=0.6)
    cooperation = await harness.add_serum(created["id"])
    return created["id"], cooperation["products"][0]["id"]


async def _rows(harness: Harness, model: Any) -> list[Any]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


async def _ask(harness: Harness, follower: str, text: str = "link to the vitamin c serum?") -> str:
    before = len(harness.graph.sent)
    assert (await harness.post_webhook(text_event(IG_ID, follower, text))).status_code == 200
    await harness.run_worker()
    assert len(harness.graph.sent) == before + 1
    sent = harness.graph.sent[-1].text
    assert sent is not None
    return sent


async def test_an_automatic_reply_goes_out_with_the_short_link(harness: Harness) -> None:
    _, serum = await _account(harness)

    sent = await _ask(harness, "IGSID-1")

    assert SERUM_URL not in sent
    [token] = SHORT.findall(sent)
    [link] = await _rows(harness, TrackedLink)
    assert (link.token, link.product_id) == (token, serum)
    [draft] = await _rows(harness, Draft)
    assert draft.status == "sent"
    assert SERUM_URL in draft.text
    assert token not in draft.text
    [outbound] = await _rows(harness, OutboundMessage)
    assert (outbound.links_sent, outbound.codes_sent) == ([serum], [serum])
    assert token in "".join(outbound.parts)
    # The conversation shows what the follower got.
    [message] = [m for m in await _rows(harness, Message) if m.direction == "out"]
    assert message.text is not None
    assert token in message.text


async def test_one_link_per_conversation_and_product(harness: Harness) -> None:
    await _account(harness)

    first = SHORT.findall(await _ask(harness, "IGSID-1"))
    again = SHORT.findall(await _ask(harness, "IGSID-1", "the vitamin c serum link again?"))
    other = SHORT.findall(await _ask(harness, "IGSID-2"))

    assert first == again
    assert len(other) == 1
    assert other != first
    links = await _rows(harness, TrackedLink)
    assert len({link.conversation_id for link in links}) == len(links) == 2


async def test_with_track_links_off_the_catalog_url_goes_out(harness: Harness) -> None:
    account_id, serum = await _account(harness)
    response = await harness.api(
        "PATCH", f"/api/v1/accounts/{account_id}", json={"track_links": False}
    )
    assert response.status_code == 200, response.text
    assert response.json()["track_links"] is False

    sent = await _ask(harness, "IGSID-1")

    assert SERUM_URL in sent
    assert SHORT.search(sent) is None
    assert await _rows(harness, TrackedLink) == []
    [outbound] = await _rows(harness, OutboundMessage)
    assert outbound.links_sent == [serum]


async def test_the_queue_shows_the_catalog_url_and_the_approved_reply_the_short_link(
    harness: Harness,
) -> None:
    await _account(harness, mode="copilot")
    await harness.post_webhook(text_event(IG_ID, "IGSID-1", "link to the vitamin c serum?"))
    await harness.run_worker()
    assert harness.graph.sent == []

    [pending] = (await harness.api("GET", "/api/v1/drafts", params={"status": "pending"})).json()
    assert SERUM_URL in pending["text"]
    written = f"Here you go: {SERUM_URL} (code LENA15)"
    approved = await harness.api(
        "POST", f"/api/v1/drafts/{pending['id']}/approve", json={"text": written}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["final_text"] == written
    await harness.run_worker()

    [sent] = harness.graph.sent
    [token] = SHORT.findall(sent.text or "")
    assert sent.text == f"Here you go: http://127.0.0.1:8000/l/{token} (code LENA15)"
    shown = (await harness.api("GET", f"/api/v1/drafts/{pending['id']}")).json()
    assert (shown["status"], shown["final_text"]) == ("sent", written)


async def test_sandbox_outbox_gets_the_short_link_under_public_url(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url,
        str(tmp_path),
        META_APP_SECRET=None,
        META_APP_ID=None,
        META_VERIFY_TOKEN=None,
        PUBLIC_URL="https://pilot.example/",
    )
    assert settings.sandbox
    async with running_app(settings) as harness:
        account = await harness.create_account(external_id="sandbox-ig")
        await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
        await harness.add_serum(account["id"])
        body = json.dumps(text_event("sandbox-ig", "fan-1", "link to the vitamin c serum?"))
        ok = await harness.client.post(
            "/webhooks/meta",
            content=body.encode(),
            headers={"X-Hub-Signature-256": sign(body.encode(), settings.webhook_secrets[0])},
        )
        assert ok.status_code == 200
        await harness.run_worker()

        assert harness.graph.calls == []
        outbox = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/outbox")).json()
        assert [(o["channel"], o["status"]) for o in outbox] == [("sandbox", "sent")]
        text = "".join(outbox[0]["parts"])
        assert SERUM_URL not in text
        [token] = re.findall(r"https://pilot\.example/l/([A-Za-z0-9_-]{24})(?![A-Za-z0-9_-])", text)
        followed = await harness.client.get(f"/l/{token}", headers={"User-Agent": "Mozilla/5.0"})
        assert followed.status_code == 302
        assert followed.headers["location"] == SERUM_URL


async def test_erasing_the_follower_ends_their_links_and_keeps_the_counts(
    harness: Harness,
) -> None:
    await _account(harness)
    [token] = SHORT.findall(await _ask(harness, "IGSID-1"))
    followed = await harness.client.get(f"/l/{token}", headers={"User-Agent": "Mozilla/5.0"})
    assert followed.status_code == 302
    [conversation] = (await harness.api("GET", "/api/v1/conversations")).json()

    erased = await harness.api("DELETE", f"/api/v1/contacts/{conversation['contact_id']}")

    assert erased.status_code == 204
    assert await _rows(harness, TrackedLink) == []
    gone = await harness.client.get(f"/l/{token}", headers={"User-Agent": "Mozilla/5.0"})
    assert gone.status_code == 404
    # A count per day and product says nothing about who clicked: it stays for the reports.
    [clicks] = await _rows(harness, LinkClick)
    assert clicks.clicks == 1
