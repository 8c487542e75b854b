"""GET/POST /webhooks/meta: the verification handshake and the event receiver.

The POST (`WebhookReceiver`, plain ASGI) does the minimum, in order: read the raw body
(bounded), check the signature in constant time, check it is a JSON object, hand it to the
group-committing inbox writer, answer 200 once it is durable. Everything else happens in the worker.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Annotated

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.inbox.writer import InboxWriter
from app.meta.signature import signature_valid
from app.ops.metrics import record_webhook_ack

router = APIRouter(tags=["meta"])
WEBHOOK_PATH = "/webhooks/meta"
log = structlog.get_logger("app.meta.webhook")
BAD_SIGNATURE = "missing or invalid X-Hub-Signature-256"


@router.get(WEBHOOK_PATH, response_class=PlainTextResponse)
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


async def _read_bounded(receive: Receive, declared: str | None, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to be larger than `limit`."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def acknowledge(
    raw: bytes, signature: str | None, settings: Settings, writer: InboxWriter
) -> tuple[int, str | None]:
    """The receiver's decision for one POST: (status, error detail or None when stored)."""
    instagram_only = False
    if not signature_valid(raw, signature, (settings.meta_webhook_secret,)):
        instagram_secret = settings.instagram_webhook_secret
        if instagram_secret is None or not signature_valid(raw, signature, (instagram_secret,)):
            log.info("webhook.bad_signature", size=len(raw))
            return 401, BAD_SIGNATURE
        instagram_only = True
    try:
        body = raw.decode("utf-8")
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return 400, "body is not valid UTF-8 JSON"
    if not isinstance(payload, dict):
        return 400, "body must be a JSON object"
    if instagram_only and payload.get("object") != "instagram":
        # The Instagram app's secret signs Instagram's events only: a Messenger event (or
        # anything else) signed with it is as good as unsigned.
        log.info("webhook.bad_signature", size=len(raw), reason="instagram_secret_other_object")
        return 401, BAD_SIGNATURE
    try:
        await writer.store(body)
    except Exception:
        # Not stored: a non-200 makes Meta deliver it again later.
        return 503, "event could not be stored; retry"
    return 200, None


class WebhookReceiver:
    """`POST /webhooks/meta` as plain ASGI, ahead of the framework's routing.

    Meta's deliveries are the one hot path: at thousands per second, the framework's
    per-request machinery costs more than checking and storing the event. Every other
    request goes on to the application unchanged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != WEBHOOK_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope["app"].state
        settings: Settings = state.settings
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            raw = await _read_bounded(
                receive, headers.get("content-length"), settings.WEBHOOK_MAX_BODY_BYTES
            )
        except ClientDisconnect:
            record_webhook_ack("disconnected", time.perf_counter() - started)
            return
        status: int
        detail: str | None
        if raw is None:
            status, detail = 413, f"body larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes"
        else:
            status, detail = await acknowledge(
                raw, headers.get("x-hub-signature-256"), settings, state.inbox_writer
            )
        await _answer(send, status, detail)
        record_webhook_ack(status, time.perf_counter() - started)


async def _answer(send: Send, status: int, detail: str | None) -> None:
    if detail is None:
        body, content_type = b"EVENT_RECEIVED", b"text/plain; charset=utf-8"
    else:
        body, content_type = json.dumps({"detail": detail}).encode(), b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
