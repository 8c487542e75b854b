"""The worker's handlers of the conversations domain: stored webhook bodies, and the
follower's profile."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from app.conversations import profiles
from app.conversations.entries import CommentHook, Unit
from app.conversations.ingest import apply_event
from app.core.db import unit_of_work
from app.meta.events import MetaEvent, PayloadError, parse_webhook
from app.models import InboxEvent, Job
from app.runtime import Runtime
from app.worker.runner import Unprocessable

log = structlog.get_logger("app.conversations")


async def process_inbox_events(
    runtime: Runtime, items: list[InboxEvent], *, on_comment: CommentHook | None = None
) -> None:
    """Normalises every item of a batch of webhook bodies in one transaction (all or
    nothing: the worker retries a failed batch one body per transaction, so a bad body
    never holds back the others). `on_comment` sees each new comment (the comment
    triggers). A body that cannot be parsed fails the batch before it opens a transaction.
    """
    parsed = [(item, _parse(item)) for item in items]
    async with unit_of_work(runtime.sessionmaker) as session:
        unit = Unit(session, runtime.settings, on_comment)
        for item, event in in_lock_order(parsed):
            with _event_context(item.id):
                await apply_event(unit, event, inbox_event_id=item.id)
        # The draft and profile jobs of the whole batch, in one statement; locked until
        # the commit below, so no worker starts one before the messages it drafts for.
        await unit.jobs.write(session)
    for item, events in parsed:
        with _event_context(item.id):
            log.info("inbox.processed", inbox_event_id=item.id, events=len(events))


def _parse(item: InboxEvent) -> list[MetaEvent]:
    try:
        return parse_webhook(json.loads(item.body))
    except (PayloadError, ValueError) as exc:
        with _event_context(item.id):
            log.warning("inbox.unprocessable", inbox_event_id=item.id, error=str(exc))
        raise Unprocessable(f"unprocessable: {exc}") from exc


def in_lock_order(
    parsed: list[tuple[InboxEvent, list[MetaEvent]]],
) -> list[tuple[InboxEvent, MetaEvent]]:
    """The batch's events grouped by follower, the groups in one fixed order (account,
    then follower), each follower's events in the order they reached us. Ingest locks a
    follower's conversation at their first event and holds it to the commit: two workers
    whose batches share two followers must take those locks in the same order, or each
    would wait for the other (a deadlock PostgreSQL breaks by failing one batch)."""
    flat = [(item, event) for item, events in parsed for event in events]
    return sorted(
        flat,
        key=lambda pair: (
            pair[1].platform,
            pair[1].account_external_id,
            pair[1].follower_id or "",
        ),
    )


@contextmanager
def _event_context(event_id: int) -> Iterator[None]:
    """Logs name the body they concern; what an event binds (account, conversation)
    does not leak into the next event of the batch."""
    before = structlog.contextvars.get_contextvars()
    structlog.contextvars.bind_contextvars(event_id=event_id)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**before)


async def fetch_profile(runtime: Runtime, job: Job) -> None:
    """A follower's name, username and picture from Meta (`profiles.fetch_profile`)."""
    clients = profiles.ProfileClients(
        runtime.reader,
        runtime.graph,
        runtime.cipher,
        runtime.settings.META_APP_SECRET,
    )
    await profiles.fetch_profile(clients, job)
