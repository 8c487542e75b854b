"""The draft job: draft a reply to a conversation's unanswered messages, decide, and queue it."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.conversations.answered import newest_unanswered_id
from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.drafting.assess import ConversationState, assess
from app.drafting.base import DraftingError, DraftRequest, DraftResult
from app.drafting.context import DraftContext, has_live_draft, load_context
from app.drafting.cost import BudgetState, budget_state, estimate_cost
from app.drafting.offline import OfflineDrafter
from app.drafting.product_vectors import EMBED_EVERY_SECONDS as EMBED_EVERY_SECONDS
from app.drafting.product_vectors import embed_catalog as embed_catalog
from app.models import Account, Contact, Conversation, Draft, DraftStatus, Job, Message
from app.ops.metrics import DRAFTS, LLM_BUDGET_FALLBACKS, LLM_COST_USD, LLM_TOKENS
from app.outbox.disclosure import NoRoomForDisclosure, fits
from app.outbox.service import queue_reply
from app.policy.schemas import Policy
from app.policy.service import DISCLOSURE_ROOM_REASON, Decision, reason_code
from app.runtime import Runtime

log = structlog.get_logger("app.drafting")


async def draft_reply(runtime: Runtime, job: Job) -> None:
    conversation_id = int(job.payload["conversation_id"])
    budget = BudgetState(spent=Decimal(0), budget=None)
    async with unit_of_work(runtime.sessionmaker) as session:
        context = await load_context(session, conversation_id, indexes=runtime.catalog)
        if context is not None and runtime.drafter.name == "llm":
            budget = await budget_state(session, runtime.settings, context.account, utc_now())
    if context is not None and runtime.embedder is not None:
        # Embedded outside any transaction; then retrieval again, by words and meaning.
        vector = await runtime.embedder.embed_query(context.request.follower_text)
        if vector is not None:
            async with unit_of_work(runtime.sessionmaker) as session:
                context = await load_context(
                    session, conversation_id, indexes=runtime.catalog, vector=vector
                )
    if context is None:
        return
    result, error = await run_drafter(runtime, context.request, budget)
    async with unit_of_work(runtime.sessionmaker) as session:
        # Re-read: the thread may have been handed to another app while the drafter ran.
        # Locked: concurrent runs of this job (a lease that expired under load) take turns.
        # FOR NO KEY UPDATE: messages being ingested meanwhile only need a key share on it.
        conversation = await session.get(
            Conversation, conversation_id, with_for_update={"key_share": True}
        )
        held = conversation is not None and conversation.thread_owner_app_id is not None
        standby = bool(job.payload.get("standby")) or held
        await _record(session, runtime, context, result, error, standby=standby)


async def run_drafter(
    runtime: Runtime, request: DraftRequest, budget: BudgetState
) -> tuple[DraftResult, str | None]:
    """The configured drafter; if it fails, or the account's LLM budget for today is used
    up, the offline one writes a suggestion for a human."""
    if budget.exhausted:
        LLM_BUDGET_FALLBACKS.inc()
        log.info("drafting.over_budget", spent=str(budget.spent), budget=str(budget.budget))
        return await OfflineDrafter().draft(request), budget.reason()
    try:
        return await runtime.drafter.draft(request), None
    except DraftingError as exc:
        log.warning("drafting.failed", drafter=runtime.drafter.name, error=str(exc))
        offline = await OfflineDrafter().draft(request)
        # An unusable answer was still paid for: it counts against the budget.
        return replace(offline, usage=exc.usage), str(exc) or type(exc).__name__


def count_usage(runtime: Runtime, result: DraftResult) -> Decimal | None:
    """What the drafter's LLM call cost (None without one), counted in the metrics."""
    cost = None if result.usage is None else estimate_cost(runtime.settings, result.usage)
    if result.usage is not None and cost is not None:
        LLM_TOKENS.labels(kind="prompt").inc(result.usage.prompt_tokens)
        LLM_TOKENS.labels(kind="completion").inc(result.usage.completion_tokens)
        LLM_COST_USD.inc(float(cost))
    return cost


def _decide(
    context: DraftContext,
    result: DraftResult,
    error: str | None,
    standby: bool,
    *,
    opted_out: bool,
) -> Decision:
    return assess(
        context.request,
        result,
        error,
        policy=Policy.of(context.account.policy),
        now=utc_now(),
        state=ConversationState(
            account_status=context.account.status,
            account_paused=context.account.is_paused,
            conversation_paused=context.conversation.is_paused,
            paused_until=context.conversation.paused_until,
            standby=standby,
            opted_out=opted_out,
            room_for_disclosure=fits(result.reply, context.account, result.language),
            auto_replies_today=context.auto_replies_today,
        ),
    )


