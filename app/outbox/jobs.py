"""The send job: one outbound message to Meta's Send API or the sandbox outbox, at most once.
A row with a `comment_id` is the private reply to that comment (app/outbox/private_reply.py).

Before calling Meta the row is moved to `sending` and committed. A job that finds its row
already `sending` knows an earlier attempt died during the call: whether Meta got it is
unknown, so unless an echo proved it went out, it is parked for a human, never resent.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.config import Settings
from app.conversations import repository as conversations
from app.conversations.ingest import OUR_METADATA_PREFIX
from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.meta import errors as graph_errors
from app.meta.graph import SendTarget
from app.meta.limits import Usage
from app.models import (
    IN_FLIGHT,
    Account,
    Contact,
    Conversation,
    Draft,
    DraftStatus,
    Job,
    Message,
    OutboundMessage,
    SendStatus,
)
from app.ops.metrics import GRAPH_THROTTLED, record_send
from app.outbox import pacing, private_reply
from app.outbox.notices import send_notice as send_notice
from app.outbox.service import HUMAN_AGENT_WINDOW, MESSAGING_WINDOW
from app.runtime import Runtime
from app.worker.kinds import JobKind
from app.worker.runner import PermanentFailure, Postpone, RetryLater

log = structlog.get_logger("app.outbox")

# Meta throttled an account without saying for how long: leave it alone this long.
THROTTLE_PAUSE_SECONDS = 60.0
# Usage at or above this share of Meta's limit: space the account's next sends out.
NEAR_LIMIT_PERCENT = 90.0
NEAR_LIMIT_PAUSE_SECONDS = 10.0
# After a send that may have reached Meta, how long to wait for its echo before deciding.
ECHO_GRACE_SECONDS = 30.0
# FOR NO KEY UPDATE on PostgreSQL: it still makes senders take turns on an account, but
# lets the foreign-key checks of rows being inserted for that account (messages, drafts:
# FOR KEY SHARE) through. A plain FOR UPDATE made those wait, and closed a deadlock with
# the draft job's conversation lock under a backlog.
_ROW_LOCK = {"key_share": True}


async def send_reply(runtime: Runtime, job: Job) -> None:
    outbound_id = int(job.payload["outbound_id"])
    async with unit_of_work(runtime.sessionmaker) as session:
        claimed = await _start_sending(session, outbound_id, runtime.settings)
        if claimed is None:
            return
        outbound, account, conversation, contact = claimed
    structlog.contextvars.bind_contextvars(
        outbound_id=outbound_id,
        account_id=account.id,
        conversation_id=outbound.conversation_id,
        draft_id=outbound.draft_id,
    )
    if outbound.channel == "sandbox":
        await _finish(runtime, outbound, [f"sandbox-{uuid.uuid4().hex}" for _ in outbound.parts])
        return
    try:
        await _send_to_graph(runtime, outbound, account, contact)
    except RetryLater as exc:
        if job.attempts < job.max_attempts:
            raise
        # The last attempt: the message must not stay `queued` for ever, holding back the
        # later replies to this follower that wait for it.
        await _fail_send(runtime, outbound, "gave_up", f"gave up after {job.attempts} attempts")
        raise PermanentFailure(str(exc)) from exc


async def _start_sending(
    session: AsyncSession, outbound_id: int, settings: Settings
) -> tuple[OutboundMessage, Account, Conversation, Contact] | None:
    outbound = await session.get(OutboundMessage, outbound_id, with_for_update=True)
    if outbound is None or outbound.status not in IN_FLIGHT:
        return None  # sent or settled already, taken back (Undo) or cancelled
    hold_until = outbound.hold_until
    if outbound.status == SendStatus.QUEUED and hold_until is not None and hold_until > utc_now():
        # Still held for Undo or Cancel: woken early (wake_next), it waits for its time.
        raise Postpone("held for undo", until=hold_until)
    # Locked for a send to Meta: the account's pace is taken in this transaction.
    account = await session.get(
        Account,
        outbound.account_id,
        with_for_update=_ROW_LOCK if outbound.channel == "graph" else None,
    )
    assert account is not None
    paused_until = account.sends_paused_until
    if (
        outbound.status == SendStatus.QUEUED
        and paused_until is not None
        and paused_until > utc_now()
    ):
        # Meta throttled this account: wait, without using up an attempt.
        raise Postpone("account throttled by Meta", until=paused_until)
    if outbound.status == SendStatus.QUEUED:
        await pacing.wait_for_earlier(session, outbound)
    conversation = await session.get(Conversation, outbound.conversation_id)
    assert conversation is not None
    contact = await session.get(Contact, conversation.contact_id)
    assert contact is not None
    if outbound.status == SendStatus.SENDING and not await _echo_seen(session, outbound):
        await _settle(
            session,
            outbound,
            SendStatus.FAILED,
            "outcome_unknown",
            "the worker stopped during the send; check the conversation before resending",
        )
        return None
    if outbound.status == SendStatus.SENDING:
        await _settle(session, outbound, SendStatus.SENT, None, None)
        return None
    if outbound.comment_id is not None:  # no window: Meta's rules for private replies
        messaging_type = outbound.messaging_type
        refusal = await private_reply.refusal(session, outbound)
    else:
        messaging_type = _messaging_type(outbound, account, conversation) or ""
        refusal = None if messaging_type else (SendStatus.EXPIRED, "outside_window", _OUTSIDE)
    if refusal is not None:
        await _settle(session, outbound, *refusal)
        return None
    if account.status != "active" and outbound.channel == "graph":
        await _settle(
            session,
            outbound,
            SendStatus.FAILED,
            "account_" + account.status,
            f"account is {account.status}",
        )
        return None
    if outbound.channel == "graph" and outbound.comment_id is not None:
        await private_reply.take_cap_slot(session, outbound, account)
    if outbound.channel == "graph":
        await pacing.take_send_slot(session, outbound, account, rate=settings.SEND_RATE_PER_ACCOUNT)
    outbound.messaging_type = messaging_type
    outbound.status = SendStatus.SENDING
    outbound.attempts += 1
    await _set_draft_status(session, outbound, DraftStatus.SENDING)
    return outbound, account, conversation, contact


_OUTSIDE = "more than 24 hours since the follower's last message"


def _messaging_type(
    outbound: OutboundMessage, account: Account, conversation: Conversation
) -> str | None:
    """RESPONSE inside the 24-hour window; after it, only a reply a person approved may go,
    tagged HUMAN_AGENT, up to 7 days, on an account with that feature; otherwise None."""
    last_inbound = conversation.last_inbound_at
    if last_inbound is None:
        return None
    age = utc_now() - last_inbound
    if age <= MESSAGING_WINDOW:
        return "RESPONSE"
    human = outbound.sent_by_user_id is not None
    if human and account.has_human_agent and age <= HUMAN_AGENT_WINDOW:
        return "MESSAGE_TAG"
    return None


async def _echo_seen(session: AsyncSession, outbound: OutboundMessage) -> bool:
    found = await session.scalar(
        select(Message.id).where(
            Message.account_id == outbound.account_id,
            Message.payload["metadata"].as_string() == f"{OUR_METADATA_PREFIX}{outbound.id}",
        )
    )
    return found is not None


async def _set_draft_status(
    session: AsyncSession, outbound: OutboundMessage, status: DraftStatus
) -> None:
    if outbound.draft_id is not None:
        await session.execute(
            update(Draft)
            .where(Draft.id == outbound.draft_id)
            .values(status=status, updated_at=utc_now())
            .execution_options(synchronize_session=False)
        )


async def _settle(
    session: AsyncSession,
    outbound: OutboundMessage,
    status: SendStatus,
    error_code: str | None,
    error: str | None,
    *,
    outcome: str | None = None,
) -> None:
    """Records the final state of one outbound message (and of its draft). `outcome` is
    the `inboxpilot_sends_total` label when it is not simply the status."""
    outbound.status = status
    outbound.error_code = error_code
    outbound.last_error = error
    if status == SendStatus.SENT:
        outbound.sent_at = utc_now()
    # A settled send leaves its draft in the same state (sent, failed, expired).
    await _set_draft_status(session, outbound, DraftStatus(status.value))
    await pacing.wake_next(session, outbound)
    await record(
        session,
        action=f"outbox.{status}",
        actor="bot",
        account_id=outbound.account_id,
        entity=outbound,
        details={
            **({"error_code": error_code} if error_code else {}),
            **({"comment_id": outbound.comment_id} if outbound.comment_id else {}),
        },
    )
    log.info("outbox.settled", status=status, error_code=error_code)
    if outcome is None:
        outcome = "outcome_unknown" if error_code == "outcome_unknown" else status
    record_send(outbound.channel, outcome)
    if outbound.comment_id is not None:
        await private_reply.settled(session, outbound)


async def _finish(runtime: Runtime, outbound: OutboundMessage, new_ids: list[str]) -> None:
    async with unit_of_work(runtime.sessionmaker) as session:
        row = await session.get(OutboundMessage, outbound.id, with_for_update=True)
        assert row is not None
        row.external_ids = [*row.external_ids, *new_ids]
        row.parts_sent = len(row.external_ids)
        await _record_sent_messages(session, row, new_ids)
        await _settle(session, row, SendStatus.SENT, None, None)


async def _record_sent_messages(
    session: AsyncSession, outbound: OutboundMessage, new_ids: list[str]
) -> None:
    now = utc_now()
    first = len(outbound.external_ids) - len(new_ids)
    author = "moderator" if outbound.sent_by_user_id is not None else "bot"
    for offset, mid in enumerate(new_ids):
        await conversations.insert_message(
            session,
            {
                "account_id": outbound.account_id,
                "conversation_id": outbound.conversation_id,
                "mid": mid,
                "direction": "out",
                "author": author,
                "kind": "text",
                "text": outbound.parts[first + offset],
                "payload": {"metadata": f"{OUR_METADATA_PREFIX}{outbound.id}"},
                "sent_at": now,
                "outbound_id": outbound.id,
            },
        )
    conversation = await session.get(Conversation, outbound.conversation_id)
    if conversation is not None:
        conversation.last_outbound_at = now


async def _send_to_graph(
    runtime: Runtime, outbound: OutboundMessage, account: Account, contact: Contact
) -> None:
    if account.access_token_encrypted is None:
        await _fail_send(runtime, outbound, "no_token", "account has no access token")
        return
    settings = runtime.settings
    target = SendTarget(
        graph_host="instagram" if account.graph_host == "instagram" else "facebook",
        sender_id=account.page_id or account.external_id,
        access_token=runtime.cipher.decrypt(account.access_token_encrypted),
        app_secret=None
        if settings.META_APP_SECRET is None
        else settings.META_APP_SECRET.get_secret_value(),
    )
    sent: list[str] = []
    usage = Usage()
    try:
        for part in outbound.parts[outbound.parts_sent :]:
            if outbound.comment_id is not None:  # one part: private_reply.refusal saw to it
                result = await runtime.graph.send_private_reply(
                    target,
                    outbound.comment_id,
                    part,
                    metadata=f"{OUR_METADATA_PREFIX}{outbound.id}",
                )
                sent.append(result.message_id)
                usage = result.usage
                continue
            result = await runtime.graph.send_text(
                target,
                contact.external_id,
                part,
                messaging_type=outbound.messaging_type,
                tag="HUMAN_AGENT" if outbound.messaging_type == "MESSAGE_TAG" else None,
                metadata=f"{OUR_METADATA_PREFIX}{outbound.id}",
            )
            sent.append(result.message_id)
            usage = result.usage
    except graph_errors.GraphError as exc:
        await _handle_graph_error(runtime, outbound, account, sent, exc)
        return
    except ValueError as exc:  # arguments Meta would refuse; retrying cannot help
        await _fail_send(runtime, outbound, "invalid_request", str(exc))
        raise PermanentFailure(str(exc)) from exc
    await _finish(runtime, outbound, sent)
    if sent and usage.is_near_limit(NEAR_LIMIT_PERCENT):
        # Calling on near the limit prolongs the block Meta then imposes: slow this account.
        log.warning("outbox.near_rate_limit", percent=usage.max_percent)
        until = utc_now() + timedelta(seconds=NEAR_LIMIT_PAUSE_SECONDS)
        async with unit_of_work(runtime.sessionmaker) as session:
            await pause_account_sends(session, account.id, until=until)


async def pause_account_sends(session: AsyncSession, account_id: int, *, until: datetime) -> None:
    """Holds back one account's sends until `until`; other accounts go on at full speed."""
    account = await session.get(Account, account_id, with_for_update=_ROW_LOCK)
    if account is not None and (account.sends_paused_until or until) <= until:
        account.sends_paused_until = until
    await session.execute(
        update(Job)
        .where(
            Job.kind == JobKind.SEND_REPLY,
            Job.account_id == account_id,
            Job.status == "queued",
            Job.run_at < until,
        )
        .values(run_at=until)
        .execution_options(synchronize_session=False)
    )


