"""The send job: one outbound message to Meta's Send API or the sandbox outbox, at most once.
A row with a `comment_id` is the private reply to that comment (app/outbox/private_reply.py).

Before calling Meta the row is moved to `sending` and committed. A job that finds its row
already `sending` knows an earlier attempt died during the call: whether Meta got it is
unknown, so unless an echo proved it went out, it is parked for a human, never resent.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.config import Settings
from app.conversations.ingest import OUR_METADATA_PREFIX
from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.meta import errors as graph_errors
from app.meta.graph import SendTarget
from app.meta.limits import Usage
from app.models import (
    IN_FLIGHT,
    Account,
    Draft,
    DraftStatus,
    Job,
    Message,
    OutboundMessage,
    SendStatus,
)
from app.ops.metrics import GRAPH_THROTTLED, record_send
from app.outbox import notices, pacing, private_reply, repository
from app.outbox.repository import Sending
from app.outbox.service import HUMAN_AGENT_WINDOW, MESSAGING_WINDOW, channel_for
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
        sending = await _start_sending(session, outbound_id, runtime.settings)
    if sending is None:
        return
    structlog.contextvars.bind_contextvars(
        outbound_id=outbound_id,
        account_id=sending.account_id,
        conversation_id=sending.conversation_id,
        draft_id=sending.draft_id,
    )
    if sending.channel == "sandbox":
        await _finish(runtime, sending, [f"sandbox-{uuid.uuid4().hex}" for _ in sending.parts])
        return
    try:
        await _send_to_graph(runtime, sending)
    except RetryLater as exc:
        if job.attempts < job.max_attempts:
            raise
        # The last attempt: the message must not stay `queued` for ever, holding back the
        # later replies to this follower that wait for it.
        await _fail_send(runtime, sending, "gave_up", f"gave up after {job.attempts} attempts")
        raise PermanentFailure(str(exc)) from exc


async def _start_sending(
    session: AsyncSession, outbound_id: int, settings: Settings
) -> Sending | None:
    """Moves a queued row to `sending` (committed by the caller before the call to Meta),
    or settles or postpones it. On the usual path three statements: the locked read, the
    status and pace writes (one statement on PostgreSQL), nothing else."""
    # Locked for a send to Meta: the account's pace is taken in this transaction.
    graph = channel_for(settings) == "graph"
    sending = await repository.load_for_send(session, outbound_id, lock_account=graph)
    if sending is None or sending.status not in IN_FLIGHT:
        return None  # sent or settled already, taken back (Undo) or cancelled
    now = utc_now()
    queued = sending.status == SendStatus.QUEUED
    if queued and sending.hold_until is not None and sending.hold_until > now:
        # Still held for Undo or Cancel: woken early (wake_next), it waits for its time.
        raise Postpone("held for undo", until=sending.hold_until)
    paused_until = sending.sends_paused_until
    if queued and paused_until is not None and paused_until > now:
        # Meta throttled this account: wait, without using up an attempt.
        raise Postpone("account throttled by Meta", until=paused_until)
    if queued:
        pacing.wait_for_earlier(sending.earlier_unsettled)
    if not queued:
        await _after_interrupted_send(session, sending)
        return None
    messaging_type = await _refused_or_messaging_type(session, sending)
    if messaging_type is None:
        return None
    next_send_at = None
    if sending.channel == "graph":
        if not graph:  # queued while this process sent to the sandbox: lock it now
            sending = replace(
                sending, next_send_at=await repository.lock_account(session, sending.account_id)
            )
        if sending.comment_id is not None:
            await private_reply.take_cap_slot(session, await _row(session, sending))
        next_send_at = await pacing.take_send_slot(
            session,
            outbound_id=sending.id,
            account_id=sending.account_id,
            next_send_at=sending.next_send_at,
            parts=len(sending.parts) - sending.parts_sent,
            rate=settings.SEND_RATE_PER_ACCOUNT,
        )
    await repository.start_sending(
        session, sending, messaging_type=messaging_type, next_send_at=next_send_at, now=now
    )
    return replace(sending, status=SendStatus.SENDING, messaging_type=messaging_type)


async def _after_interrupted_send(session: AsyncSession, sending: Sending) -> None:
    """The row is `sending`: an earlier attempt died during the call to Meta. Sent if an
    echo proves it went out; otherwise parked for a person, never resent."""
    row = await _row(session, sending)
    if await _echo_seen(session, row):
        await _settle(session, row, SendStatus.SENT, None, None)
        return
    await _settle(
        session,
        row,
        SendStatus.FAILED,
        "outcome_unknown",
        "the worker stopped during the send; check the conversation before resending",
    )


async def _refused_or_messaging_type(session: AsyncSession, sending: Sending) -> str | None:
    """The messaging type the send goes with; None when it may not go, and was settled."""
    if sending.comment_id is not None:  # no window: Meta's rules for private replies
        row = await _row(session, sending)
        refusal = await private_reply.refusal(session, row)
        messaging_type = sending.messaging_type
    else:
        messaging_type = _messaging_type(sending) or ""
        refusal = None if messaging_type else (SendStatus.EXPIRED, "outside_window", _OUTSIDE)
    status = sending.account_status
    if refusal is None and status != "active" and sending.channel == "graph":
        refusal = (SendStatus.FAILED, "account_" + status, f"account is {status}")
    if refusal is not None:
        await _settle(session, await _row(session, sending), *refusal)
        return None
    return messaging_type


async def _row(session: AsyncSession, sending: Sending) -> OutboundMessage:
    """The ORM row, for the paths off the usual one (already locked by `load_for_send`)."""
    row = await session.get(OutboundMessage, sending.id)
    assert row is not None
    return row


_OUTSIDE = "more than 24 hours since the follower's last message"


def _messaging_type(sending: Sending) -> str | None:
    """RESPONSE inside the 24-hour window; after it, only a reply a person approved may go,
    tagged HUMAN_AGENT, up to 7 days, on an account with that feature; otherwise None."""
    last_inbound = sending.last_inbound_at
    if last_inbound is None:
        return None
    age = utc_now() - last_inbound
    if age <= MESSAGING_WINDOW:
        return "RESPONSE"
    human = sending.sent_by_user_id is not None
    if human and sending.account_has_human_agent and age <= HUMAN_AGENT_WINDOW:
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


class _SettledElsewhere(Exception):
    """The row was no longer `sending` when this attempt came to settle it."""


async def _finish(runtime: Runtime, sending: Sending, new_ids: list[str]) -> None:
    """The parts `new_ids` went out: the row is `sent`. The usual path is one statement
    on PostgreSQL (five on SQLite), with no read: `sending` is what this attempt read
    under lock before the call, and the UPDATE's `status = 'sending'` is the guard."""
    try:
        async with unit_of_work(runtime.sessionmaker) as session:
            waiting = await repository.settle_sent(session, sending, new_ids, now=utc_now())
            if waiting is None:
                raise _SettledElsewhere  # rolls back what went with the guarded UPDATE
            if waiting:
                await pacing.wake_after(
                    session,
                    account_id=sending.account_id,
                    conversation_id=sending.conversation_id,
                    outbound_id=sending.id,
                )
            if sending.comment_id is not None:
                await private_reply.settled(session, await _row(session, sending))
        log.info("outbox.settled", status=SendStatus.SENT, error_code=None)
        record_send(sending.channel, SendStatus.SENT)
    except _SettledElsewhere:
        # A worker that took the job over while this one was calling Meta parked the row
        # (outcome unknown). It did go out: record it, as the echo would.
        async with unit_of_work(runtime.sessionmaker) as session:
            row = await session.get(OutboundMessage, sending.id, with_for_update=True)
            assert row is not None
            await _record_sent_messages(session, row, new_ids)
            await _settle(session, row, SendStatus.SENT, None, None)


