"""Security headers on every page and answer; /metrics behind METRICS_TOKEN; /docs local."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.harness import Harness, make_settings, running_app
from tests.users.web import sign_in

PAGES = (
    "/",
    "/queue",
    "/conversations",
    "/catalog",
    "/account/password",
    "/admin/users",
    "/admin/audit",
)
PUBLIC_PAGES = ("/login", "/docs", "/meta/data-deletion/unknown-code")


def _directives(response: httpx.Response) -> dict[str, str]:
    policy = response.headers.get("content-security-policy", "")
    pairs = (part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}


def _assert_hardened(response: httpx.Response) -> None:
    csp = _directives(response)
    assert csp.get("default-src") == "'self'", response.request.url
    assert csp.get("script-src") == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp.get("frame-ancestors") == "'none'"
    assert csp.get("base-uri") == "'none'"
    assert csp.get("form-action") == "'self'"
    assert csp.get("object-src") == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_every_page_and_answer_carries_the_headers(harness: Harness) -> None:
    await sign_in(harness.client)
    for path in PAGES:
        response = await harness.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert response.headers["content-type"].startswith("text/html")
        _assert_hardened(response)
        assert response.headers["cache-control"] == "no-store", path
    for path in PUBLIC_PAGES:
        response = await harness.client.get(path)
        assert response.headers["content-type"].startswith("text/html"), path
        _assert_hardened(response)
    api = await harness.api("GET", "/api/v1/accounts")
    assert api.status_code == 200
    assert api.headers["cache-control"] == "no-store"
    assert api.headers["x-content-type-options"] == "nosniff"
    # Static files stay cacheable (no personal data in them).
    static = await harness.client.get("/static/app.css")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("cache-control", "")
    assert static.headers["x-content-type-options"] == "nosniff"


async def test_pages_have_no_inline_script_or_style(harness: Harness) -> None:
    """What the CSP would block: <script> without src, <style>, style= and on...= attributes,
    and a javascript: URL. (The browser test checks the same in chromium.)"""
    await sign_in(harness.client)
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:|hx-on", re.I
    )
    for path in (*PAGES, *PUBLIC_PAGES):
        html = (await harness.client.get(path)).text
        assert inline.search(html) is None, (path, inline.search(html))
        # The <title> holds text only (a <script> there once showed up in the tab).
        title = re.search(r"<title>(.*?)</title>", html, re.S)
        assert title is not None, path
        assert "<" not in title.group(1), path


async def test_docs_are_served_from_our_own_static_files(harness: Harness) -> None:
    page = await harness.client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    for source in sources:
        assert source.startswith("/static/"), source
        assert (await harness.client.get(source)).status_code == 200, source
    assert (await harness.client.get("/redoc")).status_code == 404
    assert (await harness.client.get("/openapi.json")).status_code == 200


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong-token", 401),
        ("Basic bWV0cmljcy10b2tlbg==", 401),
        ("Bearer m\u00e9trics", 401),  # not ASCII: refused, not a 500
        ("Bearer metrics-token-0123", 200),
        ("bearer metrics-token-0123", 200),
    ],
)
async def test_metrics_need_the_token_when_one_is_set(
    database_url: str, tmp_path: Path, authorization: str | None, status: int
) -> None:
    settings = make_settings(database_url, str(tmp_path), METRICS_TOKEN="metrics-token-0123")
    async with running_app(settings) as harness:
        headers = (
            {} if authorization is None else {b"Authorization": authorization.encode("latin-1")}
        )
        response = await harness.client.get("/metrics", headers=headers)
        assert response.status_code == status
        if status == 200:
            assert "inboxpilot_webhook_acks_total" in response.text
        else:
            assert "inboxpilot_" not in response.text
            assert response.headers["www-authenticate"] == "Bearer"


async def test_metrics_are_public_without_a_token(harness: Harness) -> None:
    response = await harness.client.get("/metrics")
    assert response.status_code == 200
    assert "inboxpilot_webhook_acks_total" in response.text
