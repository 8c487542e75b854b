"""Every event type of both platforms as a signed webhook through the running app.

Payloads follow Meta's documented shapes (meta-platform.md §4); each test asserts the
conversation entries through the API, and what was (not) drafted or sent.
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from app.core.db import unit_of_work
from app.models import DRAFT_STATUSES, InboxEvent
from app.registry import build_worker
from tests.harness import Harness, echo_event, text_event

IG_ID = "17841400000000001"
PAGE_ID = "104871234567890"
OUR_APP_ID = "999000111"  # META_APP_ID of the harness
PAGE_INBOX_APP_ID = "263902037430900"
_clock = itertools.count()


def _ts() -> int:
    # Strictly increasing: entries are ordered by their time, and ties would be ambiguous.
    return int(time.time() * 1000) + next(_clock)


def item(sender: str, recipient: str, **content: Any) -> dict[str, Any]:
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": _ts(), **content}


def body(obj: str, account: str, *items: dict[str, Any], key: str = "messaging") -> dict[str, Any]:
    return {"object": obj, "entry": [{"id": account, "time": _ts(), key: list(items)}]}


def ig(follower: str, *contents: dict[str, Any], key: str = "messaging") -> dict[str, Any]:
    return body("instagram", IG_ID, *(item(follower, IG_ID, **c) for c in contents), key=key)


def fb(follower: str, *contents: dict[str, Any], key: str = "messaging") -> dict[str, Any]:
    return body("page", PAGE_ID, *(item(follower, PAGE_ID, **c) for c in contents), key=key)


def mid() -> str:
    return f"m_{uuid.uuid4().hex}"


def ig_text(follower: str, message_id: str, text: str) -> dict[str, Any]:
    return ig(follower, {"message": {"mid": message_id, "text": text}})


def attachment(kind: str, **payload: Any) -> dict[str, Any]:
    return {"type": kind, "payload": payload}


async def _messenger_account(harness: Harness) -> dict[str, Any]:
    return await harness.create_account(
        platform="messenger",
        external_id=PAGE_ID,
        page_id=PAGE_ID,
        graph_host="facebook",
        access_token="EAApage-token",
        name="Lena Loves (Page)",
    )


async def _autopilot(harness: Harness, **overrides: Any) -> dict[str, Any]:
    account = await harness.create_account(external_id=IG_ID, **overrides)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    return account


async def _deliver(harness: Harness, *payloads: dict[str, Any]) -> None:
    for payload in payloads:
        assert (await harness.post_webhook(payload)).status_code == 200
    await harness.run_worker()


async def _conversation(harness: Harness, account_id: int, follower: str) -> dict[str, Any]:
    listed = await harness.api("GET", "/api/v1/conversations", params={"account_id": account_id})
    for conversation in listed.json():
        detail = (await harness.api("GET", f"/api/v1/conversations/{conversation['id']}")).json()
        if detail["contact"]["external_id"] == follower:
            return dict(detail)
    raise AssertionError(f"no conversation with {follower}")


async def _drafts(harness: Harness, status: str | None = None) -> list[dict[str, Any]]:
    """Drafts in `status`, or in any status (the API lists one status at a time)."""
    found: list[dict[str, Any]] = []
    for one in [status] if status else DRAFT_STATUSES:
        response = await harness.api("GET", "/api/v1/drafts", params={"status": one})
        assert response.status_code == 200, response.text
        found.extend(response.json())
    return sorted(found, key=lambda d: int(d["id"]))


async def _outbox(harness: Harness, account_id: int) -> list[dict[str, Any]]:
    return list((await harness.api("GET", f"/api/v1/accounts/{account_id}/outbox")).json())


async def _inbox_done(harness: Harness) -> None:
    """No webhook body failed: every stored body was processed."""
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        statuses = set((await session.scalars(select(InboxEvent.status))).all())
    assert statuses == {"done"}


# --- messages, attachments, replies ------------------------------------------------------


async def test_instagram_message_types_become_entries(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    cdn = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"
    contents: list[dict[str, Any]] = [
        {"message": {"mid": mid(), "text": "hello"}},
        {"message": {"mid": mid(), "attachments": [attachment("image", url=cdn)]}},
        {"message": {"mid": mid(), "attachments": [attachment("video", url=cdn + "v")]}},
        {"message": {"mid": mid(), "attachments": [attachment("audio", url=cdn + "a")]}},
        {"message": {"mid": mid(), "attachments": [attachment("file", url=cdn + "f")]}},
        {"message": {"mid": mid(), "attachments": [attachment("story_mention", url=cdn + "s")]}},
        {
            "message": {
                "mid": mid(),
                "attachments": [
                    attachment("ig_post", url=cdn + "p", title="caption", ig_post_media_id="17")
                ],
            }
        },
        {"message": {"mid": mid(), "attachments": [attachment("share", url=cdn + "sh")]}},
        {"message": {"mid": mid(), "attachments": [attachment("ig_reel", url=cdn + "r")]}},
        {"message": {"mid": mid(), "is_unsupported": True}},
        {
            "message": {
                "mid": mid(),
                "text": "love this",
                "reply_to": {"story": {"id": "1799", "url": cdn + "story"}},
            }
        },
    ]
    await _deliver(harness, ig("IGSID-A", *contents))

    detail = await _conversation(harness, account["id"], "IGSID-A")
    entries = detail["messages"]
    assert [e["kind"] for e in entries] == ["text"] + ["attachment"] * 8 + ["unsupported", "text"]
    assert all(e["direction"] == "in" and e["author"] == "follower" for e in entries)
    kinds = [e["payload"]["attachments"][0]["type"] for e in entries[1:9]]
    assert kinds == [
        "image",
        "video",
        "audio",
        "file",
        "story_mention",
        "ig_post",
        "share",
        "ig_reel",
    ]
    assert entries[5]["payload"]["attachments"][0]["url"] == cdn + "s"  # the URL, not the media
    assert entries[6]["payload"]["attachments"][0]["title"] == "caption"
    assert entries[10]["payload"]["reply_to_story_id"] == "1799"
    assert detail["last_inbound_at"] is not None
    # One burst, one draft: for the latest message, with all of them in view.
    [draft] = await _drafts(harness, status="pending")
    assert draft["reply_to_message_id"] == entries[-1]["id"]
    await _inbox_done(harness)


async def test_attachment_only_message_is_drafted_for_review(harness: Harness) -> None:
    account = await _autopilot(harness)
    photo = {"mid": mid(), "attachments": [attachment("image", url="https://cdn.test/x.jpg")]}
    await _deliver(harness, ig("IGSID-B", {"message": photo}))

    [entry] = (await _conversation(harness, account["id"], "IGSID-B"))["messages"]
    [draft] = await _drafts(harness)
    assert draft["reply_to_message_id"] == entry["id"]
    assert draft["status"] == "pending"
    assert draft["text"]
    assert harness.graph.sent == []


async def test_messenger_message_types_quick_reply_and_postback(harness: Harness) -> None:
    account = await _messenger_account(harness)
    contents: list[dict[str, Any]] = [
        {"message": {"mid": mid(), "attachments": [attachment("sticker", sticker_id=369239263)]}},
        {
            "message": {
                "mid": mid(),
                "attachments": [
                    {"type": "fallback", "title": "A link", "url": "https://example.test/a"}
                ],
            }
        },
        {"message": {"mid": mid(), "text": "Red", "quick_reply": {"payload": "COLOR_RED"}}},
        {"postback": {"mid": mid(), "title": "Get Started", "payload": "GET_STARTED"}},
    ]
    await _deliver(harness, fb("PSID-1", *contents))

    entries = (await _conversation(harness, account["id"], "PSID-1"))["messages"]
    assert [e["kind"] for e in entries] == ["attachment", "attachment", "text", "postback"]
    assert entries[0]["payload"]["attachments"][0]["payload"]["sticker_id"] == 369239263
    assert entries[1]["payload"]["attachments"][0]["url"] == "https://example.test/a"
    assert (entries[2]["text"], entries[2]["payload"]["quick_reply_payload"]) == (
        "Red",
        "COLOR_RED",
    )
    assert (entries[3]["text"], entries[3]["payload"]["postback_payload"]) == (
        "Get Started",
        "GET_STARTED",
    )
    [draft] = await _drafts(harness)
    assert draft["reply_to_message_id"] == entries[3]["id"]  # a postback is answered too


async def test_reply_to_a_stored_message_shows_what_was_replied_to(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    first = mid()
    await _deliver(harness, ig("IGSID-C", {"message": {"mid": first, "text": "serum or cream?"}}))
    await _deliver(
        harness,
        ig("IGSID-C", {"message": {"mid": mid(), "text": "the serum", "reply_to": {"mid": first}}}),
        ig("IGSID-C", {"message": {"mid": mid(), "text": "?", "reply_to": {"mid": "m_unknown"}}}),
    )

    entries = (await _conversation(harness, account["id"], "IGSID-C"))["messages"]
    quoted = entries[1]["payload"]["reply_to"]
    assert (quoted["message_id"], quoted["text"]) == (entries[0]["id"], "serum or cream?")
    assert entries[2]["payload"]["reply_to_mid"] == "m_unknown"
    assert "reply_to" not in entries[2]["payload"]


async def test_several_entries_and_items_in_one_post(harness: Harness) -> None:
    first = await harness.create_account(external_id=IG_ID)
    second = await harness.create_account(external_id="17841400000000002", name="Other")
    payload = ig("IGSID-D", {"message": {"mid": mid(), "text": "one"}})
    payload["entry"][0]["messaging"].append(
        item("IGSID-E", IG_ID, message={"mid": mid(), "text": "x"})
    )
    payload["entry"].append(
        {
            "id": "17841400000000002",
            "time": _ts(),
            "messaging": [
                item("IGSID-F", "17841400000000002", message={"mid": mid(), "text": "two"}),
                item("IGSID-F", "17841400000000002", message={"mid": mid(), "text": "three"}),
            ],
        }
    )
    await _deliver(harness, payload)

    assert len((await _conversation(harness, first["id"], "IGSID-D"))["messages"]) == 1
    assert len((await _conversation(harness, first["id"], "IGSID-E"))["messages"]) == 1
    texts = [e["text"] for e in (await _conversation(harness, second["id"], "IGSID-F"))["messages"]]
    assert texts == ["two", "three"]
    assert len(await _drafts(harness)) == 3


async def test_referral_is_recorded_and_not_answered(harness: Harness) -> None:
    account = await _messenger_account(harness)
    referral = {"ref": "summer-promo", "source": "SHORTLINK", "type": "OPEN_THREAD"}
    await _deliver(harness, fb("PSID-2", {"referral": referral}))

    [entry] = (await _conversation(harness, account["id"], "PSID-2"))["messages"]
    assert entry["kind"] == "referral"
    assert (entry["payload"]["referral_ref"], entry["payload"]["referral_source"]) == (
        "summer-promo",
        "SHORTLINK",
    )
    assert await _drafts(harness) == []

    # Get Started through the same link: a postback carrying the referral, answered.
    postback = {
        "mid": mid(),
        "title": "Get Started",
        "payload": "GET_STARTED",
        "referral": referral,
    }
    await _deliver(harness, fb("PSID-2", {"postback": postback}))
    entries = (await _conversation(harness, account["id"], "PSID-2"))["messages"]
    assert entries[-1]["payload"]["referral_ref"] == "summer-promo"
    assert len(await _drafts(harness)) == 1


async def test_comment_and_optin_are_recorded_not_answered(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    comment = {
        "field": "comments",
        "value": {
            "id": "17865799348089039",
            "from": {"id": "IGSID-G", "username": "jane"},
            "text": "price?",
            "media": {"id": "1790", "media_product_type": "FEED"},
        },
    }
    await _deliver(harness, body("instagram", IG_ID, comment, key="changes"))
    await _deliver(harness, ig("IGSID-G", {"optin": {"ref": "newsletter", "payload": "OK"}}))

    entries = (await _conversation(harness, account["id"], "IGSID-G"))["messages"]
    assert [e["kind"] for e in entries] == ["comment", "optin"]
    assert entries[0]["payload"]["comment_id"] == "17865799348089039"
    assert await _drafts(harness) == []


# --- reactions, receipts, echoes -----------------------------------------------------------


async def test_reaction_and_unreaction_are_recorded_never_answered(harness: Harness) -> None:
    account = await _autopilot(harness)
    await _deliver(harness, text_event(IG_ID, "IGSID-H", "Vitamin C Serum code?"))
    [sent] = harness.graph.sent
    reaction = {"mid": sent.message_id, "action": "react", "reaction": "love", "emoji": "❤️"}
    await _deliver(harness, ig("IGSID-H", {"reaction": reaction}))

    entries = (await _conversation(harness, account["id"], "IGSID-H"))["messages"]
    ours = next(e for e in entries if e["mid"] == sent.message_id)
    assert ours["payload"]["reaction"] == "love"
    assert entries[-1]["kind"] == "reaction"
    assert entries[-1]["payload"]["reaction_action"] == "react"

    await _deliver(harness, ig("IGSID-H", {"reaction": {**reaction, "action": "unreact"}}))
    entries = (await _conversation(harness, account["id"], "IGSID-H"))["messages"]
    ours = next(e for e in entries if e["mid"] == sent.message_id)
    assert "reaction" not in ours["payload"]
    assert [e["kind"] for e in entries].count("reaction") == 2
    assert len(harness.graph.sent) == 1
    assert len(await _drafts(harness)) == 1


async def test_delivery_and_read_mark_our_messages(harness: Harness) -> None:
    account = await _messenger_account(harness)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    await _deliver(harness, text_event(PAGE_ID, "PSID-3", "Vitamin C Serum code?", platform="page"))
    [sent] = harness.graph.sent
    assert sent.host == "facebook"
    await _deliver(
        harness, fb("PSID-3", {"delivery": {"mids": [sent.message_id], "watermark": _ts()}})
    )
    await _deliver(harness, fb("PSID-3", {"read": {"watermark": _ts()}}))

    entries = (await _conversation(harness, account["id"], "PSID-3"))["messages"]
    ours = next(e for e in entries if e["mid"] == sent.message_id)
    assert ours["delivered_at"] is not None
    assert ours["read_at"] is not None
    assert len(entries) == 2  # receipts update our message, they add no entry


async def test_receipts_and_reactions_from_unknown_followers_start_no_conversation(
    harness: Harness,
) -> None:
    account = await _messenger_account(harness)
    with capture_logs() as logs:
        await _deliver(
            harness,
            fb("PSID-U1", {"read": {"watermark": _ts()}}),
            fb("PSID-U2", {"delivery": {"mids": ["m_before_us"], "watermark": _ts()}}),
            fb(
                "PSID-U3",
                {"reaction": {"mid": "m_before_us", "action": "react", "reaction": "love"}},
            ),
        )

    listed = await harness.api("GET", "/api/v1/conversations", params={"account_id": account["id"]})
    assert listed.json() == []
    contacts = await harness.api("GET", "/api/v1/contacts", params={"account_id": account["id"]})
    assert contacts.json() == []
    ignored = [e["kind"] for e in logs if e["event"] == "ingest.unknown_follower"]
    assert sorted(ignored) == ["delivery", "reaction", "read"]
    await _inbox_done(harness)  # recorded: the raw events stay stored, processed
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        bodies = (await session.scalars(select(InboxEvent.body))).all()
    assert len(bodies) == 3
    assert any("PSID-U3" in b and "love" in b for b in bodies)

    # Once the follower writes, their thread exists and their reactions are recorded.
    await _deliver(harness, fb("PSID-U3", {"message": {"mid": "m_hi", "text": "hi"}}))
    await _deliver(
        harness, fb("PSID-U3", {"reaction": {"mid": "m_hi", "action": "react", "reaction": "love"}})
    )
    entries = (await _conversation(harness, account["id"], "PSID-U3"))["messages"]
    assert [e["kind"] for e in entries] == ["text", "reaction"]


async def test_echo_of_another_app_is_recorded_and_pauses(harness: Harness) -> None:
    account = await _autopilot(harness)
    await _deliver(harness, echo_event(IG_ID, "IGSID-I", "Hi from the other tool", app_id=4242))
    [entry] = (await _conversation(harness, account["id"], "IGSID-I"))["messages"]
    assert (entry["direction"], entry["author"]) == ("out", "other_app")
    assert (await _conversation(harness, account["id"], "IGSID-I"))["paused_until"] is not None


# --- edits and deletions -------------------------------------------------------------------


async def test_edit_supersedes_the_draft_and_redrafts(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.add_serum(account["id"])
    first = mid()
    await _deliver(harness, ig_text("IGSID-J", first, "what's the serum price?"))
    [old] = await _drafts(harness, status="pending")

    edit = {"mid": first, "text": "what's the code for the vitamin c serum?", "num_edit": 1}
    await _deliver(harness, ig("IGSID-J", {"message_edit": edit}))

    [entry] = (await _conversation(harness, account["id"], "IGSID-J"))["messages"]
    assert entry["text"] == "what's the code for the vitamin c serum?"
    assert entry["edited_at"] is not None
    assert entry["payload"]["previous_texts"] == ["what's the serum price?"]
    drafts = {d["id"]: d for d in await _drafts(harness)}
    assert drafts[old["id"]]["status"] == "superseded"
    assert drafts[old["id"]]["reject_reason"] == "follower edited the message"
    [new] = await _drafts(harness, status="pending")
    assert new["reply_to_message_id"] == entry["id"]
    assert new["messages"][-1]["text"] == entry["text"]

    # The same edit redelivered changes nothing.
    await _deliver(harness, ig("IGSID-J", {"message_edit": edit}))
    assert len(await _drafts(harness)) == 2


async def test_edit_of_a_message_never_seen_is_stored_as_the_message(harness: Harness) -> None:
    account = await _messenger_account(harness)
    original = mid()
    await _deliver(harness, fb("PSID-4", {"message_edit": {"mid": original, "text": "new"}}))
    await _deliver(harness, fb("PSID-4", {"message": {"mid": original, "text": "old"}}))

    [entry] = (await _conversation(harness, account["id"], "PSID-4"))["messages"]
    assert (entry["mid"], entry["text"]) == (original, "new")
    assert entry["edited_at"] is not None
    assert len(await _drafts(harness)) == 1


async def test_delete_erases_the_message_and_withdraws_its_draft(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    unsent = mid()
    photo = attachment("image", url="https://cdn.test/private.jpg")
    await _deliver(
        harness,
        ig(
            "IGSID-K",
            {"message": {"mid": unsent, "text": "my address is…", "attachments": [photo]}},
        ),
    )
    await _deliver(
        harness,
        ig("IGSID-K", {"message": {"mid": mid(), "text": "^ that", "reply_to": {"mid": unsent}}}),
    )
    [pending] = await _drafts(harness, status="pending")

    await _deliver(harness, ig("IGSID-K", {"message": {"mid": unsent, "is_deleted": True}}))

    entries = (await _conversation(harness, account["id"], "IGSID-K"))["messages"]
    erased = next(e for e in entries if e["mid"] == unsent)
    assert (erased["text"], erased["payload"], erased["kind"]) == (None, {}, "deleted")
    assert erased["deleted_at"] is not None
    assert entries[1]["payload"]["reply_to"] == {"message_id": erased["id"]}
    withdrawn = {d["id"]: d for d in await _drafts(harness)}[pending["id"]]
    assert (withdrawn["status"], withdrawn["reject_reason"]) == (
        "superseded",
        "follower deleted the message",
    )
    # What is left ("^ that") is drafted for afresh, without the erased text.
    [fresh] = await _drafts(harness, status="pending")
    assert fresh["reply_to_message_id"] == entries[1]["id"]
    assert all("address" not in (m["text"] or "") for m in fresh["messages"])
    # ...and it is gone from the stored webhook bodies too.
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        bodies = (await session.scalars(select(InboxEvent.body))).all()
    assert bodies
    assert not any("my address" in b or "private.jpg" in b for b in bodies)
    assert any(unsent in b for b in bodies)


async def test_delete_stops_a_queued_automatic_reply(harness: Harness) -> None:
    account = await _autopilot(harness)
    unsent = mid()
    await harness.post_webhook(ig_text("IGSID-L", unsent, "Vitamin C Serum code?"))
    await build_worker(harness.runtime, concurrency=1).run_once()  # drafted, send queued
    [queued] = await _outbox(harness, account["id"])
    assert queued["status"] == "queued"

    await _deliver(harness, ig("IGSID-L", {"message": {"mid": unsent, "is_deleted": True}}))

    assert harness.graph.sent == []
    [stopped] = await _outbox(harness, account["id"])
    assert (stopped["status"], stopped["error_code"]) == ("failed", "message_deleted")
    [draft] = await _drafts(harness)
    assert (draft["status"], draft["reject_reason"]) == (
        "superseded",
        "follower deleted the message",
    )


async def test_deletion_before_the_message_keeps_it_erased(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    unsent = mid()
    await _deliver(harness, ig("IGSID-M", {"message": {"mid": unsent, "is_deleted": True}}))
    await _deliver(harness, ig_text("IGSID-M", unsent, "oops"))

    [entry] = (await _conversation(harness, account["id"], "IGSID-M"))["messages"]
    assert (entry["kind"], entry["text"]) == ("deleted", None)
    assert await _drafts(harness) == []


# --- standby, handover, policy ------------------------------------------------------------


async def test_standby_message_is_drafted_for_review_never_sent(harness: Harness) -> None:
    account = await _autopilot(harness)
    await _deliver(
        harness,
        ig("IGSID-N", {"message": {"mid": mid(), "text": "Vitamin C Serum code?"}}, key="standby"),
    )
    [entry] = (await _conversation(harness, account["id"], "IGSID-N"))["messages"]
    assert entry["payload"]["standby"] is True
    [draft] = await _drafts(harness)
    assert draft["status"] == "pending"
    assert "another app or a person holds the thread" in draft["reasons"]
    assert harness.graph.sent == []


@pytest.mark.parametrize("handover", ["pass_thread_control", "take_thread_control"])
async def test_handover_to_another_app_and_back(harness: Harness, handover: str) -> None:
    account = await _messenger_account(harness)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    away = {"previous_owner_app_id": OUR_APP_ID, "new_owner_app_id": PAGE_INBOX_APP_ID}
    await _deliver(harness, fb("PSID-5", {handover: {**away, "metadata": "human please"}}))

    detail = await _conversation(harness, account["id"], "PSID-5")
    assert detail["thread_owner_app_id"] == PAGE_INBOX_APP_ID
    assert detail["handed_over_at"] is not None
    assert (detail["messages"][0]["kind"], detail["messages"][0]["author"]) == ("handover", "meta")

    await _deliver(harness, text_event(PAGE_ID, "PSID-5", "Vitamin C Serum code?", platform="page"))
    [draft] = await _drafts(harness)
    assert "another app or a person holds the thread" in draft["reasons"]
    assert harness.graph.sent == []

    back = {"previous_owner_app_id": PAGE_INBOX_APP_ID, "new_owner_app_id": OUR_APP_ID}
    await _deliver(harness, fb("PSID-5", {"pass_thread_control": back}))
    assert (await _conversation(harness, account["id"], "PSID-5"))["thread_owner_app_id"] is None
    await _deliver(
        harness,
        text_event(PAGE_ID, "PSID-5", "and the vitamin c serum code again?", platform="page"),
    )
    assert len(harness.graph.sent) == 1


async def test_handover_stops_a_queued_automatic_reply(harness: Harness) -> None:
    account = await _autopilot(harness)
    await harness.post_webhook(text_event(IG_ID, "IGSID-O", "Vitamin C Serum code?"))
    await build_worker(harness.runtime, concurrency=1).run_once()
    take = {"previous_owner_app_id": OUR_APP_ID, "new_owner_app_id": PAGE_INBOX_APP_ID}
    await _deliver(harness, ig("IGSID-O", {"take_thread_control": take}))

    assert harness.graph.sent == []
    [stopped] = await _outbox(harness, account["id"])
    assert (stopped["status"], stopped["error_code"]) == ("failed", "thread_handed_over")


async def test_request_thread_control_is_recorded_only(harness: Harness) -> None:
    account = await _messenger_account(harness)
    request = {"requested_owner_app_id": PAGE_INBOX_APP_ID, "metadata": "may I?"}
    await _deliver(harness, fb("PSID-6", {"request_thread_control": request}))
    detail = await _conversation(harness, account["id"], "PSID-6")
    assert detail["thread_owner_app_id"] is None
    assert detail["messages"][0]["payload"]["handover_type"] == "request_thread_control"


async def test_policy_enforcement_pauses_the_account(harness: Harness) -> None:
    account = await _messenger_account(harness)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    policy = {
        "recipient": {"id": PAGE_ID},
        "timestamp": _ts(),
        "policy_enforcement": {"action": "block", "reason": "spam reports"},
    }
    with capture_logs() as logs:
        await _deliver(harness, body("page", PAGE_ID, policy))

    state = (await harness.api("GET", f"/api/v1/accounts/{account['id']}")).json()
    assert state["paused"] is True
    assert "spam reports" in state["status_reason"]
    assert any(
        e["event"] == "ingest.policy_enforcement" and e["log_level"] == "warning" for e in logs
    )
    await _deliver(harness, text_event(PAGE_ID, "PSID-7", "Vitamin C Serum code?", platform="page"))
    [draft] = await _drafts(harness)
    assert "automation paused for the account" in draft["reasons"]
    assert harness.graph.sent == []


# --- types we do not know yet ------------------------------------------------------------


async def test_unknown_types_are_kept_raw_and_logged_once(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    new_type = f"appointment_{uuid.uuid4().hex[:8]}"
    unknown = {new_type: {"status": "confirmed"}}
    with capture_logs() as logs:
        await _deliver(harness, ig("IGSID-P", unknown, unknown))
        await _deliver(harness, ig("IGSID-P", unknown))
        await _deliver(
            harness, body("instagram", IG_ID, {"field": new_type, "value": {}}, key="changes")
        )

    entries = (await _conversation(harness, account["id"], "IGSID-P"))["messages"]
    assert [e["kind"] for e in entries] == ["unknown"] * 3
    assert entries[0]["payload"]["raw"][new_type] == {"status": "confirmed"}
    logged = [e["event_type"] for e in logs if e["event"] == "ingest.unknown_event_type"]
    assert logged == [new_type, f"changes:{new_type}"]
    assert await _drafts(harness) == []
    await _inbox_done(harness)


async def test_a_broken_item_does_not_lose_its_neighbours(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    broken = {"message": {"mid": mid(), "text": 42}}
    await _deliver(harness, ig("IGSID-Q", broken, {"message": {"mid": mid(), "text": "fine"}}))
    entries = (await _conversation(harness, account["id"], "IGSID-Q"))["messages"]
    assert [e["kind"] for e in entries] == ["unknown", "text"]
    await _inbox_done(harness)
