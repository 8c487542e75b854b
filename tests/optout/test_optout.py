"""STOP and START through the whole path: signed webhook in, the worker, the fake Send API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import AuditEntry, Contact, Draft, OutboundMessage
from app.policy.service import OPTED_OUT_REASON
from tests.accounts.conftest import sign_in
from tests.harness import Harness, make_settings, running_app, sign, text_event

IG_ID = "17841400000000001"
QUESTION = "Hi! What's the code for the Vitamin C Serum?"


async def _autopilot(harness: Harness, **policy: Any) -> dict[str, Any]:
    account = await harness.create_account(external_id=IG_ID, languages=["en", "de"])
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6, **policy)
    await harness.add_serum(account["id"])
    return account


async def _say(harness: Harness, sender: str, text: str, *, mid: str | None = None) -> None:
    response = await harness.post_webhook(text_event(IG_ID, sender, text, mid=mid))
    assert response.status_code == 200
    await harness.run_worker()


async def _drafts(harness: Harness) -> list[Draft]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(Draft).order_by(Draft.id))).all())


async def _contact(harness: Harness, external_id: str) -> Contact:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        contact = await session.scalar(select(Contact).where(Contact.external_id == external_id))
    assert contact is not None
    return contact


def _texts(harness: Harness) -> list[str]:
    return [s.text or "" for s in harness.graph.sent]


async def test_stop_confirms_once_and_stops_automatic_replies_until_start(
    harness: Harness,
) -> None:
    await _autopilot(harness)
    await _say(harness, "fan-1", QUESTION)
    assert len(harness.graph.sent) == 1  # automatic, as usual

    await _say(harness, "fan-1", "STOP")
    assert len(harness.graph.sent) == 2
    confirmation = _texts(harness)[1]
    assert "START" in confirmation
    assert "automatic" in confirmation
    assert (await _contact(harness, "fan-1")).opted_out_at is not None
    assert len(await _drafts(harness)) == 1  # the STOP itself is not drafted for

    await _say(harness, "fan-1", "and the link for the vitamin c serum?")
    assert len(harness.graph.sent) == 2  # nothing automatic any more
    drafts = await _drafts(harness)
    assert drafts[-1].status == "pending"
    assert OPTED_OUT_REASON in drafts[-1].reasons
    queue = (await harness.api("GET", "/api/v1/drafts", params={"status": "pending"})).json()
    assert [d["id"] for d in queue] == [drafts[-1].id]

    # A person may still answer: opting out concerns automatic messages.
    approved = await harness.api("POST", f"/api/v1/drafts/{drafts[-1].id}/approve", json={})
    assert approved.status_code == 200, approved.text
    await harness.run_worker()
    assert len(harness.graph.sent) == 3

    await _say(harness, "fan-1", "START")
    assert len(harness.graph.sent) == 4
    assert "STOP" in _texts(harness)[3]
    assert (await _contact(harness, "fan-1")).opted_out_at is None

    await _say(harness, "fan-1", QUESTION)
    assert len(harness.graph.sent) == 5
    assert "LENA15" in _texts(harness)[4]
    assert (await _drafts(harness))[-1].decision == "auto"


async def test_a_sentence_with_stop_in_it_is_an_ordinary_question(harness: Harness) -> None:
    await _autopilot(harness)
    await _say(harness, "fan-2", "stop being so cute")
    await _say(harness, "fan-2", "when does the sale stop?")
    assert (await _contact(harness, "fan-2")).opted_out_at is None
    assert all("START" not in t for t in _texts(harness))
    assert len(await _drafts(harness)) >= 1  # drafted like any message


async def test_a_redelivered_stop_sends_nothing_more(harness: Harness) -> None:
    await _autopilot(harness)
    await _say(harness, "fan-3", "Stop!", mid="m_stop_1")
    await _say(harness, "fan-3", "Stop!", mid="m_stop_1")
    assert len(harness.graph.sent) == 1
    # A second STOP from someone opted out already: silence, not a second confirmation.
    await _say(harness, "fan-3", "STOP")
    assert len(harness.graph.sent) == 1
    assert await _drafts(harness) == []
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert actions.count("contact.opted_out") == 1
    assert actions.count("notice.opted_out") == 1


async def test_the_confirmation_speaks_the_followers_language(harness: Harness) -> None:
    await _autopilot(harness)
    await _say(harness, "fan-4", "STOPP")
    [sent] = harness.graph.sent
    assert "keine automatischen Nachrichten" in (sent.text or "")
    await _say(harness, "fan-5", "Cancelar suscripción")
    assert "mensajes automáticos" in (harness.graph.sent[-1].text or "")


async def test_copilot_confirms_too_but_mode_off_only_records(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await _say(harness, "fan-6", "STOP")
    assert len(harness.graph.sent) == 1  # copilot: the confirmation still goes out
    await harness.set_policy(account["id"], mode="off")
    await _say(harness, "fan-7", "STOP")
    assert len(harness.graph.sent) == 1
    assert (await _contact(harness, "fan-7")).opted_out_at is not None


async def test_stop_withdraws_an_automatic_reply_still_held(harness: Harness) -> None:
    await _autopilot(harness, hold_auto_seconds=600)
    await _say(harness, "fan-8", QUESTION)
    assert harness.graph.sent == []  # held for 10 minutes
    await _say(harness, "fan-8", "stop")
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        rows = (await session.scalars(select(OutboundMessage).order_by(OutboundMessage.id))).all()
    assert [(r.status, r.error_code) for r in rows] == [("failed", "opted_out"), ("sent", None)]
    assert "START" in (harness.graph.sent[0].text or "")


async def test_contact_api_and_export_show_the_opt_out(harness: Harness) -> None:
    await _autopilot(harness)
    await _say(harness, "fan-9", "unsubscribe")
    contact = await _contact(harness, "fan-9")
    shown = (await harness.api("GET", f"/api/v1/contacts/{contact.id}")).json()
    assert shown["opted_out"] is True
    assert shown["opted_out_at"]
    listed = (
        await harness.api("GET", "/api/v1/contacts", params={"account_id": contact.account_id})
    ).json()
    assert [c["opted_out"] for c in listed] == [True]
    export = (await harness.api("GET", f"/api/v1/contacts/{contact.id}/export")).json()
    assert export["contact"]["opted_out"] is True
    assert export["contact"]["opted_out_at"]

    await _say(harness, "fan-9", "start again")
    shown = (await harness.api("GET", f"/api/v1/contacts/{contact.id}")).json()
    assert shown["opted_out"] is False


async def test_the_conversation_page_says_since_when(harness: Harness) -> None:
    await _autopilot(harness)
    await _say(harness, "fan-10", "BASTA")
    contact = await _contact(harness, "fan-10")
    conversation = (
        await harness.api("GET", "/api/v1/conversations", params={"account_id": contact.account_id})
    ).json()[0]
    await sign_in(harness)
    html = (await harness.client.get(f"/conversations/{conversation['id']}")).text
    assert "Opted out of automatic messages since" in html
    assert contact.opted_out_at is not None
    assert contact.opted_out_at.strftime("%Y-%m-%d %H:%M") in html
    assert ">opted out</span>" in (await harness.client.get("/conversations")).text

    await _say(harness, "fan-10", "AVVIA")
    html = (await harness.client.get(f"/conversations/{conversation['id']}")).text
    assert "Opted out of automatic messages" not in html
    assert ">opted out</span>" not in (await harness.client.get("/conversations")).text


async def test_stop_and_start_in_sandbox_mode(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url, str(tmp_path), META_APP_SECRET=None, META_APP_ID=None, META_VERIFY_TOKEN=None
    )
    async with running_app(settings) as harness:
        account = await harness.create_account(external_id="sandbox-ig", languages=["fr"])
        for text in ("ARRÊT", "Démarrer"):
            body = json.dumps(text_event("sandbox-ig", "fan-s", text)).encode()
            answer = await harness.client.post(
                "/webhooks/meta",
                content=body,
                headers={"X-Hub-Signature-256": sign(body, settings.webhook_secrets[0])},
            )
            assert answer.status_code == 200
            await harness.run_worker()
        assert harness.graph.calls == []
        outbox = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/outbox")).json()
        parts = sorted((o["id"], o["parts"][0]) for o in outbox)
        assert "Écris START" in parts[0][1]
        assert "Écris STOP" in parts[1][1]
        assert parts[0][1].endswith("— envoyé automatiquement par l'assistant de Lena Loves")
