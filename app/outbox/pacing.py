"""When a queued message may go: one at a time and in order per follower, and at a pace
per account that stays under Meta's Send API limits.

Both checks run inside the transaction that moves a message to `sending`, before any
call to Meta, and answer by raising `Postpone` (no attempt is used up):

- **Order**: a message waits while an earlier message of the same conversation is still
  queued or being sent. Ids are assigned in the order replies were queued, and a message
  is marked `sending` in its own committed transaction before the call, so two workers
  can never send to one follower at once, and replies arrive in the order they were queued.
- **Pace**: each account has a next free send time (`accounts.next_send_at`), read and
  moved under the account's row lock, so every process shares one pace per account.
  Meta allows 300 text calls per second per Page or Instagram account and limits bursts
  into one thread; `SEND_RATE_PER_ACCOUNT` (default 20 per second, bursts of one second's
  worth) keeps well under it. Accounts do not wait for one another.

When a message settles, the next one to the same follower is woken at once (`wake_next`)
instead of at its next recheck.
"""

from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta

from sqlalchemy import Exists, ScalarSelect, Table, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utc_now
from app.models import IN_FLIGHT, Job, OutboundMessage, SendStatus
from app.worker.kinds import JobKind
from app.worker.runner import Postpone

# How long a message waits before looking again for an earlier one to have gone out.
ORDER_RECHECK_SECONDS = 0.5


@functools.cache
def earlier_unsettled(outbound: Table) -> ScalarSelect[int | None]:
    """A column for a statement that reads `outbound` rows: the id of an earlier message
    to the same follower that is still queued or being sent, or NULL."""
    earlier = outbound.alias("earlier")
    return (
        select(earlier.c.id)
        .where(
            earlier.c.conversation_id == outbound.c.conversation_id,
            earlier.c.id < outbound.c.id,
            earlier.c.status.in_(IN_FLIGHT),
        )
        .limit(1)
        .scalar_subquery()
    )


@functools.cache
def later_waiting(outbound: Table) -> Exists:
    """A column for a statement that settles an `outbound` row: whether a later message
    to the same follower is queued behind it (then `wake_next`). Built once per table:
    setting up an alias's columns cost about 2% of a busy worker's CPU."""
    later = outbound.alias("later")
    return exists().where(
        later.c.conversation_id == outbound.c.conversation_id,
        later.c.id > outbound.c.id,
        later.c.status == SendStatus.QUEUED,
    )


def wait_for_earlier(earlier_unsettled: int | None) -> None:
    """Postpones a message while an earlier message to the same follower is unsettled
    (`earlier_unsettled`, read with the message under its lock)."""
    if earlier_unsettled is not None:
        raise Postpone(
            f"reply {earlier_unsettled} to this follower goes first",
            until=utc_now() + timedelta(seconds=ORDER_RECHECK_SECONDS),
        )


async def take_send_slot(
    session: AsyncSession,
    *,
    outbound_id: int,
    account_id: int,
    next_send_at: datetime | None,
    parts: int,
    rate: float,
) -> datetime:
    """Takes a message's place in the account's pace, or postpones it to about its turn;
    the account's new `next_send_at`, for the caller to write in this transaction.

    A generic cell rate algorithm on one timestamp: `next_send_at` is when the account's
    pace would next be free if every message had gone out evenly; up to one second's worth
    of messages may go at once, the rest at `rate` per second. `next_send_at` must have
    been read under the account's row lock in this transaction: every process takes turns
    here."""
    now = utc_now()
    interval = timedelta(seconds=1 / rate)
    burst = interval * max(0, math.ceil(rate) - 1)
    theoretical = max(next_send_at or now, now)
    allowed_at = theoretical - burst
    if allowed_at > now:
        # Wake near this message's own turn, not all at once at the next free time.
        ahead = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(
                OutboundMessage.account_id == account_id,
                OutboundMessage.status == SendStatus.QUEUED,
                OutboundMessage.id < outbound_id,
            )
        )
        raise Postpone("account send pace", until=allowed_at + interval * int(ahead or 0))
    return theoretical + interval * max(1, parts)


async def wake_next(session: AsyncSession, outbound: OutboundMessage) -> None:
    """`outbound` is settled: the next reply to the same follower, waiting for it, may go."""
    await wake_after(
        session,
        account_id=outbound.account_id,
        conversation_id=outbound.conversation_id,
        outbound_id=outbound.id,
    )


async def wake_after(
    session: AsyncSession, *, account_id: int, conversation_id: int, outbound_id: int
) -> None:
    """`wake_next` by ids."""
    following = list(
        (
            await session.scalars(
                select(OutboundMessage.id).where(
                    OutboundMessage.conversation_id == conversation_id,
                    OutboundMessage.id > outbound_id,
                    OutboundMessage.status == SendStatus.QUEUED,
                )
            )
        ).all()
    )
    if not following:
        return  # the usual case: one reply at a time, nothing waits behind this one
    await session.execute(
        update(Job)
        .where(
            Job.kind == JobKind.SEND_REPLY,
            Job.account_id == account_id,
            Job.status == "queued",
            Job.payload["outbound_id"].as_integer().in_(following),
            Job.run_at > utc_now(),
        )
        .values(run_at=utc_now())
        .execution_options(synchronize_session=False)
    )
