"""Meta's webhook payloads turned into our own objects. Nothing downstream reads Meta's JSON.

`parse_webhook(payload)` walks every `entry[]` and every `messaging[]`, `standby[]` and
`changes[]` item of one POST body and returns one `MetaEvent` per item, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from app.core.clock import from_epoch_ms

Platform = Literal["instagram", "messenger"]

# kind values: "message" (text and/or attachments from the follower), "echo" (a message the
# account sent: by us, by the influencer in an app, by another app), "read", "delivery",
# "reaction", "postback", "referral", "edit", "deleted", "handover", "policy", "optin",
# "comment", "unsupported" (a message Meta cannot show), "unknown" (kept raw).
EventKind = str
# Events about messages already in a thread (read and delivery receipts, reactions): on
# their own they never start a conversation with someone we have not heard from.
ANNOTATION_KINDS = frozenset({"read", "delivery", "reaction"})


@dataclass(frozen=True, slots=True)
class Attachment:
    type: str  # image, video, audio, file, sticker, share, ig_post, story_mention, reel, ...
    url: str | None = None
    title: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MetaEvent:
    platform: Platform
    account_external_id: str  # entry.id: the Page id or the Instagram professional account id
    kind: EventKind
    # The follower's id (PSID / IGSID), whichever side of the event they are on; None for
    # events that carry no follower (some changes[] items).
    follower_id: str | None
    timestamp: datetime | None
    mid: str | None = None
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    app_id: str | None = None  # on echoes: the app that sent it (None: a human in Meta's apps)
    metadata: str | None = None  # on echoes: the metadata string we attached when sending
    reply_to_mid: str | None = None
    reply_to_story_id: str | None = None
    reply_to_story_url: str | None = None  # an expiring CDN link: kept, never downloaded
    quick_reply_payload: str | None = None
    postback_payload: str | None = None
    reaction: str | None = None  # the reaction name (love, like...) or emoji
    reaction_action: str | None = None  # react | unreact
    watermark: datetime | None = None  # read/delivery: everything up to this time
    delivered_mids: tuple[str, ...] = ()  # delivery: mids, when Meta lists them
    is_standby: bool = False  # came in standby[]: another app owns the thread
    raw: dict[str, Any] = field(default_factory=dict)  # the messaging/changes item as received
    referral_ref: str | None = None  # referral / postback referral / optin: the m.me/ig.me `ref`
    referral_source: str | None = None  # SHORTLINK, ADS, ...
    handover_type: str | None = None  # handover: pass_/take_/request_thread_control, app_roles
    new_owner_app_id: str | None = None  # handover: the app that owns the thread now
    policy_action: str | None = None  # policy: warning | block | unblock (reason in `text`)
    comment_id: str | None = None  # comment: the comment's id (its text in `text`)
    # comment: the comment it answers (a reply to a comment; None for a top-level comment)
    parent_id: str | None = None
    media_id: str | None = None  # comment: the post (Instagram media id, Facebook post id)
    is_live: bool = False  # comment: written under a live broadcast (`live_comments`)
    by_account: bool = False  # comment: written by the account itself, not a follower


class PayloadError(ValueError):
    """The body is JSON but not a webhook payload we can read (no object, no entry list)."""


class UnsupportedObject(PayloadError):
    """`object` names a webhook we do not handle (e.g. "whatsapp_business_account", "user").

    Distinct from a broken body: the webhook still answers 200 (Meta would otherwise retry
    for hours) and records the body as unprocessable.
    """

    def __init__(self, object_name: str) -> None:
        super().__init__(f"unsupported webhook object: {object_name!r}")
        self.object_name = object_name


class _Malformed(ValueError):
    """One item has a field of the wrong shape; the item becomes an "unknown" event."""


_PLATFORMS: dict[str, Platform] = {"page": "messenger", "instagram": "instagram"}
_HANDOVER_KEYS = (
    "pass_thread_control",
    "take_thread_control",
    "request_thread_control",
    "app_roles",
)
# What a broken item can raise while we read it; anything else is a bug and should surface.
_ITEM_ERRORS = (LookupError, TypeError, ValueError, AttributeError)


def parse_webhook(payload: Any) -> list[MetaEvent]:
    """Turn one decoded webhook body into events, one per messaging/standby/changes item.

    Raises `PayloadError` when the body is not a webhook at all (not an object, no `object`,
    `entry` not a list) and `UnsupportedObject` for an `object` other than "page" or
    "instagram". Past that it never raises: an item it cannot read becomes a `MetaEvent`
    of kind "unknown" with the item in `raw`, so one odd item never loses its neighbours.
    """
    if not isinstance(payload, dict):
        raise PayloadError("the webhook body is not a JSON object")
    object_name = payload.get("object")
    if not isinstance(object_name, str) or not object_name:
        raise PayloadError("the webhook body has no `object`")
    platform = _PLATFORMS.get(object_name)
    if platform is None:
        raise UnsupportedObject(object_name)
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("the webhook body's `entry` is not a list")
    events: list[MetaEvent] = []
    for entry in entries:
        events.extend(_parse_entry(platform, entry))
    return events


@dataclass(frozen=True, slots=True)
class _Context:
    platform: Platform
    account_id: str
    entry_time: datetime | None
    is_standby: bool = False


def _parse_entry(platform: Platform, entry: Any) -> list[MetaEvent]:
    if not isinstance(entry, dict):
        return [_unknown(_Context(platform, "", None), {"entry": entry})]
    account_id = ""
    with suppress(_Malformed):
        account_id = _id(entry.get("id")) or ""
    context = _Context(platform, account_id, from_epoch_ms(entry.get("time")))
    standby = replace(context, is_standby=True)
    events = [_parse_item(context, item) for item in _items(entry.get("messaging"))]
    events += [_parse_item(standby, item) for item in _items(entry.get("standby"))]
    events += [_parse_change(context, change) for change in _items(entry.get("changes"))]
    return events


def _items(value: Any) -> list[Any]:
    # A lone object where a list belongs is read as a one-item list rather than dropped.
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _parse_item(context: _Context, item: Any) -> MetaEvent:
    if not isinstance(item, dict):
        return _unknown(context, {"item": item})
    try:
        return _dispatch(context, item, raw=item)
    except _ITEM_ERRORS:
        return _unknown(context, item, item)


def _parse_change(context: _Context, change: Any) -> MetaEvent:
    """A `changes[]` item: comments, mentions, and the dashboard's test messages."""
    if not isinstance(change, dict):
        return _unknown(context, {"change": change})
    field_name, value = change.get("field"), change.get("value")
    try:
        if field_name == "messages" and isinstance(value, dict):
            # The App Dashboard's "Test" button sends a messaging item in this wrapper.
            return _dispatch(context, value, raw=change)
        if field_name in ("comments", "live_comments") and isinstance(value, dict):
            return _comment(context, value, raw=change, live=field_name == "live_comments")
        if field_name == "feed" and isinstance(value, dict) and _is_new_comment(value):
            return _page_comment(context, value, raw=change)
    except _ITEM_ERRORS:
        pass
    return _unknown(context, change, value)


