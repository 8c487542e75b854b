from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    mid: str | None
    direction: str
    author: str
    kind: str
    text: str | None
    payload: dict[str, object]
    sent_at: datetime
    delivered_at: datetime | None
    read_at: datetime | None


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    external_id: str
    name: str | None
    username: str | None
    created_at: datetime


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    contact_id: int
    is_paused: bool
    paused_until: datetime | None
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None
    created_at: datetime


class ConversationDetail(ConversationOut):
    contact: ContactOut
    messages: list[MessageOut] = Field(default_factory=list)


class OutboundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    conversation_id: int
    draft_id: int | None
    channel: str
    status: str
    parts: list[str]
    external_ids: list[str]
    attempts: int
    error_code: str | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
