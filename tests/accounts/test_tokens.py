"""The token job (refresh and health), and a reconnect that restores the queue."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from app.core.clock import as_utc, utc_now
from app.core.db import unit_of_work
from app.models import Account, Draft, OutboundMessage
from app.registry import PERIODIC_JOBS
from app.worker import queue
from app.worker.kinds import JobKind
from tests.accounts.conftest import facebook_login, instagram_login, pick, sign_in
from tests.fakes.meta_oauth import FakeMetaOAuth
from tests.harness import Harness, text_event

IG_ID = "17841400000000001"
LENA_PAGE, SHOP_PAGE = "1111000000000001", "1111000000000002"


async def _run_token_job(harness: Harness) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await queue.enqueue(session, JobKind.MAINTAIN_TOKENS, {})
    await harness.run_worker()


async def _accounts(harness: Harness) -> list[Account]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(Account).order_by(Account.id))).all())


def test_the_token_job_runs_hourly() -> None:
    assert PERIODIC_JOBS[JobKind.MAINTAIN_TOKENS] == 3600


async def test_instagram_tokens_are_refreshed_within_ten_days_of_expiry(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    await sign_in(harness)
    await instagram_login(harness, meta)
    [before] = await _accounts(harness)

    with time_machine.travel(utc_now() + timedelta(days=2), tick=True):
        await _run_token_job(harness)  # far from expiry: only the daily check
    assert meta.endpoint_calls("ig_refresh") == []
    assert len(meta.endpoint_calls("ig_me")) == 2  # the login's and the check's

    later = utc_now() + timedelta(days=51)
    with time_machine.travel(later, tick=True):
        await _run_token_job(harness)
    [after] = await _accounts(harness)
    [refresh] = meta.endpoint_calls("ig_refresh")
    assert refresh.params["grant_type"] == "ig_refresh_token"
    assert after.access_token_encrypted != before.access_token_encrypted
    assert after.access_token_encrypted is not None
    token = harness.runtime.cipher.decrypt(after.access_token_encrypted)
    assert token.startswith("IGrefreshed-")
    assert after.token_expires_at is not None
    assert as_utc(after.token_expires_at) > later + timedelta(days=59)
    assert after.status == "active"


async def test_a_young_token_is_not_refreshed(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    await instagram_login(harness, meta)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = (await session.scalars(select(Account))).one()
        account.token_expires_at = utc_now() + timedelta(days=5)  # as if Meta gave us less
    with time_machine.travel(utc_now() + timedelta(hours=2), tick=True):
        await _run_token_job(harness)
    assert meta.endpoint_calls("ig_refresh") == []


async def test_a_revoked_page_token_needs_reconnect_and_others_stay(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    await sign_in(harness)
    answer = await facebook_login(harness, meta)
    await pick(harness, answer.headers["location"], messenger=[LENA_PAGE, SHOP_PAGE], instagram=[])
    meta.revoke("EAApage-shop")
    with time_machine.travel(utc_now() + timedelta(days=1), tick=True):
        await _run_token_job(harness)
        await _run_token_job(harness)  # checked about daily: not again within the hour
    lena, shop = await _accounts(harness)
    assert lena.status == "active"
    assert shop.status == "needs_reconnect"
    assert shop.status_reason is not None
    assert "no longer valid" in shop.status_reason
    checks = meta.endpoint_calls("debug_token")
    assert len(checks) == 2
    assert checks[0].params["access_token"] == "999000111|test-app-secret"
    home = (await harness.client.get("/")).text
    assert 'href="/oauth/meta/start">Reconnect' in home


async def test_a_removed_permission_needs_reconnect(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    answer = await facebook_login(harness, meta)
    await pick(harness, answer.headers["location"], messenger=[LENA_PAGE], instagram=[])
    meta.granted.discard("pages_messaging")
    with time_machine.travel(utc_now() + timedelta(days=1), tick=True):
        await _run_token_job(harness)
    [account] = await _accounts(harness)
    assert account.status == "needs_reconnect"
    assert "pages_messaging" in (account.status_reason or "")


async def test_a_removed_comment_permission_keeps_dms_going(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    await sign_in(harness)
    answer = await facebook_login(harness, meta)
    await pick(harness, answer.headers["location"], messenger=[LENA_PAGE], instagram=[IG_ID])
    assert [a.comments_problem for a in await _accounts(harness)] == [None, None]
    meta.granted -= {"pages_manage_engagement", "instagram_manage_comments"}
    with time_machine.travel(utc_now() + timedelta(days=1), tick=True):
        await _run_token_job(harness)
    page, instagram = await _accounts(harness)
    assert (page.status, instagram.status) == ("active", "active")
    assert page.comments_problem == (
        "comment triggers need reconnecting: the permission pages_manage_engagement is not granted"
    )
    assert "instagram_manage_comments" in (instagram.comments_problem or "")
    listed = (await harness.api("GET", f"/api/v1/accounts/{page.id}")).json()
    assert listed["status"] == "active"
    assert listed["comments_problem"] == page.comments_problem
    assert listed["reconnect_url"] is None  # it still sends
    home = (await harness.client.get("/")).text
    assert home.count("Comment triggers need reconnecting") == 2

    meta.granted |= {"pages_manage_engagement", "instagram_manage_comments"}
    with time_machine.travel(utc_now() + timedelta(days=2), tick=True):
        await _run_token_job(harness)
    assert [a.comments_problem for a in await _accounts(harness)] == [None, None]


async def test_a_revoked_instagram_token_needs_reconnect(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    await sign_in(harness)
    await instagram_login(harness, meta)
    for token in meta.issued("ig_long"):
        meta.revoke(token)
    with time_machine.travel(utc_now() + timedelta(days=1), tick=True):
        await _run_token_job(harness)
    [account] = await _accounts(harness)
    assert account.status == "needs_reconnect"
    assert "GraphTokenInvalid" in (account.status_reason or "")


async def test_meta_unreachable_changes_nothing(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    answer = await facebook_login(harness, meta)
    await pick(harness, answer.headers["location"], messenger=[LENA_PAGE], instagram=[])
    meta.network_failure("debug_token")
    with time_machine.travel(utc_now() + timedelta(days=1), tick=True):
        await _run_token_job(harness)
    [account] = await _accounts(harness)
    assert account.status == "active"


async def test_reconnecting_restores_the_account_and_resends_what_failed(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    await sign_in(harness)
    await instagram_login(harness, meta)
    [account] = await _accounts(harness)
    await harness.set_policy(account.id, mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account.id)

    # Two replies on their way when the token dies: whichever reaches Meta second finds
    # either Meta's 190 again or the account already blocked; both must come back.
    harness.graph.token_invalid(times=2)
    await harness.post_webhook(text_event(IG_ID, "IGSID-1", "Vitamin C Serum code?"))
    await harness.post_webhook(text_event(IG_ID, "IGSID-2", "Vitamin C Serum code?"))
    await harness.run_worker()
    assert harness.graph.sent == []
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        failed = (await session.scalars(select(OutboundMessage))).all()
    assert [o.status for o in failed] == ["failed", "failed"]
    assert {o.error_code for o in failed} <= {"token_invalid", "account_needs_reconnect"}
    harness.graph.reset()  # the second planned 190 is left over if that send never got out
    [blocked] = await _accounts(harness)
    assert blocked.status == "needs_reconnect"

    response = await instagram_login(harness, meta)
    assert response.status_code == 303
    [restored] = await _accounts(harness)
    assert (restored.id, restored.status, restored.status_reason) == (account.id, "active", None)
    await harness.run_worker()

    assert sorted(s.recipient_id or "" for s in harness.graph.sent) == ["IGSID-1", "IGSID-2"]
    new_token = harness.runtime.cipher.decrypt(restored.access_token_encrypted or "")
    assert {s.access_token for s in harness.graph.sent} == {new_token}
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        statuses = (await session.scalars(select(OutboundMessage.status))).all()
        drafts = (await session.scalars(select(Draft.status))).all()
    assert list(statuses) == ["sent", "sent"]
    assert list(drafts) == ["sent", "sent"]
