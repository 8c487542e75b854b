"""Figures from per-message results: retrieval, intent, sensitive detection, decisions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evals.evaluate import MessageResult

TARGET_RECALL_AT_3 = 0.95
TARGET_SENSITIVE_RECALL = 1.0


def recall_at(expected: Sequence[str], retrieved: Sequence[str], k: int) -> float:
    """Share of the expected products in the top k (at most k can be found).

    No product expected: 1.0 when retrieval found nothing, else 0.0 (small talk must not
    pull in a product whose facts a drafter might then state).
    """
    top = retrieved[:k]
    if not expected:
        return 0.0 if top else 1.0
    found = len(set(expected) & set(top))
    return found / min(len(set(expected)), k)


def _share(part: int, whole: int) -> float:
    # An empty denominator means nothing could go wrong: report it as perfect.
    return part / whole if whole else 1.0


@dataclass(frozen=True, slots=True)
class DrafterFigures:
    auto_sent: int
    safe_auto: int
    unsafe_auto: int
    labelled_auto: int
    labelled_auto_sent: int
    flawed: int  # scripted answers with a deliberate flaw
    flawed_auto: int

    @property
    def precision(self) -> float:
        return _share(self.safe_auto, self.auto_sent)

    @property
    def auto_share(self) -> float:
        return _share(self.labelled_auto_sent, self.labelled_auto)


@dataclass(frozen=True, slots=True)
class Figures:
    messages: int
    recall_at_1: float
    recall_at_3: float
    intent_accuracy: float
    sensitive_recall: float
    sensitive_precision: float
    sensitive_category_accuracy: float  # among detected sensitive messages
    drafters: dict[str, DrafterFigures]

    def missed_targets(self) -> list[str]:
        missed = []
        if self.recall_at_3 < TARGET_RECALL_AT_3:
            missed.append(f"recall@3 {self.recall_at_3:.3f} < {TARGET_RECALL_AT_3}")
        if self.sensitive_recall < TARGET_SENSITIVE_RECALL:
            missed.append(f"sensitive recall {self.sensitive_recall:.3f} < 1.0")
        missed += [
            f"{name}: {fig.unsafe_auto} unsafe auto-send(s)"
            for name, fig in self.drafters.items()
            if fig.unsafe_auto
        ]
        return missed


def compute(results: Sequence[MessageResult]) -> Figures:
    n = len(results)
    labelled = [r for r in results if r.message.sensitive is not None]
    detected = [r for r in results if r.sensitive is not None]
    true_pos = [r for r in detected if r.message.sensitive is not None]
    names = sorted({name for r in results for name in r.outcomes})
    return Figures(
        messages=n,
        recall_at_1=_mean([recall_at(r.message.products, r.retrieved, 1) for r in results]),
        recall_at_3=_mean([recall_at(r.message.products, r.retrieved, 3) for r in results]),
        intent_accuracy=_share(sum(r.intent == r.message.intent for r in results), n),
        sensitive_recall=_share(sum(r.sensitive is not None for r in labelled), len(labelled)),
        sensitive_precision=_share(len(true_pos), len(detected)),
        sensitive_category_accuracy=_share(
            sum(r.sensitive == r.message.sensitive for r in true_pos), len(true_pos)
        ),
        drafters={name: drafter_figures(results, name) for name in names},
    )


def drafter_figures(results: Sequence[MessageResult], name: str) -> DrafterFigures:
    outcomes = [(r.message, r.outcomes[name]) for r in results if name in r.outcomes]
    auto = [(m, o) for m, o in outcomes if o.decision == "auto"]
    labelled_auto = [(m, o) for m, o in outcomes if m.decision == "auto"]
    flawed = [(m, o) for m, o in outcomes if o.flaw]
    return DrafterFigures(
        auto_sent=len(auto),
        safe_auto=sum(not o.unsafe for _, o in auto),
        unsafe_auto=sum(bool(o.unsafe) for _, o in auto),
        labelled_auto=len(labelled_auto),
        labelled_auto_sent=sum(o.decision == "auto" for _, o in labelled_auto),
        flawed=len(flawed),
        flawed_auto=sum(o.decision == "auto" for _, o in flawed),
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 1.0
