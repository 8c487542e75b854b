"""The runner's printed report: figures per set and drafter, and the misses behind them.

For a set whose text is hidden (the held-out set), misses name the message id, its labels
and the reason only: never the message, its history or a reply, and reasons lose their
quoted parts (a code or link there would tell what the message was about).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from evals.evaluate import DecisionOutcome, MessageResult
from evals.metrics import WORST, Figures, recall_at

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
# What a reason may quote from a reply or a message without quotation marks: a part in
# parentheses, an @handle, a link, a code-like word.
_UNQUOTED = re.compile(
    r"\([^)]*\)|@\w+|(?:https?://|www\.)\S+|\b\w*[A-Za-z]\w*\d\w*\b|\b[A-Z]{4,}\b"
)


def redact(reason: str) -> str:
    """A reason without anything it quotes from a reply or a message."""
    return _UNQUOTED.sub("…", _QUOTED.sub("…", reason))


def _value(value: float | None) -> str:
    return "not run" if value is None else f"{value:.3f}"


def figures_table(figures: Figures) -> str:
    rows = [
        "| Metric | Value |",
        "|---|---|",
        f"| messages | {figures.messages} |",
        f"| retrieval recall@1 | {figures.recall_at_1:.3f} |",
        f"| retrieval recall@3 (target ≥ 0.95) | {figures.recall_at_3:.3f} |",
        f"| intent accuracy | {figures.intent_accuracy:.3f} |",
        f"| keyword sensitive detection: recall | {figures.sensitive_recall:.3f} |",
        f"| keyword sensitive detection: precision | {figures.sensitive_precision:.3f} |",
        f"| keyword sensitive detection: category right | "
        f"{figures.sensitive_category_accuracy:.3f} |",
        f"| sensitive caught by code alone: recall (target ≥ 0.98) | "
        f"{_value(figures.code_alone_recall)} |",
        f"| sensitive caught by code alone: precision | {_value(figures.code_alone_precision)} |",
    ]
    return "\n".join(rows)


def drafters_table(figures: Figures) -> str:
    names = list(figures.drafters)
    rows = [
        "| Drafter | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    cells: list[tuple[str, Callable[[str], str]]] = [
        ("auto-sent", lambda n: str(figures.drafters[n].auto_sent)),
        ("unsafe auto-sends (target 0)", lambda n: str(figures.drafters[n].unsafe_auto)),
        ("auto-send precision", lambda n: f"{figures.drafters[n].precision:.3f}"),
        ("share of labelled auto auto-sent", _auto_share(figures)),
        ("codes wrongly sent", lambda n: str(figures.drafters[n].codes_wrongly_sent)),
        ("valid code called expired", lambda n: str(figures.drafters[n].valid_called_expired)),
        ("reply language right", lambda n: f"{figures.drafters[n].language_share:.3f}"),
        ("flawed answers auto-sent", _flawed(figures)),
    ]
    for title, cell in cells:
        rows.append(f"| {title} | " + " | ".join(cell(n) for n in names) + " |")
    return "\n".join(rows)


def _auto_share(figures: Figures) -> Callable[[str], str]:
    def cell(name: str) -> str:
        fig = figures.drafters[name]
        return f"{fig.auto_share:.3f} ({fig.labelled_auto_sent}/{fig.labelled_auto})"

    return cell


def _flawed(figures: Figures) -> Callable[[str], str]:
    def cell(name: str) -> str:
        fig = figures.drafters[name]
        return f"{fig.flawed_auto}/{fig.flawed}" if fig.flawed else "-"

    return cell


class Misses:
    """Lines about what went wrong, with or without the messages' text."""

    def __init__(self, results: Sequence[MessageResult], *, show_text: bool) -> None:
        self.results = results
        self.show_text = show_text

    def label(self, r: MessageResult) -> str:
        m = r.message
        parts = [m.decision, m.intent, *([m.sensitive] if m.sensitive else [])]
        parts += ["ambiguous"] if m.ambiguous else []
        return f"{m.id} [{'/'.join(parts)}]"

    def text(self, r: MessageResult) -> str:
        return f" {r.message.text!r}" if self.show_text else ""

    def reason(self, reason: str) -> str:
        return reason if self.show_text else redact(reason)

    def retrieval(self) -> list[str]:
        lines = []
        for r in self.results:
            expected = r.message.products
            if recall_at(expected, r.retrieved, 3) == 1:
                continue
            if self.show_text:
                detail = f"expected {list(expected)}, got {list(r.retrieved)}"
            elif not expected:
                detail = f"no product expected, {len(r.retrieved)} retrieved"
            else:
                found = len(set(expected) & set(r.retrieved))
                detail = f"{found}/{len(set(expected))} expected, {len(r.retrieved)} retrieved"
            lines.append(f"{self.label(r)}{self.text(r)} {detail}")
        return lines

    def intents(self) -> list[str]:
        pairs = [
            (f"{r.message.intent} -> {r.intent}", r.message.id)
            for r in self.results
            if r.intent != r.message.intent
        ]
        return grouped(pairs)

    def sensitive_missed(self) -> list[str]:
        return [
            f"{self.label(r)}{self.text(r)}"
            for r in self.results
            if r.message.sensitive is not None and r.sensitive is None
        ]

    def false_alarms(self) -> list[str]:
        return [
            f"{self.label(r)} detected {r.sensitive}{self.text(r)}"
            for r in self.results
            if r.message.sensitive is None and r.sensitive is not None
        ]

    def outcomes(
        self, name: str, why: Callable[[MessageResult, DecisionOutcome], Sequence[str]]
    ) -> list[str]:
        lines = []
        for r in self.results:
            outcome = r.outcomes.get(name)
            reasons = why(r, outcome) if outcome is not None else ()
            if outcome is None or not reasons:
                continue
            said = f" — reply {outcome.reply!r}" if self.show_text else ""
            joined = "; ".join(self.reason(x) for x in reasons)
            lines.append(f"{self.label(r)}: {joined}{self.text(r)}{said}")
        return lines

    def queued(self, name: str) -> list[str]:
        pairs = []
        for r in self.results:
            outcome = r.outcomes.get(name)
            # A deliberately bad answer is meant to be queued: not a missed auto-send.
            if outcome is None or r.message.decision != "auto" or outcome.decision == "auto":
                continue
            if outcome.flaw:
                continue
            for reason in outcome.reasons:
                # Group "confidence 0.53 below 0.80" and the like under one key.
                pairs.append((re.sub(r"\d+\.\d+", "…", redact(reason)), r.message.id))
        return grouped(pairs)


