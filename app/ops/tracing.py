"""OpenTelemetry tracing, off unless `OTEL_TRACING=true`.

When on, spans go over OTLP/HTTP to the collector the SDK's own environment variables
name (`OTEL_EXPORTER_OTLP_ENDPOINT`, default http://localhost:4318; `OTEL_SERVICE_NAME`,
default `inboxpilot-web` or `inboxpilot-worker`): one server span per HTTP request (the
webhook receiver included; not /healthz, /readyz, /metrics), one client span per call to
Meta or the LLM server, and one span per worker item (`worker <kind>`) that those calls
nest under. Spans never carry a query string (Graph calls put the access token there), a
credential in a path (`app.logging.loggable_path`), nor message text.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, Tracer

from app.config import Settings
from app.logging import loggable_path

EXCLUDED_URLS = "/healthz,/readyz,/metrics"
_URL_ATTRIBUTES = ("url.full", "http.url")
_CLIENT_ATTRIBUTES = (
    "client.address",
    "client.port",
    "net.peer.ip",
    "net.peer.port",
    "http.client_ip",
    "user_agent.original",
    "http.user_agent",
)


@dataclass(slots=True)
class Tracing:
    provider: TracerProvider
    tracer: Tracer

    def instrument_app(self, app: FastAPI) -> None:
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            excluded_urls=EXCLUDED_URLS,
            server_request_hook=_drop_server_query,
            exclude_spans=["receive", "send"],  # one span per request, not per ASGI message
        )

    def instrument_client(self, client: httpx.AsyncClient) -> None:
        HTTPXClientInstrumentor.instrument_client(
            client, tracer_provider=self.provider, request_hook=_drop_query
        )

    @contextmanager
    def item_span(self, kind: str, item_id: int) -> Iterator[Span]:
        with self.tracer.start_as_current_span(
            f"worker {kind}",
            attributes={"inboxpilot.item.kind": kind, "inboxpilot.item.id": item_id},
        ) as span:
            yield span

    def shutdown(self) -> None:
        self.provider.shutdown()  # flushes what the batch processor still holds


def create_tracing(
    settings: Settings, *, role: str, exporter: SpanExporter | None = None
) -> Tracing | None:
    """None unless OTEL_TRACING is set. `exporter` replaces OTLP (tests keep spans in memory
    and get them at once)."""
    if not settings.OTEL_TRACING and exporter is None:
        return None
    name = os.environ.get("OTEL_SERVICE_NAME") or f"inboxpilot-{role}"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    if exporter is None:
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider=provider, tracer=provider.get_tracer("inboxpilot"))


def _drop_query(span: Span, request: Any) -> None:
    """Graph calls carry the access token in the query string: keep scheme, host and path."""
    if not span.is_recording():
        return
    url = httpx.URL(str(request.url))
    for attribute in _URL_ATTRIBUTES:
        span.set_attribute(attribute, str(url.copy_with(query=None)))


def _drop_server_query(span: Span, scope: dict[str, Any]) -> None:
    """Query strings carry the webhook's verify token and OAuth codes, and some paths a
    credential (a deletion request's code): keep what the access log keeps."""
    if not span.is_recording():
        return
    raw_path = str(scope.get("path", ""))
    path = loggable_path(raw_path)
    for attribute in ("http.target", "url.path", "http.url", "url.full"):
        span.set_attribute(attribute, path)
    span.set_attribute("url.query", "")  # set by newer instrumentations; cannot be removed
    if raw_path.startswith("/l/"):
        # Followers clicking a tracked link: counted, never identified (app/links).
        for attribute in _CLIENT_ATTRIBUTES:
            span.set_attribute(attribute, "")
