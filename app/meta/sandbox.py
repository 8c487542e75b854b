"""The sandbox simulator's webhook event: what Meta would deliver for a follower's DM.

Shared by `inboxpilot simulate` and the simulator page, so both post exactly the same
shape through the same signed-webhook path a real delivery takes.
"""

from __future__ import annotations

import time
from typing import Any

from app.models import Account

SANDBOX_FOLLOWER = "sandbox-follower-1"


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
