"""The public reply under a comment, posted once its private reply went out.

The send job enqueues `JobKind.PUBLIC_REPLY` when a private reply settles `sent` and its
comment has a public reply `waiting` (app/outbox/private_reply.py); a private reply that
failed, expired or was stopped skips it instead. Posted at most once: the row moves from
`waiting` to `posting` in one conditional statement, committed before the call to Meta.
A job that finds it `posting` knows an earlier attempt died during the call: whether the
reply was posted is unknown, so it is marked `failed` ("outcome unknown"), never posted
again. Never under a Live comment (Meta refuses it; the private reply is the answer there).
In sandbox mode nothing is called: the reply gets a `sandbox-...` id and shows in the outbox.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.permissions import COMMENTS_NEED_RECONNECT
from app.audit.service import record
from app.config import Settings
from app.core.crypto import TokenCipher
from app.core.db import unit_of_work
from app.meta import errors as graph_errors
from app.meta.graph import GraphClient, SendTarget
from app.models import Account, CommentReply
from app.outbox.service import channel_for
from app.worker.runner import PermanentFailure, RetryLater

log = structlog.get_logger("app.comments")

WAITING, POSTING, POSTED, FAILED, SKIPPED = "waiting", "posting", "posted", "failed", "skipped"
OUTCOME_UNKNOWN = (
    "outcome unknown: the worker stopped during the call; look under the comment before "
    "replying by hand"
)


@dataclass(frozen=True, slots=True)
class PostClients:
    """What posting a public reply takes (the worker's runtime has each)."""

    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    graph: GraphClient
    cipher: TokenCipher


async def post(
    clients: PostClients, comment_reply_id: int, *, attempt: int, max_attempts: int
) -> None:
    """Posts the comment's public reply once (the `public_reply` job, app/comments/jobs.py);
    `attempt` of `max_attempts` decides when a Meta outage ends in `failed`."""
    sandbox = channel_for(clients.settings) == "sandbox"
    async with unit_of_work(clients.sessions) as session:
        claimed = await _start_posting(session, comment_reply_id, sandbox=sandbox)
    if claimed is None:
        return
    comment, account = claimed
    structlog.contextvars.bind_contextvars(
        comment_reply_id=comment.id, account_id=account.id, conversation_id=comment.conversation_id
    )
    if sandbox:
        await _finish(clients, comment, f"sandbox-{uuid.uuid4().hex}", channel="sandbox")
        return
    try:
        posted = await clients.graph.reply_to_comment(
            _target(clients, account),
            comment.comment_id,
            comment.public_reply_text or "",
            platform="messenger" if account.platform == "messenger" else "instagram",
        )
    except graph_errors.GraphError as exc:
        await _failed_call(clients, comment, exc, attempt=attempt, max_attempts=max_attempts)
        return
    except ValueError as exc:  # arguments Meta would refuse; retrying cannot help
        await _end(clients, comment, FAILED, f"invalid request: {exc}")
        return
    await _finish(clients, comment, posted.comment_id, channel="graph")


async def _start_posting(
    session: AsyncSession, comment_reply_id: int, *, sandbox: bool
) -> tuple[CommentReply, Account] | None:
    """The comment and its account once the row is ours to post (`posting`, committed
    by the caller before any call); None when there is nothing (more) to do."""
    comment = await session.get(CommentReply, comment_reply_id)
    if comment is None:
        return None
    if comment.public_reply_status == POSTING:
        if await _move(session, comment, POSTING, FAILED, OUTCOME_UNKNOWN):
            await _audit(session, comment, FAILED, OUTCOME_UNKNOWN)
        return None
    if comment.public_reply_status != WAITING:
        return None
    account = await session.get(Account, comment.account_id)
    assert account is not None
    why_not = _why_not(comment, account, sandbox=sandbox)
    if why_not is not None:
        status, reason = why_not
        if await _move(session, comment, WAITING, status, reason):
            await _audit(session, comment, status, reason)
        return None
    if not await _move(session, comment, WAITING, POSTING, None):
        return None  # another worker took it meanwhile
    return comment, account


def _why_not(comment: CommentReply, account: Account, *, sandbox: bool) -> tuple[str, str] | None:
    if not comment.public_reply_text or not comment.public_reply_text.strip():
        return SKIPPED, "no public reply text"
    if comment.live:
        return SKIPPED, "never posted publicly under a live comment"
    if not sandbox and account.status != "active":
        return FAILED, f"account is {account.status}"
    if not sandbox and account.access_token_encrypted is None:
        return FAILED, "account has no access token"
    return None


async def _move(
    session: AsyncSession, comment: CommentReply, before: str, after: str, error: str | None
) -> bool:
    """One conditional statement: `before` -> `after`; False if the row was not `before`."""
    result = await session.execute(
        update(CommentReply)
        .where(CommentReply.id == comment.id, CommentReply.public_reply_status == before)
        .values(public_reply_status=after, public_reply_error=error)
        .execution_options(synchronize_session=False)
    )
    moved = bool(result.rowcount)  # type: ignore[attr-defined]
    if moved:
        comment.public_reply_status, comment.public_reply_error = after, error
    return moved


def _target(clients: PostClients, account: Account) -> SendTarget:
    secret = clients.settings.META_APP_SECRET
    return SendTarget(
        graph_host="instagram" if account.graph_host == "instagram" else "facebook",
        sender_id=account.page_id or account.external_id,
        access_token=clients.cipher.decrypt(account.access_token_encrypted or ""),
        app_secret=None if secret is None else secret.get_secret_value(),
    )


async def _failed_call(
    clients: PostClients,
    comment: CommentReply,
    exc: graph_errors.GraphError,
    *,
    attempt: int,
    max_attempts: int,
) -> None:
    """Transient and surely not posted: back to `waiting` and retried. May have been
    posted (a timeout after the request went out): `failed`, outcome unknown, never
    posted twice. Anything else (hidden or deleted comment, permission, token): `failed`."""
    log.warning(
        "comments.public_reply_failed",
        error_class=type(exc).__name__,
        code=exc.code,
        subcode=exc.subcode,
        fbtrace_id=exc.fbtrace_id,
    )
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, graph_errors.GraphRetryLater) and exc.maybe_delivered:
        await _end(clients, comment, FAILED, f"outcome unknown: {detail}")
        return
    if isinstance(exc, graph_errors.GraphPermissionMissing):
        await _comments_need_reconnect(clients, comment.account_id, detail)
    if isinstance(exc, graph_errors.GraphRetryLater):
        if attempt >= max_attempts:
            await _end(clients, comment, FAILED, f"gave up after {attempt} attempts")
            raise PermanentFailure(detail) from exc
        async with unit_of_work(clients.sessions) as session:
            await _move(session, comment, POSTING, WAITING, detail)
        raise RetryLater(detail, retry_after=exc.retry_after_seconds) from exc
    await _end(clients, comment, FAILED, detail)


