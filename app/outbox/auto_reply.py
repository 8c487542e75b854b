"""An automatic reply to a DM stored with its draft: one statement on PostgreSQL.

When a draft goes out alone, the draft job writes four rows: the draft, its outbound
row, the send job and the audit row `draft.auto_approved`, and the conversation's new
tracked links its text uses. Through the ORM they were four statements and three
flushes; each needed the id the one before returned. On PostgreSQL they are one
statement: data-modifying CTEs, each reading the ids the one before returned
(`RETURNING`), all on one snapshot and committed with the draft job's transaction.
SQLite has no data-modifying CTEs: there they are Core statements, each given the id the
one before returned.

A new tracked link is a plain INSERT: if another transaction made the conversation's
link to that product meanwhile, the statement fails and the draft job runs again (then
reading that link), rather than send a token nobody stored.

The rows are the ORM's own: the caller builds the draft, and this module builds the
outbound row with `app.outbox.service.new_outbound` (which `queue_composed` uses for
every other reply) and the audit row with `app.audit.service.entry` (`record`'s), then
inserts their column values (`row_values`).
"""

from __future__ import annotations

import functools
from typing import Any, cast

from sqlalchemy import Insert, Select, String, Table, bindparam, func, insert, literal, select
from sqlalchemy import cast as sql_cast
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import entry
from app.config import Settings
from app.core.db import dialect_name
from app.models import Account, AuditEntry, Conversation, Draft, Job, OutboundMessage, TrackedLink
from app.outbox.compose import Outgoing
from app.outbox.service import SEND_PRIORITY, new_outbound
from app.worker.kinds import JobKind
from app.worker.queue import job_values

_DRAFTS = cast(Table, Draft.__table__)
_OUTBOUND = cast(Table, OutboundMessage.__table__)
_JOBS = cast(Table, Job.__table__)
_AUDIT = cast(Table, AuditEntry.__table__)
_LINKS = cast(Table, TrackedLink.__table__)
# The columns each row takes from the rows before it, in the statement.
_OUTBOUND_FROM_DRAFT = ("draft_id", "idempotency_key")
_AUDIT_FROM_DRAFT = ("entity_id",)
_JOB_FROM_OUTBOUND = ("payload",)
# The columns of a new job (`job_values`).
_JOB_COLUMNS = tuple(job_values("kind", {}))
AUDIT_ACTION = "draft.auto_approved"


async def store_auto_reply(
    session: AsyncSession,
    settings: Settings,
    outgoing: Outgoing,
    *,
    account: Account,
    conversation: Conversation,
    draft: Draft,
    details: dict[str, Any],
    hold_seconds: float,
) -> None:
    """Writes the approved `draft` (not written yet), its reply queued to go out after
    `hold_seconds`, the send job, the audit row with `details` and the new tracked links
    (`outgoing.new_links`); `draft` gets its id. Raises `ReplyRefused` before writing
    anything when the reply cannot be split into messages, as `queue_composed` does."""
    outbound = new_outbound(
        settings, outgoing, account=account, conversation=conversation, hold_seconds=hold_seconds
    )
    job = job_values(
        JobKind.SEND_REPLY,
        {},
        run_at=outbound.hold_until,
        account_id=account.id,
        max_attempts=settings.JOB_MAX_ATTEMPTS,
        priority=SEND_PRIORITY,
    )
    audit = entry(
        action=AUDIT_ACTION, actor="bot", account_id=account.id, entity=draft, details=details
    )
    draft_values = _prefixed("d_", row_values(draft))
    outbound_values = _prefixed("o_", row_values(outbound), skip=_OUTBOUND_FROM_DRAFT)
    job_params = _prefixed("j_", job, skip=_JOB_FROM_OUTBOUND)
    audit_values = _prefixed("a_", row_values(audit), skip=_AUDIT_FROM_DRAFT)
    links = [
        row_values(
            TrackedLink(
                account_id=account.id,
                conversation_id=conversation.id,
                product_id=product_id,
                token=token,
            )
        )
        for product_id, token in sorted(outgoing.new_links.items())
    ]
    if dialect_name(session) == "postgresql":
        params = draft_values | outbound_values | job_params | audit_values
        for n, link in enumerate(links):
            params |= _prefixed(f"l{n}_", link)
        row = (await session.execute(_statement(len(links)), params)).one()
        draft.id = row.draft_id
        return
    into_links, into_drafts, into_outbound, into_jobs, into_audit = _statements()
    if links:
        await session.execute(into_links, [_prefixed("l_", link) for link in links])
    draft.id = (await session.execute(into_drafts, draft_values)).scalar_one()
    from_draft = {"o_draft_id": draft.id, "o_idempotency_key": f"draft:{draft.id}"}
    into = await session.execute(into_outbound, outbound_values | from_draft)
    outbound_id = into.scalar_one()
    await session.execute(into_jobs, job_params | {"j_payload": {"outbound_id": outbound_id}})
    await session.execute(into_audit, audit_values | {"a_entity_id": draft.id})


