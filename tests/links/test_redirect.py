"""`GET /l/{token}`: 302 to the product's catalog URL with the cooperation's UTM
parameters; a person's click counted once a minute per link, per UTC day, product and
channel; preview fetchers, bots and HEAD requests redirected but not counted; no address
kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy import delete, event, select, text

from app.core.db import unit_of_work
from app.models import Base, LinkClick, Product, TrackedLink
from app.users.sessions import COOKIE_NAME
from tests.accounts.conftest import sign_in
from tests.builders import (
    create_account,
    create_contact,
    create_conversation,
    create_cooperation,
    create_product,
)
from tests.harness import Harness

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile"
INSTAGRAM_APP = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 330.0.3.29.91 (iPhone14,5; iOS 17_4; de_DE)"
)
TOKEN = "tok_Abcdefghijklmnopqrstuv"  # 24 characters, as the app makes them
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


async def _link(
    harness: Harness,
    *,
    url: str | None = "https://glowlab.example/serum?ref=lena&utm_source=old&q=a%20b",
    utm: dict[str, Any] | None = None,
    platform: str = "instagram",
    token: str = TOKEN,
    external_id: str = "17841400000000001",
) -> int:
    """A tracked link to a product of a cooperation; the product's id."""
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await create_account(session, platform=platform, external_id=external_id)
        cooperation = await create_cooperation(
            session,
            account,
            utm={"utm_source": "instagram", "utm_campaign": "autumn-serum"} if utm is None else utm,
        )
        product = await create_product(session, cooperation, url=url)
        contact = await create_contact(session, account)
        conversation = await create_conversation(session, account, contact)
        session.add(
            TrackedLink(
                account_id=account.id,
                conversation_id=conversation.id,
                product_id=product.id,
                token=token,
            )
        )
        return product.id


async def _clicks(harness: Harness) -> list[tuple[int, str, str, int]]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        rows = await session.scalars(select(LinkClick).order_by(LinkClick.day))
        return [(r.product_id, r.channel, r.day.isoformat(), r.clicks) for r in rows]


async def _follow(
    harness: Harness, token: str = TOKEN, agent: str | None = BROWSER, method: str = "GET"
) -> httpx.Response:
    headers = {} if agent is None else {"User-Agent": agent}
    request = harness.client.build_request(method, f"/l/{token}", headers=headers)
    if agent is None:
        del request.headers["user-agent"]
    return await harness.client.send(request)


async def test_redirects_with_utm_merged_and_counts_the_click(harness: Harness) -> None:
    product = await _link(harness)

    with time_machine.travel(NOON, tick=False):
        response = await _follow(harness)

    assert response.status_code == 302
    # The product's own query kept as it is, the cooperation's utm_* values win.
    assert response.headers["location"] == (
        "https://glowlab.example/serum?ref=lena&q=a%20b"
        "&utm_source=instagram&utm_campaign=autumn-serum"
    )
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert await _clicks(harness) == [(product, "instagram", "2026-12-07", 1)]


async def test_the_link_follows_the_catalog_url_as_it_is_now(harness: Harness) -> None:
    product = await _link(harness, utm={})
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        stored = await session.get(Product, product)
        assert stored is not None
        stored.url = "https://glowlab.example/serum-v2"

    response = await _follow(harness)

    assert response.headers["location"] == "https://glowlab.example/serum-v2"


async def test_a_repeated_click_within_a_minute_is_not_counted(harness: Harness) -> None:
    product = await _link(harness, platform="messenger")

    with time_machine.travel(NOON, tick=False) as clock:
        assert (await _follow(harness)).status_code == 302
        clock.shift(timedelta(seconds=59))
        assert (await _follow(harness)).status_code == 302
        assert await _clicks(harness) == [(product, "messenger", "2026-12-07", 1)]
        clock.shift(timedelta(seconds=2))  # a minute after the counted click
        assert (await _follow(harness)).status_code == 302
        assert await _clicks(harness) == [(product, "messenger", "2026-12-07", 2)]
        clock.move_to(datetime(2026, 12, 8, 0, 0, 30, tzinfo=UTC))
        assert (await _follow(harness, agent=INSTAGRAM_APP)).status_code == 302

    assert await _clicks(harness) == [
        (product, "messenger", "2026-12-07", 2),
        (product, "messenger", "2026-12-08", 1),
    ]


async def test_two_clicks_at_once_count_once(harness: Harness) -> None:
    product = await _link(harness)

    responses = await asyncio.gather(_follow(harness), _follow(harness))

    assert [r.status_code for r in responses] == [302, 302]
    assert [c[3] for c in await _clicks(harness) if c[0] == product] == [1]


