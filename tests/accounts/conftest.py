"""Connecting accounts: the app with a fake Meta login on the same respx router."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.config import Settings
from app.core.db import unit_of_work
from app.users import service as users
from tests.fakes.meta_oauth import FakeMetaOAuth
from tests.harness import APP_SECRET, FACEBOOK_URL, INSTAGRAM_URL, Harness, make_settings

INSTAGRAM_API_URL = "https://api.instagram.test"
ADMIN = ("admin@test.example", "correct horse")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, str(tmp_path), INSTAGRAM_API_URL=INSTAGRAM_API_URL)


@pytest.fixture
def meta(harness: Harness) -> FakeMetaOAuth:
    return FakeMetaOAuth(
        harness.router,
        facebook_url=FACEBOOK_URL,
        instagram_url=INSTAGRAM_URL,
        instagram_api_url=INSTAGRAM_API_URL,
        app_id=harness.app.state.settings.META_APP_ID,
        app_secret=APP_SECRET,
        graph=harness.graph,
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


async def sign_in(harness: Harness, email: str = ADMIN[0], password: str = ADMIN[1]) -> None:
    harness.client.cookies.clear()
    form = await harness.client.get("/login")
    response = await harness.client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
    )
    assert response.status_code == 303, response.text


async def create_moderator(
    harness: Harness, email: str, account_ids: list[int] | None = None
) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await users.create_user(
            session,
            email=email,
            role="moderator",
            password="long enough",
            account_ids=account_ids or [],
        )


async def start(harness: Harness, path: str) -> dict[str, str]:
    """Follows a start endpoint; the query of Meta's dialog URL it redirects to."""
    response = await harness.client.get(path)
    assert response.status_code == 303, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {key: values[0] for key, values in query.items()}


async def facebook_callback(harness: Harness, **params: str) -> httpx.Response:
    return await harness.client.get("/oauth/meta/callback", params=params)


async def facebook_login(harness: Harness, meta: FakeMetaOAuth) -> httpx.Response:
    """Start, the person clicks Continue, callback: the answer (a redirect to the picker)."""
    dialog = await start(harness, "/oauth/meta/start")
    response = await facebook_callback(harness, code=meta.facebook_code(), state=dialog["state"])
    return response


async def pick(
    harness: Harness, picker_url: str, *, messenger: list[str], instagram: list[str]
) -> httpx.Response:
    picker = await harness.client.get(picker_url)
    assert picker.status_code == 200, picker.text
    state = re.search(r'name="state" value="([^"]+)"', picker.text)
    assert state is not None
    data: dict[str, object] = {
        "csrf_token": csrf_of(picker.text),
        "state": state.group(1),
        "messenger": messenger,
        "instagram": instagram,
    }
    return await harness.client.post("/oauth/meta/connect", data=data)


async def instagram_login(harness: Harness, meta: FakeMetaOAuth) -> httpx.Response:
    dialog = await start(harness, "/oauth/instagram/start")
    return await harness.client.get(
        "/oauth/instagram/callback",
        params={"code": meta.instagram_code(), "state": dialog["state"]},
    )
