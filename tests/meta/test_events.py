"""parse_webhook against the payload shapes Meta documents for Messenger and Instagram."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.meta.events import (
    Attachment,
    MetaEvent,
    PayloadError,
    UnsupportedObject,
    parse_webhook,
)

PAGE_ID = "104871234567890"
PSID = "6543210987654321"
IG_ID = "17841400000000000"
IGSID = "987654321012345"
TS = 1458692752478
TS_AT = datetime.fromtimestamp(TS / 1000, UTC)


def inbound(sender: str, recipient: str, **content: Any) -> dict[str, Any]:
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": TS, **content}


def body(obj: str, account: str, *items: dict[str, Any], key: str = "messaging") -> dict[str, Any]:
    return {"object": obj, "entry": [{"id": account, "time": TS, key: list(items)}]}


def messenger(**content: Any) -> MetaEvent:
    events = parse_webhook(body("page", PAGE_ID, inbound(PSID, PAGE_ID, **content)))
    assert len(events) == 1
    assert events[0].platform == "messenger"
    assert events[0].account_external_id == PAGE_ID
    return events[0]


def instagram(**content: Any) -> MetaEvent:
    events = parse_webhook(body("instagram", IG_ID, inbound(IGSID, IG_ID, **content)))
    assert len(events) == 1
    assert events[0].platform == "instagram"
    assert events[0].account_external_id == IG_ID
    return events[0]


# --- Messenger ------------------------------------------------------------------------


def test_messenger_text_message() -> None:
    event = messenger(message={"mid": "m_1", "text": "hi"})
    assert event.kind == "message"
    assert (event.follower_id, event.mid, event.text) == (PSID, "m_1", "hi")
    assert event.timestamp == TS_AT
    assert not event.is_standby
    assert event.raw["message"] == {"mid": "m_1", "text": "hi"}


def test_messenger_quick_reply_tap() -> None:
    event = messenger(
        message={"mid": "m_A", "text": "Red", "quick_reply": {"payload": "COLOR_RED"}}
    )
    assert (event.kind, event.text, event.quick_reply_payload) == ("message", "Red", "COLOR_RED")


def test_messenger_reply_to_message() -> None:
    event = messenger(
        message={"mid": "m_B", "text": "yes", "reply_to": {"mid": "m_A", "is_self_reply": False}}
    )
    assert (event.kind, event.reply_to_mid) == ("message", "m_A")


def test_messenger_image_attachment() -> None:
    url = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"
    event = messenger(
        message={"mid": "m_C", "attachments": [{"type": "image", "payload": {"url": url}}]}
    )
    assert event.kind == "message"
    assert event.text is None
    assert event.attachments == (Attachment(type="image", url=url, payload={"url": url}),)


@pytest.mark.parametrize(
    ("attachment", "expected_type", "url", "title"),
    [
        ({"type": "video", "payload": {"url": "https://v"}}, "video", "https://v", None),
        ({"type": "audio", "payload": {"url": "https://a"}}, "audio", "https://a", None),
        ({"type": "file", "payload": {"url": "https://f"}}, "file", "https://f", None),
        (
            {"type": "sticker", "payload": {"url": "https://s", "sticker_id": 369239263222822}},
            "sticker",
            "https://s",
            None,
        ),
        ({"type": "reel", "payload": {"url": "https://r"}}, "reel", "https://r", None),
        (
            {"type": "fallback", "title": "A shared link", "url": "https://l", "payload": None},
            "fallback",
            "https://l",
            "A shared link",
        ),
        (
            {"type": "location", "payload": {"coordinates": {"lat": 52.5, "long": 13.4}}},
            "location",
            None,
            None,
        ),
    ],
)
def test_messenger_attachment_types(
    attachment: dict[str, Any], expected_type: str, url: str | None, title: str | None
) -> None:
    event = messenger(message={"mid": "m_X", "attachments": [attachment]})
    (parsed,) = event.attachments
    assert (parsed.type, parsed.url, parsed.title) == (expected_type, url, title)


def test_messenger_sticker_sent_twice_keeps_both_attachments() -> None:
    # Until Aug 2026 Meta sends the new `sticker` beside the old `image` one.
    event = messenger(
        message={
            "mid": "m_S",
            "attachments": [
                {"type": "image", "payload": {"url": "https://s", "sticker_id": 1}},
                {"type": "sticker", "payload": {"url": "https://s", "sticker_id": 1}},
            ],
        }
    )
    assert [a.type for a in event.attachments] == ["image", "sticker"]
    assert event.attachments[1].payload["sticker_id"] == 1


def test_messenger_echo_follower_is_the_recipient() -> None:
    echo = inbound(
        PAGE_ID,
        PSID,
        message={
            "mid": "m_F",
            "text": "thanks!",
            "is_echo": True,
            "app_id": 1517776481860111,
            "metadata": "bot:conv42",
        },
    )
    (event,) = parse_webhook(body("page", PAGE_ID, echo))
    assert event.kind == "echo"
    assert event.follower_id == PSID
    assert (event.app_id, event.metadata, event.text) == (
        "1517776481860111",
        "bot:conv42",
        "thanks!",
    )


def test_messenger_echo_without_app_id_is_a_human() -> None:
    echo = inbound(PAGE_ID, PSID, message={"mid": "m_G", "text": "hi", "is_echo": True})
    (event,) = parse_webhook(body("page", PAGE_ID, echo))
    assert (event.kind, event.app_id, event.metadata) == ("echo", None, None)


def test_messenger_read_watermark() -> None:
    event = messenger(read={"watermark": 1458668856253})
    assert event.kind == "read"
    assert event.watermark == datetime.fromtimestamp(1458668856.253, UTC)
    assert event.follower_id == PSID


def test_messenger_delivery_with_and_without_mids() -> None:
    event = messenger(delivery={"mids": ["m_E", "m_E2"], "watermark": 1458668856253})
    assert event.kind == "delivery"
    assert event.delivered_mids == ("m_E", "m_E2")
    assert event.watermark is not None
    assert messenger(delivery={"watermark": 1458668856253}).delivered_mids == ()


def test_messenger_reaction() -> None:
    event = messenger(reaction={"reaction": "love", "emoji": "❤️", "action": "react", "mid": "m_A"})
    assert (event.kind, event.mid, event.reaction, event.reaction_action) == (
        "reaction",
        "m_A",
        "love",
        "react",
    )


def test_messenger_postback_with_referral() -> None:
    event = messenger(
        postback={
            "mid": "m_D",
            "title": "Get Started",
            "payload": "GET_STARTED",
            "referral": {"ref": "x", "source": "SHORTLINK", "type": "OPEN_THREAD"},
        }
    )
    assert (event.kind, event.text, event.postback_payload) == (
        "postback",
        "Get Started",
        "GET_STARTED",
    )
    assert (event.referral_ref, event.referral_source) == ("x", "SHORTLINK")


def test_messenger_referral_from_ad() -> None:
    event = messenger(referral={"ref": "spring", "source": "ADS", "ad_id": "6045246247433"})
    assert (event.kind, event.referral_ref, event.referral_source) == ("referral", "spring", "ADS")


def test_messenger_message_edit() -> None:
    event = messenger(message_edit={"mid": "m_A", "text": "new text", "num_edit": 1})
    assert (event.kind, event.mid, event.text) == ("edit", "m_A", "new text")


@pytest.mark.parametrize(
    ("key", "value", "new_owner"),
    [
        ("pass_thread_control", {"previous_owner_app_id": None, "new_owner_app_id": "123"}, "123"),
        ("take_thread_control", {"previous_owner_app_id": "123", "new_owner_app_id": 456}, "456"),
        ("request_thread_control", {"requested_owner_app_id": "789", "metadata": "help"}, None),
        ("app_roles", {"123": ["primary_receiver"]}, None),
    ],
)
def test_messenger_handover(key: str, value: dict[str, Any], new_owner: str | None) -> None:
    event = messenger(**{key: value})
    assert (event.kind, event.handover_type, event.new_owner_app_id) == ("handover", key, new_owner)


def test_messenger_policy_enforcement_has_no_follower() -> None:
    item = {
        "recipient": {"id": PAGE_ID},
        "timestamp": TS,
        "policy_enforcement": {"action": "block", "reason": "spam"},
    }
    (event,) = parse_webhook(body("page", PAGE_ID, item))
    assert (event.kind, event.policy_action, event.text) == ("policy", "block", "spam")
    assert event.follower_id is None


def test_messenger_optin() -> None:
    event = messenger(optin={"type": "notification_messages", "payload": "P", "ref": "r"})
    assert (event.kind, event.postback_payload, event.referral_ref) == ("optin", "P", "r")


def test_messenger_standby_items_are_marked() -> None:
    item = inbound(PSID, PAGE_ID, message={"mid": "m_sb", "text": "hello?"})
    (event,) = parse_webhook(body("page", PAGE_ID, item, key="standby"))
    assert (event.kind, event.is_standby, event.mid) == ("message", True, "m_sb")


def test_standby_postback_without_payload() -> None:
    item = inbound(PSID, PAGE_ID, postback={"title": "Get Started"})
    (event,) = parse_webhook(body("page", PAGE_ID, item, key="standby"))
    assert (event.kind, event.is_standby, event.postback_payload) == ("postback", True, None)


# --- Instagram ------------------------------------------------------------------------


def test_instagram_text_message() -> None:
    event = instagram(message={"mid": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAU", "text": "hello"})
    assert (event.kind, event.follower_id, event.text) == ("message", IGSID, "hello")
    assert event.mid == "aWdfZAG1faXRlbToxOklHTWVzc2FnZAU"


def test_instagram_story_mention() -> None:
    url = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=2"
    event = instagram(
        message={"mid": "m", "attachments": [{"type": "story_mention", "payload": {"url": url}}]}
    )
    assert event.kind == "message"
    assert (event.attachments[0].type, event.attachments[0].url) == ("story_mention", url)


def test_instagram_story_reply() -> None:
    event = instagram(
        message={
            "mid": "m",
            "text": "love this",
            "reply_to": {"story": {"id": "18000000000000000", "url": "https://cdn/story"}},
        }
    )
    assert (event.kind, event.text, event.reply_to_story_id) == (
        "message",
        "love this",
        "18000000000000000",
    )
    assert event.reply_to_story_url == "https://cdn/story"


def test_instagram_reply_to_message() -> None:
    event = instagram(message={"mid": "m2", "text": "this one", "reply_to": {"mid": "m1"}})
    assert event.reply_to_mid == "m1"


@pytest.mark.parametrize(
    ("attachment", "expected_type", "title"),
    [
        (
            {"type": "ig_post", "payload": {"ig_post_media_id": "1799", "title": "New drop"}},
            "ig_post",
            "New drop",
        ),
        ({"type": "share", "payload": {"url": "https://p"}}, "share", None),
        (
            {"type": "ig_reel", "payload": {"reel_video_id": "1", "title": "reel"}},
            "ig_reel",
            "reel",
        ),
        ({"type": "template", "payload": {"template_type": "generic"}}, "template", None),
        ({"type": "image", "payload": {"url": "https://i"}}, "image", None),
    ],
)
def test_instagram_attachment_types(
    attachment: dict[str, Any], expected_type: str, title: str | None
) -> None:
    (parsed,) = instagram(message={"mid": "m", "attachments": [attachment]}).attachments
    assert (parsed.type, parsed.title) == (expected_type, title)


def test_instagram_unsend() -> None:
    event = instagram(message={"mid": "m_del", "is_deleted": True})
    assert (event.kind, event.mid, event.follower_id) == ("deleted", "m_del", IGSID)


def test_instagram_unsupported() -> None:
    event = instagram(message={"mid": "m_u", "is_unsupported": True})
    assert (event.kind, event.mid) == ("unsupported", "m_u")


def test_instagram_echo() -> None:
    echo = inbound(IG_ID, IGSID, message={"mid": "m_e", "text": "sure!", "is_echo": True})
    (event,) = parse_webhook(body("instagram", IG_ID, echo))
    assert (event.kind, event.follower_id, event.app_id) == ("echo", IGSID, None)


def test_instagram_seen_carries_a_mid() -> None:
    event = instagram(read={"mid": "m_ours"})
    assert (event.kind, event.mid, event.watermark) == ("read", "m_ours", None)


def test_instagram_reaction_and_unreact() -> None:
    react = instagram(reaction={"mid": "m1", "action": "react", "reaction": "love", "emoji": "❤️"})
    assert (react.kind, react.reaction, react.reaction_action) == ("reaction", "love", "react")
    unreact = instagram(reaction={"mid": "m1", "action": "unreact"})
    assert (unreact.reaction, unreact.reaction_action) == (None, "unreact")
    emoji_only = instagram(reaction={"mid": "m1", "action": "react", "emoji": "🔥"})
    assert emoji_only.reaction == "🔥"


def test_instagram_postback_and_referral() -> None:
    postback = instagram(postback={"mid": "m", "title": "Prices?", "payload": "ICE_PRICES"})
    assert (postback.kind, postback.postback_payload) == ("postback", "ICE_PRICES")
    referral = instagram(referral={"ref": "bio", "source": "IGME", "type": "OPEN_THREAD"})
    assert (referral.kind, referral.referral_ref) == ("referral", "bio")


def test_instagram_comment_change() -> None:
    payload = {
        "object": "instagram",
        "entry": [
            {
                "id": IG_ID,
                "time": TS,
                "changes": [
                    {
                        "field": "comments",
                        "value": {
                            "id": "17865799348089039",
                            "from": {"id": IGSID, "username": "jane"},
                            "text": "price?",
                            "media": {"id": "1799", "media_product_type": "FEED"},
                        },
                    },
                    {"field": "mentions", "value": {"media_id": "1", "comment_id": "2"}},
                ],
            }
        ],
    }
    comment, mention = parse_webhook(payload)
    assert (comment.kind, comment.follower_id, comment.text) == ("comment", IGSID, "price?")
    assert comment.comment_id == "17865799348089039"
    assert comment.timestamp == TS_AT
    assert (mention.kind, mention.raw["field"]) == ("unknown", "mentions")


def test_dashboard_test_event_in_changes_shape() -> None:
    payload = {
        "object": "instagram",
        "entry": [
            {
                "id": "0",
                "time": 1723456789,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "sender": {"id": "12334"},
                            "recipient": {"id": "23245"},
                            "timestamp": "1527459824",
                            "message": {"mid": "random_mid", "text": "random_text"},
                        },
                    }
                ],
            }
        ],
    }
    (event,) = parse_webhook(payload)
    assert (event.kind, event.account_external_id, event.follower_id) == ("message", "0", "12334")
    assert event.text == "random_text"
    assert event.timestamp == datetime.fromtimestamp(1527459824, UTC)
    assert event.raw["field"] == "messages"


# --- batching, leniency, envelope errors ----------------------------------------------


def test_several_entries_and_items_keep_order() -> None:
    payload = {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": TS,
                "messaging": [
                    inbound(PSID, PAGE_ID, message={"mid": "m_1", "text": "one"}),
                    inbound(PSID, PAGE_ID, message={"mid": "m_2", "text": "two"}),
                ],
                "standby": [inbound("777", PAGE_ID, message={"mid": "m_3", "text": "three"})],
            },
            {
                "id": "200000000000001",
                "time": TS,
                "messaging": [inbound("888", "200000000000001", read={"watermark": TS})],
            },
        ],
    }
    events = parse_webhook(payload)
    assert [e.mid for e in events] == ["m_1", "m_2", "m_3", None]
    assert [e.is_standby for e in events] == [False, False, True, False]
    assert [e.account_external_id for e in events] == [PAGE_ID] * 3 + ["200000000000001"]
    assert events[3].kind == "read"


def test_malformed_items_become_unknown_without_losing_others() -> None:
    payload = body(
        "page",
        PAGE_ID,
        inbound(PSID, PAGE_ID, message={"mid": "m_ok1", "text": "first"}),
        inbound(PSID, PAGE_ID, message="not an object"),
        inbound(PSID, PAGE_ID, message={"mid": {"nested": True}, "text": "bad mid"}),
        {"sender": "nobody", "message": {"mid": "m_bad_sender"}},
        inbound(PSID, PAGE_ID, message={"mid": "m_ok2", "text": "last"}),
    )
    payload["entry"][0]["messaging"].insert(2, "a string item")
    events = parse_webhook(payload)
    assert [e.kind for e in events] == [
        "message",
        "unknown",
        "unknown",
        "unknown",
        "unknown",
        "message",
    ]
    assert events[1].follower_id == PSID  # what could be read is kept
    assert events[1].raw["message"] == "not an object"
    assert events[2].raw == {"item": "a string item"}
    assert [events[0].mid, events[5].mid] == ["m_ok1", "m_ok2"]


def test_malformed_entry_does_not_lose_other_entries() -> None:
    payload = body("instagram", IG_ID, inbound(IGSID, IG_ID, message={"mid": "m", "text": "x"}))
    payload["entry"].insert(0, "garbage")
    payload["entry"].append(
        {"id": IG_ID, "messaging": {"sender": {"id": IGSID}, "read": {"mid": "r"}}}
    )
    garbage, message, lone = parse_webhook(payload)
    assert (garbage.kind, garbage.account_external_id) == ("unknown", "")
    assert message.kind == "message"
    assert (lone.kind, lone.mid) == ("read", "r")  # a lone object where a list belongs


def test_unknown_item_key_is_kept_raw() -> None:
    event = messenger(appointment_booking={"id": "1"})
    assert (event.kind, event.follower_id) == ("unknown", PSID)
    assert event.raw["appointment_booking"] == {"id": "1"}


def test_message_without_content_is_unknown() -> None:
    event = messenger(message={"mid": "m_empty"})
    assert (event.kind, event.mid) == ("unknown", "m_empty")


def test_bad_attachment_is_kept_as_unknown_type() -> None:
    event = messenger(message={"mid": "m", "text": "look", "attachments": ["?", {"payload": 3}]})
    assert event.kind == "message"
    assert [a.type for a in event.attachments] == ["unknown", "unknown"]


def test_ids_are_strings_and_timestamps_tolerant() -> None:
    item = {
        "sender": {"id": 6543210987654321},
        "recipient": {"id": 104871234567890},
        "timestamp": "1458692752",
        "message": {"mid": "m", "text": "x"},
    }
    payload = {
        "object": "page",
        "entry": [{"id": 104871234567890, "time": TS, "messaging": [item]}],
    }
    (event,) = parse_webhook(payload)
    assert (event.account_external_id, event.follower_id) == (PAGE_ID, PSID)
    assert event.timestamp == datetime.fromtimestamp(1458692752, UTC)


def test_missing_item_timestamp_falls_back_to_entry_time() -> None:
    payload = body("page", PAGE_ID, {"sender": {"id": PSID}, "message": {"mid": "m", "text": "x"}})
    (event,) = parse_webhook(payload)
    assert event.timestamp == TS_AT


def test_empty_entries_give_no_events() -> None:
    assert parse_webhook({"object": "page", "entry": []}) == []
    assert parse_webhook({"object": "page", "entry": [{"id": PAGE_ID, "time": TS}]}) == []


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "page",
        None,
        {},
        {"object": ""},
        {"entry": []},
        {"object": "page"},
        {"object": "page", "entry": {}},
    ],
)
def test_envelope_errors(payload: Any) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_webhook(payload)
    assert not isinstance(caught.value, UnsupportedObject)


def test_unknown_object_is_distinguishable() -> None:
    with pytest.raises(UnsupportedObject) as caught:
        parse_webhook({"object": "whatsapp_business_account", "entry": []})
    assert caught.value.object_name == "whatsapp_business_account"
    assert isinstance(caught.value, PayloadError)


def _ig_comment(field: str = "comments", /, **value: Any) -> MetaEvent:
    base: dict[str, Any] = {
        "id": "178001",
        "from": {"id": IGSID, "username": "jane"},
        "text": "SERUM please",
        "media": {"id": "1799", "media_product_type": "FEED"},
    }
    payload = body("instagram", IG_ID, {"field": field, "value": {**base, **value}}, key="changes")
    (event,) = parse_webhook(payload)
    return event


def test_instagram_comment_details() -> None:
    comment = _ig_comment()
    assert (comment.kind, comment.comment_id, comment.media_id) == ("comment", "178001", "1799")
    assert comment.parent_id is None
    assert (comment.is_live, comment.by_account) == (False, False)
    reply = _ig_comment(parent_id="177000")
    assert (reply.kind, reply.parent_id) == ("comment", "177000")
    live = _ig_comment("live_comments", media={"id": "1800", "media_product_type": "LIVE"})
    assert (live.kind, live.is_live, live.media_id) == ("comment", True, "1800")


def test_instagram_comment_by_the_account_itself() -> None:
    own = _ig_comment(**{"from": {"id": IG_ID, "username": "me"}})
    assert own.by_account is True
    scoped = _ig_comment(**{"from": {"id": "555", "username": "me", "self_ig_scoped_id": "77"}})
    assert scoped.by_account is True


def test_instagram_comment_with_broken_media_is_unknown() -> None:
    assert _ig_comment(media="1799").kind == "unknown"


def _feed(**value: Any) -> MetaEvent:
    base: dict[str, Any] = {
        "item": "comment",
        "verb": "add",
        "comment_id": "111_222",
        "post_id": "104_111",
        "parent_id": "104_111",
        "from": {"id": PSID, "name": "Jane Doe"},
        "message": "Glow drops!",
        "created_time": 1458692752,
    }
    payload = body("page", PAGE_ID, {"field": "feed", "value": {**base, **value}}, key="changes")
    (event,) = parse_webhook(payload)
    return event


def test_facebook_page_comment() -> None:
    comment = _feed()
    assert comment.platform == "messenger"
    assert (comment.kind, comment.follower_id, comment.text) == ("comment", PSID, "Glow drops!")
    assert (comment.comment_id, comment.media_id, comment.parent_id) == ("111_222", "104_111", None)
    assert comment.timestamp == datetime.fromtimestamp(1458692752, UTC)
    assert comment.by_account is False


def test_facebook_page_reply_and_own_comment() -> None:
    assert _feed(parent_id="111_000").parent_id == "111_000"
    assert _feed(**{"from": {"id": PAGE_ID, "name": "Shop"}}).by_account is True


@pytest.mark.parametrize(
    "value",
    [
        {"verb": "edited"},
        {"verb": "remove"},
        {"item": "reaction"},
        {"item": "status", "verb": "add"},
        {"message": 5},
    ],
)
def test_other_feed_items_stay_unknown(value: dict[str, Any]) -> None:
    event = _feed(**value)
    assert (event.kind, event.raw["field"]) == ("unknown", "feed")
