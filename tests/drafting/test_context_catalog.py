"""The draft job's context takes the matched products from the account's cached index
once that index holds every write up to the catalog version read with the context
(`catalog_index.SETTLE`), and a catalog edit is seen by the next draft, on both
databases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import time_machine
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utc_now
from app.drafting.catalog_index import SETTLE, CatalogIndexes
from app.drafting.context import load_context
from tests.builders import (
    create_account,
    create_contact,
    create_conversation,
    create_cooperation,
    create_message,
    create_product,
)


@contextmanager
def product_reads(session: AsyncSession) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_execute(*args: object) -> None:
        statement = str(args[2])
        if "FROM products" in statement and "count(" not in statement:
            seen.append(statement)

    assert session.bind is not None
    sync = session.bind.sync_engine
    event.listen(sync, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(sync, "before_cursor_execute", on_execute)


async def test_a_settled_index_serves_the_products_and_every_edit_is_seen(
    session: AsyncSession,
) -> None:
    account = await create_account(session)
    serum = await create_product(session, await create_cooperation(session, account))
    fan = await create_contact(session, account)
    conversation = await create_conversation(session, account, fan)
    await session.commit()
    indexes = CatalogIndexes()

    async def code_given(*, after: timedelta) -> tuple[str | None, int]:
        with time_machine.travel(utc_now() + after, tick=False), product_reads(session) as reads:
            await create_message(session, conversation, text="code for the vitamin c serum?")
            await session.commit()
            context = await load_context(session, conversation.id, indexes=indexes)
            assert context is not None
            code = context.request.products[0].product.discount_code
            await session.commit()
        return code, len(reads)

    # Just edited: the index ranks, the matched rows are read fresh (and composing reads
    # the catalog itself: no catalog in the context).
    assert await code_given(after=timedelta(0)) == ("LENA15", 2)
    # Settled: loaded once more, then served from memory.
    assert await code_given(after=SETTLE * 2) == ("LENA15", 1)
    assert await code_given(after=SETTLE * 2) == ("LENA15", 0)
    # An edit is seen by the next draft, fresh until the catalog settles again.
    with time_machine.travel(utc_now() + SETTLE * 2, tick=False):
        serum.discount_code = "LENA20"
        await session.commit()
    assert await code_given(after=SETTLE * 2) == ("LENA20", 2)
    assert await code_given(after=SETTLE * 4) == ("LENA20", 1)
    assert await code_given(after=SETTLE * 4) == ("LENA20", 0)
