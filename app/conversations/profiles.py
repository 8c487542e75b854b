"""The follower's name, username and picture, read from Meta's user profile API.

A separate job, enqueued when a contact first writes and again when the profile is a week
old, so a slow or failing profile call never holds up a reply. Failures are recorded on
the contact (`profile_error`) and retried rarely: consent missing, a phone-number account
or a dead token do not change by asking again a minute later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from pydantic import SecretStr
from sqlalchemy import Row, Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.core.clock import utc_now
from app.core.crypto import TokenCipher
from app.core.db import each_on_its_own, reading
from app.meta import errors as graph_errors
from app.meta.graph import GraphClient, SendTarget, UserProfile
from app.models import Account, Contact, Job
from app.worker.kinds import JobKind
from app.worker.queue import PendingJobs
from app.worker.runner import RetryLater

log = structlog.get_logger("app.conversations")

PROFILE_MAX_AGE = timedelta(days=7)
# After a failure: consent may come with the follower's next message, but not every minute.
PROFILE_RETRY_AFTER_ERROR = timedelta(days=1)
PROFILE_JOB_ATTEMPTS = 3
# Below drafts (5) and sends (1): under a backlog, a follower's name can wait, a reply
# cannot (the load suite saw profile jobs take half the worker slots without this).
PROFILE_PRIORITY = 9
# The reply goes first: by then its draft (after the debounce) and usually its send are
# done, so the profile call takes neither a worker slot nor Graph budget from them.
PROFILE_DELAY = timedelta(seconds=10)
_PHONE_NUMBER_ACCOUNT = 2018218
_CONSENT_MISSING = 230


def profile_due(contact: Contact, now: datetime) -> bool:
    """`profile_fetched_at` is the last time we asked Meta, whether it answered or not."""
    return _due(contact.profile_fetched_at, contact.profile_error, now)


def _due(fetched_at: datetime | None, error: str | None, now: datetime) -> bool:
    if fetched_at is None:
        return True
    wait = PROFILE_RETRY_AFTER_ERROR if error else PROFILE_MAX_AGE
    return now - fetched_at >= wait


def refresh_profile_if_due(
    jobs: PendingJobs, settings: Settings, *, account: Account, contact: Contact
) -> None:
    """Queues the profile job with the unit of work's jobs (at most one waiting per
    contact), only when the contact's profile is due: a known follower's next messages
    queue nothing."""
    if settings.sandbox or not profile_due(contact, utc_now()):
        return  # sandbox mode talks to no Meta API
    jobs.add(
        JobKind.FETCH_PROFILE,
        {"contact_id": contact.id},
        run_at=utc_now() + timedelta(seconds=settings.REPLY_DEBOUNCE_SECONDS) + PROFILE_DELAY,
        dedupe_key=f"profile:{contact.id}",
        account_id=account.id,
        max_attempts=PROFILE_JOB_ATTEMPTS,
        priority=PROFILE_PRIORITY,
    )


@dataclass(frozen=True, slots=True)
class ProfileClients:
    """What reading a profile takes: the database (its reader's sessions: the read and the
    one UPDATE need no transaction, `app.core.db.create_reader`), the Graph API client,
    the cipher of the stored tokens and the app secret (the worker's runtime has each)."""

    reader: async_sessionmaker[AsyncSession]
    graph: GraphClient
    cipher: TokenCipher
    app_secret: SecretStr | None


async def fetch_profile(clients: ProfileClients, job: Job) -> None:
    """The profile job's body (`app.conversations.jobs.fetch_profile`)."""
    contact_id = int(job.payload["contact_id"])
    async with reading(clients.reader) as session:
        # One statement: the contact's profile state and the account's credentials.
        found = (await session.execute(_TARGET, {"contact_id": contact_id})).first()
    if found is None or not _due(found.profile_fetched_at, found.profile_error, utc_now()):
        return  # erased meanwhile, or another run fetched it
    profile: UserProfile | None = None
    try:
        profile = await _read_profile(clients, found)
        error = None
    except graph_errors.GraphRetryLater as exc:
        if job.attempts < job.max_attempts:
            raise RetryLater(f"profile: {exc}", retry_after=exc.retry_after_seconds) from exc
        error = describe_error(exc)
    except (graph_errors.GraphError, ValueError) as exc:
        error = describe_error(exc)
    async with each_on_its_own(clients.reader) as session:  # one statement
        await _save(session, contact_id, profile, error)


_CONTACTS = cast(Table, Contact.__table__)
_ACCOUNTS = cast(Table, Account.__table__)
_TARGET = (
    select(
        _CONTACTS.c.external_id.label("user_id"),
        _CONTACTS.c.profile_fetched_at,
        _CONTACTS.c.profile_error,
        _ACCOUNTS.c.platform,
        _ACCOUNTS.c.graph_host,
        _ACCOUNTS.c.page_id,
        _ACCOUNTS.c.external_id,
        _ACCOUNTS.c.access_token_encrypted,
    )
    .join(_ACCOUNTS, _ACCOUNTS.c.id == _CONTACTS.c.account_id)
    .where(_CONTACTS.c.id == bindparam("contact_id"))
)


async def _read_profile(clients: ProfileClients, found: Row[*tuple[Any, ...]]) -> UserProfile:
    if found.access_token_encrypted is None:
        raise ValueError("account has no access token")
    secret = clients.app_secret
    target = SendTarget(
        graph_host="instagram" if found.graph_host == "instagram" else "facebook",
        sender_id=found.page_id or found.external_id,
        access_token=clients.cipher.decrypt(found.access_token_encrypted),
        app_secret=None if secret is None else secret.get_secret_value(),
    )
    return await clients.graph.get_user_profile(
        target,
        found.user_id,
        platform="instagram" if found.platform == "instagram" else "messenger",
    )


def _kept_unless(name: str, column: Any) -> Any:
    """The bound value `name`, or the column's own value when it is None."""
    return func.coalesce(bindparam(name, type_=column.type), column)


# `_save`'s statement, built once.
_SAVE = (
    update(_CONTACTS)
    .where(_CONTACTS.c.id == bindparam("contact_id"))
    .values(
        profile_fetched_at=bindparam("fetched_at", type_=_CONTACTS.c.profile_fetched_at.type),
        profile_error=bindparam("error", type_=_CONTACTS.c.profile_error.type),
        profile_pic_url=bindparam("pic", type_=_CONTACTS.c.profile_pic_url.type),
        name=_kept_unless("name", _CONTACTS.c.name),
        username=_kept_unless("username", _CONTACTS.c.username),
    )
)


async def _save(
    session: AsyncSession, contact_id: int, profile: UserProfile | None, error: str | None
) -> None:
    """One UPDATE (a contact erased meanwhile matches nothing)."""
    await session.execute(
        _SAVE,
        {
            "contact_id": contact_id,
            "fetched_at": utc_now(),
            "error": error,
            # Picture URLs expire within days: a failed refresh drops the old one rather
            # than keep showing a link that no longer works. Name and username stay.
            "pic": None if profile is None else profile.profile_pic_url,
            "name": None if profile is None else profile.name or None,
            "username": None if profile is None else profile.username or None,
        },
    )
    if profile is not None:
        log.info("profile.fetched", contact_id=contact_id)
    else:
        log.info("profile.unavailable", contact_id=contact_id, error=error)


def describe_error(exc: Exception) -> str:
    """What `profile_error` says: a short reason first, then Meta's message (≤ 200 chars)."""
    if not isinstance(exc, graph_errors.GraphError):
        reason = "not_requested"
    elif _PHONE_NUMBER_ACCOUNT in (exc.code, exc.subcode):
        reason = "phone_number_account"
    elif exc.code == _CONSENT_MISSING or "consent" in exc.message.lower():
        reason = "consent_missing"
    elif isinstance(exc, graph_errors.GraphTokenInvalid):
        reason = "token_invalid"
    elif isinstance(exc, graph_errors.GraphRecipientUnavailable):
        reason = "user_unavailable"
    elif isinstance(exc, graph_errors.GraphPermissionMissing):
        reason = "permission_missing"
    elif isinstance(exc, graph_errors.GraphRetryLater):
        reason = "temporarily_unavailable"
    else:
        reason = "failed"
    message = exc.message if isinstance(exc, graph_errors.GraphError) else str(exc)
    return f"{reason}: {message}"[:200]
