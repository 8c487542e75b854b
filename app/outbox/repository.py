"""The send job's SQL on its hot path: one locked read before the call to Meta, one write
of the outcome after it, as narrow Core statements (no ORM loads).

On PostgreSQL the writes that belong together go out as one statement (the others as
data-modifying CTEs of the first one: `together_statements`); SQLite, which has no such
CTEs, runs them one after another in the same transaction. Either way they commit or
roll back as one, which is all the send job relies on.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Executable,
    Integer,
    Result,
    Row,
    Select,
    Table,
    UpdateBase,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.ingest import OUR_METADATA_PREFIX
from app.core.db import dialect_insert_for, dialect_name, with_rows
from app.models import (
    Account,
    AuditEntry,
    Contact,
    Conversation,
    Draft,
    DraftStatus,
    Message,
    OutboundMessage,
    SendStatus,
)
from app.outbox import pacing

OUTBOUND = cast(Table, OutboundMessage.__table__)
ACCOUNTS = cast(Table, Account.__table__)
CONVERSATIONS = cast(Table, Conversation.__table__)
CONTACTS = cast(Table, Contact.__table__)
DRAFTS = cast(Table, Draft.__table__)
MESSAGES = cast(Table, Message.__table__)
AUDIT = cast(Table, AuditEntry.__table__)


@dataclass(frozen=True, slots=True)
class Sending:
    """One outbound message with what its send needs from its account, conversation and
    contact, read in one statement under the outbound row's lock (and the account's)."""

    id: int
    account_id: int
    conversation_id: int
    draft_id: int | None
    channel: str
    status: SendStatus
    parts: list[Any]
    parts_sent: int
    external_ids: list[Any]
    messaging_type: str
    hold_until: datetime | None
    sent_by_user_id: int | None
    comment_id: str | None
    account_status: str
    account_has_human_agent: bool
    sends_paused_until: datetime | None
    next_send_at: datetime | None
    access_token_encrypted: str | None
    graph_host: str
    sender_id: str  # the Page id, or the Instagram account id
    last_inbound_at: datetime | None
    recipient_id: str  # the contact's PSID or IGSID
    earlier_unsettled: int | None  # an earlier reply to this follower not yet settled

    @property
    def metadata(self) -> str:
        """What Meta's echo of this message carries back, so we know it as ours."""
        return f"{OUR_METADATA_PREFIX}{self.id}"


# The columns `Sending` is read from, labelled with its field names.
_SENDING_COLUMNS = (
    *(
        OUTBOUND.c[name]
        for name in (
            "id",
            "account_id",
            "conversation_id",
            "draft_id",
            "channel",
            "status",
            "parts",
            "parts_sent",
            "external_ids",
            "messaging_type",
            "hold_until",
            "sent_by_user_id",
            "comment_id",
        )
    ),
    ACCOUNTS.c.status.label("account_status"),
    ACCOUNTS.c.has_human_agent.label("account_has_human_agent"),
    ACCOUNTS.c.sends_paused_until,
    ACCOUNTS.c.next_send_at,
    ACCOUNTS.c.access_token_encrypted,
    ACCOUNTS.c.graph_host,
    func.coalesce(func.nullif(ACCOUNTS.c.page_id, ""), ACCOUNTS.c.external_id).label("sender_id"),
    CONVERSATIONS.c.last_inbound_at,
    CONTACTS.c.external_id.label("recipient_id"),
)


async def load_for_send(
    session: AsyncSession, outbound_id: int, *, lock_account: bool
) -> Sending | None:
    """The outbound row locked FOR UPDATE, with its account (FOR NO KEY UPDATE when
    `lock_account`: a send to Meta takes the account's pace), conversation and contact.

    One statement. PostgreSQL locks the rows in the order the clauses name them, the
    outbound row first, as when they were two statements; even taken the other way round
    no cycle could close: the code that locks an account and then outbound rows
    (`accounts.linking.requeue_failed_sends`) locks only `failed` ones, never the
    `queued` or `sending` row read here. SQLite has no row locks; its BEGIN IMMEDIATE
    already serialises every writer."""
    statement = _load_statement(lock_account=lock_account)
    row = (await session.execute(statement, {"outbound_id": outbound_id})).mappings().one_or_none()
    return None if row is None else Sending(**row)


