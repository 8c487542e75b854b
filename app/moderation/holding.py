"""Undo an approval, cancel a held or queued reply, and the replies about to be sent.

The API and the queue page call these same functions, so the race with the send job
(app/outbox/hold.py) and the audit log are the same for both.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.core.clock import utc_now
from app.errors import Conflict
from app.models import SENT_ALONE, Draft, DraftStatus, User
from app.moderation.schemas import DraftOut
from app.moderation.service import draft_out, get_draft
from app.outbox import hold, private_reply
from app.users.service import visible_account_ids

CANCELLED = "cancelled"
TOO_LATE = "too late to undo: the reply is already sent or on its way"


async def undo(session: AsyncSession, *, user: User, draft_id: int) -> DraftOut:
    """Takes an approved reply back while its hold lasts: the draft waits again, nothing
    is sent. 409 once the send job has it (or the hold is over)."""
    draft = await get_draft(session, user=user, draft_id=draft_id)
    if draft.status == DraftStatus.PENDING:
        raise Conflict("the draft is waiting already; there is nothing to undo")
    if draft.status not in SENT_ALONE:
        raise Conflict(f"the draft is {draft.status}; there is nothing to undo")
    if not await hold.take_back(session, draft.id, now=utc_now()):
        raise Conflict(TOO_LATE)
    approved_by, final = draft.decided_by_user_id, draft.final_text
    await _set(
        session,
        draft,
        status=DraftStatus.PENDING,
        decided_by_user_id=None,
        decided_at=None,
        final_text=None,
    )
    await record(
        session,
        action="draft.approval_undone",
        user=user,
        account_id=draft.account_id,
        entity=draft,
        details={"approved_by_user_id": approved_by, "edited": final not in (None, draft.text)},
    )
    return await draft_out(session, draft)


async def cancel(session: AsyncSession, *, user: User, draft_id: int) -> DraftOut:
    """Stops a draft before Meta has it: a held automatic reply, an approval still held or
    queued, or a draft still waiting for review. It ends `rejected`, reason `cancelled`.
    409 once it is `sending` or `sent` (or was decided otherwise)."""
    draft = await get_draft(session, user=user, draft_id=draft_id)
    if draft.status == DraftStatus.PENDING:
        stopped = await _decide_pending(session, draft)
        if stopped and draft.kind == "comment":
            await private_reply.draft_closed(session, draft.id, "the private reply was cancelled")
    elif draft.status == DraftStatus.APPROVED:
        stopped = await hold.cancel_send(session, draft.id)
    else:
        stopped = False
    if not stopped:
        await session.refresh(draft)
        raise Conflict(f"the draft is {draft.status}; it can no longer be cancelled")
    await _set(
        session,
        draft,
        status=DraftStatus.REJECTED,
        reject_reason=CANCELLED,
        decided_by_user_id=user.id,
        decided_at=utc_now(),
    )
    await record(
        session,
        action="draft.cancelled",
        user=user,
        account_id=draft.account_id,
        entity=draft,
        details={"decision": draft.decision, "intent": draft.intent},
    )
    return await draft_out(session, draft)


async def _decide_pending(session: AsyncSession, draft: Draft) -> bool:
    result = await session.execute(
        update(Draft)
        .where(Draft.id == draft.id, Draft.status == DraftStatus.PENDING)
        .values(status=DraftStatus.REJECTED, updated_at=utc_now())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _set(session: AsyncSession, draft: Draft, **values: object) -> None:
    await session.execute(
        update(Draft)
        .where(Draft.id == draft.id)
        .values(**values, updated_at=utc_now())
        .execution_options(synchronize_session=False)
    )
    await session.refresh(draft)


async def about_to_send(
    session: AsyncSession, *, user: User, account_id: int | None
) -> list[hold.Held]:
    """Automatic replies still held (`hold_auto_seconds`) in the accounts the user sees,
    and the user's own approvals still inside their Undo time (a group or bulk approval,
    or one approved before the page was reloaded, can be taken back from here)."""
    ids = await visible_account_ids(session, user)
    if account_id is not None:
        ids = [account_id] if ids is None or account_id in ids else []
    return await hold.held_replies(
        session, account_ids=ids, automatic=True, now=utc_now(), approved_by=user.id
    )
