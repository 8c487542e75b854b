"""The audit browser: newest first, keyset pages, filters, escaping, admins only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import AuditEntry, User
from tests.harness import Harness
from tests.users.web import PASSWORD, create_user, sign_in, try_sign_in

DAY = datetime(2030, 5, 10, 9, 0, tzinfo=UTC)


async def _seed(harness: Harness, *entries: dict[str, Any]) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        for values in entries:
            session.add(AuditEntry(**{"actor": "system", "details": {}, **values}))


def _actions(html: str) -> list[str]:
    return [unescape(a) for a in re.findall(r'<strong class="audit-action">([^<]*)</strong>', html)]


def _href(html: str, rel: str) -> str | None:
    found = re.search(rf'href="([^"]+)" rel="{rel}"', html)
    return None if found is None else unescape(found.group(1))


async def test_pages_newest_first_by_keyset(harness: Harness) -> None:
    await _seed(
        harness,
        *({"action": f"test.step_{i:03d}", "at": DAY + timedelta(minutes=i)} for i in range(120)),
    )
    await sign_in(harness.client)
    seen: list[str] = []
    url: str | None = "/admin/audit?action=test."
    pages = 0
    while url is not None:
        response = await harness.client.get(url)
        assert response.status_code == 200
        actions = _actions(response.text)
        assert len(actions) <= 50
        seen += actions
        url = _href(response.text, "next")
        pages += 1
        if pages == 2:
            newer = _href(response.text, "prev")
            assert newer is not None
            back = await harness.client.get(newer)
            assert _actions(back.text) == seen[:50]
    assert pages == 3
    assert seen == [f"test.step_{i:03d}" for i in reversed(range(120))]
    # Entries added while paging do not shift the older pages.
    first = await harness.client.get("/admin/audit?action=test.")
    older = _href(first.text, "next")
    assert older is not None
    await _seed(harness, {"action": "test.step_new", "at": DAY + timedelta(hours=5)})
    assert _actions((await harness.client.get(older)).text)[0] == "test.step_069"


async def test_filters(harness: Harness) -> None:
    one = (await harness.create_account())["id"]
    two = (await harness.create_account(external_id="17841400000000002", name="Two"))["id"]
    mia = await create_user(harness, "mia@test.example", account_ids=[one])
    await _seed(
        harness,
        {"action": "draft.approved", "actor": "user", "user_id": mia, "account_id": one, "at": DAY},
        {
            "action": "draft.rejected",
            "actor": "user",
            "user_id": mia,
            "account_id": two,
            "at": DAY + timedelta(days=1),
        },
        {
            "action": "draft.auto_approved",
            "actor": "bot",
            "account_id": one,
            "at": DAY + timedelta(days=2),
        },
        {"action": "draft_like.other", "at": DAY},
        {"action": "catalog.imported", "at": DAY + timedelta(days=3)},
    )
    await sign_in(harness.client)

    async def actions(**params: str) -> list[str]:
        response = await harness.client.get("/admin/audit", params=params)
        assert response.status_code == 200, response.text
        return [a for a in _actions(response.text) if not a.startswith(("user.", "account."))]

    assert await actions(action="draft.") == [
        "draft.auto_approved",
        "draft.rejected",
        "draft.approved",
    ]
    assert await actions(action="draft_") == ["draft_like.other"]  # "_" is no wildcard
    assert await actions(action="draft.", account=str(one)) == [
        "draft.auto_approved",
        "draft.approved",
    ]
    assert await actions(user=str(mia)) == ["draft.rejected", "draft.approved"]
    assert await actions(since="2030-05-11", until="2030-05-12") == [
        "draft.auto_approved",
        "draft.rejected",
    ]
    assert await actions(until="2030-05-10") == ["draft_like.other", "draft.approved"]

    page = await harness.client.get("/admin/audit", params={"account": str(one)})
    assert "mia@test.example" in page.text
    assert ">bot<" in page.text
    assert "Lena Loves" in page.text
    # Nonsense in the query is named, not a 500.
    odd = await harness.client.get(
        "/admin/audit", params={"since": "tomorrow", "account": "abc", "user": "-1"}
    )
    assert odd.status_code == 200
    assert "not a date" in odd.text
    assert "The account is not valid" in odd.text


async def test_everything_is_escaped(harness: Harness) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        evil = User(email="<script>alert('u')</script>@x.test", password_hash="x", role="moderator")
        session.add(evil)
        await session.flush()
        session.add(
            AuditEntry(
                actor="user",
                user_id=evil.id,
                action="<script>alert('a')</script>",
                details={"note": "<script>alert('d')</script>", "<b>": ["<i>", 1]},
            )
        )
    await sign_in(harness.client)
    response = await harness.client.get("/admin/audit")
    assert response.status_code == 200
    assert "<script>alert" not in response.text
    assert "<b>" not in response.text
    assert "&lt;script&gt;alert(&#39;d&#39;)&lt;/script&gt;" in response.text
    assert "&lt;script&gt;alert(&#39;u&#39;)&lt;/script&gt;@x.test" in response.text


async def test_people_events_are_recorded(harness: Harness) -> None:
    await create_user(harness, "mia@test.example")
    assert (await try_sign_in(harness.client, "mia@test.example", "wrong")).status_code == 401
    csrf = await sign_in(harness.client, "mia@test.example", PASSWORD)
    await harness.client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "another long one",
            "repeat_password": "another long one",
            "csrf_token": csrf,
        },
    )
    csrf = await sign_in(harness.client)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        mia = await session.scalar(select(User.id).where(User.email == "mia@test.example"))
    await harness.client.post(f"/admin/users/{mia}", data={"csrf_token": csrf, "role": "admin"})
    await harness.client.post(f"/admin/users/{mia}/deactivate", data={"csrf_token": csrf})
    await harness.client.post(
        "/admin/users/invitations",
        data={"csrf_token": csrf, "email": "ben@test.example", "role": "moderator"},
    )
    response = await harness.client.get("/admin/audit", params={"action": "user."})
    actions = _actions(response.text)
    for expected in (
        "user.sign_in_failed",
        "user.signed_in",
        "user.password_changed",
        "user.role_changed",
        "user.deactivated",
    ):
        assert expected in actions, expected
    failed = await harness.client.get("/admin/audit", params={"action": "user.sign_in_failed"})
    assert "mia@test.example" in failed.text  # the email is in its details
    invited = await harness.client.get("/admin/audit", params={"action": "invitation."})
    assert _actions(invited.text) == ["invitation.created"]
    assert "admin@test.example" in invited.text
