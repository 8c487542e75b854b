"""SMTP_URL's forms, and what a digest message holds (no database, no server)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from app.config import ConfigError
from app.notifications.mail import MAX_LISTED, build_message, parse_smtp_url
from app.notifications.service import Digest, Item, Kind, excerpt
from tests.harness import make_settings


def test_smtp_urls() -> None:
    plain = parse_smtp_url("smtp://me%40host.example:p%3Ass@mail.example:2525")
    assert (plain.host, plain.port, plain.use_tls) == ("mail.example", 2525, False)
    assert (plain.username, plain.password) == ("me@host.example", "p:ss")
    assert "p:ss" not in repr(plain)
    tls = parse_smtp_url("smtps://mail.example")
    assert (tls.port, tls.use_tls, tls.username) == (465, True, None)
    assert parse_smtp_url("smtp://mail.example").port == 587
    for bad in ("http://mail.example", "smtp://", "mail.example:25"):
        with pytest.raises(ValueError, match="SMTP_URL"):
            parse_smtp_url(bad)


def test_settings_refuse_a_smtp_url_that_is_not_one(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="SMTP_URL"):
        make_settings("sqlite+aiosqlite:///x.db", str(tmp_path), SMTP_URL="https://mail.example")


def _item(n: int, text: str = "hello") -> Item:
    return Item(Kind.WAITING, f"draft:{n}", "Lena <3", f"/queue#draft-{n}", "@fan", excerpt(text))


def _html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def test_followers_words_are_escaped_and_cut(tmp_path: object) -> None:
    settings = make_settings("sqlite+aiosqlite:///x.db", str(tmp_path))
    words = "<script>alert(1)</script> " + "very long " * 20
    message = build_message(settings, Digest(1, "mod@test.example", [_item(1, words)]))
    html = _html(message)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "Lena &lt;3" in html
    assert len(excerpt(words)) == 80


def test_a_long_section_lists_some_and_counts_the_rest(tmp_path: object) -> None:
    settings = make_settings("sqlite+aiosqlite:///x.db", str(tmp_path))
    items = [_item(n) for n in range(1, MAX_LISTED + 6)]
    message = build_message(settings, Digest(1, "mod@test.example", items))
    html = _html(message)
    assert html.count("/queue#draft-") == MAX_LISTED
    assert "and 5 more" in html
    assert message["Subject"] == f"inboxpilot: {MAX_LISTED + 5} drafts waiting"


def test_a_vapid_key_that_does_not_load_stops_the_start(tmp_path: object) -> None:
    from app.main import create_app

    settings = make_settings("sqlite+aiosqlite:///x.db", str(tmp_path), VAPID_PRIVATE_KEY="nope")
    with pytest.raises(ConfigError, match="VAPID_PRIVATE_KEY"):
        create_app(settings)
