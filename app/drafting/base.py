"""The drafter interface: what a drafter is given, what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from app.models import Cooperation, Product
from app.policy.recognise import Recognition


@dataclass(frozen=True, slots=True)
class ProductMatch:
    product: Product
    cooperation: Cooperation
    score: float  # 0..1, how well the follower's words matched this product
    matched_on: str  # "name", "alias", "brand", "description" ...


@dataclass(frozen=True, slots=True)
class Turn:
    author: str  # follower | bot | influencer | other_app
    text: str


@dataclass(frozen=True, slots=True)
class VoiceExample:
    """An earlier reply of the account that a person approved, shown to the model for the
    influencer's voice: the reply with the other follower's personal data removed, and
    what it was about (intent, catalog product names), never that follower's words."""

    intent: str
    language: str
    products: tuple[str, ...]
    reply: str
    edited: bool  # a person changed the draft before approving it


@dataclass(frozen=True, slots=True)
class DraftRequest:
    account_name: str
    platform: str  # instagram | messenger
    persona: str
    languages: tuple[str, ...]
    history: tuple[Turn, ...]  # recent conversation, oldest first, excluding `follower_text`
    follower_text: str  # the follower's latest message(s), joined, to be answered
    products: tuple[ProductMatch, ...]
    today: date
    examples: tuple[VoiceExample, ...] = ()  # approved replies of the account, best first
    # Where the message came from, when not a DM (a comment under a post): told to the model.
    situation: str = ""
    # What the message asks, when a rule of the influencer says so (a comment trigger's
    # keyword alone asks for its product's code and link); None: our recogniser reads it.
    recognition: Recognition | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one LLM call used, as the server reported them."""

    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class DraftResult:
    reply: str
    intent: str
    language: str
    confidence: float
    product_ids: tuple[int, ...] = ()
    needs_human: bool = False
    drafter: str = "offline"  # offline | llm
    model: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    usage: Usage | None = None  # what the LLM call used; None for the offline drafter


class DraftingError(Exception):
    """The drafter could not produce a draft (LLM down, timeout, invalid answer).

    `usage` is set when the LLM answered (and charged) but the answer was unusable."""

    def __init__(self, message: str, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.usage = usage


class Drafter(Protocol):
    name: str

    async def draft(self, request: DraftRequest) -> DraftResult: ...
