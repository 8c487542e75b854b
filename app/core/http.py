"""A process's httpx clients, one per kind of host (`app.runtime`): Meta's, and the LLM's.

Each keeps its connections alive. httpcore looks at every connection of a pool (a
readability check on each idle one) each time a request starts and ends, so a request
costs more CPU the more connections its pool holds: measured on this machine, 0.76 ms with
one, 1.04 ms with 16, 1.56 ms with 32 (issue 15). A pool per kind of host holds only the
connections its own calls need."""

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
