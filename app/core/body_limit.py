"""A request body size limit for every HTTP request, as plain ASGI.

    app.add_middleware(BodyLimit, max_bytes=settings.MAX_REQUEST_BODY_BYTES)

A declared `Content-Length` above the limit is answered 413 before anything is read. A
body without one (chunked) is counted as the application reads it; past the limit the
read fails, and whatever the application answers to that failure (FastAPI: a 400 "error
parsing the body") is replaced by the 413. Either way the answer is JSON `{"detail": ...}`
and the rest of the body is never read. The webhook receiver sits outside this middleware
and keeps its own, smaller limit (`WEBHOOK_MAX_BODY_BYTES`).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _TooLarge(Exception):
    """Raised into the application by `receive` once the body passed the limit."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, self.max_bytes)
            return
        await _LimitedRequest(self.app, self.max_bytes)(scope, receive, send)


class _LimitedRequest:
    """One request: counts the body it hands over, and swaps the answer once over the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.received = 0
        self.exceeded = False
        self.answered = False  # a response has started, the application's or ours

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def limited_receive() -> Message:
            if self.exceeded:
                raise _TooLarge()
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.max_bytes:
                    self.exceeded = True
                    raise _TooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            if self.exceeded:
                # The application's answer to the failed read: ours goes out instead.
                if not self.answered:
                    await self._refuse(send)
                return
            if message["type"] == "http.response.start":
                self.answered = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not self.exceeded:
                raise
        if self.exceeded and not self.answered:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        self.answered = True
        await _refuse(send, self.max_bytes)


async def _refuse(send: Send, max_bytes: int) -> None:
    body = json.dumps({"detail": f"request body larger than {max_bytes} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body was never read: the connection cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else None
    return None
