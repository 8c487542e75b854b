"""Figures from the run's records: acknowledgements, drain times per fault, throughput, CPU."""

from __future__ import annotations

import os
import statistics
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench import loadgen
from bench.common import proc_cpu
from bench.faultsuite.model import Run


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_ms": loadgen.percentile(ordered, 0.5) * 1000,
        "p99_ms": loadgen.percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] * 1000) if ordered else float("nan"),
    }


def windows(r: Run, kinds: tuple[str, ...], margin: float = 0.0) -> list[tuple[float, float]]:
    return [
        (f.started, (f.ended or f.started) + margin)
        for f in r.faults
        if f.kind in kinds and f.started is not None
    ]


def ack_figures(r: Run) -> list[dict[str, Any]]:
    def within(t: float, spans: list[tuple[float, float]]) -> bool:
        return any(a <= t <= b for a, b in spans)

    every = [(r.rel(a[4]), a[5], a[6]) for a in r.attempts]
    slow = windows(r, ("slow_llm",))
    pg = windows(r, ("pg_restart",), margin=5.0)
    faults = windows(r, ("slow_llm", "send_500", "throttle", "kill_worker"), margin=0.0) + pg
    groups: list[tuple[str, Callable[[float], bool]]] = [
        ("all POSTs", lambda _t: True),
        ("while the LLM was slow", lambda t: within(t, slow)),
        ("outside every fault", lambda t: not within(t, faults)),
        ("PostgreSQL restart (+5 s)", lambda t: within(t, pg)),
    ]
    rows = []
    for label, keep in groups:
        chosen = [(lat, status) for t, lat, status in every if keep(t)]
        ok = [lat for lat, status in chosen if status == 200]
        statuses = Counter(status for _lat, status in chosen)
        rows.append(
            {
                "label": label,
                "posts": len(chosen),
                **percentiles(ok),
                "non_200": sum(n for s, n in statuses.items() if s != 200),
                "statuses": {str(k): v for k, v in sorted(statuses.items())},
            }
        )
    return rows


def fault_figures(r: Run) -> list[dict[str, Any]]:
    rows = []
    samples = r.samples
    slack = max(5.0, r.args.rate)
    for n, fault in enumerate(r.faults, 1):
        if fault.started is None:
            continue
        start, end = fault.started, fault.ended or fault.started
        before = [s["backlog"] for s in samples if start - 10 <= s["t"] < start]
        level = statistics.median(before) if before else 0.0
        nxt = next((f.started for f in r.faults[n:] if f.started is not None), None)
        # Until the next fault (or the end): effects show late (a lease runs out after
        # WORKER_LEASE_SECONDS, 8 s by default).
        after = [s for s in samples if end <= s["t"] < (nxt if nxt is not None else 1e12)]

        def at_level(s: dict[str, Any], limit: float = level + slack) -> bool:
            return bool(s["backlog"] <= limit)

        back = settled(after, at_level)
        young = settled(after, lambda s: s["oldest_waiting_s"] <= r.args.recovered_age)
        window = (
            [s for s in samples if start <= s["t"]]
            if nxt is None
            else [s for s in samples if start <= s["t"] < nxt]
        )
        peak = max((s["backlog"] for s in window), default=0)
        oldest = max((s["oldest_waiting_s"] for s in window), default=0)
        rows.append(
            {
                "n": n,
                "kind": fault.kind,
                "start_s": start,
                "end_s": end,
                "detail": fault.detail,
                "ok": fault.ok,
                "backlog_before": level,
                "peak_backlog": peak,
                "peak_oldest_s": oldest,
                "backlog_back_after_s": None if back is None else back - end,
                "oldest_young_after_s": None if young is None else young - end,
                "next_fault_after_s": None if nxt is None else nxt - end,
            }
        )
    return rows


def settled(after: list[dict[str, Any]], ok: Callable[[dict[str, Any]], bool]) -> float | None:
    """The first sample's time from which `ok` holds to the end of `after`; None if never."""
    since = None
    for sample in after:
        if ok(sample) and sample["db_ok"]:
            since = sample["t"] if since is None else since
        elif sample["db_ok"]:
            since = None
    return since