def _comment(
    context: _Context, value: dict[str, Any], *, raw: dict[str, Any], live: bool
) -> MetaEvent:
    """An Instagram comment (`comments`, or `live_comments` under a live broadcast).

    The account's own comments carry `from.self_ig_scoped_id` (or its own id in `from.id`)."""
    author = _dict(value.get("from"))
    follower_id = _id(author.get("id"))
    return MetaEvent(
        platform=context.platform,
        account_external_id=context.account_id,
        kind="comment",
        follower_id=follower_id,
        timestamp=from_epoch_ms(value.get("timestamp")) or context.entry_time,
        text=_text(value.get("text")),
        comment_id=_id(value.get("id")),
        parent_id=_id(value.get("parent_id")),
        media_id=_id(_dict(value.get("media")).get("id")),
        is_live=live,
        by_account=bool(_id(author.get("self_ig_scoped_id")))
        or (follower_id is not None and follower_id == context.account_id),
        raw=raw,
    )


def _is_new_comment(value: dict[str, Any]) -> bool:
    return value.get("item") == "comment" and value.get("verb") == "add"


def _page_comment(context: _Context, value: dict[str, Any], *, raw: dict[str, Any]) -> MetaEvent:
    """A comment added under a Facebook Page's post (`feed`, `item: comment`, `verb: add`).

    A top-level comment's `parent_id` is the post's id; a reply's is its parent comment's.
    `created_time` is in seconds."""
    post_id = _id(value.get("post_id"))
    parent_id = _id(value.get("parent_id"))
    follower_id = _party(value, "from")
    return MetaEvent(
        platform=context.platform,
        account_external_id=context.account_id,
        kind="comment",
        follower_id=follower_id,
        timestamp=from_epoch_ms(value.get("created_time")) or context.entry_time,
        text=_text(value.get("message")),
        comment_id=_id(value.get("comment_id")),
        parent_id=None if parent_id == post_id else parent_id,
        media_id=post_id,
        by_account=follower_id is not None and follower_id == context.account_id,
        raw=raw,
    )