@functools.cache
def _load_statement(*, lock_account: bool) -> Select[Any]:
    """`load_for_send`'s statement, built once per variant (every send reads it)."""
    statement = (
        select(*_SENDING_COLUMNS, pacing.earlier_unsettled(OUTBOUND).label("earlier_unsettled"))
        .join(ACCOUNTS, ACCOUNTS.c.id == OUTBOUND.c.account_id)
        .join(CONVERSATIONS, CONVERSATIONS.c.id == OUTBOUND.c.conversation_id)
        .join(CONTACTS, CONTACTS.c.id == CONVERSATIONS.c.contact_id)
        .where(OUTBOUND.c.id == bindparam("outbound_id", type_=Integer))
        .with_for_update(of=OUTBOUND)
    )
    if lock_account:
        # FOR NO KEY UPDATE (see jobs._ROW_LOCK); SQLAlchemy renders one locking clause.
        statement = statement.suffix_with("FOR NO KEY UPDATE OF accounts", dialect="postgresql")
    return statement


async def lock_account(session: AsyncSession, account_id: int) -> datetime | None:
    """Takes the account's row lock when `load_for_send` did not (a graph row queued while
    the process sent to the sandbox); its `next_send_at` as it stands under the lock."""
    return await session.scalar(
        select(ACCOUNTS.c.next_send_at)
        .where(ACCOUNTS.c.id == account_id)
        .with_for_update(key_share=True)
    )


def together_statements(
    dialect: str, first: UpdateBase, *then: UpdateBase
) -> tuple[Executable, ...]:
    """The statements that run `first` (whose rows the caller reads) and `then` in one
    transaction, in order. On PostgreSQL one statement: `then` become data-modifying CTEs
    of `first`. Each runs exactly once, on the statement's snapshot, so none may depend
    on another's effects; PostgreSQL does not promise their order (today: `first`, then
    the CTEs from last to first, hence `reversed`), so the row locks they take must not
    need one: see the callers. On SQLite `first`, then the others."""
    if dialect == "postgresql" and then:
        ctes = [statement.cte(f"w{n}") for n, statement in enumerate(then)]
        return (first.add_cte(*reversed(ctes)),)
    return (cast(Executable, first), *then)


def _rows(result: Result[Any]) -> list[Row[Any]]:
    """Its rows, fetched at once (none for a statement without RETURNING)."""
    return list(result) if cast(CursorResult[Any], result).returns_rows else []


async def start_sending(
    session: AsyncSession,
    sending: Sending,
    *,
    messaging_type: str,
    next_send_at: datetime | None,
    now: datetime,
) -> None:
    """Moves the row (and its draft) to `sending`, one attempt more, and writes the
    account's pace when the send took a place in it (`next_send_at`). The outbound and
    account rows are locked already (`load_for_send`); the one lock taken here is the
    draft's. On PostgreSQL one statement (`together_statements`): its writes need no
    order, each row being locked by this transaction already or by nothing else."""
    statements = _start_statements(
        dialect_name(session), paced=next_send_at is not None, draft=sending.draft_id is not None
    )
    params = {
        "s_outbound_id": sending.id,
        "s_messaging_type": messaging_type,
        "s_account_id": sending.account_id,
        "s_next_send_at": next_send_at,
        "s_draft_id": sending.draft_id,
        "now": now,
    }
    for statement in statements:
        await session.execute(statement, params)


