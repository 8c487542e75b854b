"""Keys and names given to entries, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.conversations.entries import entry_key, entry_kind
from app.conversations.events import unknown_type
from app.meta.events import Attachment, MetaEvent

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _event(kind: str, **fields: Any) -> MetaEvent:
    return MetaEvent(
        platform="instagram",
        account_external_id="1784",
        kind=kind,
        follower_id="IGSID-1",
        timestamp=AT,
        **fields,
    )


def test_a_reaction_never_takes_the_reacted_messages_mid() -> None:
    react = _event("reaction", mid="m_1", reaction="love", reaction_action="react")
    unreact = _event("reaction", mid="m_1", reaction_action="unreact")
    assert entry_key(react, 1) not in {"m_1", entry_key(unreact, 1)}
    # Built from the event, not the body: a redelivery in another batch has the same key.
    assert entry_key(react, 1) == entry_key(react, 2)


def test_own_mids_are_kept_and_long_keys_hashed() -> None:
    assert entry_key(_event("message", mid="m_2", text="hi"), 1) == "m_2"
    assert entry_key(_event("comment", comment_id="178"), 1) == "comment:178"
    long = entry_key(_event("reaction", mid="m_" + "x" * 400, reaction_action="react"), 1)
    assert long.startswith("reaction:")
    assert len(long) <= 255


def test_entry_kind_of_messages() -> None:
    photo = (Attachment(type="image", url="https://cdn.test/a.jpg"),)
    assert entry_kind(_event("message", text="hi")) == "text"
    assert entry_kind(_event("message", attachments=photo)) == "attachment"
    assert entry_kind(_event("message", text="look", attachments=photo)) == "text"
    assert entry_kind(_event("postback", text="Get Started")) == "postback"


def test_unknown_types_are_named_by_their_content_keys() -> None:
    assert unknown_type({"sender": {}, "timestamp": 1, "appointment": {}}) == "appointment"
    assert unknown_type({"message": {"mid": "m", "poll": {}}}) == "message:poll"
    assert unknown_type({"field": "mentions", "value": {}}) == "changes:mentions"
    assert unknown_type({"sender": {}}) == "empty"
