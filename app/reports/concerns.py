"""What a thread's story mention or shared post is about, for the queue's cards."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Message
from app.reports import repository
from app.reports.attribution import attribute


def _pointing(messages: Sequence[Message]) -> list[Message]:
    return [m for m in messages if m.direction == "in" and (m.payload or {}).get("attachments")]


async def concerning(
    session: AsyncSession, threads: Mapping[int, tuple[int, Sequence[Message]]]
) -> dict[int, str]:
    """By conversation id (threads: conversation id -> its account id and recent messages):
    "Brand — title" of the cooperation its latest story mention or shared post concerns.
    One query, and none when no message carries an attachment."""
    pointing = {cid: _pointing(messages) for cid, (_, messages) in threads.items()}
    accounts = {threads[cid][0] for cid, found in pointing.items() if found}
    if not accounts:
        return {}
    cooperations = await repository.cooperations_by_account(session, accounts)
    about: dict[int, str] = {}
    for cid, messages in pointing.items():
        for message in reversed(messages):
            found = attribute(
                message.payload["attachments"],
                day=message.created_at.astimezone(UTC).date(),
                cooperations=cooperations.get(threads[cid][0], []),
            )
            if found is not None:
                about[cid] = found.about
                break
    return about
