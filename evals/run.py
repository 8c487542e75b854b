"""Evaluate retrieval, intents, sensitive detection and the decision path on the eval set.

    .venv/bin/python evals/run.py [--model scripted|offline|llm] [--json out.json] [--report-only]

Without --model both the offline drafter and the scripted model answers run. `--model llm`
uses the drafter the settings choose (the real LLM when OPENAI_API_KEY is set). Exits 1
when a target is missed, unless --report-only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from app.config import Settings
from app.core.http import create_http_client
from app.drafting.base import Drafter
from app.drafting.llm import create_drafter
from app.drafting.offline import OfflineDrafter
from evals.dataset import Catalog, load_catalog, load_messages, validate
from evals.evaluate import DrafterFactory, MessageResult, evaluate
from evals.metrics import Figures, compute, recall_at
from evals.scripted import ScriptedDrafter


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--model", choices=("scripted", "offline", "llm"), action="append",
                        help="drafter(s) to run; default: offline and scripted")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write figures and per-message results here")
    parser.add_argument("--report-only", action="store_true", help="always exit 0")
    parser.add_argument("--limit", type=int, default=12, help="misses listed per category")
    return parser.parse_args(argv)


def figures_table(figures: Figures) -> str:
    rows = [
        "| Metric | Value |",
        "|---|---|",
        f"| messages | {figures.messages} |",
        f"| retrieval recall@1 | {figures.recall_at_1:.3f} |",
        f"| retrieval recall@3 (target ≥ 0.95) | {figures.recall_at_3:.3f} |",
        f"| intent accuracy | {figures.intent_accuracy:.3f} |",
        f"| sensitive recall (target 1.0) | {figures.sensitive_recall:.3f} |",
        f"| sensitive precision | {figures.sensitive_precision:.3f} |",
        f"| sensitive category accuracy (detected) | {figures.sensitive_category_accuracy:.3f} |",
    ]
    for name, fig in figures.drafters.items():
        rows += [
            f"| {name}: auto-sent | {fig.auto_sent} |",
            f"| {name}: auto-send precision | {fig.precision:.3f} |",
            f"| {name}: unsafe auto-sends (target 0) | {fig.unsafe_auto} |",
            f"| {name}: share auto-sent of labelled auto | {fig.auto_share:.3f} "
            f"({fig.labelled_auto_sent}/{fig.labelled_auto}) |",
        ]
        if fig.flawed:
            rows.append(f"| {name}: flawed answers auto-sent | {fig.flawed_auto}/{fig.flawed} |")
    return "\n".join(rows)


def misses(results: Sequence[MessageResult], limit: int) -> str:
    """The worst misses per category, with ids, for whoever improves the code next."""
    sections = [
        ("Retrieval misses (recall@3 < 1)", _retrieval_misses(results)),
        ("Intent confusions (expected -> got: count, ids)", _intent_confusions(results)),
        ("Sensitive messages not detected", _sensitive_misses(results)),
        ("Sensitive false alarms", _false_alarms(results)),
    ]
    names = sorted({name for r in results for name in r.outcomes})
    for name in names:
        sections.append((f"{name}: unsafe auto-sends", _unsafe(results, name)))
        sections.append((f"{name}: labelled auto, good answer, but queued (reason: count, ids)",
                         _queued_reasons(results, name)))  # fmt: skip
    out = []
    for title, lines in sections:
        out.append(f"\n### {title} ({len(lines)})\n")
        out += [f"- {line}" for line in lines[:limit]] or ["- none"]
    return "\n".join(out)


def _retrieval_misses(results: Sequence[MessageResult]) -> list[str]:
    return [
        f"{r.message.id}: {r.message.text!r} expected {list(r.message.products)}, "
        f"got {list(r.retrieved)}"
        for r in results
        if recall_at(r.message.products, r.retrieved, 3) < 1
    ]


def _grouped(pairs: list[tuple[str, str]]) -> list[str]:
    groups: dict[str, list[str]] = {}
    for key, message_id in pairs:
        groups.setdefault(key, []).append(message_id)
    ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
    return [f"{key}: {len(ids)} ({', '.join(ids[:8])})" for key, ids in ranked]


def _intent_confusions(results: Sequence[MessageResult]) -> list[str]:
    pairs = [
        (f"{r.message.intent} -> {r.intent}", r.message.id)
        for r in results
        if r.intent != r.message.intent
    ]
    return _grouped(pairs)


def _sensitive_misses(results: Sequence[MessageResult]) -> list[str]:
    return [
        f"{r.message.id} [{r.message.sensitive}]: {r.message.text!r}"
        for r in results
        if r.message.sensitive is not None and r.sensitive is None
    ]


def _false_alarms(results: Sequence[MessageResult]) -> list[str]:
    return [
        f"{r.message.id} [{r.sensitive}]: {r.message.text!r}"
        for r in results
        if r.message.sensitive is None and r.sensitive is not None
    ]


def _unsafe(results: Sequence[MessageResult], name: str) -> list[str]:
    return [
        f"{r.message.id}: {'; '.join(o.unsafe)} — reply {o.reply!r}"
        for r in results
        if (o := r.outcomes.get(name)) is not None and o.unsafe
    ]


def _queued_reasons(results: Sequence[MessageResult], name: str) -> list[str]:
    pairs = []
    for r in results:
        outcome = r.outcomes.get(name)
        # A deliberately bad scripted answer is meant to be queued: not a missed auto-send.
        if outcome is None or r.message.decision != "auto" or outcome.decision == "auto":
            continue
        if outcome.flaw:
            continue
        for reason in outcome.reasons:
            # Group "confidence 0.53 below 0.80" and the like under one key.
            pairs.append((re.sub(r"\d+\.\d+|'[^']*'", "…", reason), r.message.id))
    return _grouped(pairs)


def drafter_factories(names: Sequence[str], catalog: Catalog, settings: Settings | None,
                      http: object | None) -> dict[str, DrafterFactory]:  # fmt: skip
    factories: dict[str, DrafterFactory] = {}
    for name in names:
        if name == "offline":
            factories[name] = lambda _message: OfflineDrafter()
        elif name == "scripted":
            factories[name] = lambda message: ScriptedDrafter(message, catalog)
        elif name == "llm":
            assert settings is not None
            assert http is not None
            factories[name] = _shared(create_drafter(settings, http))  # type: ignore[arg-type]
    return factories


def _shared(drafter: Drafter) -> DrafterFactory:
    # One drafter (one HTTP client) for every message, as the worker has.
    return lambda _message: drafter


def to_json(figures: Figures, results: Sequence[MessageResult]) -> dict[str, object]:
    return {
        "figures": asdict(figures),
        "missed_targets": figures.missed_targets(),
        "messages": [
            {
                "id": r.message.id,
                "retrieved": list(r.retrieved),
                "intent": r.intent,
                "sensitive": r.sensitive,
                "outcomes": {name: asdict(o) for name, o in r.outcomes.items()},
            }
            for r in results
        ],
    }


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = args.model or ["offline", "scripted"]
    catalog = load_catalog()
    messages = load_messages()
    problems = validate(messages, catalog)
    if problems:
        print("The dataset does not validate:\n" + "\n".join(problems), file=sys.stderr)
        return 2
    settings = Settings() if "llm" in names else None
    http = create_http_client(settings.LLM_TIMEOUT_SECONDS) if settings else None
    try:
        results = await evaluate(
            messages, catalog, drafter_factories(names, catalog, settings, http)
        )
    finally:
        if http is not None:
            await http.aclose()
    figures = compute(results)
    print(figures_table(figures))
    print(misses(results, args.limit))
    missed = figures.missed_targets()
    print("\nTargets missed: " + ("; ".join(missed) if missed else "none"))
    if args.json:
        args.json.write_text(json.dumps(to_json(figures, results), indent=1, default=str))
    return 0 if args.report_only or not missed else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
