"""The desk for volume in Debian's chromium, at laptop (1280x800) and phone (390x844) sizes:
several compact cards per laptop screen, the first Approve above the fold on a phone, a
group of 19 identical questions approved with one action (19 replies, each once), bulk
selection, and filters and search narrowing the list. Screenshots of the queue (empty,
full, filtered, group expanded) at both sizes go to artifacts/screenshots."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from app.models import Draft
from tests.ui.conftest import LiveServer, screenshots_dir
from tests.ui.desk import (
    FIRST_NAMES,
    MORNING_GROUPS,
    Seeded,
    seed_account,
    seed_moderator,
    seed_queued,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
SIZES = {"laptop": LAPTOP, "phone": PHONE}
_people = itertools.count(1)

# Varied questions a morning brings, some long (a card clamps them).
QUESTIONS = (
    "Hi Lena!! I love your morning routine video 😍 is there a code for the vitamin C serum?",
    "Does the night cream work for really dry skin? Mine gets flaky in winter and most "
    "creams I tried made it worse, so I'm a bit scared to spend money on another one.",
    "where can i buy the clay mask in austria",
    "My order arrived broken, the bottle leaked everywhere. What do I do now?",
    "Is the eye gel ok for contact lens wearers?",
    "How much is the body oil? And does the code work on it too?",
    "Can you send me the link for the sun fluid please 🙏",
    "Hast du einen Rabattcode für die Lippenpflege?",
)
REPLIES = (
    "Hi! Yes: LENA15 gives you 15% off the Vitamin C Serum until 31 December.",
    "The Night Cream is made for dry skin; patch-test it first and use it in the evening.",
    "You can order the Clay Mask here: https://glowlab.example/mask (they ship to Austria).",
    "I'm so sorry! Please write to GlowLab with a photo, they replace it.",
    "Yes, the Eye Gel is ophthalmologist-tested and fine with contact lenses.",
    "The Body Oil is 24.90 EUR, and LENA15 works on it too.",
    "Here it is: https://glowlab.example/sun",
    "Ja! Mit LENA15 bekommst du 15 % auf den Lip Balm.",
)
REASONS = (
    ["confidence 0.42 below 0.80"],
    ["intent 'product_info' needs review"],
    ["needs a person: it names no product of the catalog"],
    ["sensitive message: delivery_problem"],
    ["confidence 0.55 below 0.80", "intent 'product_info' needs review"],
    ["asked for the price; the reply does not give it"],
    ["mode is copilot"],
    ["needs a person: words the bot does not know: lippenpflege"],
)


async def _desk(server: LiveServer, drafts: int = len(QUESTIONS)) -> tuple[str, list[Seeded]]:
    """An account of its own, one moderator, and `drafts` varied pending drafts."""
    async with server.session() as session:
        account = await seed_account(session, server.cipher, name="Lena Loves")
        seeded = [
            await seed_queued(
                session,
                account,
                follower=FIRST_NAMES[i] if i % 3 else None,
                username=f"{FIRST_NAMES[i].lower()}.glow",
                follower_text=QUESTIONS[i % len(QUESTIONS)],
                text=REPLIES[i % len(REPLIES)],
                reasons=REASONS[i % len(REASONS)],
                language="de" if i % len(QUESTIONS) == 7 else "en",
                payload={"reply_to_story_id": "1799"} if i == 1 else None,
            )
            for i in range(drafts)
        ]
        email = f"desk{next(_people)}@desk.example"
        await seed_moderator(session, email, [account.id])
    return email, seeded


async def _group(server: LiveServer, size: int) -> tuple[str, list[Seeded]]:
    """`size` followers asking for the yoga mat's code, in slightly different words."""
    variants, reply, language, _ = MORNING_GROUPS[0]
    async with server.session() as session:
        account = await seed_account(session, server.cipher, name="Yoga With Lena")
        seeded = [
            await seed_queued(
                session,
                account,
                follower=f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {chr(65 + i)}.",
                follower_text=variants[i % len(variants)],
                text=reply.format(name=FIRST_NAMES[i % len(FIRST_NAMES)]),
                language=language,
            )
            for i in range(size)
        ]
        other = await seed_queued(
            session,
            account,
            follower="Ida Other",
            follower_text="Does the yoga mat slip when it gets wet?",
            text="Not at all, Ida: the Cloud Yoga Mat has a natural rubber grip.",
        )
        email = f"desk{next(_people)}@desk.example"
        await seed_moderator(session, email, [account.id])
    return email, [*seeded, other]


@pytest_asyncio.fixture(loop_scope="module")
async def laptop(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport=LAPTOP)
    yield context
    await context.close()


@pytest_asyncio.fixture(loop_scope="module")
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    yield context
    await context.close()


