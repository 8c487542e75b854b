"""Field types for request schemas: text that every supported database can store.

JSON lets a client send "\\u0000" and lone surrogates ("\\ud800"); Python decodes both into
a `str`, but PostgreSQL refuses NUL in text and JSONB, and no database driver can encode a
lone surrogate as UTF-8. Left to the database, either is a 500 after the work is done;
checked here, it is a 422 that names the field.

    name: StoredText = Field(min_length=1, max_length=200)
    aliases: list[Annotated[StoredText, Field(max_length=300)]]
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def storable_text(value: str) -> str:
    """`value` unchanged; ValueError when it holds NUL or is not valid Unicode."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


StoredText = Annotated[str, AfterValidator(storable_text)]
