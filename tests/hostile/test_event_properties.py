"""parse_webhook against arbitrary bodies shaped like Meta's, and valid ones round-tripped.

Its contract (app/meta/events.py): a body that is not a webhook raises `PayloadError`
(`UnsupportedObject` for another `object`); past that it never raises, and every
messaging/standby/changes item becomes exactly one `MetaEvent`, an unreadable one of
kind "unknown".
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app.meta.events import Attachment, MetaEvent, PayloadError, parse_webhook
from tests.hostile.strategies import any_text, huge_text, junk, numbers

# --- the same, shaped like Meta's payloads -----------------------------------------------

ids = st.one_of(
    st.text("0123456789", min_size=1, max_size=20), st.integers(0, 10**20), any_text, junk
)
timestamps = st.one_of(st.integers(0, 2**63), numbers, st.text("0123456789.e-", max_size=30), junk)


def maybe(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with any subset of `fields`, plus the odd unknown key."""
    return st.fixed_dictionaries({}, optional=fields).flatmap(
        lambda known: st.dictionaries(any_text, junk, max_size=2).map(
            lambda extra: {**extra, **known}
        )
    )


def object_or_junk(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(maybe(**fields), junk)


party = object_or_junk(id=ids)
attachment = object_or_junk(
    type=st.one_of(st.sampled_from(["image", "video", "story_mention", "fallback"]), junk),
    payload=object_or_junk(url=st.one_of(any_text, junk), title=junk, sticker_id=ids),
    url=junk,
    title=junk,
)
message = object_or_junk(
    mid=ids,
    text=st.one_of(any_text, huge_text, junk),
    is_echo=st.one_of(st.booleans(), junk),
    is_deleted=st.one_of(st.booleans(), junk),
    is_unsupported=st.one_of(st.booleans(), junk),
    app_id=ids,
    metadata=junk,
    attachments=st.one_of(st.lists(attachment, max_size=3), attachment),
    quick_reply=object_or_junk(payload=junk),
    reply_to=object_or_junk(mid=ids, story=object_or_junk(id=ids, url=junk)),
)
# One of the keys Meta dispatches on (or none, or several), each with a plausible object.
CONTENT_KEYS = (
    "message_edit",
    "reaction",
    "read",
    "delivery",
    "postback",
    "referral",
    "policy_enforcement",
    "optin",
    "pass_thread_control",
    "take_thread_control",
    "request_thread_control",
    "app_roles",
)
content = object_or_junk(
    mid=ids,
    text=junk,
    reaction=junk,
    emoji=junk,
    action=junk,
    watermark=timestamps,
    mids=st.one_of(st.lists(ids, max_size=3), junk),
    title=junk,
    payload=junk,
    referral=object_or_junk(ref=junk, source=junk),
    ref=junk,
    reason=junk,
    new_owner_app_id=ids,
    metadata=junk,
)
item = st.one_of(
    maybe(
        sender=party,
        recipient=party,
        timestamp=timestamps,
        message=message,
        **dict.fromkeys(CONTENT_KEYS, content),
    ),
    junk,
)
change = object_or_junk(
    field=st.one_of(st.sampled_from(["messages", "comments", "live_comments", "mentions"]), junk),
    value=st.one_of(item, maybe(id=ids, text=junk, timestamp=timestamps, **{"from": party}), junk),
)
items = st.one_of(st.lists(item, max_size=4), item)
entry = object_or_junk(
    id=ids,
    time=timestamps,
    messaging=items,
    standby=items,
    changes=st.one_of(st.lists(change, max_size=3), change),
)
webhook_bodies = st.one_of(
    maybe(
        object=st.one_of(st.sampled_from(["page", "instagram", "user", ""]), junk),
        entry=st.one_of(st.lists(entry, max_size=4), junk),
    ),
    junk,
)


def _expected_count(payload: dict[str, Any]) -> int:
    """One event per item, as the docstring promises; a lone object counts as a list of one."""

    def count(value: Any) -> int:
        return 0 if value is None else len(value) if isinstance(value, list) else 1

    total = 0
    for e in payload["entry"]:
        if not isinstance(e, dict):
            total += 1
            continue
        total += count(e.get("messaging")) + count(e.get("standby")) + count(e.get("changes"))
    return total


_OPTIONAL_STR_FIELDS = (
    "follower_id",
    "mid",
    "text",
    "app_id",
    "metadata",
    "reply_to_mid",
    "reply_to_story_id",
    "reply_to_story_url",
    "quick_reply_payload",
    "postback_payload",
    "reaction",
    "reaction_action",
    "referral_ref",
    "referral_source",
    "handover_type",
    "new_owner_app_id",
    "policy_action",
    "comment_id",
)


def _assert_well_typed(event: MetaEvent) -> None:
    # Downstream code stores these in typed columns: a stray int or dict would fail there.
    assert event.platform in ("instagram", "messenger")
    assert isinstance(event.account_external_id, str)
    assert isinstance(event.kind, str)
    assert event.kind
    for name in _OPTIONAL_STR_FIELDS:
        value = getattr(event, name)
        assert value is None or isinstance(value, str), (name, value)
    for moment in (event.timestamp, event.watermark):
        assert moment is None or (isinstance(moment, datetime) and moment.tzinfo is not None)
    assert all(isinstance(a, Attachment) and isinstance(a.type, str) for a in event.attachments)
    assert all(isinstance(mid, str) for mid in event.delivered_mids)
    assert isinstance(event.raw, dict)


@given(webhook_bodies)
def test_any_body_gives_events_or_a_payload_error(payload: Any) -> None:
    try:
        events = parse_webhook(payload)
    except PayloadError:
        return
    assert isinstance(payload, dict)
    assert payload["object"] in ("page", "instagram")
    assert len(events) == _expected_count(payload)
    for event in events:
        _assert_well_typed(event)


@given(
    object_name=st.sampled_from(["page", "instagram"]),
    entries=st.lists(entry, max_size=4),
)
# Found by this test: a 400-digit `time` overflowed float() in from_epoch_ms.
@example(object_name="page", entries=[{"time": 10**400, "messaging": [{"timestamp": -(10**400)}]}])
def test_a_webhook_envelope_never_raises(object_name: str, entries: list[Any]) -> None:
    # Past `object` and `entry`, no item may fail the body: its neighbours would be lost.
    payload = {"object": object_name, "entry": entries}
    events = parse_webhook(payload)
    assert len(events) == _expected_count(payload)


@given(
    object_name=st.one_of(st.none(), st.sampled_from(["page", "instagram"])),
    entries=junk.filter(lambda value: not isinstance(value, list)),
)
def test_a_body_without_an_entry_list_is_a_payload_error(
    object_name: str | None, entries: Any
) -> None:
    payload = (
        {"entry": entries} if object_name is None else {"object": object_name, "entry": entries}
    )
    with pytest.raises(PayloadError):
        parse_webhook(payload)


# --- valid messages keep their ids, text and sender ---------------------------------------

meta_ids = st.text("0123456789", min_size=1, max_size=20)
texts = st.text(st.characters(exclude_categories=()), min_size=1, max_size=2000)
mids = st.text(st.characters(exclude_categories=()), min_size=1, max_size=200)


@st.composite
def valid_messages(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "sender": draw(meta_ids),
        "recipient": draw(meta_ids),
        "mid": draw(mids),
        "text": draw(texts),
        "timestamp": draw(st.integers(10**12, 4 * 10**12)),  # epoch ms, 2001 to 2096
        "is_echo": draw(st.booleans()),
        "standby": draw(st.booleans()),
    }


def _wire_item(message: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"mid": message["mid"], "text": message["text"]}
    if message["is_echo"]:
        body["is_echo"] = True
    return {
        "sender": {"id": message["sender"]},
        "recipient": {"id": message["recipient"]},
        "timestamp": message["timestamp"],
        "message": body,
    }


@given(
    object_name=st.sampled_from(["page", "instagram"]),
    entries=st.lists(
        st.tuples(meta_ids, st.lists(valid_messages(), min_size=1, max_size=5)),
        min_size=1,
        max_size=3,
    ),
)
def test_valid_messages_round_trip(
    object_name: str, entries: list[tuple[str, list[dict[str, Any]]]]
) -> None:
    payload = {
        "object": object_name,
        "entry": [
            {
                "id": account,
                "time": 1_700_000_000_000,
                "messaging": [_wire_item(m) for m in messages if not m["standby"]],
                "standby": [_wire_item(m) for m in messages if m["standby"]],
            }
            for account, messages in entries
        ],
    }
    # Through the wire format, as Meta would send it (\uXXXX escapes for non-ASCII).
    events = parse_webhook(json.loads(json.dumps(payload)))

    expected = [
        (account, m)
        for account, messages in entries
        for m in [
            *(m for m in messages if not m["standby"]),
            *(m for m in messages if m["standby"]),
        ]
    ]
    assert len(events) == len(expected)
    platform = "messenger" if object_name == "page" else "instagram"
    for event, (account, m) in zip(events, expected, strict=True):
        assert event.kind == ("echo" if m["is_echo"] else "message")
        assert event.platform == platform
        assert event.account_external_id == account
        assert event.mid == m["mid"]
        assert event.text == m["text"]
        # An echo is the account speaking: the follower is its recipient.
        assert event.follower_id == (m["recipient"] if m["is_echo"] else m["sender"])
        assert event.is_standby == m["standby"]
        assert event.timestamp is not None
        assert round(event.timestamp.timestamp() * 1000) == m["timestamp"]


@given(sender=st.integers(1, 10**18), account=st.integers(1, 10**18), text=texts)
def test_numeric_ids_become_strings(sender: int, account: int, text: str) -> None:
    # Meta sends ids as strings; the dashboard's test payloads sometimes as numbers.
    payload = {
        "object": "instagram",
        "entry": [
            {
                "id": account,
                "messaging": [{"sender": {"id": sender}, "message": {"mid": 7, "text": text}}],
            }
        ],
    }
    (event,) = parse_webhook(payload)
    assert (event.account_external_id, event.follower_id, event.mid, event.text) == (
        str(account),
        str(sender),
        "7",
        text,
    )