async def _signed_in(server: LiveServer, context: BrowserContext, email: str) -> Page:
    page = await context.new_page()
    await server.sign_in(page, email)
    return page


async def _shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(screenshots_dir() / f"{name}.png"))


async def _sends(server: LiveServer, followers: list[str], seconds: float = 20) -> list[str]:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if all(server.sends_to(f) for f in followers):
            break
        await asyncio.sleep(0.05)
    return [
        s["recipient"]["id"] for s in server.send_api.sends if s["recipient"]["id"] in followers
    ]


async def _status(server: LiveServer, draft_id: int) -> str:
    async with server.session() as session:
        draft = await session.get(Draft, draft_id)
        assert draft is not None
        return draft.status


async def test_several_compact_cards_fit_a_laptop_screen(
    live_server: LiveServer, laptop: BrowserContext
) -> None:
    email, seeded = await _desk(live_server)
    page = await _signed_in(live_server, laptop, email)
    cards = page.locator("#queue-list .qcard")
    await expect(cards).to_have_count(len(seeded))
    heights = [
        (await cards.nth(i).bounding_box() or {"height": 999})["height"] for i in range(len(seeded))
    ]
    print(f"desk: card heights on 1280x800 {[round(h) for h in heights]}")  # noqa: T201
    await _shot(page, "desk-full-laptop")
    assert max(heights) <= 200, heights
    in_view = await page.evaluate(
        """() => [...document.querySelectorAll('#queue-list .qcard')]
              .filter(c => c.getBoundingClientRect().bottom <= window.innerHeight).length"""
    )
    assert in_view >= 3, in_view
    first = page.locator(f"#draft-{seeded[0].draft_id}")
    # The headline in plain words, the certainty, Approve / Edit / Reject on the card.
    await expect(first).to_contain_text("The bot is not sure of this answer")
    await expect(first).to_contain_text("low certainty")
    for name in ("Approve", "Edit", "Reject…"):
        await expect(first.get_by_role("button", name=name, exact=True)).to_be_visible()
    await expect(page.locator(f"#draft-{seeded[1].draft_id}")).to_contain_text("a reply to a story")
    # The rest expands: the engine's words are one toggle away, not on the card.
    more = first.locator(".qmore")
    await expect(more).to_be_hidden()
    await first.get_by_role("button", name="Details").click()
    await expect(more).to_be_visible()
    await expect(more).to_contain_text("Recent messages")
    await first.get_by_text("Engine detail").click()
    await expect(more).to_contain_text("confidence 0.42 below 0.80")


async def test_the_first_approve_is_above_the_fold_on_a_phone(
    live_server: LiveServer, phone: BrowserContext
) -> None:
    email, seeded = await _desk(live_server)
    page = await _signed_in(live_server, phone, email)
    approve = page.locator(f"#draft-{seeded[0].draft_id}").get_by_role(
        "button", name="Approve", exact=True
    )
    box = await approve.bounding_box()
    assert box is not None
    print(f"desk: first Approve bottom on 390x844 at {round(box['y'] + box['height'])} px")  # noqa: T201
    assert box["y"] + box["height"] <= PHONE["height"]
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await _shot(page, "desk-full-phone")
    # The selection bar stays at the bottom of the screen while scrolling.
    await page.mouse.wheel(0, 1500)
    await page.locator("#draft-" + str(seeded[0].draft_id)).locator(".qselect").tap()
    bar = await page.locator("#desk-bulk").bounding_box()
    assert bar is not None
    assert bar["y"] + bar["height"] <= PHONE["height"] + 1
    await approve.tap()
    await expect(page.locator(f"#draft-{seeded[0].draft_id}")).to_contain_text("Approved.")


async def _approve_a_group_of_19(server: LiveServer, context: BrowserContext, size: str) -> None:
    email, seeded = await _group(server, 19)
    members, other = seeded[:-1], seeded[-1]
    page = await _signed_in(server, context, email)
    group = page.locator(f"#group-{members[0].draft_id}")
    await expect(group).to_contain_text("19 followers asked this")
    await expect(page.locator("#queue-list .qcard")).to_have_count(2)
    await group.get_by_role("button", name="19 followers").click()
    await expect(group.locator(".members li")).to_have_count(19)
    await _shot(page, f"desk-group-{size}")
    await group.get_by_role("button", name="Approve all 19").click()
    await expect(group).to_contain_text("Approved 19: 19 replies on the way.")
    followers = [m.follower_id for m in members]
    await _sends(server, followers)
    await asyncio.sleep(0.5)  # a second send, were there one, would have arrived by now
    sent = [
        s["recipient"]["id"] for s in server.send_api.sends if s["recipient"]["id"] in followers
    ]
    assert sorted(sent) == sorted(followers), "19 replies, each follower once"
    for member in members:
        [reply] = server.sends_to(member.follower_id)
        assert reply["message"]["text"] == member.text  # each with their own name
    assert await _status(server, other.draft_id) == "pending"


