"""What counts as lost, doubled or stuck: each DM's outcome and the suite's invariants.

Pure: the run's DMs and the final state (database rows and the fake Send API's counts, as
`state.final_state` reads them) in, findings out; tests/bench/ feeds it hand-made data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict

from bench.faultsuite.model import REPLY_JOBS, Dm


class OutboundRow(TypedDict):
    """An outbound message (our reply) of one follower's conversation."""

    follower: str
    id: int
    status: str
    error_code: str | None
    attempts: int
    parts: int
    sent_ids: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class DraftRow(TypedDict):
    follower: str
    status: str
    decision: str | None
    reasons: str | None


class JobCount(TypedDict):
    """Jobs of one kind and status; `periodic` of them are the service's own schedule."""

    kind: str
    status: str
    n: int
    periodic: int


class FinalState(TypedDict):
    messages: dict[str, int]  # inbound mid -> rows
    outbound: list[OutboundRow]
    drafts: list[DraftRow]
    out_messages: dict[int, int]  # outbound id -> outgoing message rows
    events: dict[str, int]  # inbox event status -> count
    jobs: list[JobCount]
    graph: dict[str, Any]  # the fake Send API's /_stats: counts, by_metadata, ...
    llm: dict[str, Any]


class Finding(TypedDict):
    invariant: str
    held: bool
    detail: str


# The outcomes that keep the promise "answered once, or queued for a human once". A send
# parked outcome_unknown is one a worker died during: Meta may or may not have got it, and
# it is never retried (so at most once).
ACCEPTABLE = (
    "answered once",
    "parked outcome_unknown, Send API got 0",
    "parked outcome_unknown, Send API got 1",
    "pending draft (review)",
)


def outcome(dm: Dm, rows: Sequence[OutboundRow], *, delivered: int, pending: int, live: int) -> str:
    """One DM's outcome from its follower's outbound rows, drafts and the fake's count."""
    sent = [o for o in rows if o["status"] == "sent"]
    unknown = [o for o in rows if (o["status"], o["error_code"]) == ("failed", "outcome_unknown")]
    other_failed = [o for o in rows if o["status"] in ("failed", "expired") and o not in unknown]
    if delivered > 1:
        return "duplicate: several replies at the Send API"
    if len(sent) > 1 or len(rows) > 1:
        return "duplicate: several outbound rows"
    if live > 1:
        return "duplicate: several live drafts"
    # From here on a follower has at most one outbound row and one reply at the Send API.
    if sent:
        if delivered == 1:
            return "answered once"
        return "sent per database, never reached the Send API"
    if unknown:
        return f"parked outcome_unknown, Send API got {delivered}"
    if pending and not rows:
        return "pending draft (review)"
    if other_failed:
        codes = ",".join(sorted({str(o["error_code"]) for o in other_failed}))
        return f"send failed ({codes})"
    if any(o["status"] in ("queued", "sending") for o in rows):
        return "still queued/sending"
    if dm.acked is None:
        return "never acknowledged"
    return "unanswered"


def classify(dms: Sequence[Dm], state: FinalState) -> tuple[Counter[str], dict[str, list[str]]]:
    """Every DM's outcome counted, with up to 5 followers as examples of each."""
    by_follower: dict[str, list[OutboundRow]] = {}
    for row in state["outbound"]:
        by_follower.setdefault(row["follower"], []).append(row)
    pending = Counter(d["follower"] for d in state["drafts"] if d["status"] == "pending")
    live = Counter(d["follower"] for d in state["drafts"] if d["status"] != "superseded")
    counts: Mapping[str, int] = state["graph"].get("counts", {})
    outcomes: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for dm in dms:
        found = outcome(
            dm,
            by_follower.get(dm.follower, []),
            delivered=counts.get(dm.follower, 0),
            pending=pending[dm.follower],
            live=live[dm.follower],
        )
        outcomes[found] += 1
        some = examples.setdefault(found, [])
        if len(some) < 5:
            some.append(dm.follower)
    return outcomes, examples


def resent_rows(state: FinalState) -> tuple[dict[str, int], dict[int, int]]:
    """Outbound rows sent more often than they have parts: at the fake Send API (by the
    `inboxpilot:<outbound id>` metadata) and as outgoing messages recorded per row."""
    parts = {o["id"]: o["parts"] for o in state["outbound"]}
    by_meta: Mapping[str, int] = state["graph"].get("by_metadata", {})
    resent = {}
    for key, n in by_meta.items():
        oid = key.removeprefix("inboxpilot:")
        if key.startswith("inboxpilot:") and oid.isdigit() and n > parts.get(int(oid), 1):
            resent[key] = n
    recorded_twice = {oid: n for oid, n in state["out_messages"].items() if n > parts.get(oid, 1)}
    return resent, recorded_twice


