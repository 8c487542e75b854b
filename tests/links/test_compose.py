"""compose(): the codes and links a reply hands out, and the tracked links it makes."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.core.db import unit_of_work
from app.meta.limits import INSTAGRAM_MAX_BYTES
from app.models import Account, Conversation, Cooperation, Draft, Product, TrackedLink, User
from app.outbox.compose import compose
from app.outbox.service import queue_reply
from tests.builders import (
    create_account,
    create_contact,
    create_conversation,
    create_cooperation,
    create_product,
)
from tests.harness import make_settings

SHORT = r"https://pilot\.example/l/[A-Za-z0-9_-]{24}"


async def _catalog(session: AsyncSession) -> tuple[Account, Conversation, list[int]]:
    # No disclosure line (app/outbox/disclosure.py): these tests read the links alone.
    account = await create_account(session, disclosure="off")
    cooperation = await create_cooperation(session, account)
    serum = await create_product(session, cooperation)
    serum_xl = await create_product(
        session,
        cooperation,
        name="Vitamin C Serum XL",
        url="https://glowlab.example/serum-xl",
        discount_code="LENAXL",
    )
    cream = await create_product(
        session, cooperation, name="Night Cream", url=None, discount_code="NIGHT10"
    )
    contact = await create_contact(session, account)
    conversation = await create_conversation(session, account, contact)
    return account, conversation, [serum.id, serum_xl.id, cream.id]


def _settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, str(tmp_path), PUBLIC_URL="https://pilot.example")


async def test_codes_and_links_sent_are_the_catalogs_own(
    session: AsyncSession, database_url: str, tmp_path: Path
) -> None:
    account, conversation, [serum, serum_xl, cream] = await _catalog(session)
    text = "XL: https://glowlab.example/serum-xl with LENAXL, and NIGHT10 for the cream."

    out = await compose(
        session,
        _settings(database_url, tmp_path),
        account=account,
        conversation=conversation,
        text=text,
        draft=None,
        user=None,
    )

    # The serum's URL is the start of the XL's: not a link of the serum.
    assert out.links_sent == [serum_xl]
    assert sorted(out.codes_sent) == sorted([serum_xl, cream])
    assert re.fullmatch(f"XL: {SHORT} with LENAXL, and NIGHT10 for the cream.", out.text)
    assert serum not in out.links_sent


async def test_a_brand_code_shared_by_products_counts_once(
    session: AsyncSession, database_url: str, tmp_path: Path
) -> None:
    """One code several products share is one code handed out: for the product the reply
    is about, else for the oldest, never for every product that has it."""
    account, conversation, [serum, _, cream] = await _catalog(session)
    [cooperation_id] = {
        p.cooperation_id
        for p in (await session.scalars(select(Product).where(Product.id == serum))).all()
    }
    cooperation = await session.get(Cooperation, cooperation_id)
    assert cooperation is not None
    toner = await create_product(session, cooperation, name="Toner", url=None)  # LENA15 too
    settings = _settings(database_url, tmp_path)
    about_toner = Draft(product_ids=[toner.id])

    alone = await compose(
        session, settings, account=account, conversation=conversation, text="LENA15!",
        draft=None, user=None,
    )  # fmt: skip
    for_toner = await compose(
        session, settings, account=account, conversation=conversation, text="LENA15!",
        draft=about_toner, user=None,
    )  # fmt: skip

    assert (alone.codes_sent, for_toner.codes_sent) == ([serum], [toner.id])
    assert cream not in alone.codes_sent


async def test_each_product_its_own_link_and_the_same_one_again(
    session: AsyncSession, database_url: str, tmp_path: Path
) -> None:
    account, conversation, [serum, serum_xl, _] = await _catalog(session)
    settings = _settings(database_url, tmp_path)
    text = "https://glowlab.example/serum or https://glowlab.example/serum-xl"

    first = await compose(
        session, settings, account=account, conversation=conversation, text=text,
        draft=None, user=None,
    )  # fmt: skip
    again = await compose(
        session, settings, account=account, conversation=conversation,
        text="https://glowlab.example/serum-xl!", draft=None, user=None,
    )  # fmt: skip

    one, two = re.findall(SHORT, first.text)
    assert one != two
    assert again.text == f"{two}!"
    assert (first.links_sent, again.links_sent) == ([serum, serum_xl], [serum_xl])
    assert await session.scalar(select(func.count()).select_from(TrackedLink)) == 2


async def test_without_tracking_the_text_is_unchanged(
    session: AsyncSession, database_url: str, tmp_path: Path
) -> None:
    account, conversation, [serum, _, _] = await _catalog(session)
    account.track_links = False
    text = "Here: https://glowlab.example/serum (LENA15)"

    out = await compose(
        session, _settings(database_url, tmp_path), account=account,
        conversation=conversation, text=text, draft=None, user=None,
    )  # fmt: skip

    assert out.text == text
    assert (out.links_sent, out.codes_sent) == ([serum], [serum])
    assert await session.scalar(select(func.count()).select_from(TrackedLink)) == 0


async def test_two_replies_composed_at_once_share_one_link(
    sessionmaker: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    async with unit_of_work(sessionmaker) as session:
        account, conversation, _ = await _catalog(session)
    settings = _settings(database_url, tmp_path)
    text = "https://glowlab.example/serum"

    async def one_reply(started: asyncio.Event, go: asyncio.Event | None) -> str:
        async with unit_of_work(sessionmaker) as session:
            out = await compose(
                session, settings, account=account, conversation=conversation,
                text=text, draft=None, user=None,
            )  # fmt: skip
            started.set()
            if go is not None:
                await go.wait()  # hold the transaction open while the other composes
        return out.text

    first_started, second_started, go = asyncio.Event(), asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(one_reply(first_started, go))
    await first_started.wait()
    second = asyncio.create_task(one_reply(second_started, None))
    await asyncio.sleep(0.2)  # the second is now waiting on the first's row (or lock)
    go.set()
    texts = await asyncio.gather(first, second)

    assert texts[0] == texts[1]
    async with unit_of_work(sessionmaker) as session:
        assert await session.scalar(select(func.count()).select_from(TrackedLink)) == 1


async def test_a_reply_the_short_link_makes_too_long_is_split_as_usual(
    session: AsyncSession, database_url: str, tmp_path: Path
) -> None:
    account, conversation, [serum, _, _] = await _catalog(session)
    base = "https://links.pilot.example/" + "x" * 60
    settings = make_settings(database_url, str(tmp_path), PUBLIC_URL=base)
    words = "Hello there, this is a long reply. " * 27  # 945 bytes
    text = f"{words}Here: https://glowlab.example/serum"
    assert len(text.encode()) <= INSTAGRAM_MAX_BYTES  # one message as drafted

    outbound = await queue_reply(
        session, settings, account=account, conversation=conversation, text=text
    )

    assert len(outbound.parts) == 2
    assert all(len(part.encode()) <= INSTAGRAM_MAX_BYTES for part in outbound.parts)
    [link] = re.findall(rf"{re.escape(base)}/l/[A-Za-z0-9_-]{{24}}", outbound.parts[1])
    assert outbound.parts[1].endswith(link)
    assert "".join(outbound.parts).count("glowlab.example") == 0
    assert outbound.links_sent == [serum]


async def test_a_private_reply_written_by_hand_carries_the_same_link(
    session: AsyncSession, database_url: str, tmp_path: Path
) -> None:
    account, conversation, [serum, _, _] = await _catalog(session)
    settings = _settings(database_url, tmp_path)
    person = User(email="mod@test.example", role="moderator", password_hash="x")
    session.add(person)
    await session.flush()
    automatic = await queue_reply(
        session, settings, account=account, conversation=conversation,
        text="Serum: https://glowlab.example/serum",
    )  # fmt: skip

    by_hand = await queue_reply(
        session, settings, account=account, conversation=conversation,
        text="Here you go https://glowlab.example/serum", user=person, comment_id="c_17",
    )  # fmt: skip

    [link] = re.findall(SHORT, automatic.parts[0])
    assert by_hand.parts == [f"Here you go {link}"]
    assert (by_hand.comment_id, by_hand.sent_by_user_id) == ("c_17", person.id)
    assert by_hand.links_sent == [serum]
