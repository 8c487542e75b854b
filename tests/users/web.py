"""Helpers of the page tests: a browser-like client that signs in through the real form."""

from __future__ import annotations

import re

import httpx

from app.core.db import unit_of_work
from app.users import service as users
from tests.harness import Harness

ADMIN = ("admin@test.example", "correct horse")
PASSWORD = "long enough password"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def browser(harness: Harness) -> httpx.AsyncClient:
    """Another browser against the same app: its own cookie jar."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.app), base_url="http://testserver"
    )


async def try_sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    form = await client.get("/login")
    return await client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(form.text)}
    )


async def sign_in(
    client: httpx.AsyncClient, email: str = ADMIN[0], password: str = ADMIN[1]
) -> str:
    """Signs in; returns the session's CSRF token (from a page that carries it)."""
    client.cookies.clear()
    response = await try_sign_in(client, email, password)
    assert response.status_code == 303, response.text
    page = await client.get("/account/password")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


async def create_user(
    harness: Harness,
    email: str,
    *,
    role: str = "moderator",
    password: str = PASSWORD,
    account_ids: list[int] | None = None,
) -> int:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        user = await users.create_user(
            session, email=email, role=role, password=password, account_ids=account_ids or []
        )
        return user.id
