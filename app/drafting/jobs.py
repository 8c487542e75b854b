"""The draft job: draft a reply to a conversation's unanswered messages, decide, and queue it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, time
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.core.clock import utc_now
from app.core.db import reading, unit_of_work
from app.drafting import product_vectors
from app.drafting.assess import ConversationState, assess
from app.drafting.base import DraftingError, DraftRequest, DraftResult
from app.drafting.context import DraftContext, load_context
from app.drafting.cost import BudgetState, daily_budget, estimate_cost
from app.drafting.offline import OfflineDrafter, which_question
from app.drafting.product_vectors import EMBED_EVERY_SECONDS as EMBED_EVERY_SECONDS
from app.drafting.recheck import Recheck, lock_conversation, recheck
from app.links.service import linked_products
from app.models import Account, Conversation, Draft, DraftStatus, Job
from app.ops.metrics import DRAFTS, LLM_BUDGET_FALLBACKS, LLM_COST_USD, LLM_TOKENS
from app.outbox.auto_reply import AUDIT_ACTION, store_auto_reply
from app.outbox.compose import CatalogLink, Outgoing, compose
from app.outbox.disclosure import NoRoomForDisclosure, fits
from app.outbox.service import queue_composed
from app.policy.schemas import Policy
from app.policy.service import DISCLOSURE_ROOM_REASON, Decision, reason_code
from app.runtime import Runtime

log = structlog.get_logger("app.drafting")


async def draft_reply(runtime: Runtime, job: Job) -> None:
    conversation_id = int(job.payload["conversation_id"])
    # The LLM's daily budget counts today's spending (UTC), read with the context.
    now = utc_now()
    midnight = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    spent_since = midnight if runtime.drafter.name == "llm" else None
    # Read without a transaction: what matters is checked again under the conversation's
    # lock before anything is written (`recheck`).
    async with reading(runtime.reader) as session:
        context = await load_context(
            session, conversation_id, indexes=runtime.catalog, spent_since=spent_since
        )
    budget = BudgetState(spent=Decimal(0), budget=None)
    if context is not None and context.spent_today is not None:
        budget = BudgetState(context.spent_today, daily_budget(runtime.settings, context.account))
    if context is not None and runtime.embedder is not None:
        # Embedded outside any transaction; then retrieval again, by words and meaning.
        vector = await runtime.embedder.embed_query(context.request.follower_text)
        if vector is not None:
            async with reading(runtime.reader) as session:
                context = await load_context(
                    session, conversation_id, indexes=runtime.catalog, vector=vector
                )
    if context is None:
        return
    result, error = await run_drafter(runtime, context.request, budget)
    async with unit_of_work(runtime.sessionmaker) as session:
        await _record(
            session, runtime, context, result, error, standby=bool(job.payload.get("standby"))
        )


async def run_drafter(
    runtime: Runtime, request: DraftRequest, budget: BudgetState
) -> tuple[DraftResult, str | None]:
    """The configured drafter; if it fails, or the account's LLM budget for today is used
    up, the offline one writes a suggestion for a human. A message that fits several
    products our code cannot tell apart is answered by code's question (`which_question`)."""
    question = await which_question(request)
    if question is not None:
        return question, None
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
    now: Recheck,
    *,
    standby: bool,
) -> Decision:
    return assess(
        context.request,
        result,
        error,
        policy=Policy.of(context.account.policy),
        now=utc_now(),
        state=ConversationState(
            account_status=now.account_status,
            account_paused=now.account_paused,
            conversation_paused=now.conversation_paused,
            paused_until=now.paused_until,
            standby=standby or now.held,
            opted_out=now.opted_out,
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
    """The draft, decided on the facts as they are now, and, when it goes out alone, its
    reply queued: the draft row is written once, with its final status."""
    cost = count_usage(runtime, result)
    await lock_conversation(session, context.conversation.id)
    now = await recheck(session, context, linked=_linked(context, result))
    if now is None or now.drafted:
        return  # gone, or another run drafted this message while we were drafting
    decision = _decide(context, result, error, now, standby=standby)
    DRAFTS.labels(decision=decision.decision, reason=reason_code(decision)).inc()
    draft = new_draft(
        result,
        decision,
        account_id=context.account.id,
        conversation_id=context.conversation.id,
        reply_to_message_id=context.reply_to.id,
        error=error,
        cost=cost,
        stale=now.stale,
    )
    outgoing = None
    if not now.stale and decision.decision == "auto":
        outgoing = await compose_alone(
            session,
            runtime,
            context.account,
            context.conversation,
            draft,
            catalog=context.catalog,
            told=now.told,
            tokens=now.tokens,
            # With the catalog trusted, the recheck read the conversation's links to every
            # product the reply links (`_linked`): the others are new, and go in with the
            # reply's rows. Otherwise compose finds them (`tokens_for`).
            store_links=context.catalog is None,
        )
    if outgoing is not None:
        # The draft, its reply, the send job and the audit row (one statement on PostgreSQL).
        await store_auto_reply(
            session,
            runtime.settings,
            outgoing,
            account=context.account,
            conversation=context.conversation,
            draft=draft,
            details=_approval_details(draft, decision),
            hold_seconds=Policy.of(context.account.policy).hold_auto_seconds,
        )
    else:
        session.add(draft)
        await session.flush()
    log.info(
        "drafting.decided",
        draft_id=draft.id,
        decision=draft.decision,
        intent=result.intent,
        confidence=decision.confidence,
        stale=now.stale,
    )


def _linked(context: DraftContext, result: DraftResult) -> list[int]:
    """The products whose link the reply gives, if it may go out alone with tracked links:
    their existing tokens are read with the other facts."""
    if context.catalog is None or not context.account.track_links:
        return []
    products = [(p.id, p.url) for p in context.catalog]
    return linked_products(result.reply, products, result.product_ids)


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
    outgoing = await compose_alone(session, runtime, account, conversation, draft)
    if outgoing is not None:
        await queue_alone(
            session, runtime, account, conversation, draft, decision, outgoing, comment_id
        )


async def compose_alone(
    session: AsyncSession,
    runtime: Runtime,
    account: Account,
    conversation: Conversation,
    draft: Draft,
    *,
    catalog: Sequence[CatalogLink] | None = None,
    told: bool | None = None,
    tokens: Mapping[int, str] | None = None,
    store_links: bool = True,
) -> Outgoing | None:
    """The automatic reply as it goes out, the draft approved; None when, as composed
    (links shortened...), its last message has no room left for the disclosure line: then
    the draft waits for a person. What the caller read already (`compose`) is passed on,
    and whether it inserts the new tracked links itself (`store_links=False`)."""
    try:
        outgoing = await compose(
            session,
            runtime.settings,
            account=account,
            conversation=conversation,
            text=draft.text,
            draft=draft,
            user=None,
            products=catalog,
            told=told,
            tokens=tokens,
            store_links=store_links,
        )
    except NoRoomForDisclosure:
        draft.status, draft.decision, draft.decided_at = DraftStatus.PENDING, "review", None
        draft.reasons = [DISCLOSURE_ROOM_REASON]
        log.info("drafting.no_room_for_disclosure", draft_id=draft.id)
        return None
    draft.status = DraftStatus.APPROVED
    draft.decided_at = utc_now()
    return outgoing


async def queue_alone(
    session: AsyncSession,
    runtime: Runtime,
    account: Account,
    conversation: Conversation,
    draft: Draft,
    decision: Decision,
    outgoing: Outgoing,
    comment_id: str | None = None,
) -> None:
    """Queues the approved automatic reply (a flushed draft: its id names the send), audited."""
    await queue_composed(
        session,
        runtime.settings,
        outgoing,
        account=account,
        conversation=conversation,
        draft=draft,
        hold_seconds=Policy.of(account.policy).hold_auto_seconds,
        comment_id=comment_id,
    )
    details = _approval_details(draft, decision)
    await record(
        session,
        action=AUDIT_ACTION,
        actor="bot",
        account_id=account.id,
        entity=draft,
        details=details if comment_id is None else {**details, "comment_id": comment_id},
    )


def _approval_details(draft: Draft, decision: Decision) -> dict[str, Any]:
    """The audit row's details for an automatic reply's approval."""
    return {"confidence": decision.confidence, "intent": draft.intent, "reasons": decision.reasons}


async def embed_catalog(runtime: Runtime, job: Job) -> None:  # noqa: ARG001
    """The periodic job (scheduled only where EMBEDDING_MODEL is set): new and changed
    products embedded (`product_vectors.embed_catalog`)."""
    if runtime.embedder is not None:
        await product_vectors.embed_catalog(runtime.sessionmaker, runtime.embedder)
