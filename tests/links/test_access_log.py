"""The access log line and the trace span of a tracked link carry neither the token nor
the client's address."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog

from app.logging import configure_logging
from tests.harness import make_settings, running_app
from tests.ops.test_tracing import Collector


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


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    """An OTLP collector on loopback (tests/ops/test_tracing.py) the app's spans go to."""
    collector = Collector()
    collector.thread.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    try:
        yield collector
    finally:
        collector.server.shutdown()
        collector.server.server_close()


async def test_a_tracked_link_span_has_no_address(
    spans: Collector, database_url: str, tmp_path: Path
) -> None:
    collector = spans
    settings = make_settings(database_url, str(tmp_path), OTEL_TRACING=True)
    async with running_app(settings) as harness:
        transport = httpx.ASGITransport(app=harness.app, client=("203.0.113.77", 4711))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/l/tok_Abcdefghijklmnopqrstuv")).status_code == 404
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/nowhere")).status_code == 404

    server = [s for s in collector.spans if s.get("http.method", s.get("http.request.method"))]
    link = [s for s in server if s.get("url.path", s.get("http.target")) == "/l/{token}"]
    assert link, collector.spans
    assert "203.0.113.77" not in repr(link)
    assert "tok_Abcdefghijklmnopqrstuv" not in repr(collector.spans)
    # Other requests keep what they had: the check above is not vacuous.
    assert "203.0.113.77" in repr([s for s in server if s not in link])