def leftovers(state: FinalState) -> tuple[dict[str, int], list[str], Counter[str]]:
    """What is stuck: inbox events not done; jobs waiting (periodic ones aside) or reply
    jobs failed; outbound rows still queued or sending."""
    events_left = {k: n for k, n in state["events"].items() if k != "done"}
    jobs_left = [
        f"{j['kind']} {j['status']}: {j['n'] - j['periodic']}"
        for j in state["jobs"]
        if j["status"] != "done"
        and j["n"] - j["periodic"] > 0
        and (j["status"] in ("queued", "running") or j["kind"] in REPLY_JOBS)
    ]
    outbound_left = Counter(
        o["status"] for o in state["outbound"] if o["status"] in ("queued", "sending")
    )
    return events_left, jobs_left, outbound_left


def check_invariants(
    dms: Sequence[Dm],
    state: FinalState,
    *,
    drained_at: float | None,
    alive: Mapping[str, bool],
) -> list[Finding]:
    """The suite's invariants, each held or not with what was found.

    `drained_at`: when the backlog drained (s after the start of the load), None if it did
    not; `alive`: every web and worker process of the run (the ones killed on purpose
    aside) by name, whether it was still running at the end.
    """
    outcomes, examples = classify(dms, state)
    acked = [dm for dm in dms if dm.acked is not None]
    stored = state["messages"]
    missing = [dm.mid for dm in acked if dm.mid not in stored]
    doubled = [mid for mid, n in stored.items() if n > 1]
    counts: Mapping[str, int] = state["graph"].get("counts", {})
    twice = {k: n for k, n in counts.items() if n > 1}
    resent, recorded_twice = resent_rows(state)
    events_left, jobs_left, outbound_left = leftovers(state)
    bad = {k: n for k, n in outcomes.items() if k not in ACCEPTABLE}
    gave_up = [dm.follower for dm in dms if dm.acked is None]
    crashed = [name for name, running in alive.items() if not running]
    webs = sum(1 for name in alive if name.startswith("web"))

    def row(name: str, ok: bool, detail: str) -> Finding:
        return {"invariant": name, "held": ok, "detail": detail}

    return [
        row(
            "every webhook eventually acknowledged (200), redelivered like Meta",
            not gave_up,
            f"{len(acked)}/{len(dms)} DMs acknowledged"
            + (f"; never: {gave_up[:5]}" if gave_up else ""),
        ),
        row(
            "every acknowledged DM stored exactly once (messages, by mid)",
            not missing and not doubled,
            f"{len(acked) - len(missing)}/{len(acked)} stored; missing {len(missing)}"
            f"{' e.g. ' + ', '.join(missing[:5]) if missing else ''}; stored twice {len(doubled)}",
        ),
        row(
            "every DM answered once or queued for a human once",
            not bad,
            "; ".join(f"{k}: {n}" for k, n in outcomes.most_common())
            + "".join(f" [{k} e.g. {', '.join(examples[k][:3])}]" for k in bad),
        ),
        row(
            "no follower got two replies at the Send API",
            not twice,
            f"{len(counts)} followers got a reply; {len(twice)} got more than one"
            + (f" e.g. {dict(list(twice.items())[:5])}" if twice else ""),
        ),
        row(
            "no outbound row sent twice (Send API by metadata; out messages per row)",
            not resent and not recorded_twice,
            f"resent at the Send API: {len(resent)}; recorded twice: {len(recorded_twice)}"
            + (f" e.g. {dict(list(resent.items())[:5])}" if resent else ""),
        ),
        row(
            "nothing stuck (inbox events done; no reply job waiting or failed; no send in flight)",
            not events_left and not jobs_left and not outbound_left,
            f"inbox events not done: {events_left or 0}; jobs: {jobs_left or 'none left'}; "
            f"outbound queued/sending: {dict(outbound_left) or 0}",
        ),
        row(
            "backlog drained within --drain-timeout",
            drained_at is not None,
            f"drained at t={drained_at:.0f} s" if drained_at is not None else "not drained",
        ),
        row(
            "no service process died (except the ones killed on purpose)",
            not crashed,
            ", ".join(crashed) if crashed else f"{webs} web + {len(alive) - webs} workers alive",
        ),
    ]
