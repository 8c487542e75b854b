"""The worker's handler for stored webhook bodies."""

from __future__ import annotations

import json

import structlog

from app.conversations.entries import CommentHook
from app.conversations.ingest import apply_event
from app.conversations.profiles import fetch_profile as fetch_profile
from app.core.db import unit_of_work
from app.meta.events import PayloadError, parse_webhook
from app.models import InboxEvent
from app.runtime import Runtime
from app.worker.runner import Unprocessable

log = structlog.get_logger("app.conversations")


async def process_inbox_event(
    runtime: Runtime, item: InboxEvent, *, on_comment: CommentHook | None = None
) -> None:
    """Normalises every item of one webhook body in one transaction (all or nothing).
    `on_comment` sees each new comment (the comment triggers)."""
    try:
        events = parse_webhook(json.loads(item.body))
    except (PayloadError, ValueError) as exc:
        log.warning("inbox.unprocessable", inbox_event_id=item.id, error=str(exc))
        raise Unprocessable(f"unprocessable: {exc}") from exc
    async with unit_of_work(runtime.sessionmaker) as session:
        for event in events:
            await apply_event(
                session, runtime.settings, event, inbox_event_id=item.id, on_comment=on_comment
            )
    log.info("inbox.processed", inbox_event_id=item.id, events=len(events))