@pytest.mark.parametrize(
    "agent",
    [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Facebot",
        "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
        "WhatsApp/2.23.20.0",
        "Twitterbot/1.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "SomeCrawler/3.0",
        "friendly-spider",
        "Link Preview Service",
        "",
        "   ",
        None,
    ],
)
async def test_preview_fetchers_and_bots_are_redirected_not_counted(
    harness: Harness, agent: str | None
) -> None:
    await _link(harness)

    response = await _follow(harness, agent=agent)

    assert response.status_code == 302
    assert response.headers["location"].startswith("https://glowlab.example/serum?")
    assert await _clicks(harness) == []


async def test_head_is_redirected_not_counted_and_the_next_get_counts(harness: Harness) -> None:
    product = await _link(harness)

    head = await _follow(harness, method="HEAD")
    assert head.status_code == 302
    assert await _clicks(harness) == []

    # The HEAD left no mark: a click right after it is the first.
    assert (await _follow(harness, agent=INSTAGRAM_APP)).status_code == 302
    assert [(c[0], c[3]) for c in await _clicks(harness)] == [(product, 1)]


@pytest.mark.parametrize(
    "token",
    [
        "tok_Abcdefghijklmnopqrstuw",  # well formed, unknown
        "short",
        "x" * 65,
        "y" * 5000,
        "%00%00%00%00%00%00%00%00%00%00",
        "caf%C3%A9caf%C3%A9caf%C3%A9caf%C3%A9",
        "..%2F..%2F..%2Fetc%2Fpasswd%2F%2F",
        "tok_Abcdefghijklmnopqrstuv%20",
        "%F0%9F%98%80" * 8,
        "%FF%FE" * 10,
        "'%20OR%201=1--aaaaaaaaaaaaa",
    ],
)
async def test_unknown_or_malformed_tokens_are_404(harness: Harness, token: str) -> None:
    await _link(harness)

    response = await harness.client.get(f"/l/{token}", headers={"User-Agent": BROWSER})

    assert response.status_code == 404
    # An encoded "/" makes another path, which no route serves: 404 all the same.
    assert response.json()["detail"] in ("this link does not lead anywhere (any more)", "Not Found")
    assert await _clicks(harness) == []


async def test_a_browser_gets_a_not_found_page(harness: Harness) -> None:
    response = await harness.client.get(
        "/l/tok_Abcdefghijklmnopqrstuw", headers={"Accept": "text/html", "User-Agent": BROWSER}
    )

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "This link does not lead anywhere (any more)." in response.text
    assert response.headers["cache-control"] == "no-store"
    # A follower has no business with the app's sign-in: no link into it.
    assert 'class="button"' not in response.text


async def test_a_product_without_url_or_deleted_is_404(harness: Harness) -> None:
    await _link(harness, url=None)
    assert (await _follow(harness)).status_code == 404

    other = await _link(
        harness, token="tok_Zyxwvutsrqponmlkjihgfe", external_id="17841400000000002"
    )
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await session.execute(delete(Product).where(Product.id == other))
    assert (await _follow(harness, token="tok_Zyxwvutsrqponmlkjihgfe")).status_code == 404
    assert await _clicks(harness) == []


async def test_no_address_is_stored(harness: Harness) -> None:
    await _link(harness)
    address = "203.0.113.77"
    transport = httpx.ASGITransport(app=harness.app, client=(address, 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(
            f"/l/{TOKEN}", headers={"User-Agent": BROWSER, "X-Forwarded-For": "198.51.100.9"}
        )
    assert response.status_code == 302
    assert len(await _clicks(harness)) == 1

    async with unit_of_work(harness.runtime.sessionmaker) as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(text(f'SELECT * FROM "{table.name}"'))).all():
                dumped = repr(tuple(row))
                assert address not in dumped, table.name
                assert "198.51.100.9" not in dumped, table.name


async def test_a_random_token_costs_one_lookup_and_a_malformed_one_none(
    harness: Harness,
) -> None:
    await _link(harness)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            statements.append(statement)

    engine = harness.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert (await _follow(harness, token="tok_Abcdefghijklmnopqrstuw")).status_code == 404
        one_lookup = list(statements)
        statements.clear()
        assert (await _follow(harness, token="not a token!")).status_code == 404
        assert (await _follow(harness, token="x" * 3000)).status_code == 404
        none = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert len(one_lookup) == 1
    assert "tracked_links.token" in one_lookup[0]
    assert none == []


async def test_a_browser_signed_in_to_inboxpilot_is_not_a_follower(harness: Harness) -> None:
    product = await _link(harness)
    await sign_in(harness)  # the influencer trying the link from the outbox page
    assert COOKIE_NAME in harness.client.cookies

    tried = await _follow(harness)
    assert tried.status_code == 302
    assert await _clicks(harness) == []

    harness.client.cookies.clear()
    assert (await _follow(harness)).status_code == 302
    assert [(c[0], c[3]) for c in await _clicks(harness)] == [(product, 1)]
