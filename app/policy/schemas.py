"""The confidence rules of an account (INTERFACE.md): what may be sent without a human."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.fields import StoredText, storable_text

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
# As long as a draft's intent column; names beyond INTENTS are kept (a custom drafter's).
Intent = Annotated[StoredText, Field(min_length=1, max_length=48)]


class Policy(BaseModel):
    """A new account starts in `copilot`: every draft waits for a moderator."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["autopilot", "copilot", "off"] = Field(
        "copilot",
        description="autopilot: send what the rules allow, queue the rest; copilot: queue "
        "everything; off: record messages only, draft nothing",
    )
    min_confidence: float = Field(0.8, ge=0, le=1)
    auto_intents: list[Intent] = Field(
        default_factory=lambda: list(DEFAULT_AUTO_INTENTS), max_length=100
    )
    intent_min_confidence: dict[Intent, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict,
        max_length=100,
        description="per intent, a minimum confidence (0..1) that overrides min_confidence",
    )
    max_auto_replies_per_conversation_per_day: int = Field(5, ge=0, le=1000)
    pause_after_human_reply_minutes: int = Field(60, ge=0, le=60 * 24 * 30)
    hold_auto_seconds: int = Field(
        0,
        ge=0,
        le=600,
        description="seconds an automatic reply waits, shown in the queue with Cancel, "
        "before it is sent; 0 sends it at once",
    )

    thank_story_mentions: bool = Field(
        False,
        description="when a follower mentions the account in their story, thank them with "
        "a short DM automatically (not in mode off, never to a follower who wrote STOP)",
    )
    story_mention_thanks: StoredText | None = Field(
        None,
        max_length=500,
        description="the thank-you text; empty uses a short default in the follower's language",
    )

    @field_validator("story_mention_thanks")
    @classmethod
    def _blank_is_default(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    def threshold(self, intent: str) -> float:
        """The confidence a draft of this intent needs to be sent alone."""
        return self.intent_min_confidence.get(intent, self.min_confidence)

    @classmethod
    def of(cls, stored: dict[str, object] | None) -> Policy:
        """The stored JSON with defaults for anything missing (rules added later included)."""
        data = dict(stored or {})
        intents = data.get("auto_intents")
        if isinstance(intents, list):
            # Rules stored before intents were bounded: one that fits no draft's intent
            # column could never match, so it is dropped rather than failing every read.
            data["auto_intents"] = [i for i in intents if _fits_intent(i)]
        return cls.model_validate(data)


def _fits_intent(value: object) -> bool:
    if not isinstance(value, str) or not 1 <= len(value) <= 48:
        return False
    try:
        storable_text(value)
    except ValueError:
        return False
    return True
