"""Approval statistics per intent and confidence band, from real moderator decisions."""

from __future__ import annotations

import pytest

from app.moderation.stats import band_of
from tests.harness import Harness, text_event

IG_ID = "17841400000000001"


@pytest.mark.parametrize(
    ("confidence", "band"),
    [
        (0.0, "0.00-0.50"),
        (0.49, "0.00-0.50"),
        (0.5, "0.50-0.70"),
        (0.85, "0.80-0.90"),
        (0.9, "0.90-1.00"),
        (1.0, "0.90-1.00"),
    ],
)
def test_bands(confidence: float, band: str) -> None:
    assert band_of(confidence) == band


async def test_moderator_decisions_are_counted_per_intent_and_band(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.add_serum(account["id"])
    for n in range(3):
        await harness.post_webhook(text_event(IG_ID, f"fan-{n}", "code for the vitamin c serum?"))
    await harness.run_worker()
    queue = (await harness.api("GET", "/api/v1/drafts")).json()
    assert len(queue) == 3
    first, second, third = (d["id"] for d in queue)
    await harness.api("POST", f"/api/v1/drafts/{first}/approve", json={})
    await harness.api("POST", f"/api/v1/drafts/{second}/approve", json={"text": "LENA15 :)"})
    await harness.api("POST", f"/api/v1/drafts/{third}/reject", json={"reason": "tone"})

    stats = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/approval-stats")).json()
    assert len(stats) == 1
    [row] = stats
    assert row["intent"] == queue[0]["intent"]
    assert row["band"] == band_of(queue[0]["confidence"])
    assert (row["decided"], row["approved_unchanged"], row["edited"], row["rejected"]) == (
        3,
        1,
        1,
        1,
    )
    assert row["approved_unchanged_share"] == pytest.approx(0.333, abs=0.001)

    other = await harness.create_account(external_id="other-ig", name="Other")
    assert (await harness.api("GET", f"/api/v1/accounts/{other['id']}/approval-stats")).json() == []