def _unknown(context: _Context, raw: dict[str, Any], item: Any = None) -> MetaEvent:
    """An item we cannot read (or do not know yet), kept raw; the follower when findable."""
    follower_id: str | None = None
    timestamp = context.entry_time
    if isinstance(item, dict):
        with suppress(*_ITEM_ERRORS):
            follower_id = _party(item, "sender")
        timestamp = from_epoch_ms(item.get("timestamp")) or timestamp
    return MetaEvent(
        platform=context.platform,
        account_external_id=context.account_id,
        kind="unknown",
        follower_id=follower_id,
        timestamp=timestamp,
        is_standby=context.is_standby,
        raw=raw,
    )


# --- messaging items -------------------------------------------------------------------

_Handler = Callable[[MetaEvent, Any], MetaEvent]


def _dispatch(context: _Context, item: dict[str, Any], *, raw: dict[str, Any]) -> MetaEvent:
    """Pick the handler by the key present in the item (Meta's documented dispatch)."""
    base = MetaEvent(
        platform=context.platform,
        account_external_id=context.account_id,
        kind="unknown",
        follower_id=_party(item, "sender"),
        timestamp=from_epoch_ms(item.get("timestamp")) or context.entry_time,
        is_standby=context.is_standby,
        raw=raw,
    )
    if "message" in item:
        return _message(base, item["message"], recipient_id=_party(item, "recipient"))
    for key, handler in _HANDLERS:
        if key in item:
            return handler(base, item[key])
    for key in _HANDOVER_KEYS:
        if key in item:
            return _handover(base, key, item[key])
    return base


def _message(base: MetaEvent, value: Any, *, recipient_id: str | None) -> MetaEvent:
    message = _dict(value)
    mid = _id(message.get("mid"))
    text = _text(message.get("text"))
    attachments = _attachments(message.get("attachments"))
    if message.get("is_echo") is True:
        # Echo: the account spoke, so the follower is on the recipient side.
        return replace(
            base,
            kind="echo",
            follower_id=recipient_id,
            mid=mid,
            text=text,
            attachments=attachments,
            app_id=_id(message.get("app_id")),
            metadata=_text(message.get("metadata")),
        )
    if message.get("is_deleted") is True:
        return replace(base, kind="deleted", mid=mid)
    if message.get("is_unsupported") is True:
        return replace(base, kind="unsupported", mid=mid)
    reply_to = _dict(message.get("reply_to"))
    event = replace(
        base,
        kind="message",
        mid=mid,
        text=text,
        attachments=attachments,
        quick_reply_payload=_text(_dict(message.get("quick_reply")).get("payload")),
        reply_to_mid=_id(reply_to.get("mid")),
        reply_to_story_id=_id(_dict(reply_to.get("story")).get("id")),
        reply_to_story_url=_first_str(_dict(reply_to.get("story")).get("url")),
    )
    has_content = event.text or event.attachments or event.quick_reply_payload
    if has_content or event.reply_to_mid or event.reply_to_story_id:
        return event
    return replace(base, mid=mid)  # a message with nothing we know how to read: "unknown"


def _edit(base: MetaEvent, value: Any) -> MetaEvent:
    edit = _dict(value)
    return replace(base, kind="edit", mid=_id(edit.get("mid")), text=_text(edit.get("text")))


