"""A product's URL with its cooperation's UTM parameters.

The URL's own query is kept byte for byte, except the utm_* keys the cooperation sets: those
take the cooperation's values (appended at the end). Keys that do not start with `utm_` and
values that are not strings are ignored, whatever was stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit


def utm_parameters(utm: Mapping[str, Any]) -> dict[str, str]:
    return {
        key: value
        for key, value in utm.items()
        if isinstance(key, str) and key.startswith("utm_") and isinstance(value, str)
    }


def with_utm(url: str, utm: Mapping[str, Any]) -> str:
    ours = utm_parameters(utm)
    if not ours:
        return url
    parts = urlsplit(url)
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and unquote_plus(piece.split("=", 1)[0]) not in ours
    ]
    query = "&".join([*kept, urlencode(ours)])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
