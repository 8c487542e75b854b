"""The eval catalog and the labelled messages, loaded into the objects the app works with.

No database: the catalog becomes in-memory Product/Cooperation rows with stable ids (file
order), so `rank_products` sees exactly what `retrieve` would load for one account.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from app.catalog.importer import parse_catalog
from app.drafting.base import Turn
from app.models import Cooperation, Product
from app.policy.schemas import INTENTS

HERE = Path(__file__).resolve().parent
# The eval's "today": the catalogs' expired codes and ended cooperations are relative to
# it, so the figures do not drift as the calendar moves.
EVAL_TODAY = date(2026, 10, 1)
# Points the held-out set somewhere else, to try the hidden-text path on a copy.
HELDOUT_DIR_VARIABLE = "EVALS_HELDOUT_DIR"
LANGUAGES = ("de", "en", "es", "fr", "it")
SENSITIVE_CATEGORIES = (
    "complaint",
    "refund",
    "delivery_problem",
    "legal",
    "health_safety",
    "harassment",
    "self_harm",
    "minor",
    "business_request",
    "prompt_injection",
    "personal_data",
)
DECISIONS = ("auto", "review")
AUTHORS = ("follower", "bot", "influencer", "other_app")
MIN_MESSAGES = 300
MIN_PER_LANGUAGE = 40

Catalog = list[tuple[Product, Cooperation]]


@dataclass(frozen=True, slots=True)
class Message:
    """One labelled follower message (a line of messages.jsonl)."""

    id: str
    language: str
    text: str
    products: tuple[str, ...]  # expected product names, any order
    intent: str
    sensitive: str | None
    decision: str  # "auto": a grounded reply may go out alone; "review": a human must answer
    history: tuple[Turn, ...] = ()
    story_reply: bool = False
    ambiguous: bool = False  # fits several products that differ: the answer is a question
    mixed: bool = False  # written in two languages; `language` is the main one


def load_catalog(path: Path) -> Catalog:
    """The catalog file, parsed by the importer (so it is valid import input), as rows."""
    rows: Catalog = []
    product_id = 0
    for coop_id, coop_in in enumerate(parse_catalog(path.read_bytes(), path.name), start=1):
        coop = Cooperation(
            id=coop_id,
            account_id=1,
            brand=coop_in.brand,
            title=coop_in.title,
            starts_on=coop_in.starts_on,
            ends_on=coop_in.ends_on,
            notes=coop_in.notes,
        )
        for item in coop_in.products:
            product_id += 1
            product = Product(
                id=product_id,
                account_id=1,
                cooperation_id=coop_id,
                name=item.name,
                aliases=list(item.aliases),
                description=item.description,
                price=item.price,
                currency=item.currency,
                url=str(item.url) if item.url is not None else None,
                discount_code=item.discount_code,
                discount_details=item.discount_details,
                code_valid_until=item.code_valid_until,
                is_active=item.is_active,
            )
            rows.append((product, coop))
    return rows


def parse_message(data: dict[str, Any]) -> Message:
    history = tuple(Turn(str(t["author"]), str(t["text"])) for t in data.get("history", ()))
    return Message(
        id=str(data["id"]),
        language=str(data["language"]),
        text=str(data["text"]),
        products=tuple(data.get("products", ())),
        intent=str(data["intent"]),
        sensitive=data.get("sensitive"),
        decision=str(data["decision"]),
        history=history,
        story_reply=bool(data.get("story_reply", False)),
        ambiguous=bool(data.get("ambiguous", False)),
        mixed=bool(data.get("mixed", False)),
    )


def load_messages(path: Path) -> list[Message]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [parse_message(json.loads(line)) for line in lines if line.strip()]


@dataclass(frozen=True, slots=True)
class DataSet:
    """A catalog and its labelled messages, judged as of `today`.

    `hide_text`: the people who tune the rules must not read these messages, so the
    runner reports their misses by id, label and reason only.
    """

    name: str
    catalog_path: Path
    messages_path: Path
    today: date
    hide_text: bool = False
    # The influencer the followers write to: their name in a message is not a stranger's.
    account_name: str = "Lena Loves"

    @classmethod
    def in_directory(
        cls, name: str, directory: Path, *, hide_text: bool = False, account_name: str
    ) -> DataSet:
        return cls(
            name,
            directory / "catalog.json",
            directory / "messages.jsonl",
            EVAL_TODAY,
            hide_text=hide_text,
            account_name=account_name,
        )

    def missing(self) -> list[Path]:
        return [p for p in (self.catalog_path, self.messages_path) if not p.is_file()]

    def load(self) -> tuple[Catalog, list[Message]]:
        return load_catalog(self.catalog_path), load_messages(self.messages_path)


def _heldout_directory() -> Path:
    return Path(os.environ.get(HELDOUT_DIR_VARIABLE) or HERE / "heldout")


# dev: written and read by whoever changes the rules. heldout: written from
# heldout/BRIEF.md by someone who saw neither the rules nor the dev set.
SETS: dict[str, DataSet] = {
    "dev": DataSet.in_directory("dev", HERE / "dev", account_name="Lena Loves"),
    # A second development set, written by another hand from the held-out set's brief.
    "devb": DataSet.in_directory("devb", HERE / "devb", account_name="Jonas Jetset"),
    "devc": DataSet.in_directory("devc", HERE / "devc", account_name="Nico Nomad"),
    "heldout": DataSet.in_directory(
        "heldout", _heldout_directory(), hide_text=True, account_name="Mara Moves"
    ),
}


def validate(messages: list[Message], catalog: Catalog, *, full: bool = True) -> list[str]:
    """Problems with the labels; `full` also checks the set's size and language spread."""
    names = {product.name for product, _ in catalog}
    problems: list[str] = []
    seen: set[str] = set()
    for m in messages:
        problems += _label_problems(m, names)
        if m.id in seen:
            problems.append(f"{m.id}: duplicate id")
        seen.add(m.id)
    if full:
        if len(messages) < MIN_MESSAGES:
            problems.append(f"{len(messages)} messages, need at least {MIN_MESSAGES}")
        per_language = Counter(m.language for m in messages)
        problems += [
            f"{lang}: {per_language[lang]} messages, need at least {MIN_PER_LANGUAGE}"
            for lang in LANGUAGES
            if per_language[lang] < MIN_PER_LANGUAGE
        ]
    return problems


def _label_problems(m: Message, product_names: set[str]) -> list[str]:
    problems = [
        f"{m.id}: unknown product {name!r}" for name in m.products if name not in product_names
    ]
    if m.language not in LANGUAGES:
        problems.append(f"{m.id}: unknown language {m.language!r}")
    if m.intent not in INTENTS:
        problems.append(f"{m.id}: unknown intent {m.intent!r}")
    if m.sensitive is not None and m.sensitive not in SENSITIVE_CATEGORIES:
        problems.append(f"{m.id}: unknown sensitive category {m.sensitive!r}")
    if m.decision not in DECISIONS:
        problems.append(f"{m.id}: unknown decision {m.decision!r}")
    if m.sensitive is not None and m.decision != "review":
        problems.append(f"{m.id}: a sensitive message must be labelled review")
    if m.ambiguous and (m.decision != "auto" or len(set(m.products)) < 2):
        # The right answer to an ambiguous message is a question naming the candidates.
        problems.append(f"{m.id}: an ambiguous message is auto with at least two candidates")
    problems += [
        f"{m.id}: unknown author {t.author!r}" for t in m.history if t.author not in AUTHORS
    ]
    if not m.text.strip():
        problems.append(f"{m.id}: empty text")
    return problems
