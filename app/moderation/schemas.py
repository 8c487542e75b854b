from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.catalog.schemas import ProductOut
from app.conversations.schemas import MessageOut
from app.core.fields import StoredText


class DraftOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    conversation_id: int
    reply_to_message_id: int | None
    status: str
    kind: str = Field("dm", description="dm, or comment: a private reply to a comment")
    decision: str
    reasons: list[str]
    text: str
    final_text: str | None
    intent: str
    language: str
    confidence: float
    drafter: str
    model: str | None
    error: str | None
    product_ids: list[int] = Field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    llm_cost_usd: Decimal | None = Field(None, description="estimated, from LLM_*_USD_PER_MTOK")
    reject_reason: str | None
    decided_by_user_id: int | None
    decided_at: datetime | None
    created_at: datetime
    send_status: str | None = None
    send_error: str | None = None
    hold_until: datetime | None = Field(
        None, description="until then the reply is held: Undo (or Cancel) still stops it"
    )
    products: list[ProductOut] = Field(default_factory=list)
    messages: list[MessageOut] = Field(default_factory=list)
    about: str | None = Field(
        None,
        description="'Brand — campaign': the cooperation a story mention or shared post in "
        "the recent messages concerns (through its platform posts)",
    )


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: StoredText | None = Field(None, min_length=1, max_length=8000)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: StoredText | None = Field(None, max_length=1000)


class MarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mark: Literal["right", "wrong"]
    note: StoredText | None = Field(None, max_length=1000)


class MarkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    draft_id: int
    mark: str
    note: str | None
    marked_by_user_id: int | None
    marked_at: datetime


class SentOut(BaseModel):
    """A reply the bot sent without review, what it answered, and its mark."""

    draft: DraftOut
    follower: str
    follower_text: str | None
    products: list[str]
    mark: MarkOut | None


class ProposalOut(BaseModel):
    kind: Literal["send_alone", "withdraw"]
    intent: str
    min_confidence: float | None
    evidence: str
    question: str
    answers_a_day_now: float = Field(description="sent without review, last 14 days' drafts")
    answers_a_day_after: float


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["send_alone", "withdraw"]
    intent: str = Field(min_length=1, max_length=48)
