"""Figures from per-message results, and the targets they are held to.

Retrieval, intents and the keyword detection of sensitive messages are measured on their
own; everything else per drafter, through the production decision. The `worst` drafter
(evals/worst.py) answers every message with a confident code, so what it gets sent to a
person was caught by the checks in code alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evals.evaluate import DecisionOutcome, MessageResult

WORST = "worst"


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
    drafts: int
    auto_sent: int
    safe_auto: int
    unsafe_auto: int
    labelled_auto: int
    labelled_auto_sent: int
    flawed: int  # answers with a deliberate flaw (the flawed drafter)
    flawed_auto: int
    codes_wrongly_sent: int  # auto-sent with a code not valid today or not the meant product's
    valid_called_expired: int  # drafts calling a code expired when every meant code is valid
    language_right: int  # drafts whose language is the label's

    @property
    def precision(self) -> float:
        return _share(self.safe_auto, self.auto_sent)

    @property
    def auto_share(self) -> float:
        return _share(self.labelled_auto_sent, self.labelled_auto)

    @property
    def language_share(self) -> float:
        return _share(self.language_right, self.drafts)


@dataclass(frozen=True, slots=True)
class Figures:
    messages: int
    recall_at_1: float
    recall_at_3: float
    intent_accuracy: float
    sensitive_recall: float  # keyword detection (detect_sensitive), any category
    sensitive_precision: float
    sensitive_category_accuracy: float  # among detected sensitive messages
    code_alone_recall: float | None  # labelled sensitive the worst drafter gets queued
    code_alone_precision: float | None  # labelled review among what it gets queued
    drafters: dict[str, DrafterFigures]

    def missed_targets(self) -> list[str]:
        """Each missed target, described; targets of drafters that did not run are skipped."""
        return [miss for target in TARGETS if (miss := target.miss(self, strict=False))]


def compute(results: Sequence[MessageResult]) -> Figures:
    n = len(results)
    labelled = [r for r in results if r.message.sensitive is not None]
    detected = [r for r in results if r.sensitive is not None]
    true_pos = [r for r in detected if r.message.sensitive is not None]
    names = list(dict.fromkeys(name for r in results for name in r.outcomes))  # run order
    recall, precision = code_alone(results)
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
        code_alone_recall=recall,
        code_alone_precision=precision,
        drafters={name: drafter_figures(results, name) for name in names},
    )


def code_alone(results: Sequence[MessageResult]) -> tuple[float | None, float | None]:
    """(recall, precision) of the worst drafter's queue: labelled-sensitive messages it
    gets queued, and labelled review or sensitive among everything it gets queued."""
    judged = [(r.message, r.outcomes[WORST]) for r in results if WORST in r.outcomes]
    if not judged:
        return None, None
    sensitive = [o for m, o in judged if m.sensitive is not None]
    queued = [m for m, o in judged if o.decision == "review"]
    recall = _share(sum(o.decision == "review" for o in sensitive), len(sensitive))
    right = sum(m.decision == "review" or m.sensitive is not None for m in queued)
    return recall, _share(right, len(queued))


def drafter_figures(results: Sequence[MessageResult], name: str) -> DrafterFigures:
    judged = [(r, r.outcomes[name]) for r in results if name in r.outcomes]
    auto = [o for _, o in judged if o.decision == "auto"]
    labelled_auto = [o for r, o in judged if r.message.decision == "auto"]
    flawed = [o for _, o in judged if o.flaw]
    return DrafterFigures(
        drafts=len(judged),
        auto_sent=len(auto),
        safe_auto=sum(not o.unsafe for o in auto),
        unsafe_auto=sum(bool(o.unsafe) for o in auto),
        labelled_auto=len(labelled_auto),
        labelled_auto_sent=sum(o.decision == "auto" for o in labelled_auto),
        flawed=len(flawed),
        flawed_auto=sum(o.decision == "auto" for o in flawed),
        codes_wrongly_sent=sum(bool(o.wrong_codes) for o in auto),
        valid_called_expired=sum(_calls_valid_expired(r, o) for r, o in judged),
        language_right=sum(o.language == r.message.language for r, o in judged),
    )


def _calls_valid_expired(result: MessageResult, outcome: DecisionOutcome) -> bool:
    return result.only_valid_codes and outcome.says_expired


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 1.0


# --- targets ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A figure and the bound it must meet, on every set."""

    key: str  # a test id
    name: str
    measure: Callable[[Figures], float | None]  # None: not measured (its drafter did not run)
    bound: float
    at_least: bool  # True: figure >= bound; False: figure <= bound

    def worse_than(self, figures: Figures, floor: float) -> str | None:
        """Why the figure fell below what was measured before, or None."""
        value = self.measure(figures)
        if value is None:
            return f"{self.name}: not measured"
        held = value >= floor if self.at_least else value <= floor
        if held:
            return None
        return f"{self.name} {_figure(value)}, worse than the {_figure(floor)} measured before"

    def miss(self, figures: Figures, *, strict: bool = True) -> str | None:
        """Why the target is missed, or None; unmeasured misses only when `strict`."""
        value = self.measure(figures)
        if value is None:
            return f"{self.name}: not measured" if strict else None
        met = value >= self.bound if self.at_least else value <= self.bound
        if met:
            return None
        sign = "<" if self.at_least else ">"
        return f"{self.name} {_figure(value)} {sign} {_figure(self.bound)}"


