from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

from app.core.fields import StoredText, storable_text

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


UTM_MAX_KEYS = 10


def _utm_pairs(value: Any) -> Any:
    """UTM parameters as an object, or as text: `key=value` pairs joined by `&` or put on
    lines of their own ("utm_source=instagram&utm_campaign=autumn"), taken literally."""
    if not isinstance(value, str):
        return value
    pairs: dict[str, str] = {}
    for piece in value.replace("\r", "\n").replace("&", "\n").split("\n"):
        if not piece.strip():
            continue
        key, equals, text = piece.partition("=")
        if not equals:
            raise ValueError(f"{piece.strip()[:40]!r} is not key=value")
        pairs[key.strip()] = text.strip()
    return pairs


UtmKey = Annotated[str, Field(min_length=5, max_length=50, pattern=r"^utm_[A-Za-z0-9_.-]+$")]
UtmValue = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(storable_text)]
# Added to the cooperation's products' links when a tracked link redirects (app/links).
Utm = Annotated[dict[UtmKey, UtmValue], BeforeValidator(_utm_pairs), Field(max_length=UTM_MAX_KEYS)]


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
    utm: Utm = Field(
        default_factory=dict,
        description="UTM parameters (keys starting with utm_, at most 10, values up to 100 "
        "characters) added to the products' links when a tracked link redirects",
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
    utm: dict[str, str]
    products: list[ProductOut]


ImportStatus = Literal["new", "changed", "unchanged"]


class FieldChange(BaseModel):
    """One field an import changes, with the stored value and the file's (as JSON)."""

    field: str
    old: Any
    new: Any


class ProductChange(BaseModel):
    status: ImportStatus
    id: int | None = Field(description="the product's id; null for a new one not yet applied")
    name: str
    changes: list[FieldChange] = Field(default_factory=list)


class CooperationChange(BaseModel):
    """A cooperation of the file, matched to the catalog by brand and campaign (title),
    regardless of case and spacing; its products matched by name the same way. `changed`
    when its own fields or any of its products are new or changed."""

    status: ImportStatus
    id: int | None
    brand: str
    title: str
    changes: list[FieldChange] = Field(default_factory=list)
    products: list[ProductChange] = Field(default_factory=list)
    kept_products: list[str] = Field(
        default_factory=list,
        description="products of this cooperation the file does not name: kept as they are",
    )


class KeptCooperation(BaseModel):
    id: int
    brand: str
    title: str
    products: int


class ImportCounts(BaseModel):
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    kept: int = Field(0, description="in the catalog, not in the file: left as they are")


class ImportResult(BaseModel):
    """What an import did (or, with `dry_run`, would do). `cooperations` and `products`
    count the file's entries; every one of them is in the catalog afterwards."""

    applied: bool = True
    cooperations: int
    products: int
    cooperation_counts: ImportCounts = Field(default_factory=ImportCounts)
    product_counts: ImportCounts = Field(default_factory=ImportCounts)
    items: list[CooperationChange] = Field(default_factory=list)
    kept: list[KeptCooperation] = Field(
        default_factory=list, description="cooperations the file does not name: kept as they are"
    )