async def _stop_account(
    session: AsyncSession, account_id: int, exc: graph_errors.GraphError, detail: str
) -> None:
    """A permission Meta withdrew (200-299) needs the influencer to reconnect; a policy block
    or a restricted Page (368, 10) needs a person to look: pause the account's automation."""
    stored = await session.get(Account, account_id)
    assert stored is not None
    if exc.code is not None and 200 <= exc.code <= 299:
        stored.status, stored.status_reason = "needs_reconnect", detail
    else:
        stored.is_paused, stored.status_reason = True, detail


async def _fail_send(runtime: Runtime, outbound: OutboundMessage, code: str, error: str) -> None:
    async with unit_of_work(runtime.sessionmaker) as session:
        row = await session.get(OutboundMessage, outbound.id, with_for_update=True)
        assert row is not None
        await _settle(session, row, SendStatus.FAILED, code, error)


async def _handle_graph_error(
    runtime: Runtime,
    outbound: OutboundMessage,
    account: Account,
    sent: list[str],
    exc: graph_errors.GraphError,
) -> None:
    """Maps Meta's error class to an action: retry later, expire, give up, or reconnect."""
    log.warning(
        "outbox.send_failed",
        error_class=type(exc).__name__,
        code=exc.code,
        subcode=exc.subcode,
        fbtrace_id=exc.fbtrace_id,
    )
    async with unit_of_work(runtime.sessionmaker) as session:
        row = await session.get(OutboundMessage, outbound.id, with_for_update=True)
        assert row is not None
        if sent:
            row.external_ids = [*row.external_ids, *sent]
            row.parts_sent = len(row.external_ids)
            await _record_sent_messages(session, row, sent)
        detail = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, graph_errors.GraphRetryLater) and exc.maybe_delivered:
            # The call may have reached Meta: stay `sending`, so the next attempt resends
            # only if no echo proves it arrived (and parks it for a human otherwise).
            row.last_error = detail
        elif isinstance(exc, graph_errors.GraphRetryLater):
            # Meta answered with an error: nothing went out, so a retry cannot double.
            row.status, row.last_error = SendStatus.QUEUED, detail
            await _set_draft_status(session, row, DraftStatus.APPROVED)
        elif isinstance(exc, graph_errors.GraphAlreadyReplied):
            await _settle(session, row, SendStatus.FAILED, "already_replied", detail)
        elif isinstance(exc, graph_errors.GraphOutsideWindow):
            # For a private reply, Meta's window is the 7 days after the comment.
            code = "outside_window" if row.comment_id is None else "comment_too_old"
            await _settle(session, row, SendStatus.EXPIRED, code, detail)
        elif isinstance(exc, graph_errors.GraphTokenInvalid):
            stored = await session.get(Account, account.id)
            assert stored is not None
            stored.status, stored.status_reason = "needs_reconnect", detail
            await _settle(session, row, SendStatus.FAILED, "token_invalid", detail)
        elif isinstance(exc, graph_errors.GraphRecipientUnavailable):
            await _settle(session, row, SendStatus.FAILED, "recipient_unavailable", detail)
        elif isinstance(exc, graph_errors.GraphPermissionMissing):
            await _stop_account(session, account.id, exc, detail)
            await _settle(session, row, SendStatus.FAILED, "permission_missing", detail)
        else:
            await _settle(session, row, SendStatus.FAILED, type(exc).__name__, detail)
    if isinstance(exc, graph_errors.GraphRetryLater):
        record_send(outbound.channel, _retry_outcome(exc))
    if isinstance(exc, graph_errors.GraphThrottled):
        GRAPH_THROTTLED.labels(account_id=str(account.id)).inc()
        until = utc_now() + timedelta(seconds=exc.retry_after_seconds or THROTTLE_PAUSE_SECONDS)
        async with unit_of_work(runtime.sessionmaker) as session:
            await pause_account_sends(session, account.id, until=until)
        raise Postpone(detail, until=until)
    if isinstance(exc, graph_errors.GraphRetryLater):
        wait = ECHO_GRACE_SECONDS if exc.maybe_delivered else exc.retry_after_seconds
        raise RetryLater(detail, retry_after=wait)
    if row.status == SendStatus.FAILED and row.error_code not in _SETTLED_NOT_BROKEN:
        raise PermanentFailure(detail)


# Failures that are the follower's or Meta's answer, not a broken job.
_SETTLED_NOT_BROKEN = frozenset({"recipient_unavailable", "token_invalid", "already_replied"})


async def confirm_send(runtime: Runtime, job: Job) -> None:
    """An echo carrying our metadata arrived for a reply parked as `outcome_unknown`."""
    async with unit_of_work(runtime.sessionmaker) as session:
        row = await session.get(
            OutboundMessage, int(job.payload["outbound_id"]), with_for_update=True
        )
        if row is None or (row.status, row.error_code) != (SendStatus.FAILED, "outcome_unknown"):
            return
        mid = job.payload.get("mid")
        if isinstance(mid, str) and mid not in row.external_ids:
            row.external_ids = [*row.external_ids, mid]
            row.parts_sent = min(len(row.parts), len(row.external_ids))
        await _settle(session, row, SendStatus.SENT, None, None, outcome="confirmed")


def _retry_outcome(exc: graph_errors.GraphRetryLater) -> str:
    if isinstance(exc, graph_errors.GraphThrottled):
        return "throttled"
    return "unconfirmed" if exc.maybe_delivered else "retry"
