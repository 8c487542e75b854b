"""Hypothesis strategies for what strangers send: arbitrary JSON as json.loads hands it over."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Lone surrogates ("\ud83d" without its pair) decode fine from JSON; they must not crash.
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
huge_text = st.builds(
    lambda c, n: c * n, st.sampled_from(["x", "é", "😍", "\x00"]), st.integers(10_000, 200_000)
)
numbers = st.one_of(
    st.integers(),
    # json.loads reads digits up to Python's 4300-digit limit: far beyond a float.
    st.integers(10**300, 10**4000),
    st.integers(-(10**400), -(10**300)),
    st.floats(allow_nan=True, allow_infinity=True),  # json.loads accepts NaN and Infinity
)
scalars = st.one_of(st.none(), st.booleans(), numbers, any_text, huge_text)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=12,
)


def deeply_nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


junk = st.one_of(json_values, st.integers(50, 3000).map(deeply_nested))
