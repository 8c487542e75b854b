"""The alerts page and web push: choices saved through the page, a browser's subscription
saved through its endpoint, and the same alerts pushed to a push service (faked with respx
at the HTTP boundary) with a VAPID Authorization the push service can verify and a payload
only that browser can decrypt."""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import http_ece
import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.models import AlertSettings, PushSubscription
from app.notifications import push
from tests.harness import Harness, make_settings, running_app
from tests.notifications.seed import MOD, PASSWORD, World, add_draft, run_digest_job, seed
from tests.users.web import browser, sign_in

PUSH_SERVICE = "https://push.example.test"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


SERVER_KEY = ec.generate_private_key(ec.SECP256R1())
SERVER_PRIVATE = b64url(SERVER_KEY.private_numbers().private_value.to_bytes(32, "big"))
SERVER_PUBLIC = b64url(point(SERVER_KEY))


class Browser:
    """What a browser's Push API holds: its own key pair and auth secret."""

    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.endpoint = f"{PUSH_SERVICE}/send/{name}"

    def subscription(self) -> dict[str, object]:
        keys = {"p256dh": b64url(point(self.key)), "auth": b64url(self.auth)}
        return {"endpoint": self.endpoint, "expirationTime": None, "keys": keys}

    def decrypt(self, body: bytes) -> dict[str, str]:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        decoded: dict[str, str] = json.loads(plain)
        return decoded


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(
        database_url,
        str(tmp_path),
        VAPID_PRIVATE_KEY=SERVER_PRIVATE,
        MAIL_FROM="inboxpilot <alerts@inboxpilot.test>",
    )
    async with running_app(settings) as harness:
        yield harness


@pytest.fixture
async def world(app: Harness) -> World:
    return await seed(app.runtime)


@pytest.fixture
async def signed_in(app: Harness, world: World) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with browser(app) as client:
        csrf = await sign_in(client, MOD, PASSWORD)
        yield client, csrf


