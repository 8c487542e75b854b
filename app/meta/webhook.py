"""GET/POST /webhooks/meta: the verification handshake and the event receiver.

The POST does the minimum, in order: read the raw body (bounded), check the signature in
constant time, check it is a JSON object, hand it to the group-committing inbox writer,
answer 200 once it is durable. Everything else happens in the worker.
"""

from __future__ import annotations

import hmac
import json
from typing import Annotated

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from app.config import Settings
from app.inbox.writer import InboxWriter
from app.meta.signature import signature_valid

router = APIRouter(tags=["meta"])
log = structlog.get_logger("app.meta.webhook")


@router.get("/webhooks/meta", response_class=PlainTextResponse)
async def verify_subscription(
    request: Request,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> Response:
    settings: Settings = request.app.state.settings
    expected = settings.verify_token.encode()
    if (
        mode == "subscribe"
        and token is not None
        and challenge is not None
        and hmac.compare_digest(token.encode(), expected)
    ):
        return PlainTextResponse(challenge)
    return PlainTextResponse("verification failed", status_code=403)


async def _read_bounded(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


@router.post("/webhooks/meta")
async def receive_events(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    raw = await _read_bounded(request, settings.WEBHOOK_MAX_BODY_BYTES)
    if raw is None:
        return _error(413, f"body larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes")
    if not signature_valid(
        raw, request.headers.get("x-hub-signature-256"), settings.webhook_secrets
    ):
        log.info("webhook.bad_signature", size=len(raw))
        return _error(401, "missing or invalid X-Hub-Signature-256")
    try:
        body = raw.decode("utf-8")
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return _error(400, "body is not valid UTF-8 JSON")
    if not isinstance(payload, dict):
        return _error(400, "body must be a JSON object")
    writer: InboxWriter = request.app.state.inbox_writer
    try:
        await writer.store(body)
    except Exception:
        # Not stored: a non-200 makes Meta deliver it again later.
        return _error(503, "event could not be stored; retry")
    return PlainTextResponse("EVENT_RECEIVED")
