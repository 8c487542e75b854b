"""The report page and its downloads, signed in through the real form: the figures, the
chart's bars and clicks line, the products, the range form's errors, and who may see it."""

from __future__ import annotations

import re

import time_machine

from tests.harness import Harness
from tests.reports.conftest import NOW
from tests.reports.seed import Seeded
from tests.users.web import PASSWORD, browser, create_user, sign_in

MEMBER, STRANGER = "member@test.example", "stranger@test.example"


def _figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="(\w+)">([^<]*)<', html))


async def _people(harness: Harness, seeded: Seeded) -> None:
    await create_user(harness, MEMBER, password=PASSWORD, account_ids=[seeded.account_id])
    await create_user(harness, STRANGER, password=PASSWORD)


async def test_the_page_shows_the_month(harness: Harness, seeded: Seeded) -> None:
    await _people(harness, seeded)
    path = f"/cooperations/{seeded.cooperation_id}/report"
    with time_machine.travel(NOW, tick=True):
        async with browser(harness) as client:
            await sign_in(client, MEMBER, PASSWORD)
            page = await client.get(path)
            catalog = await client.get(f"/catalog?account_id={seeded.account_id}")
            csv_file = await client.get(f"{path}.csv?from=2026-11-01&to=2026-11-30")
            pdf_file = await client.get(f"{path}.pdf")
            other_extension = await client.get(f"{path}.xls")
    assert page.status_code == 200
    html = page.text
    assert "<strong>01 Nov 2026</strong> to <strong>30 Nov 2026</strong>" in html
    assert _figures(html) == {
        "replies_sent": "4",
        "auto_sent": "2",
        "approved": "1",
        "by_hand": "1",
        "codes_sent": "4",
        "links_sent": "2",
        "clicks": "7",
        "comment_replies": "1",
        "story_mentions": "2",
        "shares": "2",
    }
    assert html.count('<rect class="replies"') == 2  # 3 and 5 November
    assert "<title>03 Nov: 2 replies sent, 5 clicks</title>" in html
    points = re.search(r'<polyline class="clicks" points="([^"]+)"', html)
    assert points is not None
    assert len(points.group(1).split()) == 30
    assert 'style="' not in html
    row = re.search(rf'<tr data-product="{seeded.serum_id}">(.*?)</tr>', html)
    assert row is not None
    assert re.findall(r'class="num">(\d+)<', row.group(1)) == ["3", "2", "1", "5", "1"]
    assert f'href="{path}.pdf?from=2026-11-01&amp;to=2026-11-30"' in html
    assert f'href="{path}.csv?from=2026-11-01&amp;to=2026-11-30"' in html
    assert f'href="{path}"' in catalog.text

    assert csv_file.status_code == 200
    assert csv_file.headers["content-type"].startswith("text/csv")
    assert csv_file.text.splitlines()[3].startswith("2026-11-03,2,1,1,0,3,1,5,1")
    assert pdf_file.status_code == 200
    assert pdf_file.content.startswith(b"%PDF-")
    assert "attachment;" in pdf_file.headers["content-disposition"]
    assert pdf_file.headers["cache-control"] == "no-store"  # a brand's figures stay private
    assert other_extension.status_code == 404


async def test_a_range_the_page_cannot_show(harness: Harness, seeded: Seeded) -> None:
    await _people(harness, seeded)
    path = f"/cooperations/{seeded.cooperation_id}/report"
    with time_machine.travel(NOW, tick=True):
        async with browser(harness) as client:
            await sign_in(client, MEMBER, PASSWORD)
            backwards = await client.get(f"{path}?from=2026-11-30&to=2026-11-01")
            too_long = await client.get(f"{path}?from=2020-01-01&to=2026-11-01")
            nonsense = await client.get(f"{path}?from=soon")
            one_day = await client.get(f"{path}?from=2026-11-05&to=2026-11-05")
            bad_file = await client.get(f"{path}.csv?from=2026-11-30&to=2026-11-01")
    assert backwards.status_code == 422
    assert "`from` must not be after `to`" in backwards.text
    assert 'value="2026-11-30"' in backwards.text  # what was typed stays in the form
    assert _figures(backwards.text)["replies_sent"] == "4"  # the cooperation's own dates
    assert too_long.status_code == 422
    assert "at most 400 days" in too_long.text
    assert nonsense.status_code == 422
    assert "is not a date" in nonsense.text
    assert one_day.status_code == 200
    assert _figures(one_day.text)["replies_sent"] == "2"
    assert bad_file.status_code == 422


async def test_only_members_see_it(harness: Harness, seeded: Seeded) -> None:
    await _people(harness, seeded)
    path = f"/cooperations/{seeded.cooperation_id}/report"
    async with browser(harness) as client:
        await sign_in(client, STRANGER, PASSWORD)
        for url in (path, f"{path}.csv", f"{path}.pdf", "/cooperations/999999/report"):
            answer = await client.get(url, headers={"Accept": "text/html"})
            assert answer.status_code == 404, url
            assert "does not exist, or it belongs to an account" in answer.text
    async with browser(harness) as client:
        signed_out = await client.get(path, headers={"Accept": "text/html"})
        assert signed_out.status_code == 303
        assert signed_out.headers["location"].startswith("/login")
