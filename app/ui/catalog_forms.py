"""HTML forms of the catalog and the settings page turned into the API's schemas, and their
validation errors into one message per field (shown next to the field)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from app.catalog.schemas import (
    CooperationIn,
    CooperationOut,
    PlatformPost,
    ProductIn,
    ProductOut,
    ProductUpdate,
)
from app.catalog.validity import code_validity
from app.models import Cooperation, Product

POST_KINDS = ("post", "reel", "story", "video", "live", "other")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FRIENDLY = {
    "string_pattern_mismatch": "has characters that are not allowed here",
    "date_from_datetime_parsing": "a date as YYYY-MM-DD",
    "date_parsing": "a date as YYYY-MM-DD",
    "date_type": "a date as YYYY-MM-DD",
    "decimal_parsing": "a number such as 29.90",
    "decimal_type": "a number such as 29.90",
    "url_parsing": "a full web address starting with https://",
    "url_scheme": "a full web address starting with https://",
    "float_parsing": "a number",
    "int_parsing": "a whole number",
    "string_too_short": "required",
}
_BY_FIELD = {
    ("currency", "string_pattern_mismatch"): "a three-letter code such as EUR",
    ("media_id", "string_pattern_mismatch"): "letters, digits, _ or - only",
    ("[key]", "string_pattern_mismatch"): "each name starts with utm_ (letters, digits, _ . -)",
    ("[key]", "string_too_short"): "each name starts with utm_ (letters, digits, _ . -)",
    ("[key]", "string_too_long"): "a name of at most 50 characters",
    ("utm", "too_long"): "at most 10 parameters",
}


def field_errors(exc: ValidationError, *, lines_of: str | None = None) -> dict[str, str]:
    """{field: message}; errors inside the list field `lines_of` name the line (1-based)."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        name = loc[0] if loc else "form"
        leaf = loc[-1] if loc else name
        message = _BY_FIELD.get((leaf, err["type"])) or _FRIENDLY.get(err["type"]) or err["msg"]
        message = message.removeprefix("Value error, ")
        if name == lines_of and len(loc) > 1 and loc[1].isdigit():
            message = f"line {int(loc[1]) + 1}: {message}"
        errors.setdefault(name, message)
    return errors


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def split_list(value: str, separator: str = ",") -> list[str]:
    return [part.strip() for part in value.split(separator) if part.strip()]


# Platform posts: one per line, "URL [kind] [YYYY-MM-DD] [media:ID]" in any order.


def parse_posts(value: str) -> list[dict[str, Any]]:
    posts: list[dict[str, Any]] = []
    for line in value.splitlines():
        words = line.split()
        if not words:
            continue
        post: dict[str, Any] = {}
        for word in words:
            if word.lower() in POST_KINDS:
                post["kind"] = word.lower()
            elif _DATE.match(word):
                post["posted_on"] = word
            elif word.lower().startswith(("media:", "media_id=")):
                post["media_id"] = word.split(":", 1)[-1].split("=", 1)[-1]
            else:
                # Not a kind, date or media id: the URL (a second one is an error).
                post["url"] = word if "url" not in post else f"{post['url']} {word}"
        posts.append(post)
    return posts


def format_posts(posts: Iterable[Mapping[str, Any]]) -> str:
    lines = []
    for raw in posts:
        post = PlatformPost.model_validate(raw)
        words = [str(post.url)] if post.url else []
        words.append(post.kind)
        if post.posted_on:
            words.append(post.posted_on.isoformat())
        if post.media_id:
            words.append(f"media:{post.media_id}")
        lines.append(" ".join(words))
    return "\n".join(lines)


# Cooperations


COOPERATION_FIELDS = ("brand", "title", "starts_on", "ends_on", "notes", "platform_posts", "utm")


def format_utm(utm: Mapping[str, Any]) -> str:
    """One `key=value` per line, as the form takes them."""
    return "\n".join(f"{key}={value}" for key, value in utm.items())


