"""Which catalog URLs a reply gives, and the reply with short links in their place; the
UTM merge; who counts as a person clicking. Pure functions."""

from __future__ import annotations

import pytest

from app.links.clicks import is_click
from app.links.matching import find_links, replace_links
from app.links.utm import with_utm

SERUM = (1, "https://glowlab.example/serum")
SERUM_XL = (2, "https://glowlab.example/serum-xl")
SHOP = (3, "https://glowlab.example")


def _given(text: str, *urls: tuple[int, str], preferred: tuple[int, ...] = ()) -> list[int]:
    return [f.product_id for f in find_links(text, list(urls), preferred=preferred)]


def test_a_url_that_starts_another_does_not_take_its_place() -> None:
    text = "XL: https://glowlab.example/serum-xl and small: https://glowlab.example/serum!"
    found = find_links(text, [SERUM, SERUM_XL, SHOP])
    assert [f.product_id for f in found] == [2, 1]
    short = {1: "https://p.example/l/AAA", 2: "https://p.example/l/BBB"}
    assert replace_links(text, found, short) == (
        "XL: https://p.example/l/BBB and small: https://p.example/l/AAA!"
    )


@pytest.mark.parametrize(
    ("text", "given"),
    [
        ("https://glowlab.example/serum", [1]),
        ("see https://glowlab.example/serum.", [1]),
        ("(https://glowlab.example/serum), ok", [1]),
        ("«https://glowlab.example/serum»\nthanks", [1]),
        ("https://glowlab.example/serum https://glowlab.example/serum", [1, 1]),
        ("https://glowlab.example/serums", []),
        ("https://glowlab.example/serum.html", []),
        ("https://glowlab.example/serum?ref=x", []),
        ("https://glowlab.example/serum/", []),
        ("glowlab.example/serum", []),
        ("https://glowlab.example/serum-xl", [2]),
        ("", []),
    ],
)
def test_only_whole_catalog_urls_are_found(text: str, given: list[int]) -> None:
    assert _given(text, SERUM, SERUM_XL) == given


def test_a_catalog_url_ending_in_a_slash_is_found_without_it() -> None:
    shop = (3, "https://glowlab.example/")  # how the catalog stores a bare domain
    assert _given("at https://glowlab.example!", shop) == [3]
    assert _given("at https://glowlab.example/ now", shop) == [3]
    assert _given("at https://glowlab.example/serum", shop) == []
    assert _given("at https://glowlab.example.com", shop) == []
    found = find_links("https://glowlab.example/serum or https://glowlab.example", [shop, SERUM])
    assert [(f.product_id, f.end - f.start) for f in found] == [(1, 29), (3, 23)]


def test_products_sharing_a_url_give_it_to_the_drafts_product() -> None:
    shared = [(5, "https://shop.example/"), (4, "https://shop.example/")]
    assert _given("at https://shop.example/ now", *shared) == [4]
    assert _given("at https://shop.example/ now", *shared, preferred=(5,)) == [5]


def test_text_around_the_links_is_untouched() -> None:
    text = "Hi Anna 💛 https://glowlab.example/serum  code LENA15\n\nhttps://other.example/x"
    found = find_links(text, [SERUM])
    assert replace_links(text, found, {1: "S"}) == (
        "Hi Anna 💛 S  code LENA15\n\nhttps://other.example/x"
    )
    assert replace_links(text, found, {}) == text


@pytest.mark.parametrize(
    ("url", "utm", "expected"),
    [
        ("https://a.example/p", {}, "https://a.example/p"),
        ("https://a.example/p", {"utm_source": "ig"}, "https://a.example/p?utm_source=ig"),
        (
            "https://a.example/p?utm_source=old&utm_medium=dm&x=1#top",
            {"utm_source": "instagram", "utm_campaign": "herbst 2026"},
            "https://a.example/p?utm_medium=dm&x=1&utm_source=instagram"
            "&utm_campaign=herbst+2026#top",
        ),
        (
            "https://a.example/p?ref=a%2Fb&empty=&flag",
            {"utm_content": "ä&b"},
            "https://a.example/p?ref=a%2Fb&empty=&flag&utm_content=%C3%A4%26b",
        ),
        # Whatever was stored, only utm_* strings go into the URL.
        (
            "https://a.example/p",
            {"ref": "x", "utm_id": 5, "utm_term": "t"},
            "https://a.example/p?utm_term=t",
        ),
    ],
)
def test_utm_parameters_merge_into_the_query(
    url: str, utm: dict[str, object], expected: str
) -> None:
    assert with_utm(url, utm) == expected


@pytest.mark.parametrize(
    ("method", "agent", "counted"),
    [
        ("GET", "Mozilla/5.0 (Linux; Android 14) Chrome/120 Mobile Safari/537.36", True),
        ("GET", "Mozilla/5.0 (Linux; Android 9; CUBOT P30) Chrome/120 Mobile", True),
        ("GET", "Mozilla/5.0 Instagram 330.0.3.29.91 Android", True),
        ("HEAD", "Mozilla/5.0 (Linux; Android 14) Chrome/120 Mobile Safari/537.36", False),
        ("GET", "facebookexternalhit/1.1", False),
        ("GET", "Mozilla/5.0 (compatible; AhrefsBot/7.0)", False),
        ("GET", "python-requests/2.31 robot", False),
        ("GET", "", False),
        ("GET", None, False),
        ("GET", "Mozilla/5.0 " + "x" * 600 + " Googlebot", True),  # past what is read
    ],
)
def test_who_counts_as_a_click(method: str, agent: str | None, counted: bool) -> None:
    assert is_click(method, agent) is counted
