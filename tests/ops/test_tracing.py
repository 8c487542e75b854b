"""OpenTelemetry tracing behind OTEL_TRACING: spans reach an OTLP/HTTP collector (a fake on
loopback that decodes the protobuf the SDK sends), for the webhook, the worker's items and
the calls to Meta, without query strings (access tokens) or message text."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.harness import make_settings, running_app, text_event

IG_ID = "17841400000000001"
DM = "Hi! What's the code for the Vitamin C Serum? pleaseee 🙏"


class Collector:
    """Accepts `POST /v1/traces` (OTLP/HTTP protobuf) and keeps every span."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.resources: list[dict[str, Any]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.receive(self.path, body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def receive(self, path: str, body: bytes) -> None:
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            self.resources.append(resource)
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    self.spans.append(
                        {"name": span.name, "kind": span.kind, **_attributes(span.attributes)}
                    )


def _attributes(pairs: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs:
        value = pair.value
        found[pair.key] = (
            getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None
        )
    return found


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    collector = Collector()
    collector.thread.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    try:
        yield collector
    finally:
        collector.server.shutdown()
        collector.server.server_close()


async def test_spans_cover_the_webhook_the_worker_and_meta_without_secrets(
    collector: Collector, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, str(tmp_path), OTEL_TRACING=True)
    async with running_app(settings) as harness:
        account = await harness.create_account(external_id=IG_ID)
        await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
        await harness.add_serum(account["id"])
        assert (await harness.client.get("/healthz")).status_code == 200
        handshake = await harness.client.get(
            "/webhooks/meta",
            params={"hub.mode": "subscribe", "hub.verify_token": "wrong-token-xyz"},
        )
        assert handshake.status_code == 403
        response = await harness.post_webhook(text_event(IG_ID, "IGSID-1", DM))
        assert response.status_code == 200
        await harness.run_worker()
        assert len(harness.graph.sent) == 1
    # The app's shutdown flushed the batch of spans to the collector.

    assert {r.get("service.name") for r in collector.resources} == {"inboxpilot-web"}
    names = [span["name"] for span in collector.spans]
    webhook = [
        s for s in collector.spans if s.get("url.path", s.get("http.target")) == "/webhooks/meta"
    ]
    assert webhook, names
    assert "worker event" in names
    assert "worker draft_reply" in names
    assert "worker send_reply" in names
    sends = [s for s in collector.spans if "/messages" in str(s.get("url.full", s.get("http.url")))]
    assert sends, names
    assert not any(s.get("url.path", s.get("http.target")) == "/healthz" for s in collector.spans)
    everything = repr(collector.spans)
    assert "access_token" not in everything
    assert "wrong-token-xyz" not in everything
    assert "IGAAtoken-lena" not in everything
    assert "Vitamin C Serum" not in everything


async def test_tracing_is_off_unless_asked(
    collector: Collector, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, str(tmp_path))
    async with running_app(settings) as harness:
        assert harness.runtime.tracing is None
        await harness.post_webhook(text_event(IG_ID, "IGSID-2", "hello"))
    assert collector.spans == []
