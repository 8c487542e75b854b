"""The follower's profile: fetched in its own job after the reply, failures recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from app.conversations.profiles import describe_error
from app.conversations.replies import schedule_reply
from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.meta import errors as graph_errors
from app.models import Account, Conversation, Job
from app.worker import queue
from tests.fakes.graph import FakeGraphAPI
from tests.harness import Harness, text_event

IG_ID = "17841400000000001"
PAGE_ID = "104871234567890"


async def _autopilot(harness: Harness, **overrides: Any) -> dict[str, Any]:
    account = await harness.create_account(**overrides)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    return account


async def _contact(harness: Harness, account_id: int) -> dict[str, Any]:
    response = await harness.api("GET", "/api/v1/contacts", params={"account_id": account_id})
    [contact] = response.json()
    return dict(contact)


async def _later(harness: Harness, seconds: float = 11) -> None:
    """Runs the worker now, then once the profile job (queued after the reply) is due."""
    await harness.run_worker()
    with time_machine.travel(utc_now() + timedelta(seconds=seconds), tick=True):
        await harness.run_worker()


async def test_instagram_profile_is_fetched_after_the_reply(harness: Harness) -> None:
    account = await _autopilot(harness, external_id=IG_ID)
    harness.graph.profiles["IGSID-1"] = {
        "name": "Mia Muster",
        "username": "mia.m",
        "profile_pic": "https://scontent.test/mia.jpg?oe=1",
    }
    await harness.post_webhook(text_event(IG_ID, "IGSID-1", "Vitamin C Serum code?"))
    await harness.run_worker()
    assert len(harness.graph.sent) == 1
    assert harness.graph.profile_calls == []  # the reply first

    await _later(harness)
    [lookup] = harness.graph.profile_calls
    assert (lookup.host, lookup.user_id) == ("instagram", "IGSID-1")
    assert lookup.fields == ("name", "username", "profile_pic")
    assert lookup.access_token == "IGAAtoken-lena"
    contact = await _contact(harness, account["id"])
    assert (contact["name"], contact["username"]) == ("Mia Muster", "mia.m")
    assert contact["profile_pic_url"] == "https://scontent.test/mia.jpg?oe=1"
    assert contact["profile_error"] is None
    assert contact["profile_fetched_at"] is not None


async def test_messenger_profile_joins_first_and_last_name(harness: Harness) -> None:
    account = await harness.create_account(
        platform="messenger",
        external_id=PAGE_ID,
        page_id=PAGE_ID,
        graph_host="facebook",
        access_token="EAApage-token",
    )
    harness.graph.profiles["PSID-1"] = {
        "first_name": "Jo",
        "last_name": "Doe",
        "profile_pic": "https://platform-lookaside.test/jo",
    }
    await harness.post_webhook(text_event(PAGE_ID, "PSID-1", "hi", platform="page"))
    await _later(harness)

    [lookup] = harness.graph.profile_calls
    assert (lookup.host, lookup.fields) == ("facebook", ("first_name", "last_name", "profile_pic"))
    assert lookup.access_token == "EAApage-token"
    contact = await _contact(harness, account["id"])
    assert (contact["name"], contact["username"]) == ("Jo Doe", None)
    assert contact["profile_pic_url"] == "https://platform-lookaside.test/jo"


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (FakeGraphAPI.profile_consent_missing, "consent_missing"),
        (FakeGraphAPI.profile_phone_number_account, "phone_number_account"),
        (FakeGraphAPI.profile_token_invalid, "token_invalid"),
    ],
)
async def test_profile_failure_is_recorded_and_never_blocks_the_reply(
    harness: Harness, failure: Any, reason: str
) -> None:
    account = await _autopilot(harness, external_id=IG_ID)
    failure(harness.graph)
    await harness.post_webhook(text_event(IG_ID, "IGSID-2", "Vitamin C Serum code?"))
    await _later(harness)

    assert len(harness.graph.sent) == 1
    assert len(harness.graph.profile_calls) == 1  # permanent: not retried at once
    contact = await _contact(harness, account["id"])
    assert contact["profile_error"].startswith(f"{reason}: ")
    assert contact["name"] is None
    state = (await harness.api("GET", f"/api/v1/accounts/{account['id']}")).json()
    assert state["status"] == "active"  # a profile call does not judge the account


async def test_failed_profile_is_retried_a_day_later_not_before(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    harness.graph.profile_consent_missing()
    await harness.post_webhook(text_event(IG_ID, "IGSID-3", "hi"))
    await _later(harness)
    await harness.post_webhook(text_event(IG_ID, "IGSID-3", "hello?"))
    await _later(harness, seconds=3600)
    assert len(harness.graph.profile_calls) == 1

    with time_machine.travel(utc_now() + timedelta(days=1, minutes=1), tick=True):
        await harness.post_webhook(text_event(IG_ID, "IGSID-3", "anyone?"))
        await _later(harness)
    assert len(harness.graph.profile_calls) == 2
    contact = await _contact(harness, account["id"])
    assert contact["profile_error"] is None
    assert contact["username"] == "user_igsid-3"


async def test_transient_failure_is_retried_then_recorded(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    harness.graph.profile_server_error()
    await harness.post_webhook(text_event(IG_ID, "IGSID-4", "hi"))
    await _later(harness)
    assert [c.status for c in harness.graph.profile_calls] == [500, 200]
    assert (await _contact(harness, account["id"]))["profile_error"] is None

    harness.graph.profile_timeout(times=3)
    with time_machine.travel(utc_now() + timedelta(days=8), tick=True):
        await harness.post_webhook(text_event(IG_ID, "IGSID-4", "again"))
        await _later(harness)
    contact = await _contact(harness, account["id"])
    assert len(harness.graph.profile_calls) == 5
    assert contact["profile_error"].startswith("temporarily_unavailable: ")
    assert contact["profile_pic_url"] is None  # the old link has expired by now
    assert contact["name"] == "Follower IGSID-4"  # what we knew stays


async def test_profile_is_refreshed_after_a_week(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.post_webhook(text_event(IG_ID, "IGSID-5", "hi"))
    await _later(harness)
    harness.graph.profiles["IGSID-5"] = {"name": "New Name", "username": "renamed"}
    with time_machine.travel(utc_now() + timedelta(days=6), tick=True):
        await harness.post_webhook(text_event(IG_ID, "IGSID-5", "still here"))
        await _later(harness)
    assert len(harness.graph.profile_calls) == 1
    with time_machine.travel(utc_now() + timedelta(days=8), tick=True):
        await harness.post_webhook(text_event(IG_ID, "IGSID-5", "and now?"))
        await _later(harness)
    assert len(harness.graph.profile_calls) == 2
    contact = await _contact(harness, account["id"])
    assert (contact["name"], contact["username"]) == ("New Name", "renamed")
    assert contact["profile_pic_url"] is None  # Meta gave none this time: none kept


async def test_reactions_and_receipts_do_not_fetch_profiles(harness: Harness) -> None:
    await harness.create_account(external_id=IG_ID)
    reaction = {
        "object": "instagram",
        "entry": [
            {
                "id": IG_ID,
                "messaging": [
                    {
                        "sender": {"id": "IGSID-6"},
                        "recipient": {"id": IG_ID},
                        "timestamp": 1769000000000,
                        "reaction": {"mid": "m_x", "action": "react", "reaction": "love"},
                    }
                ],
            }
        ],
    }
    await harness.post_webhook(reaction)
    await _later(harness)
    assert harness.graph.profile_calls == []


def test_describe_error_names_the_reason_and_fits_the_column() -> None:
    long = graph_errors.GraphPermissionMissing("x" * 500, code=200)
    assert describe_error(long).startswith("permission_missing: ")
    assert len(describe_error(long)) == 200
    unavailable = graph_errors.GraphRecipientUnavailable("gone", code=551)
    assert describe_error(unavailable) == "user_unavailable: gone"
    assert describe_error(ValueError("account has no access token")).startswith("not_requested")


async def test_under_a_backlog_drafts_are_claimed_before_profiles(harness: Harness) -> None:
    """A profile job that came due waits behind a draft that is due too (the load suite
    saw profile jobs take half the worker's slots while drafts piled up)."""
    await _autopilot(harness, external_id=IG_ID)
    await harness.post_webhook(text_event(IG_ID, "IGSID-P1", "Vitamin C Serum code?"))
    await harness.run_worker()  # the reply; the profile job waits 10 s
    with time_machine.travel(utc_now() + timedelta(seconds=11), tick=True):
        async with unit_of_work(harness.runtime.sessionmaker) as session:
            conversation = await session.scalar(select(Conversation))
            assert conversation is not None
            account = await session.get(Account, conversation.account_id)
            assert account is not None
            await schedule_reply(
                session,
                harness.runtime.settings,
                account=account,
                conversation=conversation,
                standby=False,
            )
        async with unit_of_work(harness.runtime.sessionmaker) as session:
            claimed = await queue.claim(session, Job, worker_id="w", limit=1, lease_seconds=60)
            due = await session.scalar(
                select(func.count()).select_from(Job).where(Job.status == "queued")
            )
    assert [job.kind for job in claimed] == ["draft_reply"]
    assert due == 1  # the profile job, due since a second, still waiting
