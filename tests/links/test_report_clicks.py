"""The whole loop: an automatic reply hands out the tracked link, the follower opens it
(after Meta's preview fetcher did), and the cooperation's report counts one click."""

from __future__ import annotations

import re

from app.core.clock import utc_now
from tests.harness import Harness, text_event

IG_ID = "17841400000000001"
PREVIEW = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Instagram 330.0.3.29.91"


async def test_a_followed_link_is_one_click_in_the_report(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    cooperation = await harness.add_serum(account["id"])
    await harness.post_webhook(text_event(IG_ID, "IGSID-1", "link to the vitamin c serum?"))
    await harness.run_worker()
    [sent] = harness.graph.sent
    [path] = re.findall(r"http://127\.0\.0\.1:8000(/l/[\w-]{24})", sent.text or "")

    for agent in (PREVIEW, PHONE, PHONE):  # Meta's preview, the follower, a double tap
        followed = await harness.client.get(path, headers={"User-Agent": agent})
        assert followed.status_code == 302
        assert followed.headers["location"] == "https://glowlab.example/serum"

    today = utc_now().date().isoformat()
    report = await harness.api(
        "GET",
        f"/api/v1/cooperations/{cooperation['id']}/report",
        params={"from": today, "to": today},
    )
    assert report.status_code == 200, report.text
    totals = report.json()["totals"]
    assert (totals["replies_sent"], totals["links_sent"], totals["clicks"]) == (1, 1, 1)
    [product] = report.json()["products"]
    assert (product["product_id"], product["clicks"]) == (cooperation["products"][0]["id"], 1)
