"""The one shared httpx client of a process: Graph API and LLM calls both go through it."""

from __future__ import annotations

import httpx

USER_AGENT = "inboxpilot/0.1 (+https://github.com/inboxpilot/inboxpilot)"
# Connections open at once (to Meta and the LLM together). Every one of them is kept
# alive between calls: a pool that kept fewer than the worker has calls in flight (it
# kept 20, WORKER_CONCURRENCY may be up to 512) closed and reopened connections, with
# their TLS handshakes, throughout a burst.
MAX_CONNECTIONS = 100


def create_http_client(timeout_seconds: float = 15.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds, connect=5.0),
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(
            max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
        ),
    )
