"""A flood of badly signed webhooks does not cost a single genuine one.

Bad and valid POSTs are interleaved and sent concurrently; every valid event must be
acknowledged and stored exactly once, and no bad one may leave a row behind.
"""

from __future__ import annotations

import asyncio
import json
import random

import httpx
from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import InboxEvent
from tests.harness import Harness, sign, text_event

VALID = 60
BAD_PER_VALID = 10
CONCURRENCY = 32


def _bad_headers(body: bytes, n: int) -> dict[str, str]:
    """Every way a signature can be wrong, in turn."""
    digest = sign(body)[len("sha256=") :]
    headers: list[dict[str, str]] = [
        {},
        {"X-Hub-Signature-256": sign(body, "not-the-app-secret")},
        {"X-Hub-Signature-256": sign(body + b" ")},  # signed over other bytes
        {"X-Hub-Signature-256": "sha1=" + digest[:40]},
        {"X-Hub-Signature-256": "sha256="},
        {"X-Hub-Signature-256": "sha256=" + digest[:-1]},  # one hex digit short
        {"X-Hub-Signature-256": "sha256=" + digest[:-1] + "g"},  # not hex
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
    ]
    return headers[n % len(headers)]


async def test_bad_signature_flood_loses_no_valid_event(harness: Harness) -> None:
    rng = random.Random(6)
    valid = [
        json.dumps(text_event("1784", f"IGSID-{n}", f"genuine {n}", mid=f"m_ok_{n}")).encode()
        for n in range(VALID)
    ]
    requests: list[tuple[bytes, dict[str, str], bool]] = [
        (body, {"X-Hub-Signature-256": sign(body)}, True) for body in valid
    ]
    for n in range(VALID * BAD_PER_VALID):
        body = json.dumps(text_event("1784", f"FORGED-{n}", "forged", mid=f"m_bad_{n}")).encode()
        requests.append((body, _bad_headers(body, n), False))
    # Non-ASCII signature bytes, as a hostile client can put them on the wire.
    forged = json.dumps(text_event("1784", "FORGED-X", "forged", mid="m_bad_x")).encode()
    raw_header = (b"X-Hub-Signature-256", b"sha256=\xe9\xff" + b"0" * 62)
    rng.shuffle(requests)

    gate = asyncio.Semaphore(CONCURRENCY)

    async def post(body: bytes, headers: dict[str, str] | list[tuple[bytes, bytes]]) -> int:
        async with gate:
            response = await harness.client.post(
                "/webhooks/meta",
                content=body,
                headers=httpx.Headers(headers) if isinstance(headers, list) else headers,
            )
            return response.status_code

    statuses = await asyncio.gather(
        *(post(body, headers) for body, headers, _ in requests),
        post(forged, [raw_header]),
    )

    expected = [200 if is_valid else 401 for _, _, is_valid in requests] + [401]
    assert statuses == expected
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        stored = list(await session.scalars(select(InboxEvent.body)))
    assert sorted(stored) == sorted(body.decode() for body in valid)