async def _record(
    session: AsyncSession,
    runtime: Runtime,
    context: DraftContext,
    result: DraftResult,
    error: str | None,
    *,
    standby: bool,
) -> None:
    cost = count_usage(runtime, result)
    if await has_live_draft(session, context.reply_to.id):
        return  # another run drafted this message while we were drafting
    opted_out = await _opted_out(session, context)
    decision = _decide(context, result, error, standby, opted_out=opted_out)
    DRAFTS.labels(decision=decision.decision, reason=reason_code(decision)).inc()
    stale = await _is_stale(session, context)
    draft = new_draft(
        result,
        decision,
        account_id=context.account.id,
        conversation_id=context.conversation.id,
        reply_to_message_id=context.reply_to.id,
        error=error,
        cost=cost,
        stale=stale,
    )
    session.add(draft)
    await session.flush()
    log.info(
        "drafting.decided",
        draft_id=draft.id,
        decision=decision.decision,
        intent=result.intent,
        confidence=decision.confidence,
        stale=stale,
    )
    if stale or decision.decision != "auto":
        return
    await _send_alone(session, runtime, context, draft, decision)


async def _opted_out(session: AsyncSession, context: DraftContext) -> bool:
    """Read now, not with the context: a STOP may have arrived while the drafter ran."""
    opted_out = await session.scalar(
        select(Contact.opted_out_at.is_not(None)).where(
            Contact.id == context.conversation.contact_id
        )
    )
    return bool(opted_out)


async def _is_stale(session: AsyncSession, context: DraftContext) -> bool:
    """Whether the reply no longer answers the newest unanswered message as it stands."""
    # Re-read the state: a message may have arrived, or a person replied, while we drafted.
    latest = await newest_unanswered_id(session, context.conversation.id)
    # An edit or an unsend while we drafted: the reply answers text that no longer exists.
    now = (
        await session.execute(
            select(Message.edited_at, Message.deleted_at).where(Message.id == context.reply_to.id)
        )
    ).one()
    changed = now.edited_at != context.reply_to.edited_at or now.deleted_at is not None
    return latest != context.reply_to.id or changed


def new_draft(
    result: DraftResult,
    decision: Decision,
    *,
    account_id: int,
    conversation_id: int,
    reply_to_message_id: int,
    error: str | None,
    cost: Decimal | None,
    stale: bool = False,
    kind: str = "dm",
) -> Draft:
    """The draft row for a drafter's result and its decision (a DM's or a comment's)."""
    return Draft(
        account_id=account_id,
        conversation_id=conversation_id,
        reply_to_message_id=reply_to_message_id,
        kind=kind,
        status=DraftStatus.SUPERSEDED if stale else DraftStatus.PENDING,
        decision=decision.decision,
        reasons=decision.reasons,
        text=result.reply,
        intent=result.intent,
        language=result.language,
        confidence=decision.confidence,
        product_ids=list(result.product_ids),
        drafter=result.drafter,
        model=result.model,
        error=error,
        prompt_tokens=None if result.usage is None else result.usage.prompt_tokens,
        completion_tokens=None if result.usage is None else result.usage.completion_tokens,
        llm_cost_usd=cost,
    )


async def _send_alone(
    session: AsyncSession,
    runtime: Runtime,
    context: DraftContext,
    draft: Draft,
    decision: Decision,
) -> None:
    account = await session.get(Account, context.account.id)
    conversation = await session.get(Conversation, context.conversation.id)
    assert account is not None
    assert conversation is not None
    await send_alone(session, runtime, account, conversation, draft, decision)


async def send_alone(
    session: AsyncSession,
    runtime: Runtime,
    account: Account,
    conversation: Conversation,
    draft: Draft,
    decision: Decision,
    *,
    comment_id: str | None = None,
) -> None:
    """Approves the automatic reply (to a DM, or to the comment `comment_id`) and queues
    it, audited; unless it has no room left for the disclosure line: then it waits for a
    person."""
    draft.status = DraftStatus.APPROVED
    draft.decided_at = utc_now()
    if not await _queue_alone(session, runtime, account, conversation, draft, comment_id):
        return
    details = {
        "confidence": decision.confidence,
        "intent": draft.intent,
        "reasons": decision.reasons,
    }
    await record(
        session,
        action="draft.auto_approved",
        actor="bot",
        account_id=account.id,
        entity=draft,
        details=details if comment_id is None else {**details, "comment_id": comment_id},
    )


async def _queue_alone(
    session: AsyncSession,
    runtime: Runtime,
    account: Account,
    conversation: Conversation,
    draft: Draft,
    comment_id: str | None,
) -> bool:
    """Queues the automatic reply; False when, as composed (links shortened...), its last
    message has no room left for the disclosure line: then it waits for a person."""
    try:
        await queue_reply(
            session,
            runtime.settings,
            account=account,
            conversation=conversation,
            text=draft.text,
            draft=draft,
            hold_seconds=Policy.of(account.policy).hold_auto_seconds,
            comment_id=comment_id,
        )
    except NoRoomForDisclosure:
        draft.status, draft.decision, draft.decided_at = DraftStatus.PENDING, "review", None
        draft.reasons = [DISCLOSURE_ROOM_REASON]
        log.info("drafting.no_room_for_disclosure", draft_id=draft.id)
        return False
    return True
