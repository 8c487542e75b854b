"""Meta's webhook payloads turned into our own objects. Nothing downstream reads Meta's JSON.

`parse_webhook(payload)` walks every `entry[]` and every `messaging[]`, `standby[]` and
`changes[]` item of one POST body and returns one `MetaEvent` per item, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Platform = Literal["instagram", "messenger"]

# kind values: "message" (text and/or attachments from the follower), "echo" (a message the
# account sent: by us, by the influencer in an app, by another app), "read", "delivery",
# "reaction", "postback", "referral", "edit", "deleted", "handover", "policy", "optin",
# "comment", "unsupported" (a message Meta cannot show), "unknown" (kept raw).
EventKind = str


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
    quick_reply_payload: str | None = None
    postback_payload: str | None = None
    reaction: str | None = None  # the reaction name (love, like...) or emoji
    reaction_action: str | None = None  # react | unreact
    watermark: datetime | None = None  # read/delivery: everything up to this time
    delivered_mids: tuple[str, ...] = ()  # delivery: mids, when Meta lists them
    is_standby: bool = False  # came in standby[]: another app owns the thread
    raw: dict[str, Any] = field(default_factory=dict)  # the messaging/changes item as received


class PayloadError(ValueError):
    """The body is JSON but not a webhook payload we can read (no object, no entry list)."""
