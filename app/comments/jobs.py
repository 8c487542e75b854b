"""The comments' worker jobs. `comment_reply`: draft the private reply to a matched
comment, decide, and queue it. `public_reply`: the public reply under the comment once
the private one went out (app/comments/public.py). New comments meet the triggers during
ingest (`take_comment`, app/comments/intake.py), which queues `comment_reply`.

The private reply is decided by the same rules as a DM (`app.drafting.assess`):
grounding, sensitive messages, the account's mode, pauses, the daily limit. Auto: approved
and queued as the private reply to the comment (`queue_reply(..., comment_id=...)`).
Otherwise the draft, of kind `comment`, waits in the moderators' queue.
"""

from __future__ import annotations

from decimal import Decimal

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.comments import public
from app.comments.context import CommentContext, load_comment_context
from app.comments.intake import take_comment
from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.drafting.assess import ConversationState, assess
from app.drafting.base import DraftResult
from app.drafting.cost import BudgetState, budget_state
from app.drafting.jobs import count_usage, new_draft, run_drafter, send_alone
from app.models import Account, CommentReply, Conversation, Job
from app.ops.metrics import DRAFTS
from app.policy.schemas import Policy
from app.policy.service import Decision, reason_code
from app.runtime import Runtime

log = structlog.get_logger("app.comments")

__all__ = ["post_public_reply", "reply_to_comment", "take_comment"]


async def reply_to_comment(runtime: Runtime, job: Job) -> None:
    reply_id = int(job.payload["comment_reply_id"])
    structlog.contextvars.bind_contextvars(comment_reply_id=reply_id)
    budget = BudgetState(spent=Decimal(0), budget=None)
    async with unit_of_work(runtime.sessionmaker) as session:
        context = await load_comment_context(session, reply_id, indexes=runtime.catalog)
        if context is not None and runtime.drafter.name == "llm":
            budget = await budget_state(session, runtime.settings, context.account, utc_now())
    if context is None:
        return
    result, error = await run_drafter(runtime, context.request, budget)
    async with unit_of_work(runtime.sessionmaker) as session:
        await _record(session, runtime, context, result, error)


async def _take(session: AsyncSession, reply_id: int) -> bool:
    """Moves the comment's row from waiting to drafted, once: a second run drafts nothing."""
    result = await session.execute(
        update(CommentReply)
        .where(CommentReply.id == reply_id, CommentReply.status == "waiting")
        .values(status="drafted")
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _decide(
    context: CommentContext,
    result: DraftResult,
    error: str | None,
    account: Account,
    conversation: Conversation,
) -> Decision:
    return assess(
        context.request,
        result,
        error,
        policy=Policy.of(account.policy),
        now=utc_now(),
        state=ConversationState(
            account_status=account.status,
            account_paused=account.is_paused,
            conversation_paused=conversation.is_paused,
            paused_until=conversation.paused_until,
            standby=conversation.thread_owner_app_id is not None,
            auto_replies_today=context.auto_replies_today,
        ),
    )


async def _record(
    session: AsyncSession,
    runtime: Runtime,
    context: CommentContext,
    result: DraftResult,
    error: str | None,
) -> None:
    cost = count_usage(runtime, result)
    if not await _take(session, context.reply.id):
        return  # another run drafted this comment while we were drafting
    # Read again: the account or the thread may have been paused while the drafter ran.
    account = await session.get(Account, context.account.id, populate_existing=True)
    conversation = await session.get(Conversation, context.conversation.id, populate_existing=True)
    assert account is not None
    assert conversation is not None
    decision = _decide(context, result, error, account, conversation)
    DRAFTS.labels(decision=decision.decision, reason=reason_code(decision)).inc()
    draft = new_draft(
        result,
        decision,
        account_id=account.id,
        conversation_id=conversation.id,
        reply_to_message_id=context.comment.id,
        kind="comment",
        error=error,
        cost=cost,
    )
    session.add(draft)
    await session.flush()
    await session.execute(
        update(CommentReply).where(CommentReply.id == context.reply.id).values(draft_id=draft.id)
    )
    log.info("comment.drafted", draft_id=draft.id, decision=decision.decision)
    if decision.decision == "auto":
        await send_alone(
            session,
            runtime,
            account,
            conversation,
            draft,
            decision,
            comment_id=context.reply.comment_id,
        )


async def post_public_reply(runtime: Runtime, job: Job) -> None:
    clients = public.PostClients(
        runtime.sessionmaker, runtime.settings, runtime.graph, runtime.cipher
    )
    await public.post(
        clients,
        int(job.payload["comment_reply_id"]),
        attempt=job.attempts,
        max_attempts=job.max_attempts,
    )
