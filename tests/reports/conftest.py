"""The reports' shared fixture: the known month of tests/reports/seed.py, asked as of 7 Dec."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import Account, User
from tests.harness import Harness
from tests.reports.seed import Seeded, at, seed_month

NOW = at("2026-12-07")
ZERO = {
    "replies_sent": 0,
    "auto_sent": 0,
    "approved": 0,
    "by_hand": 0,
    "codes_sent": 0,
    "links_sent": 0,
    "clicks": 0,
    "comment_replies": 0,
    "story_mentions": 0,
    "shares": 0,
}


async def seed(harness: Harness) -> Seeded:
    created = await harness.create_account()
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await session.get(Account, created["id"])
        admin = await session.scalar(select(User).where(User.role == "admin"))
        assert account is not None
        assert admin is not None
        return await seed_month(session, account, admin.id)


@pytest.fixture
async def seeded(harness: Harness) -> Seeded:
    return await seed(harness)


async def report_of(harness: Harness, cooperation_id: int, query: str = "") -> Any:
    with time_machine.travel(NOW, tick=False):
        return await harness.api("GET", f"/api/v1/cooperations/{cooperation_id}/report{query}")
