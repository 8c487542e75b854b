"""The other parsers of what strangers send: catalog files and Meta's signed_request.

Each documents one error type for every malformed input (ImportError_, a 422;
SignedRequestError, a 400); anything else escaping is a 500.
"""

from __future__ import annotations

import csv
import io
import json

from hypothesis import example, given
from hypothesis import strategies as st

from app.catalog.importer import COOPERATION_COLUMNS, PRODUCT_COLUMNS, ImportError_, parse_catalog
from app.catalog.schemas import CooperationIn
from app.meta.signed_request import (
    SignedRequest,
    SignedRequestError,
    field_from_form,
    parse_signed_request,
)
from tests.hostile.strategies import json_values

any_text = st.text(st.characters(exclude_categories=()), max_size=30)
cells = st.one_of(
    any_text,
    st.sampled_from(
        ["", "29.90", "-1", "EUR", "eur", "2030-01-01", "2030-13-45", "https://x.example"]
    ),
    st.sampled_from(["a|b|", "|", '"', "\n", "\r\n", "\x00"]),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "é"]), st.integers(4_000, 140_000)),
)
columns = st.lists(
    st.one_of(st.sampled_from(COOPERATION_COLUMNS + PRODUCT_COLUMNS), any_text),
    min_size=1,
    max_size=8,
    unique=True,
)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    header = ["brand", "name", *draw(columns)] if draw(st.booleans()) else draw(columns)
    rows = draw(st.lists(st.lists(cells, max_size=len(header) + 2), max_size=6))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


json_files = st.one_of(
    json_values.map(lambda value: json.dumps(value).encode("utf-8", "surrogatepass")),
    st.integers(100, 5000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(4301, 6000).map(lambda digits: b'[{"brand": ' + b"9" * digits + b"}]"),
)


def _assert_parses_or_refuses(content: bytes, filename: str) -> None:
    refusal: ImportError_ | None = None
    try:
        cooperations = parse_catalog(content, filename)
    except ImportError_ as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.status_code == 422
        assert refusal.message
        return
    assert all(isinstance(c, CooperationIn) for c in cooperations)


@given(content=st.one_of(st.binary(max_size=500), csv_files(), json_files), name=any_text)
@example(content=b"[" * 100_000, name="deep.json")
@example(content=b'{"cooperations": [{"brand": 1' + b"0" * 5000 + b"}]}", name="c.json")
@example(content=b"brand,name,description\nB,N," + b"x" * 200_000 + b"\n", name="big.csv")
def test_any_catalog_file_parses_or_is_refused_with_reasons(content: bytes, name: str) -> None:
    _assert_parses_or_refuses(content, name)


def test_more_products_than_a_cooperation_holds_is_refused() -> None:
    rows = "".join(f"GlowLab,Autumn,Product {n}\n" for n in range(1001))
    _assert_parses_or_refuses(("brand,title,name\n" + rows).encode(), "catalog.csv")


@given(st.one_of(any_text, st.text("ABCabc012_-.=", max_size=200)))
@example("é.é")
@example("\x00.\x00")
@example("a" * 9000)
def test_any_signed_request_is_read_or_refused(value: str) -> None:
    try:
        signed = parse_signed_request(value, ["secret"])
    except SignedRequestError:
        return
    assert isinstance(signed, SignedRequest)


@given(st.one_of(st.binary(max_size=300), any_text.map(lambda t: t.encode("utf-8", "replace"))))
def test_any_form_body_gives_a_field_or_a_refusal(body: bytes) -> None:
    try:
        value = field_from_form(b"signed_request=" + body)
    except SignedRequestError:
        return
    assert isinstance(value, str)
    assert value
