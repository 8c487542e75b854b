"""The one shared httpx client of a process: Graph API and LLM calls both go through it."""

from __future__ import annotations

import httpx

USER_AGENT = "inboxpilot/0.1 (+https://github.com/inboxpilot/inboxpilot)"


def create_http_client(timeout_seconds: float = 15.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds, connect=5.0),
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )
