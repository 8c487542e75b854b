"""Evaluate retrieval, intents, sensitive detection and the decision path on the eval sets.

    .venv/bin/python evals/run.py [--set dev|heldout]... [--model NAME]... [--json out.json]
                                  [--report-only] [--limit N] [--show-text]

Without --set both sets run; without --model the drafters offline, good, flawed and
worst run (`llm` is the drafter the settings choose, the real model when OPENAI_API_KEY
is set). The held-out set's misses are listed by id, labels and reason only; --show-text
prints its messages and replies, for reviewers who do not tune the rules. Exits 1 when a
target is missed or a set is missing, unless --report-only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from app.config import Settings
from app.core.http import create_http_client
from app.drafting.base import Drafter
from app.drafting.llm import create_drafter
from app.drafting.offline import OfflineDrafter
from evals.dataset import SETS, Catalog, DataSet, validate
from evals.evaluate import DrafterFactory, MessageResult, evaluate
from evals.metrics import Figures, compute
from evals.report import drafters_table, figures_table, misses, redact
from evals.scripted import FlawedDrafter, GoodDrafter
from evals.voice import VOICE_SETS, evaluate_voice, voice_table
from evals.worst import WorstDrafter

DEFAULT_MODELS = ("offline", "good", "flawed", "worst")
MODELS = (*DEFAULT_MODELS, "llm")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--set",
        choices=tuple(SETS),
        action="append",
        dest="sets",
        help="set(s) to run; default: all",
    )
    parser.add_argument(
        "--model",
        choices=MODELS,
        action="append",
        help="drafter(s) to run; default: " + ", ".join(DEFAULT_MODELS),
    )
    parser.add_argument("--json", type=Path, help="write figures and per-message results here")
    parser.add_argument("--report-only", action="store_true", help="always exit 0")
    parser.add_argument("--limit", type=int, default=12, help="misses listed per category")
    parser.add_argument(
        "--show-text",
        action="store_true",
        help="print hidden sets' messages and replies (not for rule tuners)",
    )
    return parser.parse_args(argv)


def drafter_factories(
    names: Sequence[str], catalog: Catalog, settings: Settings | None, http: object | None
) -> dict[str, DrafterFactory]:
    factories: dict[str, DrafterFactory] = {}
    for name in names:
        if name == "offline":
            factories[name] = lambda _message: OfflineDrafter()
        elif name == "good":
            factories[name] = lambda message: GoodDrafter(message, catalog)
        elif name == "flawed":
            factories[name] = lambda message: FlawedDrafter(message, catalog)
        elif name == "worst":
            factories[name] = lambda message: WorstDrafter(message, catalog)
        elif name == "llm":
            assert settings is not None
            assert http is not None
            factories[name] = _shared(create_drafter(settings, http))  # type: ignore[arg-type]
    return factories


def _shared(drafter: Drafter) -> DrafterFactory:
    # One drafter (one HTTP client) for every message, as the worker has.
    return lambda _message: drafter


def message_json(r: MessageResult, *, show_text: bool) -> dict[str, object]:
    outcomes = {name: asdict(o) for name, o in r.outcomes.items()}
    if not show_text:
        for outcome in outcomes.values():
            outcome.pop("reply")
            for key in ("reasons", "unsafe", "wrong_codes"):
                outcome[key] = [redact(reason) for reason in outcome[key]]
    return {
        "id": r.message.id,
        # Product names would tell what a hidden message is about: only how many.
        "retrieved": list(r.retrieved) if show_text else len(r.retrieved),
        "intent": r.intent,
        "sensitive": r.sensitive,
        "outcomes": outcomes,
    }


async def run_set(
    data: DataSet, names: Sequence[str], settings: Settings | None, args: argparse.Namespace
) -> tuple[list[str], dict[str, object]]:
    """Evaluates one set and prints its report; returns its missed targets and what
    --json writes for it."""
    print(f"\n## Set {data.name} (today {data.today.isoformat()})\n")
    missing = data.missing()
    if missing:
        print("MISSING: " + ", ".join(str(p) for p in missing))
        return ["set is missing"], {"missing": [str(p) for p in missing]}
    catalog, messages = data.load()
    problems = validate(messages, catalog)
    if problems:
        print("The set does not validate:\n" + "\n".join(problems))
        return ["set does not validate"], {"invalid": problems}
    http = create_http_client(settings.LLM_TIMEOUT_SECONDS) if settings else None
    try:
        factories = drafter_factories(names, catalog, settings, http)
        results = await evaluate(messages, catalog, factories, data.today, data.account_name)
    finally:
        if http is not None:
            await http.aclose()
    figures = compute(results)
    show_text = args.show_text or not data.hide_text
    _print_report(figures, results, args.limit, show_text=show_text)
    missed = figures.missed_targets()
    report: dict[str, object] = {
        "figures": asdict(figures),
        "missed_targets": missed,
        "messages": [message_json(r, show_text=show_text) for r in results],
    }
    if data.name in VOICE_SETS:  # development sets only
        voice = await evaluate_voice(messages, catalog, data.today, data.account_name)
        print("\nVoice: drafts a moderator would approve unchanged (evals/voice.py)\n")
        print(voice_table(voice))
        report["voice"] = {name: asdict(f) for name, f in voice.items()}
    return missed, report


def _print_report(
    figures: Figures, results: Sequence[MessageResult], limit: int, *, show_text: bool
) -> None:
    print(figures_table(figures))
    print()
    print(drafters_table(figures))
    if not show_text:
        print("\n(text hidden: misses by id, labels and reason; --show-text to see it)")
    print(misses(results, limit, show_text=show_text))
    missed = figures.missed_targets()
    print("\nTargets missed: " + ("; ".join(missed) if missed else "none"))


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = args.model or list(DEFAULT_MODELS)
    settings = Settings() if "llm" in names else None
    report: dict[str, object] = {}
    missed: list[str] = []
    for set_name in args.sets or list(SETS):
        set_missed, report[set_name] = await run_set(SETS[set_name], names, settings, args)
        missed += [f"{set_name}: {miss}" for miss in set_missed]
    print("\n## All sets\n\nTargets missed: " + ("; ".join(missed) if missed else "none"))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0 if args.report_only or not missed else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
