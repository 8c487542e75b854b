"""GET /api/v1/cooperations/{id}/report against a known month, on both databases: every
figure exactly, days with zeros, the range rules, CSV, and who may read it."""

from __future__ import annotations

import csv
import io

import pytest
import time_machine
from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import Conversation, OutboundMessage
from app.users import service as users
from tests.builders import create_draft, create_message
from tests.harness import Harness
from tests.reports.conftest import NOW, ZERO, report_of
from tests.reports.seed import Seeded, at
from tests.users.web import create_user


async def test_the_month_in_numbers(harness: Harness, seeded: Seeded) -> None:
    response = await report_of(harness, seeded.cooperation_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cooperation"]["brand"] == "GlowLab"
    assert body["cooperation"]["account_name"] == "Lena Loves"
    assert (body["from"], body["to"]) == ("2026-11-01", "2026-11-30")
    assert body["totals"] == {
        "replies_sent": 4,
        "auto_sent": 2,
        "approved": 1,
        "by_hand": 1,
        "codes_sent": 4,
        "links_sent": 2,
        "clicks": 7,
        "comment_replies": 1,
        "story_mentions": 2,
        "shares": 2,
    }
    days = {d.pop("date"): d for d in body["days"]}
    assert len(days) == 30
    assert days["2026-11-03"] == {
        **ZERO,
        "replies_sent": 2,
        "auto_sent": 1,
        "approved": 1,
        "codes_sent": 3,
        "links_sent": 1,
        "clicks": 5,
        "comment_replies": 1,
    }
    assert days["2026-11-05"] == {
        **ZERO,
        "replies_sent": 2,
        "auto_sent": 1,
        "by_hand": 1,
        "codes_sent": 1,
        "links_sent": 1,
        "clicks": 2,
    }
    assert days["2026-11-10"] == {**ZERO, "story_mentions": 1}
    assert days["2026-11-11"] == {**ZERO, "story_mentions": 1}
    assert days["2026-11-12"] == ZERO
    assert days["2026-11-20"] == ZERO  # two cooperations had a story: neither gets it
    assert days["2026-11-15"] == {**ZERO, "shares": 1}
    assert days["2026-11-16"] == {**ZERO, "shares": 1}
    assert days["2026-11-01"] == ZERO
    products = {p.pop("name"): p for p in body["products"]}
    assert list(products) == ["Night Cream", "Vitamin C Serum"]
    assert products["Vitamin C Serum"] == {
        "product_id": seeded.serum_id,
        "replies_sent": 3,
        "auto_sent": 2,
        "approved": 1,
        "by_hand": 0,
        "codes_sent": 2,
        "links_sent": 1,
        "clicks": 5,
        "comment_replies": 1,
    }
    assert products["Night Cream"] == {
        "product_id": seeded.cream_id,
        "replies_sent": 2,
        "auto_sent": 0,
        "approved": 1,
        "by_hand": 1,
        "codes_sent": 2,
        "links_sent": 1,
        "clicks": 2,
        "comment_replies": 1,
    }


async def test_an_explicit_range_reaches_past_the_cooperation(
    harness: Harness, seeded: Seeded
) -> None:
    response = await report_of(harness, seeded.cooperation_id, "?from=2026-10-31&to=2026-12-01")
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["days"]) == 32
    assert (body["days"][0]["date"], body["days"][0]["codes_sent"]) == ("2026-10-31", 1)
    last = body["days"][-1]
    assert (last["date"], last["links_sent"], last["clicks"]) == ("2026-12-01", 1, 3)
    assert body["totals"]["replies_sent"] == 6
    only_one_day = await report_of(harness, seeded.cooperation_id, "?from=2026-11-03&to=2026-11-03")
    assert only_one_day.json()["totals"]["replies_sent"] == 2
    # Only one bound given: the other is the cooperation's.
    from_only = await report_of(harness, seeded.cooperation_id, "?from=2026-11-04")
    assert (from_only.json()["from"], from_only.json()["to"]) == ("2026-11-04", "2026-11-30")


async def test_the_days_as_csv(harness: Harness, seeded: Seeded) -> None:
    response = await report_of(harness, seeded.cooperation_id, "?format=csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="report-glowlab-autumn-skincare-2026-11-01-2026-11-30.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["date", *ZERO]
    assert len(rows) == 31
    assert rows[1] == ["2026-11-01", *["0"] * 10]
    assert rows[3] == ["2026-11-03", "2", "1", "1", "0", "3", "1", "5", "1", "0", "0"]
    assert rows[10] == ["2026-11-10", *["0"] * 8, "1", "0"]


@pytest.mark.parametrize(
    "query",
    [
        "?from=2026-11-30&to=2026-11-01",  # backwards
        "?from=2025-01-01&to=2026-02-05",  # 401 days
        "?from=2026-13-01",  # no such date
        "?from=yesterday",
        "?format=xml",
    ],
)
async def test_bad_ranges_are_422(harness: Harness, seeded: Seeded, query: str) -> None:
    response = await report_of(harness, seeded.cooperation_id, query)
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


async def test_400_days_is_the_longest_range(harness: Harness, seeded: Seeded) -> None:
    response = await report_of(harness, seeded.cooperation_id, "?from=2025-01-01&to=2026-02-04")
    assert response.status_code == 200
    assert len(response.json()["days"]) == 400


async def test_only_the_accounts_members_read_it(harness: Harness, seeded: Seeded) -> None:
    other = await harness.create_account(external_id="17841400000000002", name="Other")
    await create_user(harness, "member@test.example", account_ids=[seeded.account_id])
    await create_user(harness, "stranger@test.example", account_ids=[other["id"]])
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        member = await users.create_token(session, email="member@test.example")
        stranger = await users.create_token(session, email="stranger@test.example")
    path = f"/api/v1/cooperations/{seeded.cooperation_id}/report"
    with time_machine.travel(NOW, tick=False):
        mine = await harness.client.get(path, headers={"Authorization": f"Bearer {member}"})
        theirs = await harness.client.get(path, headers={"Authorization": f"Bearer {stranger}"})
        csv_too = await harness.client.get(
            path + "?format=pdf", headers={"Authorization": f"Bearer {stranger}"}
        )
        nobody = await harness.client.get(path)
        missing = await harness.api("GET", "/api/v1/cooperations/999999/report")
    assert mine.status_code == 200
    assert theirs.status_code == 404
    assert theirs.json() == {"detail": "cooperation not found"}
    assert csv_too.status_code == 404
    assert nobody.status_code == 401
    assert missing.status_code == 404


async def test_lists_stored_in_an_odd_shape_are_skipped(harness: Harness, seeded: Seeded) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        asked = await create_message(session, conversation, created_at=at("2026-11-07"))
        draft = await create_draft(
            session, conversation, asked, status="sent", decision="auto", product_ids=None
        )
        session.add(
            OutboundMessage(
                account_id=seeded.account_id,
                conversation_id=conversation.id,
                draft_id=draft.id,
                idempotency_key="odd",
                channel="graph",
                status="sent",
                parts=["x"],
                sent_at=at("2026-11-07"),
                codes_sent={"not": "a list"},
                links_sent="nor this",
            )
        )
    response = await report_of(harness, seeded.cooperation_id)
    assert response.status_code == 200
    assert response.json()["totals"]["replies_sent"] == 4


async def test_the_last_day_there_is(harness: Harness, seeded: Seeded) -> None:
    response = await report_of(harness, seeded.cooperation_id, "?from=9999-12-31&to=9999-12-31")
    assert response.status_code == 422
