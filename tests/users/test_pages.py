"""People pages: password change, sign-out, deactivation, roles and memberships, admin-only."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import ColumnElement, func, select

from app.core.db import unit_of_work
from app.models import AccountMember, AuditEntry, User, WebSession
from app.users import service as users
from tests.harness import Harness
from tests.users.web import ADMIN, PASSWORD, browser, create_user, sign_in, try_sign_in


async def _count(harness: Harness, model: type[object], *where: ColumnElement[bool]) -> int:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _actions(harness: Harness) -> list[str]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(AuditEntry.action))).all())


async def test_cookies_are_http_only_lax_and_secure_on_https(harness: Harness) -> None:
    response = await try_sign_in(harness.client, *ADMIN)
    flags = response.headers["set-cookie"].lower()
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" not in flags  # PUBLIC_URL is http in tests

    harness.app.state.settings.PUBLIC_URL = "https://inbox.example"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.app), base_url="https://inbox.example"
    ) as client:
        response = await try_sign_in(client, *ADMIN)
    assert response.status_code == 303
    session_cookie = [
        c for c in response.headers.get_list("set-cookie") if c.startswith("inboxpilot_session=")
    ]
    assert "secure" in session_cookie[0].lower()


async def test_sign_out_needs_the_csrf_token(harness: Harness) -> None:
    csrf = await sign_in(harness.client)
    refused = await harness.client.post("/logout")
    assert refused.status_code == 403
    assert (await harness.client.get("/account/password")).status_code == 200
    forged = await harness.client.post("/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert await _count(harness, WebSession) == 1

    out = await harness.client.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 303
    assert await _count(harness, WebSession) == 0
    assert (await harness.client.get("/account/password")).status_code == 303
    assert "user.signed_out" in await _actions(harness)
    # Signing out without a session left is harmless.
    again = await harness.client.post("/logout")
    assert again.status_code == 303


async def test_password_change_signs_out_the_other_sessions(harness: Harness) -> None:
    await create_user(harness, "mia@test.example")
    async with browser(harness) as laptop, browser(harness) as phone:
        csrf = await sign_in(laptop, "mia@test.example", PASSWORD)
        await sign_in(phone, "mia@test.example", PASSWORD)
        await sign_in(harness.client)  # another user's session stays

        page = await laptop.get("/account/password")
        assert 'for="current_password"' in page.text
        form = {
            "current_password": PASSWORD,
            "new_password": "a brand new secret",
            "repeat_password": "a brand new secret",
            "csrf_token": csrf,
        }
        changed = await laptop.post("/account/password", data=form)
        assert changed.status_code == 200, changed.text
        assert "1 other session signed out" in changed.text

        assert (await laptop.get("/account/password")).status_code == 200
        assert (await phone.get("/account/password")).status_code == 303
        assert (await harness.client.get("/account/password")).status_code == 200

        assert (await try_sign_in(phone, "mia@test.example", PASSWORD)).status_code == 401
        ok = await try_sign_in(phone, "mia@test.example", "a brand new secret")
        assert ok.status_code == 303
    assert "user.password_changed" in await _actions(harness)


@pytest.mark.parametrize(
    ("current", "new", "repeat", "message"),
    [
        ("wrong current", "a brand new secret", "a brand new secret", "current password is wrong"),
        (PASSWORD, "a brand new secret", "a brand new secreT", "are not the same"),
        (PASSWORD, "short", "short", "at least 10 characters"),
    ],
)
async def test_password_change_refusals(
    harness: Harness, current: str, new: str, repeat: str, message: str
) -> None:
    await create_user(harness, "mia@test.example")
    csrf = await sign_in(harness.client, "mia@test.example", PASSWORD)
    form = {
        "current_password": current,
        "new_password": new,
        "repeat_password": repeat,
        "csrf_token": csrf,
    }
    refused = await harness.client.post("/account/password", data=form)
    assert refused.status_code == 400
    assert message in refused.text
    harness.client.cookies.clear()
    assert (await try_sign_in(harness.client, "mia@test.example", PASSWORD)).status_code == 303


async def test_password_change_needs_the_csrf_token(harness: Harness) -> None:
    await sign_in(harness.client)
    form = {"current_password": ADMIN[1], "new_password": "x" * 12, "repeat_password": "x" * 12}
    refused = await harness.client.post("/account/password", data=form)
    assert refused.status_code == 403
    harness.client.cookies.clear()
    assert (await try_sign_in(harness.client, *ADMIN)).status_code == 303


async def test_moderators_cannot_reach_admin_pages(harness: Harness) -> None:
    account = await harness.create_account()
    moderator_id = await create_user(harness, "mia@test.example", account_ids=[account["id"]])
    csrf = await sign_in(harness.client, "mia@test.example", PASSWORD)
    for path in ("/admin/users", f"/admin/users/{moderator_id}", "/admin/audit"):
        response = await harness.client.get(path)
        assert response.status_code == 403, path
        assert "text/html" in response.headers["content-type"]
    for path, data in [
        ("/admin/users/invitations", {"email": "x@test.example", "role": "admin"}),
        (f"/admin/users/{moderator_id}", {"role": "admin"}),
        (f"/admin/users/{moderator_id}/deactivate", {}),
    ]:
        response = await harness.client.post(path, data={**data, "csrf_token": csrf})
        assert response.status_code == 403, path
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        mia = await session.get(User, moderator_id)
        assert mia is not None
        assert mia.role == "moderator"
        assert mia.is_active


async def test_deactivated_user_loses_sessions_tokens_and_sign_in(harness: Harness) -> None:
    mia_id = await create_user(harness, "mia@test.example")
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        mia_token = await users.create_token(session, email="mia@test.example")
    api = {"Authorization": f"Bearer {mia_token}"}
    async with browser(harness) as mia:
        await sign_in(mia, "mia@test.example", PASSWORD)
        assert (await harness.client.get("/api/v1/accounts", headers=api)).status_code == 200

        csrf = await sign_in(harness.client)
        missing = await harness.client.post(f"/admin/users/{mia_id}/deactivate")
        assert missing.status_code == 403
        assert (await mia.get("/account/password")).status_code == 200

        done = await harness.client.post(
            f"/admin/users/{mia_id}/deactivate", data={"csrf_token": csrf}
        )
        assert done.status_code == 303
        assert (await mia.get("/account/password")).status_code == 303
        assert (await harness.client.get("/api/v1/accounts", headers=api)).status_code == 401
        assert (await try_sign_in(mia, "mia@test.example", PASSWORD)).status_code == 401

        page = await harness.client.get(f"/admin/users/{mia_id}")
        assert "deactivated" in page.text
        forged = await harness.client.post(f"/admin/users/{mia_id}/reactivate")
        assert forged.status_code == 403
        assert (await try_sign_in(mia, "mia@test.example", PASSWORD)).status_code == 401
        back = await harness.client.post(
            f"/admin/users/{mia_id}/reactivate", data={"csrf_token": csrf}
        )
        assert back.status_code == 303
        assert (await try_sign_in(mia, "mia@test.example", PASSWORD)).status_code == 303
        # Revoked tokens stay revoked.
        assert (await harness.client.get("/api/v1/accounts", headers=api)).status_code == 401
    actions = await _actions(harness)
    assert "user.deactivated" in actions
    assert "user.reactivated" in actions


async def test_admins_cannot_lock_themselves_out(harness: Harness) -> None:
    csrf = await sign_in(harness.client)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        admin_id = await session.scalar(select(User.id).where(User.email == ADMIN[0]))
    refused = await harness.client.post(
        f"/admin/users/{admin_id}/deactivate", data={"csrf_token": csrf}
    )
    assert refused.status_code == 403
    demoted = await harness.client.post(
        f"/admin/users/{admin_id}", data={"csrf_token": csrf, "role": "moderator"}
    )
    assert demoted.status_code == 403
    assert "cannot change your own role" in demoted.text
    assert (await harness.client.get("/admin/users")).status_code == 200


async def _memberships(harness: Harness) -> set[tuple[int, int, str]]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        rows = await session.scalars(select(AccountMember))
        return {(m.account_id, m.user_id, m.role) for m in rows}


async def test_roles_and_memberships_with_one_owner_per_account(harness: Harness) -> None:
    one = (await harness.create_account())["id"]
    two = (await harness.create_account(external_id="17841400000000002", name="Two"))["id"]
    mia = await create_user(harness, "mia@test.example", account_ids=[one])
    ben = await create_user(harness, "ben@test.example")
    csrf = await sign_in(harness.client)

    page = await harness.client.get(f"/admin/users/{mia}")
    assert 'for="account_' in page.text
    saved = await harness.client.post(
        f"/admin/users/{mia}",
        data={
            "csrf_token": csrf,
            "role": "moderator",
            f"account_{one}": "owner",
            f"account_{two}": "moderator",
        },
    )
    assert saved.status_code == 303
    assert await _memberships(harness) == {(one, mia, "owner"), (two, mia, "moderator")}

    # A new owner of account one: Mia stays a moderator there.
    await harness.client.post(
        f"/admin/users/{ben}",
        data={"csrf_token": csrf, "role": "admin", f"account_{one}": "owner"},
    )
    assert await _memberships(harness) == {
        (one, mia, "moderator"),
        (two, mia, "moderator"),
        (one, ben, "owner"),
    }
    # Removing access and the CSRF check.
    forged = await harness.client.post(
        f"/admin/users/{mia}", data={"role": "admin", f"account_{one}": "moderator"}
    )
    assert forged.status_code == 403
    await harness.client.post(
        f"/admin/users/{mia}",
        data={"csrf_token": csrf, "role": "moderator", f"account_{one}": "moderator"},
    )
    assert await _memberships(harness) == {(one, mia, "moderator"), (one, ben, "owner")}
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        roles = dict((await session.execute(select(User.email, User.role))).all())
    assert roles["ben@test.example"] == "admin"
    assert roles["mia@test.example"] == "moderator"
    actions = await _actions(harness)
    assert "user.role_changed" in actions
    assert actions.count("user.membership_changed") >= 4

    listing = await harness.client.get("/admin/users")
    assert "mia@test.example" in listing.text
    assert "owner" in listing.text


async def test_unknown_user_and_account_are_404_pages(harness: Harness) -> None:
    csrf = await sign_in(harness.client)
    assert (await harness.client.get("/admin/users/9999")).status_code == 404
    mia = await create_user(harness, "mia@test.example")
    response = await harness.client.post(
        f"/admin/users/{mia}", data={"csrf_token": csrf, "role": "admin", "account_777": "owner"}
    )
    assert response.status_code == 404
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        assert await session.scalar(select(User.role).where(User.id == mia)) == "moderator"
