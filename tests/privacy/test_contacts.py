"""A follower's access and erasure requests: GET .../export and DELETE /api/v1/contacts/{id}."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.models import (
    AuditEntry,
    Contact,
    Conversation,
    Draft,
    InboxEvent,
    Message,
    OutboundMessage,
)
from app.users import service as users
from tests.harness import Harness, text_event
from tests.privacy.helpers import connect_account, contact_id, follower_writes

IG_A, IG_B = "17841400000000021", "17841400000000022"
FAN, OTHER_FAN = "IGSID-fan-1", "IGSID-fan-2"


async def _setup(harness: Harness) -> tuple[int, int]:
    a = await connect_account(harness, IG_A, meta_user_id="1")
    b = await connect_account(harness, IG_B, meta_user_id="2", name="Max Cooks")
    await harness.set_policy(a, mode="autopilot", min_confidence=0.0)
    await harness.add_serum(a)
    await follower_writes(harness, IG_A, FAN, "Hi! Code for the vitamin C serum?")
    await follower_writes(harness, IG_A, OTHER_FAN, "Do you ship to Austria?")
    # One body with both followers' messages: it cannot be deleted for one of them.
    shared = text_event(IG_A, FAN, "thanks a lot!")
    shared["entry"][0]["messaging"] += text_event(IG_A, OTHER_FAN, "me too!")["entry"][0][
        "messaging"
    ]
    assert (await harness.post_webhook(shared)).status_code == 200
    # The same person id on another account is another contact, not this one.
    await follower_writes(harness, IG_B, FAN, "Recipe for the lasagne?")
    await harness.run_worker()
    return a, b


async def _moderator_token(harness: Harness, account_ids: list[int]) -> dict[str, str]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await users.create_user(
            session,
            email="mod@test.example",
            role="moderator",
            password="correct horse",
            account_ids=account_ids,
        )
        token = await users.create_token(session, email="mod@test.example")
    return {"Authorization": f"Bearer {token}"}


async def _rows(harness: Harness, model: Any, **filters: Any) -> list[Any]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(model).filter_by(**filters))).all())


async def test_export_holds_everything_about_that_follower_only(harness: Harness) -> None:
    a, _ = await _setup(harness)
    fan = await contact_id(harness, a, FAN)
    [conversation] = await _rows(harness, Conversation, contact_id=fan)
    paused = await harness.api("POST", f"/api/v1/conversations/{conversation.id}/pause")
    assert paused.status_code == 200

    response = await harness.api("GET", f"/api/v1/contacts/{fan}/export")

    assert response.status_code == 200
    export = response.json()
    assert export["contact"]["external_id"] == FAN
    assert export["contact"]["account_id"] == a
    [exported] = export["conversations"]
    assert exported["conversation"]["id"] == conversation.id
    texts = [m["text"] for m in exported["messages"]]
    assert "Hi! Code for the vitamin C serum?" in texts
    assert "thanks a lot!" in texts
    assert any(m["author"] == "bot" for m in exported["messages"])
    assert all("payload" in m and "sent_at" in m for m in exported["messages"])
    assert exported["drafts"]
    assert all(d["conversation_id"] == conversation.id for d in exported["drafts"])
    assert exported["outbound_messages"][0]["parts"]
    actions = {e["action"] for e in export["audit_entries"]}
    assert "conversation.paused" in actions
    serialized = json.dumps(export)
    assert "Do you ship to Austria?" not in serialized
    assert "me too!" not in serialized
    assert "lasagne" not in serialized


async def test_erase_removes_that_follower_and_leaves_the_others(harness: Harness) -> None:
    a, b = await _setup(harness)
    fan = await contact_id(harness, a, FAN)
    other = await contact_id(harness, a, OTHER_FAN)
    same_person_elsewhere = await contact_id(harness, b, FAN)
    [conversation] = await _rows(harness, Conversation, contact_id=fan)
    await harness.api("POST", f"/api/v1/conversations/{conversation.id}/pause")
    other_before = await _snapshot(harness, other)
    elsewhere_before = await _snapshot(harness, same_person_elsewhere)
    assert other_before["messages"] == ["Do you ship to Austria?", "me too!"]

    response = await harness.api("DELETE", f"/api/v1/contacts/{fan}")

    assert response.status_code == 204
    assert response.content == b""
    assert await _rows(harness, Contact, id=fan) == []
    assert await _rows(harness, Conversation, contact_id=fan) == []
    for model in (Message, Draft, OutboundMessage):
        assert await _rows(harness, model, conversation_id=conversation.id) == []
    assert await _snapshot(harness, other) == other_before
    assert await _snapshot(harness, same_person_elsewhere) == elsewhere_before
    await _assert_raw_bodies(harness)
    await _assert_audit(harness, conversation.id, fan)
    gone = await harness.api("GET", f"/api/v1/contacts/{fan}")
    assert gone.status_code == 404
    again = await harness.api("DELETE", f"/api/v1/contacts/{fan}")
    assert again.status_code == 404


async def _snapshot(harness: Harness, contact: int) -> dict[str, Any]:
    [conversation] = await _rows(harness, Conversation, contact_id=contact)
    messages = await _rows(harness, Message, conversation_id=conversation.id)
    return {
        "messages": sorted(m.text for m in messages if m.direction == "in"),
        "all_messages": sorted(m.id for m in messages),
        "drafts": sorted(
            d.id for d in await _rows(harness, Draft, conversation_id=conversation.id)
        ),
        "outbound": sorted(
            o.id for o in await _rows(harness, OutboundMessage, conversation_id=conversation.id)
        ),
    }


async def _assert_raw_bodies(harness: Harness) -> None:
    bodies = [e.body for e in await _rows(harness, InboxEvent)]
    # Only the shared body still names the erased follower (documented in docs/privacy.md).
    naming = [body for body in bodies if FAN in body]
    assert len(naming) == 2  # the shared one on account A, and the one on account B
    assert not any("Hi! Code for the vitamin C serum?" in body for body in bodies)
    assert any("Do you ship to Austria?" in body for body in bodies)


async def _assert_audit(harness: Harness, conversation_id: int, fan: int) -> None:
    entries = await _rows(harness, AuditEntry)
    paused = [e for e in entries if e.action == "conversation.paused"]
    assert [e.entity_id for e in paused] == [conversation_id]
    [erased] = [e for e in entries if e.action == "contact.erased"]
    assert (erased.entity_type, erased.entity_id) == ("contacts", fan)
    assert erased.details["messages"] >= 3
    assert erased.details["inbox_events"] == 1
    assert erased.details["inbox_events_kept"] == 1
    assert FAN not in json.dumps(erased.details)


async def test_moderator_of_another_account_gets_404_and_nothing_changes(
    harness: Harness,
) -> None:
    a, b = await _setup(harness)
    fan = await contact_id(harness, a, FAN)
    headers = await _moderator_token(harness, [b])

    export = await harness.client.get(f"/api/v1/contacts/{fan}/export", headers=headers)
    erase = await harness.client.delete(f"/api/v1/contacts/{fan}", headers=headers)
    anonymous = await harness.client.delete(f"/api/v1/contacts/{fan}")

    assert (export.status_code, erase.status_code, anonymous.status_code) == (404, 404, 401)
    assert await _rows(harness, Contact, id=fan) != []
    own = await harness.client.get(
        f"/api/v1/contacts/{await contact_id(harness, b, FAN)}/export", headers=headers
    )
    assert own.status_code == 200


async def test_unknown_contact_is_404(harness: Harness) -> None:
    assert (await harness.api("GET", "/api/v1/contacts/999/export")).status_code == 404
    assert (await harness.api("DELETE", "/api/v1/contacts/999")).status_code == 404


async def test_erased_follower_counts(harness: Harness) -> None:
    a, _ = await _setup(harness)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        total = await session.scalar(select(func.count()).select_from(Contact))
    assert total is not None
    await harness.api("DELETE", f"/api/v1/contacts/{await contact_id(harness, a, FAN)}")
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        assert await session.scalar(select(func.count()).select_from(Contact)) == total - 1
