"""A comment and the reply queued for it, as comment triggers make them: the comment's row
(CommentReply) inserted, the reply queued with the real `queue_reply(..., comment_id=...)`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import Account, CommentReply, OutboundMessage
from app.outbox.service import queue_reply
from tests.builders import create_contact, create_conversation, create_draft, create_message
from tests.harness import Harness

IG_ID = "17841400000000001"
PAGE_ID = "104871234567890"
PUBLIC = "Check your DMs!"
TEXT = "Here is your code LENA15: https://glowlab.example/serum"


@dataclass(frozen=True)
class Queued:
    outbound_id: int | None  # None: the draft waits for review
    comment_reply_id: int
    comment_id: str
    draft_id: int


async def instagram(harness: Harness) -> int:
    account = await harness.create_account(external_id=IG_ID)
    return int(account["id"])


async def facebook_page(harness: Harness) -> int:
    account = await harness.create_account(
        platform="messenger",
        external_id=PAGE_ID,
        name="Lena's Page",
        access_token="EAAGpage-token",
        graph_host="facebook",
    )
    return int(account["id"])


async def queue_comment(
    harness: Harness,
    account_id: int,
    comment_id: str,
    *,
    age: timedelta = timedelta(minutes=5),
    live: bool = False,
    public: str | None = PUBLIC,
    text: str = TEXT,
    draft_status: str = "approved",
) -> Queued:
    """A comment someone wrote `age` ago, its row and a comment draft; the reply queued
    with `queue_reply` as triggers do, unless the draft waits for review (`pending`)."""
    commented_at = utc_now() - age
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await session.get(Account, account_id)
        assert account is not None
        contact = await create_contact(session, account, external_id=f"IGSID-{comment_id}")
        conversation = await create_conversation(session, account, contact)
        message = await create_message(
            session, conversation, text="SERUM please", kind="comment", sent_at=commented_at
        )
        draft = await create_draft(
            session, conversation, message, kind="comment", status=draft_status, text=text
        )
        row = CommentReply(
            account_id=account_id,
            conversation_id=conversation.id,
            message_id=message.id,
            comment_id=comment_id,
            media_id="17850000000000001",
            live=live,
            commented_at=commented_at,
            status="drafted",
            draft_id=draft.id,
            public_reply_text=public,
            public_reply_status="waiting" if public else None,
        )
        session.add(row)
        await session.flush()
        if draft_status == "pending":
            return Queued(None, row.id, comment_id, draft.id)
        outbound = await queue_reply(
            session,
            harness.runtime.settings,
            account=account,
            conversation=conversation,
            text=text,
            draft=draft,
            comment_id=comment_id,
        )
        return Queued(outbound.id, row.id, comment_id, draft.id)


async def outbound_row(harness: Harness, outbound_id: int | None) -> OutboundMessage:
    assert outbound_id is not None, "the draft waits for review: nothing was queued"
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        row = await session.get(OutboundMessage, outbound_id)
        assert row is not None
        return row


async def comment_row(harness: Harness, comment_reply_id: int) -> CommentReply:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        row = await session.get(CommentReply, comment_reply_id)
        assert row is not None
        return row
