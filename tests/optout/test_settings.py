"""Disclosure and story-mention thanks are the owner's (or an admin's) to set, through the
API and the settings page; a line that leaves too little room for the reply is refused."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from tests.harness import Harness
from tests.ui.test_settings_owner import MODERATOR, OWNER, PASSWORD, _form
from tests.ui.test_settings_owner import account as account
from tests.users.web import browser, sign_in


async def test_patch_reads_and_changes_disclosure(harness: Harness) -> None:
    created = await harness.create_account()
    assert (created["disclosure"], created["disclosure_text"]) == ("first", None)
    path = f"/api/v1/accounts/{created['id']}"

    changed = await harness.api(
        "PATCH", path, json={"disclosure": "every", "disclosure_text": "  🤖 Lena's bot  "}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["disclosure"], changed.json()["disclosure_text"]) == (
        "every",
        "🤖 Lena's bot",
    )
    cleared = await harness.api("PATCH", path, json={"disclosure_text": ""})
    assert cleared.json()["disclosure_text"] is None
    assert cleared.json()["disclosure"] == "every"  # absent: unchanged

    bad = await harness.api("PATCH", path, json={"disclosure": "sometimes"})
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("platform", "longest"),
    # One message minus the blank line before the text minus 200 for the reply.
    [("instagram", 1000 - 2 - 200), ("messenger", 2000 - 2 - 200)],
)
async def test_a_line_must_leave_200_for_the_reply(
    harness: Harness, platform: str, longest: int
) -> None:
    created = await harness.create_account(
        platform=platform,
        graph_host="instagram" if platform == "instagram" else "facebook",
        external_id=f"{platform}-1",
    )
    path = f"/api/v1/accounts/{created['id']}"
    fits = await harness.api("PATCH", path, json={"disclosure_text": "x" * longest})
    assert fits.status_code == 200, fits.text
    too_long = await harness.api("PATCH", path, json={"disclosure_text": "x" * (longest + 1)})
    assert too_long.status_code == 422
    assert "at least 200" in too_long.json()["detail"]
    if platform == "instagram":  # Instagram counts bytes: "ü" is two
        umlauts = await harness.api(
            "PATCH", path, json={"disclosure_text": "ü" * (longest // 2 + 1)}
        )
        assert umlauts.status_code == 422
    after = (await harness.api("GET", path)).json()
    assert after["disclosure_text"] == "x" * longest


async def test_the_owner_sets_disclosure_and_thanks_on_the_settings_page(
    harness: Harness, account: dict[str, Any]
) -> None:
    async with browser(harness) as client:
        await sign_in(client, OWNER, PASSWORD)
        page = await client.get(f"/accounts/{account['id']}/settings")
        assert "sent automatically by Lena Loves' assistant" in unescape(page.text)
        assert "At most 798 bytes" in page.text
        too_long = await client.post(
            f"/accounts/{account['id']}/settings",
            data=_form(page.text, disclosure="every", disclosure_text="y" * 799),
        )
        assert too_long.status_code == 422
        assert "at least 200 bytes" in too_long.text
        saved = await client.post(
            f"/accounts/{account['id']}/settings",
            data=_form(
                page.text,
                disclosure="every",
                disclosure_text="(automatic reply)",
                thank_story_mentions="on",
                story_mention_thanks="Danke fürs Teilen!",
            ),
        )
        assert saved.status_code == 303, saved.text
    current = (await harness.api("GET", f"/api/v1/accounts/{account['id']}")).json()
    assert (current["disclosure"], current["disclosure_text"]) == ("every", "(automatic reply)")
    policy = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/policy")).json()
    assert policy["thank_story_mentions"] is True
    assert policy["story_mention_thanks"] == "Danke fürs Teilen!"


async def test_a_moderator_sees_them_read_only_and_cannot_forge_them(
    harness: Harness, account: dict[str, Any]
) -> None:
    async with browser(harness) as client:
        await sign_in(client, MODERATOR, PASSWORD)
        page = await client.get(f"/accounts/{account['id']}/settings")
        for name in ("disclosure", "disclosure_text", "thank_story_mentions"):
            tags = re.findall(rf'<input[^>]*name="{name}"[^>]*>', page.text)
            assert tags, name
            assert all(" disabled" in tag for tag in tags), name
        kept = await client.post(
            f"/accounts/{account['id']}/settings", data=_form(page.text, persona="Brief.")
        )
        assert kept.status_code == 303, kept.text
        for forged in ({"disclosure": "off"}, {"thank_story_mentions": "on"}):
            refused = await client.post(
                f"/accounts/{account['id']}/settings", data=_form(page.text, **forged)
            )
            assert refused.status_code == 403, forged
        api = await client.patch(f"/api/v1/accounts/{account['id']}", json={"disclosure": "off"})
        assert api.status_code in (401, 403)
    current = (await harness.api("GET", f"/api/v1/accounts/{account['id']}")).json()
    assert current["disclosure"] == "first"
    assert current["persona"] == "Brief."