def capacity_note(r: Run) -> str | None:
    """Whether the service kept up with the offered rate before the first fault."""
    first = min((f.started for f in r.faults if f.started is not None), default=None)
    window = [s for s in r.samples if 12.0 <= s["t"] <= (first or 0.0)]
    if first is None or len(window) < 5:
        return None
    span = window[-1]["t"] - window[0]["t"]
    rate = (window[-1]["replied"] - window[0]["replied"]) / span if span else 0.0
    growing = window[-1]["backlog"] > window[0]["backlog"] + 3 * r.args.rate
    return (
        f"Before the first fault (t=12-{first:.0f} s): {rate:.1f} replies/s for "
        f"{r.args.rate:g} DMs/s offered, backlog {window[0]['backlog']} -> "
        f"{window[-1]['backlog']}"
        + (
            ": the offered rate is above what the service sustains here, so the backlog "
            "grows by itself and the drain times below measure that too; use a lower --rate."
            if growing
            else "."
        )
    )


def peak_queues(r: Run) -> str | None:
    usable = [s for s in r.samples if s.get("jobs_waiting") is not None]
    if not usable:
        return None
    peak = max(usable, key=lambda s: sum(s["jobs_waiting"].values()) + s["events_waiting"])
    jobs = ", ".join(f"{k} {n}" for k, n in sorted(peak["jobs_waiting"].items()))
    return (
        f"Largest queue at t={peak['t']:.0f} s: {peak['events_waiting']} inbox events, jobs "
        f"{jobs or 'none'} (queued or running, periodic jobs aside)."
    )


def summary(r: Run) -> dict[str, Any]:
    firsts = [dm.first_sent for dm in r.dms if dm.first_sent is not None]
    ours = [t for f, t in r.replied.items() if f.startswith(r.prefix)]
    replied = len(ours)
    span = (max(ours) - min(firsts)) if ours and firsts else float("nan")
    lat = [
        r.replied[dm.follower] - dm.acked for dm in r.dms if dm.acked and dm.follower in r.replied
    ]
    kinds = Counter((a[1], a[2] > 0) for a in r.attempts)
    retried = Counter(a[0] for a in r.attempts if a[2] > 0)
    to_ack = [
        r.dms[i].acked - r.dms[i].first_sent  # type: ignore[operator]
        for i in retried
        if r.dms[i].acked and r.dms[i].first_sent
    ]
    return {
        "dms": len(r.dms),
        "accounts": len(r.accounts),
        "posts": len(r.attempts),
        "first_posts": kinds[("first", False)],
        "redeliveries": kinds[("redelivery", False)],
        "retries_after_non_200": sum(n for (k, retry), n in kinds.items() if retry),
        "dms_retried": len(retried),
        "max_retries_one_dm": max(retried.values(), default=0),
        "retried_dm_first_post_to_ack": percentiles(to_ack),
        "statuses": {str(k): v for k, v in sorted(Counter(a[6] for a in r.attempts).items())},
        "replied": replied,
        "span_s": span,
        "dms_per_s": replied / span if replied and span > 0 else 0.0,
        "offered_rate": r.args.rate,
        "load_s": r.load_done,
        "drained_at_s": r.drained,
        "reply_latency": percentiles(lat),
    }


def cpu_figures(
    r: Run, busy0: tuple[float, float], busy1: tuple[float, float], driver: float
) -> dict[str, float]:
    """CPU % (100 = one core) over the load and drain, per role of our processes."""
    wall = (busy1[1] - busy0[1]) / (os.cpu_count() or 1)
    used: dict[str, float] = {}
    for pid, (role, start, end) in r.cpu.items():
        used[role] = used.get(role, 0.0) + (proc_cpu(pid) if end is None else end) - start
    used["driver (this script)"] = driver
    figures = {role: 100 * seconds / wall for role, seconds in used.items()} if wall else {}
    machine = 100 * (busy1[0] - busy0[0]) / wall if wall else 0.0
    figures["PostgreSQL and everything else"] = machine - sum(figures.values())
    figures["machine"] = machine
    return figures