def verify_vapid(authorization: str) -> dict[str, object]:
    """As a push service checks it (RFC 8292): `vapid t=<JWT>,k=<public key>`, ES256."""
    found = re.fullmatch(r"vapid t=([\w-]+)\.([\w-]+)\.([\w-]+),k=([\w-]+)", authorization)
    assert found is not None, authorization
    header, claims, signature, key = found.groups()
    assert key == SERVER_PUBLIC
    assert json.loads(unb64url(header)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64url(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    public.verify(
        encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
        f"{header}.{claims}".encode(),
        ec.ECDSA(hashes.SHA256()),
    )
    decoded: dict[str, object] = json.loads(unb64url(claims))
    return decoded


async def test_the_page_saves_choices_and_says_mail_is_off(
    app: Harness, signed_in: tuple[httpx.AsyncClient, str]
) -> None:
    client, csrf = signed_in
    page = await client.get("/account/alerts")
    assert page.status_code == 200
    assert "E-mail is not set up on this server" in page.text
    assert f'data-vapid-key="{SERVER_PUBLIC}"' in page.text
    assert 'value="30" selected' in page.text  # the seeded choice
    saved = await client.post(
        "/account/alerts", data={"csrf_token": csrf, "waiting_minutes": "15", "sensitive": "true"}
    )
    assert saved.status_code == 200
    assert "Saved." in saved.text
    refused = await client.post(
        "/account/alerts", data={"csrf_token": csrf, "waiting_minutes": "7"}
    )
    assert refused.status_code == 422
    forged = await client.post("/account/alerts", data={"waiting_minutes": "off"})
    assert forged.status_code == 403
    async with unit_of_work(app.runtime.sessionmaker) as session:
        alerts = (await session.scalars(select(AlertSettings))).all()
    mine = [a for a in alerts if a.waiting_minutes == 15]
    assert len(mine) == 1
    assert mine[0].is_sensitive_on
    assert not mine[0].is_reconnect_on


async def test_pending_count_is_what_the_person_can_see(
    app: Harness, signed_in: tuple[httpx.AsyncClient, str]
) -> None:
    client, _ = signed_in
    answer = await client.get("/account/alerts/pending")
    # Lena's three pending drafts; not the approved one, not the other creator's.
    assert answer.json() == {"pending": 3}
    async with browser(app) as stranger:
        assert (await stranger.get("/account/alerts/pending")).status_code == 401


async def test_push_goes_once_to_each_subscribed_browser_with_vapid(
    app: Harness, world: World, signed_in: tuple[httpx.AsyncClient, str]
) -> None:
    client, csrf = signed_in
    phone = Browser("phone")
    forged = await client.post("/account/alerts/push", json=phone.subscription())
    assert forged.status_code == 403
    saved = await client.post(
        "/account/alerts/push", json=phone.subscription(), headers={"X-CSRF-Token": csrf}
    )
    assert saved.status_code == 204
    again = await client.post(
        "/account/alerts/push", json=phone.subscription(), headers={"X-CSRF-Token": csrf}
    )
    assert again.status_code == 204
    bad = await client.post(
        "/account/alerts/push",
        json={"endpoint": "http://insecure.example/x", "keys": {}},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 422
    route = app.router.post(phone.endpoint).mock(return_value=httpx.Response(201))

    before = int(time.time())
    await run_digest_job(app.runtime)
    assert route.call_count == 1
    request = route.calls[0].request
    claims = verify_vapid(request.headers["Authorization"])
    assert claims["aud"] == PUSH_SERVICE
    assert claims["sub"] == "mailto:alerts@inboxpilot.test"
    assert isinstance(claims["exp"], int)
    assert before < claims["exp"] <= before + 24 * 3600
    assert request.headers["Content-Encoding"] == "aes128gcm"
    assert int(request.headers["TTL"]) > 0
    shown = phone.decrypt(request.content)
    assert shown == {
        "title": "inboxpilot",
        "body": "1 sensitive message, 1 draft waiting, 1 account to reconnect",
        "url": "/queue",
    }
    assert b"money back" not in request.content

    await run_digest_job(app.runtime)
    assert route.call_count == 1, "nothing new: nothing pushed"

    # The browser unsubscribed meanwhile: the push service says 410, the subscription goes.
    route.mock(return_value=httpx.Response(410))
    await add_draft(
        app.runtime, world.lena, "fan_x", "I am 14", reasons=["sensitive message: minor"]
    )
    await run_digest_job(app.runtime)
    assert route.call_count == 2
    async with unit_of_work(app.runtime.sessionmaker) as session:
        left = await session.scalar(select(func.count()).select_from(PushSubscription))
    assert left == 0


async def test_a_push_service_that_fails_is_retried(
    app: Harness, world: World, signed_in: tuple[httpx.AsyncClient, str]
) -> None:
    client, csrf = signed_in
    laptop = Browser("laptop")
    await client.post(
        "/account/alerts/push", json=laptop.subscription(), headers={"X-CSRF-Token": csrf}
    )
    route = app.router.post(laptop.endpoint).mock(return_value=httpx.Response(503))
    await run_digest_job(app.runtime)
    route.mock(return_value=httpx.Response(201))
    from app.registry import build_worker

    await build_worker(app.runtime).run_once()  # the retry
    assert route.call_count == 2
    assert "3 drafts" not in laptop.decrypt(route.calls[1].request.content)["body"]
    assert laptop.decrypt(route.calls[1].request.content)["body"].startswith("1 sensitive")
    removed = await client.post(
        "/account/alerts/push/remove",
        json={"endpoint": laptop.endpoint},
        headers={"X-CSRF-Token": csrf},
    )
    assert removed.status_code == 204
    async with unit_of_work(app.runtime.sessionmaker) as session:
        left = await session.scalar(select(func.count()).select_from(PushSubscription))
    assert left == 0


def test_sandbox_mode_generates_the_key_once_and_keeps_it(tmp_path: Path) -> None:
    settings = make_settings(
        "sqlite+aiosqlite:///unused.db",
        str(tmp_path),
        META_APP_SECRET=None,
        META_VERIFY_TOKEN=None,
    )
    first = push.vapid_keys(settings)
    assert first is not None
    kept = tmp_path / ".inboxpilot-vapid-key"
    assert kept.stat().st_mode & 0o777 == 0o600
    push._keys.clear()  # as a new process would start
    again = push.vapid_keys(settings)
    assert again is not None
    assert again.public_key == first.public_key
    real = make_settings("sqlite+aiosqlite:///unused.db", str(tmp_path / "real"))
    assert push.vapid_keys(real) is None, "outside sandbox mode, no key: no push"