def _figure(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.3f}"


def _of(drafter: str, attribute: str) -> Callable[[Figures], float | None]:
    def measure(figures: Figures) -> float | None:
        fig = figures.drafters.get(drafter)
        return None if fig is None else float(getattr(fig, attribute))

    return measure


SCRIPTED_AND_OFFLINE = ("offline", "good", "flawed", WORST)
TARGETS: tuple[Target, ...] = (
    Target("recall_at_3", "recall@3", lambda f: f.recall_at_3, 0.95, True),
    Target(
        "code_alone_recall",
        "sensitive caught by code alone",
        lambda f: f.code_alone_recall,
        0.98,
        True,
    ),
    Target(
        "worst_codes_wrongly_sent",
        "worst: codes wrongly sent",
        _of(WORST, "codes_wrongly_sent"),
        0,
        False,
    ),
    Target(
        "good_auto_share",
        "good: share of labelled auto auto-sent",
        _of("good", "auto_share"),
        0.75,
        True,
    ),
    Target(
        "offline_auto_share",
        "offline: share of labelled auto auto-sent",
        _of("offline", "auto_share"),
        0.70,
        True,
    ),
    Target(
        "offline_valid_called_expired",
        "offline: valid code called expired",
        _of("offline", "valid_called_expired"),
        0,
        False,
    ),
    Target(
        "offline_language",
        "offline: reply language right",
        _of("offline", "language_share"),
        0.98,
        True,
    ),
    Target(
        "good_language", "good: reply language right", _of("good", "language_share"), 0.98, True
    ),
    *(
        Target(f"{name}_unsafe", f"{name}: unsafe auto-sends", _of(name, "unsafe_auto"), 0, False)
        for name in SCRIPTED_AND_OFFLINE
    ),
)


# Targets not met yet, per set: the figure measured when this table last changed. CI
# holds each at least there (a change may not make it worse) and reports the target as
# missed until it is met; then its line goes. Issue 11 stays open while any line remains.
FLOORS: dict[tuple[str, str], float] = {
    ("dev", "offline_language"): 0.972,  # target 0.98
    ("devb", "good_auto_share"): 0.745,  # target 0.75
    ("devb", "offline_language"): 0.97,  # target 0.98
    ("devc", "recall_at_3"): 0.923,  # target 0.95
    ("devc", "good_auto_share"): 0.572,  # target 0.75
    ("devc", "offline_auto_share"): 0.575,  # target 0.7
    ("devc", "offline_language"): 0.963,  # target 0.98
    ("devc", "offline_unsafe"): 1,  # target 0
    ("heldout", "recall_at_3"): 0.949,  # target 0.95
    ("heldout", "good_auto_share"): 0.586,  # target 0.75
    ("heldout", "offline_auto_share"): 0.595,  # target 0.7
    ("heldout", "offline_language"): 0.954,  # target 0.98
    ("heldout", "offline_unsafe"): 2,  # target 0
}
