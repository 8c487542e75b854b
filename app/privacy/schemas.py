from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class CallbackOk(BaseModel):
    status: Literal["ok"] = "ok"


class DeletionAnswer(BaseModel):
    """What Meta expects from the data deletion callback."""

    url: str
    confirmation_code: str


class ConversationExport(BaseModel):
    # Rows as plain column dicts: an export must stay complete when a column is added.
    conversation: dict[str, Any]
    messages: list[dict[str, Any]] = Field(default_factory=list)
    drafts: list[dict[str, Any]] = Field(default_factory=list)
    outbound_messages: list[dict[str, Any]] = Field(default_factory=list)


class ContactExport(BaseModel):
    """Everything stored about one follower (a data subject's access request)."""

    exported_at: datetime
    contact: dict[str, Any]
    conversations: list[ConversationExport]
    audit_entries: list[dict[str, Any]]
    notes: list[str]


class ErasureCounts(BaseModel):
    contacts: int = 0
    conversations: int = 0
    messages: int = 0
    drafts: int = 0
    outbound_messages: int = 0
    inbox_events: int = 0
    inbox_events_kept: int = 0
    audit_entries_anonymised: int = 0