@functools.cache
def _start_statements(dialect: str, *, paced: bool, draft: bool) -> tuple[Executable, ...]:
    """`start_sending`'s statements for each shape, built once with bound parameters
    (built per call, the CTE composition and its cache key cost every send, issue 15)."""
    now = bindparam("now", type_=OUTBOUND.c.updated_at.type)
    others: list[UpdateBase] = []
    if paced:
        others.append(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == bindparam("s_account_id"))
            .values(
                next_send_at=bindparam("s_next_send_at", type_=ACCOUNTS.c.next_send_at.type),
                updated_at=now,
            )
        )
    if draft:
        others.append(
            update(DRAFTS)
            .where(DRAFTS.c.id == bindparam("s_draft_id"))
            .values(status=DraftStatus.SENDING, updated_at=now)
        )
    started = (
        update(OUTBOUND)
        .where(OUTBOUND.c.id == bindparam("s_outbound_id"))
        .values(
            status=SendStatus.SENDING,
            messaging_type=bindparam("s_messaging_type", type_=OUTBOUND.c.messaging_type.type),
            attempts=OUTBOUND.c.attempts + 1,
            updated_at=now,
        )
    )
    return together_statements(dialect, started, *others)


async def store_sent_messages(
    session: AsyncSession,
    *,
    account_id: int,
    conversation_id: int,
    outbound_id: int,
    by_person: bool,
    texts: Sequence[str],
    mids: Sequence[str],
    now: datetime,
) -> None:
    """Our sent parts as messages of the conversation, in one INSERT (the settle's own)."""
    statement = _sent_messages(dialect_name(session), len(mids))
    params = _sent_messages_params(
        account_id=account_id,
        conversation_id=conversation_id,
        outbound_id=outbound_id,
        by_person=by_person,
        texts=texts,
        mids=mids,
    )
    await session.execute(statement, {**params, "now": now})


@functools.cache
def _sent_messages(dialect: str, parts: int) -> UpdateBase:
    """One INSERT of `parts` sent parts as messages, with bound parameters (see
    `_sent_messages_params`); a part whose mid is stored already (its echo came first) is
    skipped. (Several parts are a multi-row VALUES, which SQLAlchemy compiles on every
    execution: rare enough.)"""
    now = bindparam("now", type_=OUTBOUND.c.updated_at.type)
    rows = [
        {
            "account_id": bindparam("s_account_id"),
            "conversation_id": bindparam("s_conversation_id"),
            "mid": bindparam(f"s_mid_{n}", type_=MESSAGES.c.mid.type),
            "direction": "out",
            "author": bindparam("s_author", type_=MESSAGES.c.author.type),
            "kind": "text",
            "text": bindparam(f"s_text_{n}", type_=MESSAGES.c.text.type),
            "payload": bindparam("s_payload", type_=MESSAGES.c.payload.type),
            "sent_at": now,
            "outbound_id": bindparam("s_outbound_id"),
            "created_at": now,
            "updated_at": now,
        }
        for n in range(parts)
    ]
    stored = with_rows(dialect_insert_for(dialect, MESSAGES), rows)
    return stored.on_conflict_do_nothing(index_elements=["account_id", "mid"])


def _sent_messages_params(
    *,
    account_id: int,
    conversation_id: int,
    outbound_id: int,
    by_person: bool,
    texts: Sequence[str],
    mids: Sequence[str],
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "s_account_id": account_id,
        "s_conversation_id": conversation_id,
        "s_outbound_id": outbound_id,
        "s_author": "moderator" if by_person else "bot",
        "s_payload": {"metadata": f"{OUR_METADATA_PREFIX}{outbound_id}"},
    }
    for n, (mid, text) in enumerate(zip(mids, texts, strict=True)):
        params |= {f"s_mid_{n}": mid, f"s_text_{n}": text}
    return params


def replied_at(conversation_id: int, now: datetime) -> UpdateBase:
    return (
        update(CONVERSATIONS)
        .where(CONVERSATIONS.c.id == conversation_id)
        .values(last_outbound_at=now, updated_at=now)
    )


