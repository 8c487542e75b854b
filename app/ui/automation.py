"""What a conversation page says about its automation: on, paused by a person in the desk,
or the timed pause after the influencer answered by hand in Meta's apps (which "Resume
now" ends early, through the same audited service as "Resume automation")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from app.models import Conversation, Message

# The authors ingest gives an echo that is not ours (app/conversations/ingest.py).
BY_HAND = {"influencer", "other_app"}
PLATFORM_APPS = {"instagram": "Instagram", "messenger": "Messenger"}


@dataclass(frozen=True)
class Automation:
    state: Literal["on", "paused", "timed"]
    until: datetime | None = None
    until_label: str = ""
    because: str = ""


def automation(
    conversation: Conversation, *, platform: str, messages: Sequence[Message], now: datetime
) -> Automation:
    if conversation.is_paused:
        return Automation("paused")
    until = conversation.paused_until
    if until is None or until <= now:
        return Automation("on")
    by_hand = [m for m in messages if m.direction == "out" and m.author in BY_HAND]
    last = by_hand[-1] if by_hand else None
    return Automation("timed", until, until_label(until, now), _because(last, platform))


def until_label(until: datetime, now: datetime) -> str:
    """`14:05 UTC` today, `Tue 8 Dec 14:05 UTC` another day (a pause may last 30 days)."""
    if until.date() == now.date():
        return f"{until:%H:%M} UTC"
    return f"{until:%a} {until.day} {until:%b %H:%M} UTC"


def _because(message: Message | None, platform: str) -> str:
    if message is None:
        return "a person answered by hand"
    if message.author == "other_app":
        return "a reply came from another app"
    return f"you answered from {PLATFORM_APPS.get(platform, platform)}"