def cooperation_values(cooperation: Cooperation | None) -> dict[str, Any]:
    if cooperation is None:
        return dict.fromkeys(COOPERATION_FIELDS, "")
    return {
        "brand": cooperation.brand,
        "title": cooperation.title,
        "starts_on": cooperation.starts_on.isoformat() if cooperation.starts_on else "",
        "ends_on": cooperation.ends_on.isoformat() if cooperation.ends_on else "",
        "notes": cooperation.notes,
        "platform_posts": format_posts(cooperation.platform_posts or ()),
        "utm": format_utm(cooperation.utm or {}),
    }


def parse_cooperation(
    form: FormData,
) -> tuple[dict[str, Any], CooperationIn | None, dict[str, str]]:
    """(the values to show again, the validated cooperation or None, errors per field)."""
    values = {name: text(form, name) for name in COOPERATION_FIELDS}
    data: dict[str, Any] = {
        "brand": values["brand"],
        "title": values["title"],
        "starts_on": values["starts_on"] or None,
        "ends_on": values["ends_on"] or None,
        "notes": values["notes"],
        "platform_posts": parse_posts(values["platform_posts"]),
        "utm": values["utm"],  # key=value lines, parsed by the schema
    }
    try:
        cooperation = CooperationIn.model_validate(data)
    except ValidationError as exc:
        return values, None, field_errors(exc, lines_of="platform_posts")
    if (
        cooperation.starts_on
        and cooperation.ends_on
        and cooperation.ends_on < cooperation.starts_on
    ):
        return values, None, {"ends_on": "the end is before the start"}
    return values, cooperation, {}


# Products


PRODUCT_FIELDS = (
    "name",
    "aliases",
    "description",
    "price",
    "currency",
    "url",
    "discount_code",
    "discount_details",
    "code_valid_until",
)


def product_values(product: Product | None) -> dict[str, Any]:
    if product is None:
        return dict.fromkeys(PRODUCT_FIELDS, "") | {"is_active": True}
    values: dict[str, Any] = {
        name: "" if getattr(product, name) is None else str(getattr(product, name))
        for name in PRODUCT_FIELDS
    }
    values["aliases"] = ", ".join(product.aliases or ())
    values["is_active"] = product.is_active
    return values


def _product_data(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    values: dict[str, Any] = {name: text(form, name) for name in PRODUCT_FIELDS}
    values["currency"] = values["currency"].upper()
    values["is_active"] = form.get("is_active") is not None
    data: dict[str, Any] = {
        name: values[name] or None
        for name in ("price", "currency", "url", "discount_code", "discount_details")
    }
    data |= {
        "name": values["name"],
        "aliases": split_list(values["aliases"]),
        "description": values["description"],
        "code_valid_until": values["code_valid_until"] or None,
        "is_active": values["is_active"],
    }
    return values, data


def parse_new_product(form: FormData) -> tuple[dict[str, Any], ProductIn | None, dict[str, str]]:
    values, data = _product_data(form)
    try:
        return values, ProductIn.model_validate(data), {}
    except ValidationError as exc:
        return values, None, field_errors(exc)


def parse_product_update(
    form: FormData,
) -> tuple[dict[str, Any], ProductUpdate | None, dict[str, str]]:
    """Every field is set: a cleared price, code or date is removed from the product."""
    values, data = _product_data(form)
    if not data["name"]:
        return values, None, {"name": "required"}
    try:
        return values, ProductUpdate.model_validate(data), {}
    except ValidationError as exc:
        return values, None, field_errors(exc)


# How a code and a cooperation stand today, for the catalog list.


def code_state(
    product: Product | ProductOut, cooperation: Cooperation | CooperationOut, today: date
) -> tuple[str, str]:
    validity = code_validity(product, cooperation, today)
    return validity.label(), validity.tone()


def cooperation_state(cooperation: Cooperation | CooperationOut, today: date) -> tuple[str, str]:
    if cooperation.ends_on is not None and cooperation.ends_on < today:
        return f"ended on {cooperation.ends_on.isoformat()}", "bad"
    if cooperation.starts_on is not None and cooperation.starts_on > today:
        return f"starts on {cooperation.starts_on.isoformat()}", "warn"
    return "running", "ok"