def grouped(pairs: list[tuple[str, str]]) -> list[str]:
    groups: dict[str, list[str]] = {}
    for key, message_id in pairs:
        groups.setdefault(key, []).append(message_id)
    ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
    return [f"{key}: {len(ids)} ({', '.join(ids[:8])})" for key, ids in ranked]


def _unsafe(_r: MessageResult, o: DecisionOutcome) -> Sequence[str]:
    return o.unsafe


def _wrong_codes(_r: MessageResult, o: DecisionOutcome) -> Sequence[str]:
    return o.wrong_codes if o.decision == "auto" else ()


def _called_expired(r: MessageResult, o: DecisionOutcome) -> Sequence[str]:
    return ["calls a valid code expired"] if r.only_valid_codes and o.says_expired else ()


def _language(r: MessageResult, o: DecisionOutcome) -> Sequence[str]:
    wrong = o.language != r.message.language
    return [f"reply in {o.language or '?'}, label {r.message.language}"] if wrong else ()


def misses(results: Sequence[MessageResult], limit: int, *, show_text: bool = True) -> str:
    """The misses per category, with ids, for whoever improves the code next."""
    report = Misses(results, show_text=show_text)
    sections = [
        ("Retrieval misses (recall@3 < 1)", report.retrieval()),
        ("Intent confusions (expected -> got: count, ids)", report.intents()),
        ("Sensitive messages the keywords miss", report.sensitive_missed()),
        ("Keyword false alarms", report.false_alarms()),
    ]
    for name in dict.fromkeys(name for r in results for name in r.outcomes):
        sections += [
            (f"{name}: unsafe auto-sends", report.outcomes(name, _unsafe)),
            (f"{name}: codes wrongly sent", report.outcomes(name, _wrong_codes)),
            (f"{name}: valid code called expired", report.outcomes(name, _called_expired)),
            (f"{name}: reply language wrong", report.outcomes(name, _language)),
        ]
        if name == WORST:
            continue  # it never writes a good answer: nothing it should have sent
        sections += [
            (
                f"{name}: labelled auto, good answer, but queued (reason: count, ids)",
                report.queued(name),
            ),
        ]
    out = []
    for title, lines in sections:
        out.append(f"\n### {title} ({len(lines)})\n")
        out += [f"- {line}" for line in lines[:limit]] or ["- none"]
    return "\n".join(out)
