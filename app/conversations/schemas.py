from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, computed_field


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
    edited_at: datetime | None = None
    deleted_at: datetime | None = None  # the follower unsent it: text and attachments erased


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    external_id: str
    name: str | None
    username: str | None
    # Meta's picture links expire within days; refetched with the profile.
    profile_pic_url: str | None = None
    profile_fetched_at: datetime | None = None
    profile_error: str | None = None
    # The follower wrote STOP (and not START since): no automatic message goes to them.
    opted_out_at: datetime | None = None
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def opted_out(self) -> bool:
        return self.opted_out_at is not None


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    contact_id: int
    is_paused: bool
    paused_until: datetime | None
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None
    # Another app or a person in Meta's inbox holds the thread: drafts wait for review.
    thread_owner_app_id: str | None = None
    handed_over_at: datetime | None = None
    created_at: datetime


class ConversationDetail(ConversationOut):
    contact: ContactOut
    messages: list[MessageOut] = Field(default_factory=list)
    # Follower messages no reply has taken into account yet (app.conversations.answered):
    # waiting for a draft, or for a person once Meta's 24-hour window has closed.
    unanswered_message_ids: list[int] = Field(default_factory=list)


class PublicReplyOut(BaseModel):
    """The public reply under the comment a private reply answered."""

    model_config = ConfigDict(from_attributes=True)

    text: str | None = Field(validation_alias="public_reply_text")
    # waiting | posting | posted | failed | skipped
    status: str | None = Field(validation_alias="public_reply_status")
    id: str | None = Field(validation_alias="public_reply_id")  # Meta's (or sandbox-...)
    error: str | None = Field(validation_alias="public_reply_error")


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
    # A private reply to this comment (not a DM), and the public reply under it, if any.
    comment_id: str | None = None
    public_reply: PublicReplyOut | None = None