async def _record_sent_messages(
    session: AsyncSession, outbound: OutboundMessage, new_ids: list[str]
) -> None:
    """Off the usual path: adds the parts `new_ids` to the ORM row and the conversation."""
    if not new_ids:
        return
    now = utc_now()
    first = len(outbound.external_ids)
    outbound.external_ids = [*outbound.external_ids, *new_ids]
    outbound.parts_sent = len(outbound.external_ids)
    await repository.store_sent_messages(
        session,
        account_id=outbound.account_id,
        conversation_id=outbound.conversation_id,
        outbound_id=outbound.id,
        by_person=outbound.sent_by_user_id is not None,
        texts=outbound.parts[first : first + len(new_ids)],
        mids=new_ids,
        now=now,
    )
    await session.execute(repository.replied_at(outbound.conversation_id, now))


async def _send_to_graph(runtime: Runtime, sending: Sending) -> None:
    if sending.access_token_encrypted is None:
        await _fail_send(runtime, sending, "no_token", "account has no access token")
        return
    secret = runtime.settings.META_APP_SECRET
    target = SendTarget(
        graph_host="instagram" if sending.graph_host == "instagram" else "facebook",
        sender_id=sending.sender_id,
        access_token=runtime.cipher.decrypt(sending.access_token_encrypted),
        app_secret=None if secret is None else secret.get_secret_value(),
    )
    sent: list[str] = []
    usage = Usage()
    try:
        for part in sending.parts[sending.parts_sent :]:
            if sending.comment_id is not None:  # one part: private_reply.refusal saw to it
                result = await runtime.graph.send_private_reply(
                    target, sending.comment_id, part, metadata=sending.metadata
                )
            else:
                result = await runtime.graph.send_text(
                    target,
                    sending.recipient_id,
                    part,
                    messaging_type=sending.messaging_type,
                    tag="HUMAN_AGENT" if sending.messaging_type == "MESSAGE_TAG" else None,
                    metadata=sending.metadata,
                )
            sent.append(result.message_id)
            usage = result.usage
    except graph_errors.GraphError as exc:
        await _handle_graph_error(runtime, sending, sent, exc)
        return
    except ValueError as exc:  # arguments Meta would refuse; retrying cannot help
        await _fail_send(runtime, sending, "invalid_request", str(exc))
        raise PermanentFailure(str(exc)) from exc
    await _finish(runtime, sending, sent)
    if sent and usage.is_near_limit(NEAR_LIMIT_PERCENT):
        # Calling on near the limit prolongs the block Meta then imposes: slow this account.
        log.warning("outbox.near_rate_limit", percent=usage.max_percent)
        until = utc_now() + timedelta(seconds=NEAR_LIMIT_PAUSE_SECONDS)
        async with unit_of_work(runtime.sessionmaker) as session:
            await pause_account_sends(session, sending.account_id, until=until)


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


