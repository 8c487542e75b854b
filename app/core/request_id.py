"""A request id for every HTTP request: bound in the log context and echoed in the answer.

An incoming `X-Request-ID` (from a proxy or a load balancer) is kept when it is a sane
token (1-64 characters of `A-Z a-z 0-9 . _ -`), so one id follows a request across
systems; anything else is replaced by a new id: 32 hex characters, a random half drawn once
per process and a counter (a uuid4 per request cost 3% of an acknowledgement's CPU). Plain
ASGI and outermost, so the webhook receiver's hot path gets it too at the cost of a
header scan and a counter.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._-]{1,64}")


def request_id_from(scope: Scope) -> str:
    """The request's own id if it sent a sane one, else a new one."""
    for name, value in scope["headers"]:
        if name == HEADER:
            if _SANE.fullmatch(value):
                return str(value.decode("ascii"))
            break
    return new_request_id()


class _Ids:
    """Unique within a process, and across processes by the random half (drawn again in
    a forked child, which would otherwise repeat its parent's ids)."""

    def __init__(self) -> None:
        self.pid = -1
        self.prefix = ""
        self.counter = itertools.count()

    def next(self) -> str:
        if self.pid != os.getpid():
            self.pid, self.prefix = os.getpid(), secrets.token_hex(8)
            self.counter = itertools.count()
        return f"{self.prefix}{next(self.counter):016x}"


_IDS = _Ids()


def new_request_id() -> str:
    return _IDS.next()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        header = (HEADER, request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
