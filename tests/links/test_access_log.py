"""The access log line of a tracked link carries neither the token nor the client's address."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from app.logging import configure_logging


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    configure_logging("INFO", json=True, stream=buffer)
    yield buffer
    for handler in [h for h in root.handlers if h.get_name() == "inboxpilot"]:
        root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


def _access(path: str) -> None:
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "203.0.113.77:5000", "GET", path, "1.1", 302
    )


def test_a_tracked_link_is_logged_without_address_or_token(access_lines: io.StringIO) -> None:
    _access("/l/tok_Abcdefghijklmnopqrstuv?fbclid=abc")
    _access("/healthz")

    first, second = [json.loads(line)["event"] for line in access_lines.getvalue().splitlines()]
    assert first == '- - "GET /l/{token} HTTP/1.1" 302'
    # Other requests keep their address, as before.
    assert second.startswith("203.0.113.77:5000 - ")
