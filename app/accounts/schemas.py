from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from app.core.fields import StoredText

Platform = Literal["instagram", "messenger"]
GraphHost = Literal["facebook", "instagram"]
# An ISO 639 code, optionally with a region or script: "de", "pt-BR", "zh-Hant".
Language = Annotated[
    str, Field(min_length=2, max_length=8, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,4})?$")
]


# Meta's tokens are printable ASCII; anything else could not even travel in a header.
AccessToken = Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^[\x21-\x7e]+$")]


def reconnect_path(connected_via: str, graph_host: str) -> str:
    """Where the influencer starts the login that gives this account a new token."""
    if connected_via == "instagram_login" or (
        connected_via == "manual" and graph_host == "instagram"
    ):
        return "/oauth/instagram/start"
    return "/oauth/meta/start"


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Platform
    external_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.:-]+$")
    name: StoredText = Field(min_length=1, max_length=200)
    access_token: AccessToken | None = None
    page_id: StoredText | None = Field(None, max_length=64)
    graph_host: GraphHost | None = None
    persona: StoredText = Field("", max_length=4000)
    languages: list[Language] = Field(default_factory=lambda: ["en"], max_length=10)


class AccountUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StoredText | None = Field(None, min_length=1, max_length=200)
    persona: StoredText | None = Field(None, max_length=4000)
    languages: list[Language] | None = Field(None, max_length=10)
    paused: bool | None = None
    access_token: AccessToken | None = None
    retention_days: int | None = Field(
        None, ge=1, le=3650, description="purge messages older than this; null keeps them"
    )
    has_human_agent: bool | None = Field(
        None, description="the Meta app has the Human Agent feature for this account"
    )
    daily_llm_budget_usd: Decimal | None = Field(
        None,
        ge=0,
        le=100_000,
        max_digits=10,
        decimal_places=2,
        description="the most this account's drafts may spend on the LLM per UTC day; "
        "null = the LLM_DAILY_BUDGET_USD setting",
    )
    disclosure: Literal["first", "every", "off"] | None = Field(
        None,
        description="first: the first automatic reply of a conversation ends with a short "
        "line saying it was sent automatically, in the follower's language; every: each "
        "automatic reply does; off: none. Replies a person approved or wrote never do",
    )
    disclosure_text: StoredText | None = Field(
        None,
        max_length=2000,
        description="the line, in your words, instead of the default one per language; "
        "empty or null = the defaults. It must leave at least 200 characters (Instagram: "
        "bytes) of one message for the reply, else 422",
    )
    track_links: bool | None = Field(
        None, description="product links in sent replies become tracked links under PUBLIC_URL"
    )


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    platform: str
    external_id: str
    page_id: str | None
    graph_host: str
    name: str
    status: str
    status_reason: str | None
    # Comment triggers cannot work (a comment permission is missing); DMs are unaffected.
    comments_problem: str | None = None
    paused: bool = Field(validation_alias="is_paused")
    persona: str
    languages: list[str]
    has_access_token: bool
    connected_via: str
    username: str | None
    picture_url: str | None
    retention_days: int | None
    has_human_agent: bool
    daily_llm_budget_usd: Decimal | None
    disclosure: str = "first"
    disclosure_text: str | None = None
    track_links: bool = True
    token_expires_at: datetime | None
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reconnect_url(self) -> str | None:
        """Set while the account cannot send: the login that restores it (a path)."""
        if self.status in ("needs_reconnect", "disconnected"):
            return reconnect_path(self.connected_via, self.graph_host)
        return None


class MemberOut(BaseModel):
    user_id: int
    email: str
    role: Literal["owner", "moderator", "suspended"]
    is_active: bool


class OwnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: int = Field(ge=1, le=2**31 - 1, description="a member of the account")