async def settle_sent(
    session: AsyncSession, sending: Sending, new_ids: list[str], *, now: datetime
) -> bool | None:
    """Records that the parts `new_ids` went out and the row is `sent`: the messages, the
    draft, the audit row, the conversation's last reply. Guarded by the row still being
    `sending` (only this job's attempt may settle it, and it read it so under lock):
    None if it no longer is, and the caller must roll back what went with it. Otherwise
    whether a later reply to the same follower waits for this one (`pacing.wake_next`).

    Row locks, in the order of the statements: the outbound row, then (for the messages'
    foreign keys, a key share) the conversation, our draft, the conversation. On
    PostgreSQL one statement, whose order is not promised; no order is needed: nothing
    else locks a `sending` row's draft (every other writer of a draft matches on a status
    it no longer has), so no transaction can hold it while it waits for the conversation."""
    external_ids = [*sending.external_ids, *new_ids]
    texts = sending.parts[len(sending.external_ids) : len(external_ids)]
    statements = _settle_statements(
        dialect_name(session), parts=len(new_ids), draft=sending.draft_id is not None
    )
    params = _sent_messages_params(
        account_id=sending.account_id,
        conversation_id=sending.conversation_id,
        outbound_id=sending.id,
        by_person=sending.sent_by_user_id is not None,
        texts=texts,
        mids=new_ids,
    )
    params |= {
        "s_external_ids": external_ids,
        "s_parts_sent": len(external_ids),
        "now": now,
        "s_draft_id": sending.draft_id,
        "s_details": {"comment_id": sending.comment_id} if sending.comment_id else {},
    }
    rows = _rows(await session.execute(statements[0], params))
    for statement in statements[1:]:
        await session.execute(statement, params)
    return bool(rows[0][0]) if rows else None


@functools.cache
def _settle_statements(dialect: str, *, parts: int, draft: bool) -> tuple[Executable, ...]:
    """`settle_sent`'s statements for `parts` parts sent and with a draft (or not), built
    once with bound parameters: on PostgreSQL one statement (`together_statements`), on
    SQLite the first and then the others. (A reply of several parts is a multi-row VALUES, which
    SQLAlchemy compiles on every execution: rare enough.)"""
    now = bindparam("now", type_=OUTBOUND.c.updated_at.type)
    others: list[UpdateBase] = []
    if parts:
        others.append(_sent_messages(dialect, parts))
    if draft:
        others.append(
            update(DRAFTS)
            .where(DRAFTS.c.id == bindparam("s_draft_id"))
            .values(status=DraftStatus.SENT, updated_at=now)
        )
    # The audit row `app.audit.service.record` would add for the bot's send.
    others.append(
        insert(AUDIT).values(
            at=now,
            actor="bot",
            user_id=None,
            account_id=bindparam("s_account_id"),
            action=f"outbox.{SendStatus.SENT}",
            entity_type=OUTBOUND.name,
            entity_id=bindparam("s_outbound_id"),
            details=bindparam("s_details", type_=AUDIT.c.details.type),
        )
    )
    if parts:
        others.append(
            update(CONVERSATIONS)
            .where(CONVERSATIONS.c.id == bindparam("s_conversation_id"))
            .values(last_outbound_at=now, updated_at=now)
        )
    settled = (
        update(OUTBOUND)
        .where(OUTBOUND.c.id == bindparam("s_outbound_id"), OUTBOUND.c.status == SendStatus.SENDING)
        .values(
            status=SendStatus.SENT,
            external_ids=bindparam("s_external_ids", type_=OUTBOUND.c.external_ids.type),
            parts_sent=bindparam("s_parts_sent"),
            error_code=None,
            last_error=None,
            sent_at=now,
            updated_at=now,
        )
        .returning(pacing.later_waiting(OUTBOUND))
    )
    return together_statements(dialect, settled, *others)
