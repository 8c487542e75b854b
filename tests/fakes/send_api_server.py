"""A fake Send API served over real HTTP on loopback, for tests whose workers run as
separate processes (respx only sees the test's own process)."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections import Counter
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class SendApiServer:
    def __init__(self, *, delay_seconds: float = 0.0) -> None:
        self.delay_seconds = delay_seconds
        self.sends: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._mids = itertools.count(1)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        app = Starlette(
            routes=[Route("/{version}/{sender}/messages", self._send, methods=["POST"])]
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def replies_per_recipient(self) -> Counter[str]:
        with self._lock:
            return Counter(s["recipient"]["id"] for s in self.sends)

    def count(self) -> int:
        with self._lock:
            return len(self.sends)

    async def _send(self, request: Request) -> JSONResponse:
        body = await request.json()
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        with self._lock:
            self.sends.append(body)
            mid = f"m_loopback_{next(self._mids)}"
        return JSONResponse({"recipient_id": body["recipient"]["id"], "message_id": mid})

    def __enter__(self) -> SendApiServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Send API did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
