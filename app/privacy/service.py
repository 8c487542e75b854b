"""Meta's callbacks about the influencer who used our app: deauthorization and data deletion.

Both find the influencer's accounts by `accounts.meta_user_id`. Deauthorization only
disconnects them. A deletion request disconnects them at once, in the request's
transaction, and leaves the erasure to a job (app/privacy/jobs.py), so Meta gets its
answer immediately however much data there is. docs/privacy.md says what is erased.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.config import Settings
from app.core.clock import utc_now
from app.core.crypto import derive_key
from app.core.db import lock_for_transaction
from app.errors import NotFound
from app.models import Account, DeletionRequest
from app.privacy import repository
from app.worker.kinds import JobKind
from app.worker.queue import enqueue

log = structlog.get_logger("app.privacy")

# An external id no webhook can carry: events for an erased account find no account.
TOMBSTONE_PREFIX = "deleted:"
_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what secrets.token_urlsafe makes

ERASED_LABELS = {
    "accounts": "connected accounts: access tokens, name, username, picture, persona",
    "contacts": "followers' profiles",
    "conversations": "conversations",
    "messages": "messages",
    "drafts": "drafted replies",
    "outbound_messages": "sent or queued replies",
    "inbox_events": "raw webhook events received from Meta",
    "jobs": "waiting background jobs",
    "audit_entries_anonymised": "audit log entries whose details were removed",
}

KEPT_REASONS = (
    "This page: that a deletion was requested and done, and when. It holds no personal "
    "data; your Meta user id is stored only as a keyed hash.",
    "The audit log's entries for the erased accounts (what was done, by whom, when), "
    "with their details removed, as the operator's record of what the service did.",
    "An empty record of each erased account (renamed 'Deleted account N', without token, "
    "Meta id or profile), so that those audit entries keep pointing at something.",
    "Each account's catalog of brand cooperations and its reply rules: entered by the "
    "service's operator, not obtained from Meta and not personal data.",
)

# Audit actions the erasure writes itself, with ids and counts only.
ERASURE_ACTIONS = ("privacy.account_erased", "privacy.deletion_completed")

STATUS_LABELS = {"received": "Received", "in_progress": "In progress", "completed": "Completed"}


def meta_user_hash(settings: Settings, meta_user_id: str) -> str:
    """A keyed hash: equal requests of one person can be linked, the id not recovered."""
    key = derive_key(settings.secret_key, "meta-user-hash")
    return hmac.new(key, meta_user_id.encode(), hashlib.sha256).hexdigest()


def status_url(settings: Settings, confirmation_code: str) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}/meta/data-deletion/{confirmation_code}"


def disconnect(account: Account, *, status: str, reason: str) -> None:
    """No token, no sending: the outbox refuses to send for an account that is not active;
    its queue and history stay (a reconnection picks them up again)."""
    account.access_token_encrypted = None
    account.token_expires_at = None
    account.status = status
    account.status_reason = reason


async def deauthorize(session: AsyncSession, *, meta_user_id: str) -> int:
    """The Meta user removed our app: disconnects every account they connected."""
    accounts = await repository.accounts_of_meta_user(session, meta_user_id)
    for account in accounts:
        disconnect(account, status="disconnected", reason="the Meta user removed the app")
        await record(session, action="account.deauthorized", actor="system", account_id=account.id)
    log.info("privacy.deauthorized", accounts=len(accounts))
    return len(accounts)


async def request_deletion(
    session: AsyncSession, settings: Settings, *, meta_user_id: str
) -> DeletionRequest:
    """Disconnects the person's accounts now and queues the erasure of their data.

    Meta (or the person) may send the request again: while an earlier request of the same
    Meta user is not finished, or once it is and nothing of theirs was connected since,
    the answer is that request again (same confirmation code, no second job)."""
    user_hash = meta_user_hash(settings, meta_user_id)
    # Two requests of one person at the same moment: the second waits for the first to
    # commit, then finds it and answers with it.
    await lock_for_transaction(session, f"deletion-request:{user_hash}")
    accounts = await repository.accounts_of_meta_user(session, meta_user_id)
    earlier = await repository.latest_deletion_request(session, user_hash)
    if earlier is not None and (earlier.status != "completed" or not accounts):
        log.info("privacy.deletion_repeated", deletion_request_id=earlier.id)
        return earlier
    for account in accounts:
        disconnect(account, status="disconnected", reason="data deletion requested")
    request = DeletionRequest(
        confirmation_code=secrets.token_urlsafe(24),
        meta_user_hash=user_hash,
        status="received",
        summary={"accounts": len(accounts), "erased": {}},
    )
    session.add(request)
    await session.flush()
    await record(
        session,
        action="privacy.deletion_requested",
        actor="system",
        entity=request,
        details={"accounts": len(accounts)},
    )
    # The account ids travel in the job, so a re-run finds them after meta_user_id is gone.
    await enqueue(
        session,
        JobKind.ERASE_META_USER,
        {"deletion_request_id": request.id, "account_ids": [a.id for a in accounts]},
        max_attempts=20,
    )
    log.info("privacy.deletion_requested", deletion_request_id=request.id, accounts=len(accounts))
    return request


async def get_deletion_request(session: AsyncSession, code: str) -> DeletionRequest:
    # Codes are ours (token_urlsafe): anything else is unknown without asking the database,
    # which would fail on a NUL character (PostgreSQL) instead of finding nothing.
    known_shape = _CODE.fullmatch(code) is not None
    found = await repository.deletion_request_by_code(session, code) if known_shape else None
    if found is None:
        raise NotFound("unknown confirmation code")
    return found


async def mark_in_progress(session: AsyncSession, request_id: int) -> None:
    request = await session.get(DeletionRequest, request_id)
    if request is not None and request.status == "received":
        request.status = "in_progress"
        request.summary = {**request.summary, "started_at": utc_now().isoformat()}


async def add_erased(session: AsyncSession, request_id: int, key: str, count: int) -> None:
    """Counted in the transaction that deletes, so a crash never double-counts."""
    request = await session.get(DeletionRequest, request_id)
    if request is None or count == 0:
        return
    erased = dict(request.summary.get("erased", {}))
    erased[key] = int(erased.get(key, 0)) + count
    request.summary = {**request.summary, "erased": erased}


async def anonymise_account(session: AsyncSession, account_id: int) -> str | None:
    """Erases the account's token and profile (again, on a re-run: harmless); returns the
    external id to find the rest by, or None when the account is gone."""
    account = await session.get(Account, account_id)
    if account is None:
        return None
    disconnect(account, status="deleted", reason="erased on a data deletion request")
    account.name = f"Deleted account {account.id}"
    account.username = None
    account.picture_url = None
    account.persona = ""
    account.meta_user_id = None
    account.token_refreshed_at = None
    account.token_checked_at = None
    return account.external_id


async def tombstone_account(session: AsyncSession, request_id: int, account_id: int) -> None:
    """The last step for an account: its Meta ids go, so nothing can be linked to it again."""
    account = await session.get(Account, account_id)
    if account is None or account.external_id.startswith(TOMBSTONE_PREFIX):
        return
    account.external_id = f"{TOMBSTONE_PREFIX}{account.id}"
    account.page_id = None
    await add_erased(session, request_id, "accounts", 1)
    await record(
        session,
        action="privacy.account_erased",
        actor="system",
        account_id=account.id,
        details={"deletion_request_id": request_id},
    )


async def mark_completed(session: AsyncSession, request_id: int) -> None:
    request = await session.get(DeletionRequest, request_id)
    if request is None or request.status == "completed":
        return
    request.status = "completed"
    request.completed_at = utc_now()
    await record(
        session,
        action="privacy.deletion_completed",
        actor="system",
        entity=request,
        details={"erased": request.summary.get("erased", {})},
    )
    log.info("privacy.deletion_completed", deletion_request_id=request.id)


def status_view(request: DeletionRequest) -> dict[str, Any]:
    """What the status page shows: no personal data, only the state, dates and counts."""
    erased = request.summary.get("erased", {})
    started = request.summary.get("started_at")
    return {
        "code": request.confirmation_code,
        "status": request.status,
        "status_label": STATUS_LABELS.get(request.status, request.status),
        "received_at": request.created_at,
        "started_at": datetime.fromisoformat(started) if isinstance(started, str) else None,
        "completed_at": request.completed_at,
        "accounts": int(request.summary.get("accounts", 0)),
        "erased": [(label, int(erased.get(key, 0))) for key, label in ERASED_LABELS.items()],
        "kept": KEPT_REASONS,
    }