def row_values(instance: Any) -> dict[str, Any]:
    """What an ORM flush would insert for the new `instance`: each column's attribute, or
    the column's Python-side default when the attribute is unset (None); no primary key."""
    values: dict[str, Any] = {}
    for attribute in sa_inspect(type(instance)).column_attrs:
        column = attribute.columns[0]
        if column.primary_key:
            continue
        value = getattr(instance, attribute.key)
        default = column.default
        if value is None and default is not None and default.is_scalar:
            value = default.arg
        elif value is None and default is not None and default.is_callable:
            value = default.arg(None)
        values[column.key] = value
    return values


def _prefixed(prefix: str, values: dict[str, Any], *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {prefix + key: value for key, value in values.items() if key not in skip}


def _bound(
    table: Table, prefix: str, *, skip: tuple[str, ...] = (), only: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Each column (but the key, `skip`, and those not in `only`) as a bound parameter."""
    return {
        column.key: bindparam(prefix + column.key, type_=column.type)
        for column in table.columns
        if not column.primary_key
        and column.key not in skip
        and (only is None or column.key in only)
    }


@functools.lru_cache(maxsize=8)
def _statement(links: int) -> Select[Any]:
    """The four INSERTs and `links` tracked links' as one statement, built once per count
    with bound parameters: the draft's RETURNING id feeds the outbound row and the audit
    row, the outbound row's the send job's payload."""
    draft = insert(_DRAFTS).values(_bound(_DRAFTS, "d_")).returning(_DRAFTS.c.id).cte("d")
    outbound_values = _bound(_OUTBOUND, "o_", skip=_OUTBOUND_FROM_DRAFT)
    outbound_values |= {
        "draft_id": draft.c.id,
        "idempotency_key": literal("draft:") + sql_cast(draft.c.id, String),
    }
    outbound = (
        insert(_OUTBOUND)
        .from_select(list(outbound_values), select(*outbound_values.values()).select_from(draft))
        .returning(_OUTBOUND.c.id, _OUTBOUND.c.draft_id)
        .cte("o")
    )
    job_values_ = _bound(_JOBS, "j_", skip=_JOB_FROM_OUTBOUND, only=_JOB_COLUMNS)
    job_values_["payload"] = func.jsonb_build_object("outbound_id", outbound.c.id)
    job = insert(_JOBS).from_select(
        list(job_values_), select(*job_values_.values()).select_from(outbound)
    )
    audit_values = _bound(_AUDIT, "a_", skip=_AUDIT_FROM_DRAFT)
    audit_values["entity_id"] = draft.c.id
    audit = insert(_AUDIT).from_select(
        list(audit_values), select(*audit_values.values()).select_from(draft)
    )
    new_links = [insert(_LINKS).values(_bound(_LINKS, f"l{n}_")).cte(f"l{n}") for n in range(links)]
    return select(outbound.c.draft_id, outbound.c.id.label("outbound_id")).add_cte(
        job.cte("j"), audit.cte("a"), *new_links
    )


@functools.cache
def _statements() -> tuple[Insert, Insert, Insert, Insert, Insert]:
    """SQLite's INSERTs, in order, built once with bound parameters: the tracked links
    (one per link), then the draft and the outbound row, which return their ids for the
    statements after them."""
    return (
        insert(_LINKS).values(_bound(_LINKS, "l_")),
        insert(_DRAFTS).values(_bound(_DRAFTS, "d_")).returning(_DRAFTS.c.id),
        insert(_OUTBOUND).values(_bound(_OUTBOUND, "o_")).returning(_OUTBOUND.c.id),
        insert(_JOBS).values(_bound(_JOBS, "j_", only=_JOB_COLUMNS)),
        insert(_AUDIT).values(_bound(_AUDIT, "a_")),
    )
