"""The confidence rules of an account (INTERFACE.md): what may be sent without a human."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# What a follower's message can ask for: the drafters classify into these, the rules
# name them. "other" is whatever fits none.
INTENTS = (
    "discount_code",
    "product_link",
    "price",
    "code_validity",
    "product_info",
    "greeting",
    "thanks",
    "other",
)
# Questions about a product's properties ("good for oily skin?") are answered from the
# model's reading of a description, which no check in code can verify: a person reviews
# them unless the influencer allows it.
DEFAULT_AUTO_INTENTS = [intent for intent in INTENTS if intent not in {"other", "product_info"}]


class Policy(BaseModel):
    """A new account starts in `copilot`: every draft waits for a moderator."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["autopilot", "copilot", "off"] = Field(
        "copilot",
        description="autopilot: send what the rules allow, queue the rest; copilot: queue "
        "everything; off: record messages only, draft nothing",
    )
    min_confidence: float = Field(0.8, ge=0, le=1)
    auto_intents: list[str] = Field(default_factory=lambda: list(DEFAULT_AUTO_INTENTS))
    max_auto_replies_per_conversation_per_day: int = Field(5, ge=0, le=1000)
    pause_after_human_reply_minutes: int = Field(60, ge=0, le=60 * 24 * 30)

    @classmethod
    def of(cls, stored: dict[str, object] | None) -> Policy:
        """The stored JSON with defaults for anything missing (rules added later included)."""
        return cls.model_validate(stored or {})
