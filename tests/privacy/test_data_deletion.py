"""POST /meta/data-deletion end to end: answered at once, erased by the worker, status page."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import (
    Account,
    AuditEntry,
    Contact,
    Conversation,
    DeletionRequest,
    Draft,
    InboxEvent,
    Job,
    Message,
    OutboundMessage,
)
from app.privacy.jobs import erase_meta_user
from tests.harness import Harness, text_event
from tests.privacy.helpers import (
    connect_account,
    follower_writes,
    meta_payload,
    post_signed,
    signed_request,
)

USER = "10160000000000001"
IG_A, IG_B, IG_OTHER = "17841400000000011", "17841400000000012", "17841400000000099"
PerAccount = type[Contact | Conversation | Message | Draft | OutboundMessage]
PER_ACCOUNT: tuple[PerAccount, ...] = (Contact, Conversation, Message, Draft, OutboundMessage)


async def _setup(harness: Harness) -> tuple[int, int, int]:
    a = await connect_account(harness, IG_A, meta_user_id=USER, name="Lena Loves")
    b = await connect_account(harness, IG_B, meta_user_id=USER, name="Lena Travels")
    other = await connect_account(harness, IG_OTHER, meta_user_id="555", name="Max Cooks")
    for account_id in (a, other):
        await harness.set_policy(account_id, mode="autopilot", min_confidence=0.0)
        await harness.add_serum(account_id)
    await follower_writes(harness, IG_A, "IGSID-1", "Hi! Code for the vitamin C serum?")
    await follower_writes(harness, IG_A, "IGSID-2", "Is the glow serum still on sale?")
    await follower_writes(harness, IG_B, "IGSID-3", "Love your travel posts")
    await follower_writes(harness, IG_OTHER, "IGSID-9", "Code for the glow serum please")
    # An audit entry whose details name the influencer.
    patched = await harness.api("PATCH", f"/api/v1/accounts/{a}", json={"name": "Lena L."})
    assert patched.status_code == 200
    await harness.run_worker()
    return a, b, other


async def _count(harness: Harness, model: PerAccount, account_id: int) -> int:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        statement = select(func.count()).select_from(model).where(model.account_id == account_id)
        return int(await session.scalar(statement) or 0)


async def _raw_bodies_naming(harness: Harness, external_id: str) -> int:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        bodies = (await session.scalars(select(InboxEvent.body))).all()
    return sum(f'"{external_id}"' in body for body in bodies)


async def test_deletion_request_erases_the_users_accounts_and_nothing_else(
    harness: Harness,
) -> None:
    a, b, other = await _setup(harness)
    assert await _count(harness, Message, a) >= 2  # the follower's and the bot's
    assert await _count(harness, OutboundMessage, a) >= 1
    before_other = {m.__name__: await _count(harness, m, other) for m in PER_ACCOUNT}

    response = await post_signed(harness, "/meta/data-deletion", signed_request(meta_payload(USER)))

    assert response.status_code == 200
    body = response.json()
    code = body["confirmation_code"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", code)
    assert body["url"] == f"http://127.0.0.1:8000/meta/data-deletion/{code}"
    page = await harness.client.get(f"/meta/data-deletion/{code}")
    assert page.status_code == 200
    assert 'data-status="received"' in page.text
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        # Sending stops at once, before the worker runs.
        account = await session.get(Account, a)
        assert account is not None
        assert (account.access_token_encrypted, account.status) == (None, "disconnected")

    await harness.run_worker()

    page = await harness.client.get(f"/meta/data-deletion/{code}")
    assert page.status_code == 200
    assert 'data-status="completed"' in page.text
    assert "Completed:" in page.text
    assert "What is kept, and why" in page.text
    for account_id, external_id in ((a, IG_A), (b, IG_B)):
        for model in PER_ACCOUNT:
            assert await _count(harness, model, account_id) == 0, model.__name__
        assert await _raw_bodies_naming(harness, external_id) == 0
    after_other = {m.__name__: await _count(harness, m, other) for m in PER_ACCOUNT}
    assert after_other == before_other
    assert await _raw_bodies_naming(harness, IG_OTHER) == 1
    await _assert_accounts_erased(harness, (a, b), other)
    await _assert_audit_kept_without_personal_data(harness, a)
    await _assert_no_raw_user_id_stored(harness)


async def _assert_accounts_erased(harness: Harness, erased: tuple[int, int], other: int) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        for account_id in erased:
            account = await session.get(Account, account_id)
            assert account is not None
            assert account.status == "deleted"
            assert account.access_token_encrypted is None
            assert account.name == f"Deleted account {account_id}"
            assert (account.username, account.picture_url, account.meta_user_id) == (None,) * 3
            assert account.external_id == f"deleted:{account_id}"
        kept = await session.get(Account, other)
        assert kept is not None
        assert (kept.name, kept.status, kept.meta_user_id) == ("Max Cooks", "active", "555")
        assert kept.access_token_encrypted is not None
        request = await session.scalar(select(DeletionRequest))
        assert request is not None
        assert request.status == "completed"
        assert request.completed_at is not None
        erased_counts = request.summary["erased"]
        assert erased_counts["accounts"] == 2
        assert erased_counts["contacts"] == 3
        assert erased_counts["messages"] >= 3
        assert erased_counts["inbox_events"] == 3


async def _assert_audit_kept_without_personal_data(harness: Harness, account_id: int) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.account_id == account_id))
        ).all()
    actions = {e.action for e in entries}
    assert {"account.created", "account.updated", "privacy.account_erased"} <= actions
    for entry in entries:
        assert "Lena" not in json.dumps(entry.details)
        if entry.action != "privacy.account_erased":
            assert entry.details == {}


async def _assert_no_raw_user_id_stored(harness: Harness) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        request = await session.scalar(select(DeletionRequest))
        jobs = (await session.scalars(select(Job))).all()
        audit = (await session.scalars(select(AuditEntry))).all()
    assert request is not None
    assert len(request.meta_user_hash) == 64
    assert USER not in request.meta_user_hash
    assert USER not in json.dumps(request.summary)
    assert all(USER not in json.dumps(j.payload) for j in jobs)
    assert all(USER not in json.dumps(e.details) for e in audit)


async def test_unknown_confirmation_code_is_404(harness: Harness) -> None:
    response = await harness.client.get("/meta/data-deletion/not-a-code")
    assert response.status_code == 404
    long = await harness.client.get("/meta/data-deletion/" + "x" * 500)
    assert long.status_code == 404


async def test_request_for_a_user_without_accounts_completes_with_nothing_erased(
    harness: Harness,
) -> None:
    response = await post_signed(harness, "/meta/data-deletion", signed_request(meta_payload("1")))
    assert response.status_code == 200
    await harness.run_worker()
    page = await harness.client.get(response.json()["url"].removeprefix("http://127.0.0.1:8000"))
    assert 'data-status="completed"' in page.text
    assert "nothing to erase" in page.text


async def test_job_waits_for_unprocessed_events_and_a_rerun_finishes(harness: Harness) -> None:
    a = await connect_account(harness, IG_A, meta_user_id=USER)
    await follower_writes(harness, IG_A, "IGSID-1", "first message")
    await harness.run_worker()
    # A body the worker has not handled yet (due later): it may hold others' events too,
    # so the erasure waits for it instead of deleting it unread.
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        body = json.dumps(text_event(IG_A, "IGSID-4", "arrived during the deletion"))
        session.add(
            InboxEvent(
                received_at=utc_now(),
                body=body,
                body_sha256="0" * 64,
                status="queued",
                run_at=utc_now() + timedelta(minutes=5),
            )
        )

    response = await post_signed(harness, "/meta/data-deletion", signed_request(meta_payload(USER)))
    code = response.json()["confirmation_code"]
    await harness.run_worker()

    page = await harness.client.get(f"/meta/data-deletion/{code}")
    assert 'data-status="in_progress"' in page.text
    assert await _count(harness, Message, a) == 0
    # The late body is ingested (a draft job follows), then the job sweeps again; it runs
    # once more if it met that draft job running.
    for minutes in (10, 20):
        with time_machine.travel(utc_now() + timedelta(minutes=minutes), tick=True):
            await harness.run_worker()

    page = await harness.client.get(f"/meta/data-deletion/{code}")
    assert 'data-status="completed"' in page.text
    for model in PER_ACCOUNT:
        assert await _count(harness, model, a) == 0, model.__name__
    assert await _raw_bodies_naming(harness, IG_A) == 0


async def test_running_the_job_again_changes_nothing(harness: Harness) -> None:
    await _setup(harness)
    await post_signed(harness, "/meta/data-deletion", signed_request(meta_payload(USER)))
    await harness.run_worker()
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        job = await session.scalar(select(Job).where(Job.kind == "privacy.erase_meta_user"))
        request = await session.scalar(select(DeletionRequest))
    assert job is not None
    assert request is not None

    await erase_meta_user(harness.runtime, job)

    async with unit_of_work(harness.runtime.sessionmaker) as session:
        again = await session.get(DeletionRequest, request.id)
    assert again is not None
    assert again.summary == request.summary
    assert again.completed_at == request.completed_at


async def _deletion_jobs(harness: Harness) -> int:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        count = await session.scalar(
            select(func.count()).select_from(Job).where(Job.kind == "privacy.erase_meta_user")
        )
        return int(count or 0)


async def test_simultaneous_requests_of_one_person_make_one_request(harness: Harness) -> None:
    await connect_account(harness, IG_A, meta_user_id=USER)
    body = signed_request(meta_payload(USER))
    answers = await asyncio.gather(
        *(post_signed(harness, "/meta/data-deletion", body) for _ in range(6))
    )
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.json()["confirmation_code"] for answer in answers}) == 1
    assert await _deletion_jobs(harness) == 1
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        assert await session.scalar(select(func.count()).select_from(DeletionRequest)) == 1


async def test_a_repeated_request_answers_the_first_ones_confirmation(harness: Harness) -> None:
    await connect_account(harness, IG_A, meta_user_id=USER)
    first = await post_signed(harness, "/meta/data-deletion", signed_request(meta_payload(USER)))
    assert first.status_code == 200
    # Again before the job ran (a retry by Meta), and again once it is done.
    again = await post_signed(harness, "/meta/data-deletion", signed_request(meta_payload(USER)))
    assert again.json() == first.json()
    assert await _deletion_jobs(harness) == 1
    await harness.run_worker()
    done = await post_signed(harness, "/meta/data-deletion", signed_request(meta_payload(USER)))
    assert done.json() == first.json()
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        assert await session.scalar(select(func.count()).select_from(DeletionRequest)) == 1
    # Another person's request is a request of its own.
    other = await post_signed(harness, "/meta/data-deletion", signed_request(meta_payload("77")))
    assert other.json()["confirmation_code"] != first.json()["confirmation_code"]
    # Someone who connected an account again after their erasure can ask again.
    await connect_account(harness, IG_B, meta_user_id=USER)
    later = await post_signed(harness, "/meta/data-deletion", signed_request(meta_payload(USER)))
    assert later.json()["confirmation_code"] != first.json()["confirmation_code"]
