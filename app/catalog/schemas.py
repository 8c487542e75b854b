from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

from app.core.fields import StoredText

Alias = Annotated[StoredText, Field(max_length=300)]


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StoredText = Field(min_length=1, max_length=300)
    aliases: list[Alias] = Field(default_factory=list, max_length=50)
    description: StoredText = Field("", max_length=4000)
    price: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    url: HttpUrl | None = None
    discount_code: StoredText | None = Field(None, min_length=1, max_length=100)
    discount_details: StoredText | None = Field(None, max_length=1000)
    code_valid_until: date | None = None
    is_active: bool = True

    @field_validator("aliases")
    @classmethod
    def _clean_aliases(cls, value: list[str]) -> list[str]:
        return [a.strip() for a in value if a.strip()]


class ProductUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StoredText | None = Field(None, min_length=1, max_length=300)
    aliases: list[Alias] | None = Field(None, max_length=50)
    description: StoredText | None = Field(None, max_length=4000)
    price: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    url: HttpUrl | None = None
    discount_code: StoredText | None = Field(None, max_length=100)
    discount_details: StoredText | None = Field(None, max_length=1000)
    code_valid_until: date | None = None
    is_active: bool | None = None


class PlatformPost(BaseModel):
    """Where the cooperation was shown. `media_id` is the Instagram media or story id:
    a follower's reply to that story finds the cooperation's products."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl | None = None
    kind: Literal["post", "reel", "story", "video", "live", "other"] = "post"
    media_id: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[0-9A-Za-z_-]+$")
    posted_on: date | None = None

    @model_validator(mode="after")
    def _something(self) -> PlatformPost:
        if self.url is None and self.media_id is None:
            raise ValueError("a platform post needs a url or a media_id")
        return self

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _posts(value: Any) -> Any:
    # A bare URL is a post: ["https://instagram.com/p/..."] as well as [{"url": ...}].
    if isinstance(value, list):
        return [{"url": item} if isinstance(item, str) else item for item in value]
    return value


class CooperationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand: StoredText = Field(min_length=1, max_length=200)
    title: StoredText = Field("", max_length=300)
    starts_on: date | None = None
    ends_on: date | None = None
    notes: StoredText = Field("", max_length=4000)
    platform_posts: Annotated[list[PlatformPost], BeforeValidator(_posts)] = Field(
        default_factory=list, max_length=100
    )
    products: list[ProductIn] = Field(default_factory=list, max_length=1000)


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    cooperation_id: int
    name: str
    aliases: list[str]
    description: str
    price: Decimal | None
    currency: str | None
    url: str | None
    discount_code: str | None
    discount_details: str | None
    code_valid_until: date | None
    is_active: bool
    updated_at: datetime


class CooperationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    brand: str
    title: str
    starts_on: date | None
    ends_on: date | None
    notes: str
    platform_posts: list[PlatformPost]
    products: list[ProductOut]


class ImportResult(BaseModel):
    cooperations: int
    products: int
