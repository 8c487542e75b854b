"""A cooperation's platform posts: through the API and both import formats."""

from __future__ import annotations

import pytest

from app.catalog.importer import ImportError_, parse_catalog
from tests.harness import Harness


async def test_posts_round_trip_through_the_api(harness: Harness) -> None:
    account = await harness.create_account()
    created = await harness.api(
        "POST",
        f"/api/v1/accounts/{account['id']}/cooperations",
        json={
            "brand": "GlowLab",
            "platform_posts": [
                "https://www.instagram.com/p/AbC123/",
                {"kind": "story", "media_id": "17900000000000001", "posted_on": "2026-03-01"},
            ],
            "products": [{"name": "Vitamin C Serum"}],
        },
    )
    assert created.status_code == 201, created.text
    listed = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/cooperations")).json()
    assert listed[0]["platform_posts"] == [
        {
            "url": "https://www.instagram.com/p/AbC123/",
            "kind": "post",
            "media_id": None,
            "posted_on": None,
        },
        {"url": None, "kind": "story", "media_id": "17900000000000001", "posted_on": "2026-03-01"},
    ]


async def test_a_post_needs_a_url_or_a_media_id(harness: Harness) -> None:
    account = await harness.create_account()
    response = await harness.api(
        "POST",
        f"/api/v1/accounts/{account['id']}/cooperations",
        json={"brand": "GlowLab", "platform_posts": [{"kind": "reel"}]},
    )
    assert response.status_code == 422
    listed = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/cooperations")).json()
    assert listed == []


def test_csv_posts_are_separated_by_bars() -> None:
    [cooperation] = parse_catalog(
        b"brand,name,platform_posts\n"
        b"GlowLab,Serum,https://instagram.com/p/1/ | https://instagram.com/reel/2/\n"
        b"GlowLab,Toner,https://instagram.com/p/1/ | https://instagram.com/reel/2/\n",
        "catalog.csv",
    )
    assert [str(p.url) for p in cooperation.platform_posts] == [
        "https://instagram.com/p/1/",
        "https://instagram.com/reel/2/",
    ]
    assert len(cooperation.products) == 2


def test_a_bad_post_url_names_its_line() -> None:
    with pytest.raises(ImportError_) as caught:
        parse_catalog(b"brand,name,platform_posts\nGlowLab,Serum,not a url\n", "c.csv")
    assert caught.value.errors[0].startswith("line 2: platform_posts.0.url")