async def _fail_send(runtime: Runtime, sending: Sending, code: str, error: str) -> None:
    async with unit_of_work(runtime.sessionmaker) as session:
        row = await session.get(OutboundMessage, sending.id, with_for_update=True)
        assert row is not None
        await _settle(session, row, SendStatus.FAILED, code, error)


async def _handle_graph_error(
    runtime: Runtime, sending: Sending, sent: list[str], exc: graph_errors.GraphError
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
        row = await session.get(OutboundMessage, sending.id, with_for_update=True)
        assert row is not None
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
            stored = await session.get(Account, sending.account_id)
            assert stored is not None
            stored.status, stored.status_reason = "needs_reconnect", detail
            await _settle(session, row, SendStatus.FAILED, "token_invalid", detail)
        elif isinstance(exc, graph_errors.GraphRecipientUnavailable):
            await _settle(session, row, SendStatus.FAILED, "recipient_unavailable", detail)
        elif isinstance(exc, graph_errors.GraphPermissionMissing):
            await _stop_account(session, sending.account_id, exc, detail)
            await _settle(session, row, SendStatus.FAILED, "permission_missing", detail)
        else:
            await _settle(session, row, SendStatus.FAILED, type(exc).__name__, detail)
    if isinstance(exc, graph_errors.GraphRetryLater):
        record_send(sending.channel, _retry_outcome(exc))
    if isinstance(exc, graph_errors.GraphThrottled):
        GRAPH_THROTTLED.labels(account_id=str(sending.account_id)).inc()
        until = utc_now() + timedelta(seconds=exc.retry_after_seconds or THROTTLE_PAUSE_SECONDS)
        async with unit_of_work(runtime.sessionmaker) as session:
            await pause_account_sends(session, sending.account_id, until=until)
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


async def send_notice(runtime: Runtime, job: Job) -> None:
    """A notice to a follower (opted in, thanks for a story mention), as a queued reply."""
    await notices.send_notice(runtime.sessionmaker, runtime.settings, job.payload)
