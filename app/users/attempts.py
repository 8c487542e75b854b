"""How many password attempts a client gets: the sign-in slowdown and the per-address limit.

Three counters, each a row in `attempt_counters` (see repository.count_attempt):

- per client address, on the sign-in, password-change and invitation-accept forms, whatever
  email is tried: one address cannot flood the service with random emails;
- per email and address: five wrong passwords, then a wait of 30 s doubling to 15 min;
- per email, from addresses that never signed in as that user: ten, then the same waits.
  An address the user signed in from before is exempt from this one, so nobody can lock
  the admin out by hammering their email from elsewhere.

Every attempt is counted before its password is checked and handed back when it was right,
so a concurrent burst gets exactly the free allowance through, and no hash is computed for
an attempt that must wait. Unknown emails are counted like known ones (their answers must
not tell which emails exist), and only counted: no audit row each.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import activity_since
from app.core.clock import utc_now
from app.errors import AppError
from app.users import repository

# At most this many password attempts of one process are past the door at a time (their
# lookups, counters and hash); the others wait before it, holding no database connection
# and costing the event loop nothing. The hash pool checks a few passwords at a time
# anyway, so the door costs sign-ins no speed, but a flood's first burst can no longer
# take the connection pool from Meta's webhooks and the pages.
IN_FLIGHT = 4
_doors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def door() -> asyncio.Semaphore:
    """The password attempts' door of the running event loop (one per loop, so tests that
    run several loops in one process each get their own)."""
    loop = asyncio.get_running_loop()
    gate = _doors.get(loop)
    if gate is None:
        gate = _doors[loop] = asyncio.Semaphore(IN_FLIGHT)
    return gate


class AttemptKind(StrEnum):
    ADDRESS = "address"
    EMAIL_ADDRESS = "email_address"
    EMAIL = "email"


FREE_ATTEMPTS = {AttemptKind.ADDRESS: 20, AttemptKind.EMAIL_ADDRESS: 5, AttemptKind.EMAIL: 10}
# A run of attempts counts within this window; a wait once over, the run ends after it too.
WINDOW = timedelta(minutes=15)
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
# The waits from the last free attempt on: 30 s, 60 s, ... up to MAX_DELAY.
DELAYS = [min(FIRST_DELAY * (1 << n), MAX_DELAY) for n in range(6)]
# An address that signed in as the user within this time is theirs.
KNOWN_ADDRESS_FOR = timedelta(days=90)
# Counters nobody touched for this long are purged by the daily retention job.
KEEP_FOR = timedelta(days=1)


@dataclass(frozen=True)
class AttemptKey:
    kind: AttemptKind
    key_hash: str

    @classmethod
    def of(cls, kind: AttemptKind, *parts: str) -> AttemptKey:
        digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass"))
        return cls(kind, digest.hexdigest())


class TooManyAttempts(AppError):
    status_code = 429

    def __init__(self, kind: AttemptKind, retry_at: datetime) -> None:
        who = "from this address" if kind == AttemptKind.ADDRESS else "for this email"
        super().__init__(f"too many failed attempts {who}; wait before trying again")
        self.kind = kind
        self.retry_at = retry_at


def address_key(address: str) -> AttemptKey:
    return AttemptKey.of(AttemptKind.ADDRESS, address)


async def password_keys(
    session: AsyncSession, *, email: str, address: str, user_id: int | None
) -> list[AttemptKey]:
    """The counters an attempt at this email's password from this address counts against."""
    keys = [address_key(address), AttemptKey.of(AttemptKind.EMAIL_ADDRESS, email, address)]
    if user_id is None or not await is_known_address(session, user_id=user_id, address=address):
        keys.append(AttemptKey.of(AttemptKind.EMAIL, email))
    return keys


async def is_known_address(session: AsyncSession, *, user_id: int, address: str) -> bool:
    count, _latest = await activity_since(
        session,
        action="user.signed_in",
        since=utc_now() - KNOWN_ADDRESS_FOR,
        user_id=user_id,
        details={"address": address},
    )
    return count > 0


async def reserve(session: AsyncSession, keys: Sequence[AttemptKey]) -> None:
    """Counts one attempt against every key, or raises TooManyAttempts (counting nothing)
    when one of them must wait. Commit before the slow check, so the count is seen."""
    now = utc_now()
    async with session.begin_nested():
        for key in keys:
            counted = await repository.count_attempt(
                session,
                kind=key.kind,
                key_hash=key.key_hash,
                now=now,
                free=FREE_ATTEMPTS[key.kind],
                window=WINDOW,
                delays=DELAYS,
            )
            if not counted:
                retry_at = await repository.attempt_retry_at(
                    session, kind=key.kind, key_hash=key.key_hash
                )
                raise TooManyAttempts(key.kind, retry_at or now)


async def succeeded(session: AsyncSession, keys: Sequence[AttemptKey]) -> None:
    """The attempt was right: its email and address start over, the other counters get
    the attempt back."""
    for key in keys:
        if key.kind == AttemptKind.EMAIL_ADDRESS:
            await repository.reset_attempts(session, kind=key.kind, key_hash=key.key_hash)
        else:
            await repository.refund_attempt(
                session, kind=key.kind, key_hash=key.key_hash, free=FREE_ATTEMPTS[key.kind]
            )


async def purge(session: AsyncSession) -> int:
    """Drops counters nobody touched for KEEP_FOR (their waits are long over)."""
    return await repository.purge_attempts(session, unused_since=utc_now() - KEEP_FOR)
