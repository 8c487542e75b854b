"""Browser sign-in: CSRF on the form, a session cookie, sign-out."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import AuditEntry
from tests.harness import Harness


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def test_sign_in_and_out(harness: Harness) -> None:
    form = await harness.client.get("/login", params={"next": "/somewhere"})
    assert form.status_code == 200
    token = _csrf(form.text)

    wrong = await harness.client.post(
        "/login",
        data={"email": "admin@test.example", "password": "nope", "csrf_token": token, "next": "/x"},
    )
    assert wrong.status_code == 401
    assert "email or password is wrong" in wrong.text

    ok = await harness.client.post(
        "/login",
        data={
            "email": "ADMIN@test.example",
            "password": "correct horse",
            "csrf_token": token,
            "next": "/somewhere",
        },
    )
    assert ok.status_code == 303
    assert ok.headers["location"] == "/somewhere"
    cookie = ok.cookies.get("inboxpilot_session")
    assert cookie
    set_cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in set_cookie
    assert "samesite=lax" in set_cookie

    signed_in = await harness.client.get("/account/password")
    out = await harness.client.post("/logout", data={"csrf_token": _csrf(signed_in.text)})
    assert out.status_code == 303
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "user.sign_in_failed" in actions
    assert "user.signed_in" in actions


async def test_sign_in_without_the_form_token_is_refused(harness: Harness) -> None:
    harness.client.cookies.clear()
    response = await harness.client.post(
        "/login",
        data={"email": "admin@test.example", "password": "correct horse", "csrf_token": "forged"},
    )
    assert response.status_code == 403
    assert "inboxpilot_session" not in response.cookies


async def test_next_never_leaves_the_site(harness: Harness) -> None:
    form = await harness.client.get("/login")
    response = await harness.client.post(
        "/login",
        data={
            "email": "admin@test.example",
            "password": "correct horse",
            "csrf_token": _csrf(form.text),
            "next": "//evil.example/phish",
        },
    )
    assert response.headers["location"] == "/"
