"""The slowdown after repeated failed sign-ins, counted from the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from tests.harness import Harness
from tests.users.web import ADMIN, try_sign_in

START = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


async def _fail(harness: Harness, times: int, email: str = ADMIN[0]) -> None:
    for _ in range(times):
        response = await try_sign_in(harness.client, email, "wrong password")
        assert response.status_code == 401, response.text


async def test_five_failures_slow_the_email_down_even_with_the_right_password(
    harness: Harness,
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        await _fail(harness, 5)
        refused = await try_sign_in(harness.client, *ADMIN)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "30"
        assert "Too many failed sign-ins" in refused.text
        assert "Try again in 30 seconds" in refused.text
        assert "12:00:30 UTC" in refused.text
        assert "inboxpilot_session" not in refused.cookies

        # Another email is not affected.
        other = await try_sign_in(harness.client, "someone@test.example", "whatever")
        assert other.status_code == 401

        clock.shift(timedelta(seconds=31))
        ok = await try_sign_in(harness.client, ADMIN[0].upper(), ADMIN[1])
        assert ok.status_code == 303


async def test_the_wait_doubles_and_is_capped(harness: Harness) -> None:
    with time_machine.travel(START, tick=False) as clock:
        await _fail(harness, 5)
        waits = []
        for _ in range(6):
            refused = await try_sign_in(harness.client, *ADMIN)
            assert refused.status_code == 429
            wait = int(refused.headers["retry-after"])
            waits.append(wait)
            clock.shift(timedelta(seconds=wait))
            await _fail(harness, 1)
        assert waits == [30, 60, 120, 240, 480, 900]
        refused = await try_sign_in(harness.client, *ADMIN)
        assert int(refused.headers["retry-after"]) == 900


async def test_a_successful_sign_in_resets_the_count(harness: Harness) -> None:
    with time_machine.travel(START, tick=False) as clock:
        await _fail(harness, 5)
        clock.shift(timedelta(seconds=30))
        assert (await try_sign_in(harness.client, *ADMIN)).status_code == 303
        # The earlier five no longer count: four more failures are still free.
        await _fail(harness, 4)
        assert (await try_sign_in(harness.client, *ADMIN)).status_code == 303


async def test_failures_older_than_the_window_do_not_count(harness: Harness) -> None:
    with time_machine.travel(START, tick=False) as clock:
        await _fail(harness, 4)
        clock.shift(timedelta(minutes=16))
        await _fail(harness, 4)
        assert (await try_sign_in(harness.client, *ADMIN)).status_code == 303


async def test_unknown_emails_are_slowed_down_alike(harness: Harness) -> None:
    with time_machine.travel(START, tick=False):
        await _fail(harness, 5, email="nobody@test.example")
        refused = await try_sign_in(harness.client, "Nobody@Test.example ", "x")
        assert refused.status_code == 429


async def test_the_slowdown_ends_after_a_quiet_quarter_hour(harness: Harness) -> None:
    with time_machine.travel(START, tick=False) as clock:
        await _fail(harness, 5)
        clock.shift(timedelta(seconds=30) + timedelta(minutes=15, seconds=1))
        await _fail(harness, 4)
        assert (await try_sign_in(harness.client, *ADMIN)).status_code == 303