def _reaction(base: MetaEvent, value: Any) -> MetaEvent:
    reaction = _dict(value)
    return replace(
        base,
        kind="reaction",
        mid=_id(reaction.get("mid")),  # the message reacted to
        reaction=_text(reaction.get("reaction")) or _text(reaction.get("emoji")),
        reaction_action=_text(reaction.get("action")),
    )


def _read(base: MetaEvent, value: Any) -> MetaEvent:
    # Messenger reports a watermark, Instagram the mid of the message seen.
    read = _dict(value)
    return replace(
        base, kind="read", mid=_id(read.get("mid")), watermark=from_epoch_ms(read.get("watermark"))
    )


def _delivery(base: MetaEvent, value: Any) -> MetaEvent:
    delivery = _dict(value)
    mids = tuple(mid for mid in (_id(m) for m in _items(delivery.get("mids"))) if mid)
    return replace(
        base,
        kind="delivery",
        delivered_mids=mids,
        watermark=from_epoch_ms(delivery.get("watermark")),
    )


def _postback(base: MetaEvent, value: Any) -> MetaEvent:
    postback = _dict(value)
    referral = _dict(postback.get("referral"))
    return replace(
        base,
        kind="postback",
        mid=_id(postback.get("mid")),
        text=_text(postback.get("title")),  # the button's title: what the follower "said"
        postback_payload=_text(postback.get("payload")),  # absent on standby copies
        referral_ref=_text(referral.get("ref")),
        referral_source=_text(referral.get("source")),
    )


def _referral(base: MetaEvent, value: Any) -> MetaEvent:
    referral = _dict(value)
    return replace(
        base,
        kind="referral",
        referral_ref=_text(referral.get("ref")),
        referral_source=_text(referral.get("source")),
    )


def _policy(base: MetaEvent, value: Any) -> MetaEvent:
    # Only `recipient` (the Page) is set: there is no follower on this event.
    policy = _dict(value)
    return replace(
        base,
        kind="policy",
        follower_id=None,
        policy_action=_text(policy.get("action")),
        text=_text(policy.get("reason")),
    )


def _optin(base: MetaEvent, value: Any) -> MetaEvent:
    optin = _dict(value)
    return replace(
        base,
        kind="optin",
        referral_ref=_text(optin.get("ref")),
        postback_payload=_text(optin.get("payload")),
    )


def _handover(base: MetaEvent, key: str, value: Any) -> MetaEvent:
    handover = _dict(value)
    return replace(
        base,
        kind="handover",
        handover_type=key,
        new_owner_app_id=_id(handover.get("new_owner_app_id")),
        metadata=_text(handover.get("metadata")),
    )


# Tried in order after "message": a postback may carry a referral, so it comes first.
_HANDLERS: tuple[tuple[str, _Handler], ...] = (
    ("message_edit", _edit),
    ("reaction", _reaction),
    ("read", _read),
    ("delivery", _delivery),
    ("postback", _postback),
    ("referral", _referral),
    ("policy_enforcement", _policy),
    ("optin", _optin),
)


# --- attachments and field readers -----------------------------------------------------


def _attachments(value: Any) -> tuple[Attachment, ...]:
    return tuple(_attachment(item) for item in _items(value))


def _attachment(value: Any) -> Attachment:
    """One attachment; an unreadable one is kept as type "unknown" rather than failing the item."""
    if not isinstance(value, dict):
        return Attachment(type="unknown")
    payload = value.get("payload")
    payload = payload if isinstance(payload, dict) else {}
    kind = value.get("type")
    return Attachment(
        type=kind if isinstance(kind, str) and kind else "unknown",
        # Legacy Messenger `fallback` attachments put url/title beside the payload.
        url=_first_str(payload.get("url"), value.get("url")),
        title=_first_str(value.get("title"), payload.get("title")),
        payload=payload,
    )


def _first_str(*values: Any) -> str | None:
    return next((value for value in values if isinstance(value, str) and value), None)


def _dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Malformed(f"expected an object, got {type(value).__name__}")
    return value


def _id(value: Any) -> str | None:
    """Ids are kept as `str`: Meta sends strings, test payloads sometimes numbers."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _Malformed(f"expected an id, got {type(value).__name__}")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _Malformed(f"expected a string, got {type(value).__name__}")


def _party(item: dict[str, Any], key: str) -> str | None:
    return _id(_dict(item.get(key)).get("id"))
