"""Meta's signed_request built with the standard library only, never with the app's code,
and the data a privacy test starts from."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from sqlalchemy import select, update

from app.core.db import unit_of_work
from app.models import Account, Contact
from tests.harness import APP_SECRET, Harness, text_event


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def meta_payload(user_id: Any = "10160000000000001", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {
        "algorithm": "HMAC-SHA256",
        "expires": now + 3600,
        "issued_at": now,
        "user_id": user_id,
    }
    payload.update(overrides)
    return payload


def signed_request(payload: dict[str, Any] | bytes, *, secret: str = APP_SECRET) -> str:
    """`<sig>.<payload>`: HMAC-SHA256 over the payload segment, both base64url unpadded."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    segment = b64url(raw)
    signature = hmac.new(secret.encode(), segment.encode(), hashlib.sha256).digest()
    return f"{b64url(signature)}.{segment}"


async def post_signed(harness: Harness, path: str, value: str) -> Any:
    return await harness.client.post(path, data={"signed_request": value})


async def connect_account(
    harness: Harness, external_id: str, *, meta_user_id: str | None, name: str = "Lena Loves"
) -> int:
    """An account as the OAuth flow leaves it: token, profile and the Meta user's id."""
    account = await harness.create_account(external_id=external_id, name=name)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await session.execute(
            update(Account)
            .where(Account.id == account["id"])
            .values(
                meta_user_id=meta_user_id,
                username=f"{name.lower().replace(' ', '_')}",
                picture_url=f"https://cdn.example/{external_id}.jpg",
                connected_via="instagram_login",
            )
        )
    account_id: int = account["id"]
    return account_id


async def follower_writes(
    harness: Harness, account_external_id: str, sender: str, text: str
) -> None:
    response = await harness.post_webhook(text_event(account_external_id, sender, text))
    assert response.status_code == 200, response.text


async def contact_id(harness: Harness, account_id: int, external_id: str) -> int:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        found = await session.scalar(
            select(Contact.id).where(
                Contact.account_id == account_id, Contact.external_id == external_id
            )
        )
    assert found is not None
    return found
