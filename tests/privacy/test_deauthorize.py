"""POST /meta/deauthorize: the influencer removed our app; their accounts are disconnected."""

from __future__ import annotations

from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.models import Account, AuditEntry, Draft, Message
from tests.harness import Harness
from tests.privacy.helpers import (
    connect_account,
    follower_writes,
    meta_payload,
    post_signed,
    signed_request,
)

USER = "10160000000000001"


async def test_deauthorize_disconnects_every_account_of_that_user_and_keeps_history(
    harness: Harness,
) -> None:
    first = await connect_account(harness, "17841400000000001", meta_user_id=USER)
    second = await connect_account(harness, "17841400000000002", meta_user_id=USER)
    other = await connect_account(harness, "17841400000000003", meta_user_id="555")
    await follower_writes(harness, "17841400000000001", "IGSID-1", "Hi, the serum code?")
    await harness.run_worker()

    response = await post_signed(harness, "/meta/deauthorize", signed_request(meta_payload(USER)))

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        accounts = {a.id: a for a in (await session.scalars(select(Account))).all()}
        for account_id in (first, second):
            assert accounts[account_id].access_token_encrypted is None
            assert accounts[account_id].status == "disconnected"
            assert accounts[account_id].meta_user_id == USER  # a deletion request finds them
        assert accounts[other].access_token_encrypted is not None
        assert accounts[other].status == "active"
        # The queue and the history stay.
        assert await session.scalar(select(func.count()).select_from(Message)) == 1
        assert await session.scalar(select(func.count()).select_from(Draft)) == 1
        audit = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "account.deauthorized")
            )
        ).all()
    assert sorted(a.account_id for a in audit if a.account_id) == [first, second]
    assert all(a.details == {} and a.actor == "system" for a in audit)


async def test_deauthorized_account_no_longer_sends(harness: Harness) -> None:
    account_id = await connect_account(harness, "17841400000000001", meta_user_id=USER)
    await harness.set_policy(account_id, mode="autopilot", min_confidence=0.0)
    await harness.add_serum(account_id)

    await post_signed(harness, "/meta/deauthorize", signed_request(meta_payload(USER)))
    await follower_writes(harness, "17841400000000001", "IGSID-1", "code for the glow serum?")
    await harness.run_worker()

    assert harness.graph.sent == []


async def test_unknown_user_is_acknowledged_and_changes_nothing(harness: Harness) -> None:
    account_id = await connect_account(harness, "17841400000000001", meta_user_id=USER)

    response = await post_signed(
        harness, "/meta/deauthorize", signed_request(meta_payload("999999"))
    )

    assert response.status_code == 200
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await session.get(Account, account_id)
        assert account is not None
        assert account.status == "active"
        assert account.access_token_encrypted is not None
