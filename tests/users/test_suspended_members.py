"""Admins' People pages and a member suspended by a Meta-proven connect: shown as such, and
saving the person's page as shown leaves them suspended (only the owner keeps them)."""

from __future__ import annotations

from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import AccountMember, User
from app.users.members import claim
from tests.harness import Harness
from tests.users.web import create_user, sign_in


async def test_saving_a_person_page_as_shown_keeps_a_suspension(harness: Harness) -> None:
    account = (await harness.create_account())["id"]
    mia = await create_user(harness, "mia@test.example", account_ids=[account])
    lena = await create_user(harness, "lena@test.example")
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        influencer = await session.get(User, lena)
        assert influencer is not None
        assert await claim(session, user=influencer, account_id=account, via="instagram_login") == [
            mia
        ]
    csrf = await sign_in(harness.client)

    page = await harness.client.get(f"/admin/users/{mia}")
    assert '<option value="suspended" selected>' in page.text
    listing = await harness.client.get("/admin/users")
    assert "· suspended" in listing.text
    saved = await harness.client.post(
        f"/admin/users/{mia}",
        data={"csrf_token": csrf, "role": "moderator", f"account_{account}": "suspended"},
    )
    assert saved.status_code == 303
    # An admin cannot suspend someone by hand: that is what a Meta-proven connect does.
    refused = await harness.client.post(
        f"/admin/users/{lena}",
        data={"csrf_token": csrf, "role": "moderator", f"account_{account}": "suspended"},
    )
    assert refused.status_code == 400

    async with unit_of_work(harness.runtime.sessionmaker) as session:
        rows = (await session.execute(select(AccountMember.user_id, AccountMember.role))).all()
    assert {(r[0], r[1]) for r in rows} == {(mia, "suspended"), (lena, "owner")}
