"""The sandbox simulator posts comments: the page (kind "comment", a post's media id) and
`inboxpilot simulate --comment` (commands.webhook_body with a media id), and the demo's
post and "SERUM" trigger."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli
from app.commands import DEMO_EXTERNAL_ID, seed_demo, webhook_body
from app.config import Settings
from app.core.db import unit_of_work
from app.meta.sandbox import SANDBOX_POST
from app.models import Account, CommentReply, CommentTrigger, Cooperation, Draft, OutboundMessage
from tests.accounts.conftest import csrf_of, sign_in
from tests.harness import Harness, make_settings

SANDBOX = {"META_APP_ID": None, "META_APP_SECRET": None, "META_VERIFY_TOKEN": None}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, str(tmp_path), **SANDBOX)


async def _account(harness: Harness) -> dict[str, Any]:
    account = await harness.create_account(external_id="sandbox-ig", access_token=None)
    await harness.set_policy(account["id"], mode="autopilot")
    product_id = (await harness.add_serum(account["id"]))["products"][0]["id"]
    response = await harness.api(
        "POST",
        f"/api/v1/accounts/{account['id']}/comment-triggers",
        json={"keywords": ["SERUM"], "product_id": product_id, "public_reply": "DM sent 💌"},
    )
    assert response.status_code == 201, response.text
    return account


async def _comment(harness: Harness, account_id: int, text: str, **fields: str) -> str:
    form = await harness.client.get(f"/simulator?account_id={account_id}")
    assert 'name="kind" value="comment"' in form.text
    response = await harness.client.post(
        "/simulator",
        data={
            "csrf_token": csrf_of(form.text),
            "account_id": str(account_id),
            "sender": "fan-1",
            "text": text,
            "kind": "comment",
            **fields,
        },
    )
    assert response.status_code == 303, response.text
    landing = await harness.client.get(response.headers["location"])
    found = re.search(r'hx-get="(/simulator/progress\?[^"]+)"', landing.text)
    assert found is not None, landing.text
    await harness.run_worker()
    return (await harness.client.get(found.group(1).replace("&amp;", "&"))).text


async def test_a_simulated_comment_meets_the_trigger(harness: Harness) -> None:
    account = await _account(harness)
    await sign_in(harness)

    fragment = await _comment(harness, account["id"], "SERUM please 😍", media_id="1799")

    assert "Comment stored in the conversation" in fragment
    assert "A comment trigger matched" in fragment
    assert "DM sent 💌" in fragment
    assert "send automatically" in fragment
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        [reply] = (await session.scalars(select(CommentReply))).all()
        [outbound] = (await session.scalars(select(OutboundMessage))).all()
    assert (reply.media_id, outbound.comment_id) == ("1799", reply.comment_id)
    assert "LENA15" in " ".join(outbound.parts)


async def test_a_comment_without_keyword_is_recorded_only(harness: Harness) -> None:
    account = await _account(harness)
    await sign_in(harness)

    fragment = await _comment(harness, account["id"], "love this look")

    assert "no active comment trigger of the account matches it" in fragment
    assert "hx-trigger" not in fragment  # settled: it stops polling


async def test_a_comment_needs_a_valid_post_id(harness: Harness) -> None:
    account = await _account(harness)
    await sign_in(harness)
    form = await harness.client.get(f"/simulator?account_id={account['id']}")
    response = await harness.client.post(
        "/simulator",
        data={
            "csrf_token": csrf_of(form.text),
            "account_id": str(account["id"]),
            "text": "SERUM",
            "kind": "comment",
            "media_id": "no spaces please",
        },
    )
    assert response.status_code == 422
    assert 'id="sim-media-error"' in response.text


async def test_the_demo_has_a_post_and_a_serum_trigger(
    harness: Harness, settings: Settings
) -> None:
    await seed_demo(settings)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await session.scalar(
            select(Account).where(Account.external_id == DEMO_EXTERNAL_ID)
        )
        assert account is not None
        [trigger] = (await session.scalars(select(CommentTrigger))).all()
        posts = [
            p["media_id"]
            for c in (await session.scalars(select(Cooperation))).all()
            for p in c.platform_posts
            if "media_id" in p
        ]
    assert (trigger.keywords, trigger.media_id) == (["SERUM"], SANDBOX_POST)
    assert len((trigger.public_reply or "").splitlines()) == 2
    assert SANDBOX_POST in posts

    # What `inboxpilot simulate --comment` posts, through the real webhook and worker.
    response = await harness.post_webhook(
        webhook_body(account, sender="fan-9", text="Serum!! 😍", media_id=SANDBOX_POST),
        secret=settings.webhook_secrets[0],
    )
    assert response.status_code == 200
    await harness.run_worker()
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        [draft] = (await session.scalars(select(Draft))).all()
        [outbound] = (await session.scalars(select(OutboundMessage))).all()
    assert (draft.kind, draft.decision) == ("comment", "auto")
    assert "DEMO15" in " ".join(outbound.parts)


def test_media_needs_comment() -> None:
    result = CliRunner().invoke(cli, ["simulate", "--account", "1", "--media", "1799", "SERUM"])
    assert result.exit_code == 1
    assert "--media needs --comment" in result.output