async def test_a_group_of_19_is_approved_with_one_action(
    live_server: LiveServer, laptop: BrowserContext
) -> None:
    await _approve_a_group_of_19(live_server, laptop, "laptop")


@pytest.mark.postgres_only
async def test_a_group_of_19_is_approved_with_one_action_on_a_phone_on_postgresql(
    pg_live_server: LiveServer, phone: BrowserContext
) -> None:
    await _approve_a_group_of_19(pg_live_server, phone, "phone")


async def test_filters_and_search_narrow_the_list(
    live_server: LiveServer, laptop: BrowserContext, phone: BrowserContext
) -> None:
    email, seeded = await _desk(live_server)
    for size, context in (("laptop", laptop), ("phone", phone)):
        page = await _signed_in(live_server, context, email)
        cards = page.locator("#queue-list .qcard")
        await expect(cards).to_have_count(len(seeded))
        await page.get_by_placeholder("Search follower, message or reply").fill("austria")
        await page.get_by_placeholder("Search follower, message or reply").press("Enter")
        await expect(page).to_have_url(re.compile(r"q=austria"))
        await expect(cards).to_have_count(1)
        await expect(cards.first).to_contain_text("clay mask")
        await page.get_by_placeholder("Search follower, message or reply").fill("")
        if not await page.locator("#desk-more").evaluate("d => d.open"):
            await page.get_by_text("Filters and order").click()
        await expect(page.get_by_label("Why it waits")).to_be_visible()
        await page.get_by_label("Why it waits").select_option("sensitive")
        await expect(page).to_have_url(re.compile(r"reason=sensitive"))
        await expect(cards).to_have_count(1)
        await expect(cards.first).to_contain_text(
            "Sensitive: the follower has a problem with a delivery"
        )
        await _shot(page, f"desk-filtered-{size}")
        await page.get_by_label("Why it waits").select_option("")
        await page.get_by_label("Language").select_option("de")
        await expect(cards).to_have_count(1)
        await expect(cards.first).to_contain_text("Rabattcode")
        await page.goto(f"{live_server.url}/queue?q=nothing+like+this")
        await expect(cards).to_have_count(0)
        await expect(page.get_by_text("Nothing waiting matches.")).to_be_visible()
        await page.close()


async def test_bulk_selection_approves_the_chosen_cards_and_they_leave(
    live_server: LiveServer, laptop: BrowserContext
) -> None:
    email, seeded = await _desk(live_server, drafts=4)
    page = await _signed_in(live_server, laptop, email)
    chosen = seeded[:2]
    for s in chosen:
        await page.locator(f"#draft-{s.draft_id} .qselect").check()
    await expect(page.locator("#desk-selected")).to_have_text("2 selected")
    await page.get_by_role("button", name="Approve selected").click()
    await expect(page.locator("#desk-result")).to_contain_text("Approved 2: 2 replies on the way.")
    for s in chosen:
        await expect(page.locator(f"#draft-{s.draft_id}")).to_have_count(0)
    await expect(page.locator("#queue-list .qcard")).to_have_count(2)
    await expect(page.locator("#queue-count")).to_have_text("2 waiting")
    assert sorted(await _sends(live_server, [s.follower_id for s in chosen])) == sorted(
        s.follower_id for s in chosen
    )
    # Select all shown, reject with one reason.
    await page.get_by_label("Select all shown").check()
    await page.get_by_role("button", name="Reject selected…").click()
    await page.get_by_placeholder("Reason (optional)").fill("answered in a story")
    await page.get_by_role("button", name="Reject", exact=True).click()
    await expect(page.locator("#desk-result")).to_contain_text("Rejected 2.")
    await expect(page.locator("#queue-list .qcard")).to_have_count(0)
    assert [await _status(live_server, s.draft_id) for s in seeded[2:]] == ["rejected"] * 2


async def test_screenshots_of_the_empty_queue(
    live_server: LiveServer, laptop: BrowserContext, phone: BrowserContext
) -> None:
    async with live_server.session() as session:
        account = await seed_account(session, live_server.cipher, name="Quiet Account")
        email = f"desk{next(_people)}@desk.example"
        await seed_moderator(session, email, [account.id])
    for size, context in (("laptop", laptop), ("phone", phone)):
        page = await _signed_in(live_server, context, email)
        await expect(
            page.get_by_text("Nothing waiting. Every follower has an answer.")
        ).to_be_visible()
        await _shot(page, f"desk-empty-{size}")
        await page.close()
