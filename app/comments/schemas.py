"""Comment triggers in and out of the API (INTERFACE.md, "Comment triggers")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.comments.matching import keyword_tokens
from app.core.fields import StoredText
from app.meta.limits import COMMENT_MAX_CHARS

MAX_KEYWORDS = 20
MAX_KEYWORD_CHARS = 60
MAX_PUBLIC_REPLIES = 10
Keyword = Annotated[StoredText, Field(max_length=MAX_KEYWORD_CHARS)]


def public_reply_lines(text: str | None) -> list[str]:
    """The public reply's variants: one per non-empty line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class CommentTriggerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keywords: list[Keyword] = Field(min_length=1, max_length=MAX_KEYWORDS)
    media_id: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[0-9A-Za-z_-]+$")
    product_id: int | None = Field(None, ge=1, le=2**63 - 1)
    public_reply: StoredText | None = Field(None, max_length=MAX_PUBLIC_REPLIES * 2300)
    active: bool = True

    @field_validator("keywords")
    @classmethod
    def _clean_keywords(cls, value: list[str]) -> list[str]:
        cleaned = [" ".join(k.split()) for k in value]
        for keyword in cleaned:
            if not keyword_tokens(keyword):
                raise ValueError(f"keyword {keyword!r} has no letter or digit to match")
        return list(dict.fromkeys(cleaned))

    @field_validator("public_reply")
    @classmethod
    def _clean_public_reply(cls, value: str | None) -> str | None:
        lines = public_reply_lines(value)
        if len(lines) > MAX_PUBLIC_REPLIES:
            raise ValueError(f"at most {MAX_PUBLIC_REPLIES} variants (one per line)")
        for number, line in enumerate(lines, start=1):
            if len(line) > COMMENT_MAX_CHARS:
                raise ValueError(
                    f"line {number} has {len(line)} characters; a comment takes at most "
                    f"{COMMENT_MAX_CHARS}"
                )
        return "\n".join(lines) or None


class CommentTriggerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    keywords: list[str]
    media_id: str | None
    product_id: int | None
    public_reply: str | None
    active: bool
    created_at: datetime
    updated_at: datetime