async def _comments_need_reconnect(clients: PostClients, account_id: int, detail: str) -> None:
    """Meta refused for want of a permission: the home page asks for a reconnect. DMs go on."""
    async with unit_of_work(clients.sessions) as session:
        account = await session.get(Account, account_id)
        if account is not None:
            account.comments_problem = f"{COMMENTS_NEED_RECONNECT}: {detail}"[:500]


async def _end(clients: PostClients, comment: CommentReply, status: str, reason: str) -> None:
    async with unit_of_work(clients.sessions) as session:
        if await _move(session, comment, POSTING, status, reason):
            await _audit(session, comment, status, reason)


async def _finish(
    clients: PostClients, comment: CommentReply, reply_id: str, *, channel: str
) -> None:
    async with unit_of_work(clients.sessions) as session:
        # Posted whatever the row says now: a slow call outlived its lease and another job
        # marked it "outcome unknown", but Meta did post it.
        await session.execute(
            update(CommentReply)
            .where(CommentReply.id == comment.id)
            .values(public_reply_status=POSTED, public_reply_id=reply_id, public_reply_error=None)
            .execution_options(synchronize_session=False)
        )
        comment.public_reply_id = reply_id
        await _audit(session, comment, POSTED, None)
    log.info("comments.public_reply_posted", channel=channel)


async def _audit(
    session: AsyncSession, comment: CommentReply, status: str, reason: str | None
) -> None:
    details: dict[str, str] = {"comment_id": comment.comment_id}
    if reason is not None:
        details["reason"] = reason
    if status == POSTED and comment.public_reply_id:
        details["public_reply_id"] = comment.public_reply_id
    await record(
        session,
        action=f"comment.public_reply_{status}",
        actor="bot",
        account_id=comment.account_id,
        entity=comment,
        details=details,
    )
