"""signature_valid against signatures made with the standard library, and everything else.

The reference signature is computed here with `hmac`, never with the app's own `sign`.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

from hypothesis import assume, example, given
from hypothesis import strategies as st

from app.meta.signature import signature_valid

PREFIX = "sha256="
# Lone surrogates: text that has one does not encode.
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)

bodies = st.one_of(
    st.binary(max_size=2000),
    st.text(st.characters(exclude_categories=SURROGATES), max_size=500).map(str.encode),
    st.builds(
        lambda chunk, n: chunk * n, st.binary(min_size=1, max_size=8), st.integers(1, 20_000)
    ),
)
# Secrets come from the environment: any text that encodes, never empty.
secrets = st.text(st.characters(exclude_categories=SURROGATES), min_size=1, max_size=64)
# Header values as an ASGI server hands them over: bytes decoded as latin-1.
latin1_headers = st.binary(max_size=100).map(lambda raw: raw.decode("latin-1"))
any_headers = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=100),  # lone surrogates too
    latin1_headers,
    st.text("0123456789abcdefABCDEF", max_size=80).map(lambda h: PREFIX + h),
    st.one_of(st.text(st.characters(exclude_categories=()), max_size=80), latin1_headers).map(
        lambda h: PREFIX + h
    ),
)


def reference(body: bytes, secret: str) -> str:
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@given(body=bodies, secret=secrets, others=st.lists(secrets, max_size=3))
def test_a_stdlib_signature_is_accepted(body: bytes, secret: str, others: list[str]) -> None:
    header = reference(body, secret)
    assert signature_valid(body, header, [secret])
    # Any of several secrets may have signed it (the Instagram app's secret beside the Meta one).
    assert signature_valid(body, header, [*others, secret])


@given(body=bodies, secret=secrets, data=st.data())
def test_one_changed_byte_of_the_body_is_rejected(
    body: bytes, secret: str, data: st.DataObject
) -> None:
    assume(body)
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]), label="byte")
    changed = body[:index] + bytes([new]) + body[index + 1 :]
    assert not signature_valid(changed, reference(body, secret), [secret])


@given(body=bodies, secret=secrets, extra=st.binary(min_size=1, max_size=10))
def test_a_longer_or_shorter_body_is_rejected(body: bytes, secret: str, extra: bytes) -> None:
    header = reference(body, secret)
    assert not signature_valid(body + extra, header, [secret])
    assert not signature_valid(extra + body, header, [secret])
    if body:
        assert not signature_valid(body[:-1], header, [secret])


@given(body=bodies, secret=secrets, data=st.data())
@example(body=b"{}", secret="s", data=None).via("a non-ASCII character in the hex")
def test_one_changed_character_of_the_signature_is_rejected(
    body: bytes, secret: str, data: st.DataObject | None
) -> None:
    header = reference(body, secret)
    if data is None:
        index, new = len(header) - 1, "é"
    else:
        index = data.draw(st.integers(0, len(header) - 1), label="index")
        new = data.draw(st.characters(exclude_categories=()), label="char")
    old = header[index]
    # Hex digits are read case-insensitively: "A" for "a" is the same signature.
    assume(new.lower() != old if index >= len(PREFIX) else new != old)
    changed = header[:index] + new + header[index + 1 :]
    assert signature_valid(body, changed, [secret]) is False


@given(body=bodies, secret=secrets, other=secrets)
def test_another_secret_is_rejected(body: bytes, secret: str, other: str) -> None:
    assume(other != secret)
    assert not signature_valid(body, reference(body, other), [secret])
    assert not signature_valid(body, reference(body, secret), [other])
    assert not signature_valid(body, reference(body, secret), [])
    assert not signature_valid(body, reference(body, secret), [""])


@given(body=bodies, secret=secrets)
def test_malformed_signatures_are_rejected(body: bytes, secret: str) -> None:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    sha1 = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    for header in (
        None,
        "",
        PREFIX,
        PREFIX + " ",
        digest,  # no prefix
        "sha1=" + sha1,  # the old X-Hub-Signature
        "sha1=" + digest,
        "SHA256=" + digest,
        "sha256:" + digest,
        PREFIX + digest[:-1],  # too short
        PREFIX + digest + "0",  # too long
        PREFIX + digest + digest,
        PREFIX + digest[:-1] + "g",  # not hex
        PREFIX + digest[:-1] + "\x00",
        PREFIX + digest[:-1] + "\u0660",  # ARABIC-INDIC DIGIT ZERO: a digit, not hex
        PREFIX + digest[:-1] + "\udcff",  # a lone surrogate
        PREFIX + "\uff10" * 64,  # FULLWIDTH DIGIT ZERO
        PREFIX + digest.upper()[:-1] + "İ",  # lower() of it is two characters
    ):
        assert signature_valid(body, header, [secret]) is False, header


@given(body=bodies, secret=secrets, header=any_headers)
def test_any_header_value_is_rejected_without_raising(
    body: bytes, secret: str, header: str
) -> None:
    assume(header.strip().lower() != reference(body, secret))
    assert signature_valid(body, header, [secret]) is False
