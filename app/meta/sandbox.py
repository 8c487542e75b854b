"""The sandbox simulator's webhook event: what Meta would deliver for a follower's DM.

Shared by `inboxpilot simulate` and the simulator page, so both post exactly the same
shape through the same signed-webhook path a real delivery takes.
"""

from __future__ import annotations

import time
from typing import Any

from app.models import Account

SANDBOX_FOLLOWER = "sandbox-follower-1"
# The demo catalog's post (a GlowLab cooperation's platform post) and its "SERUM" trigger.
SANDBOX_POST = "17900000000000001"


def follower_text_event(account: Account, *, sender: str, text: str) -> dict[str, Any]:
    """One text message from a follower, in Meta's documented webhook shape."""
    now_ms = int(time.time() * 1000)
    return {
        "object": "instagram" if account.platform == "instagram" else "page",
        "entry": [
            {
                "id": account.external_id,
                "time": now_ms,
                "messaging": [
                    {
                        "sender": {"id": sender},
                        "recipient": {"id": account.external_id},
                        "timestamp": now_ms,
                        "message": {
                            "mid": f"sim-{now_ms}-{abs(hash((sender, text))) % 10**8}",
                            "text": text,
                        },
                    }
                ],
            }
        ],
    }


def message_id_of(event: dict[str, Any]) -> str:
    """The `mid` of the single message in an event built by `follower_text_event`."""
    mid: str = event["entry"][0]["messaging"][0]["message"]["mid"]
    return mid


def follower_comment_event(
    account: Account, *, sender: str, text: str, media_id: str
) -> dict[str, Any]:
    """One top-level comment under the post `media_id`, in Meta's documented shape:
    Instagram's `comments` change, or a Facebook Page's `feed` change (`item: comment`)."""
    now_ms = int(time.time() * 1000)
    comment_id = f"sim-c-{now_ms}-{abs(hash((sender, text, media_id))) % 10**8}"
    if account.platform == "instagram":
        value: dict[str, Any] = {
            "id": comment_id,
            "from": {"id": sender, "username": sender},
            "text": text,
            "media": {"id": media_id, "media_product_type": "FEED"},
        }
        change = {"field": "comments", "value": value}
    else:
        value = {
            "item": "comment",
            "verb": "add",
            "comment_id": comment_id,
            "post_id": media_id,
            "parent_id": media_id,
            "from": {"id": sender, "name": sender},
            "message": text,
            "created_time": now_ms // 1000,
        }
        change = {"field": "feed", "value": value}
    return {
        "object": "instagram" if account.platform == "instagram" else "page",
        "entry": [{"id": account.external_id, "time": now_ms // 1000, "changes": [change]}],
    }


def comment_key_of(event: dict[str, Any]) -> str:
    """The key the comment of an event built by `follower_comment_event` is stored under
    (`app.conversations.entries.entry_key`)."""
    value = event["entry"][0]["changes"][0]["value"]
    return f"comment:{value.get('id') or value['comment_id']}"
