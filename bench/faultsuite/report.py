"""The Markdown report and the summaries it prints."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from bench.common import fmt
from bench.faultsuite.invariants import FinalState
from bench.faultsuite.model import LOGS, Run


def report(r: Run, results: dict[str, Any]) -> str:
    a = r.args
    lines = [
        f"# inboxpilot load and fault suite, {results['started']}",
        "",
        f"Command: `{results['command']}`  ",
        f"{os.cpu_count()} CPUs; PostgreSQL; 2 web processes, 3 workers (WORKER_CONCURRENCY "
        f"default), REPLY_DEBOUNCE_SECONDS={a.debounce:g}; {a.dms} DMs from distinct followers "
        f"over {a.accounts} accounts (Instagram and Messenger in turn) at {a.rate:g}/s, "
        f"{a.redeliver:.0%} redelivered byte for byte; machine busy {fmt(results.get('busy_pct'))}%"
        " of its CPUs during the run (other users of the machine included).",
        "",
    ]
    s = results.get("summary")
    if s:
        rl = s["reply_latency"]
        lines += [
            "## Summary",
            "",
            "| DMs | POSTs (first / redeliveries / retries after non-200) | statuses | replied "
            "| DMs/s (first webhook -> last reply) | ack -> reply p50 / p99 s | load s "
            "| drained at s |",
            "|---|---|---|---|---|---|---|---|",
            f"| {s['dms']} | {s['posts']} ({s['first_posts']} / {s['redeliveries']} / "
            f"{s['retries_after_non_200']}) | {s['statuses']} | {s['replied']} | "
            f"**{fmt(s['dms_per_s'], 1)}** | {fmt(rl['p50_ms'] / 1000, 1)} / "
            f"{fmt(rl['p99_ms'] / 1000, 1)} | {fmt(s['load_s'], 0)} | "
            f"{fmt(s['drained_at_s'], 0)} |",
            "",
            f"{s['dms_retried']} DMs needed a retried POST (at most {s['max_retries_one_dm']} "
            "retries for one; first POST -> 200 p50 "
            f"{fmt(s['retried_dm_first_post_to_ack']['p50_ms'] / 1000, 1)} s, max "
            f"{fmt(s['retried_dm_first_post_to_ack']['max_ms'] / 1000, 1)} s); status -1 = "
            f"connection refused or lost, -2 = no answer within {a.post_timeout:g} s.",
            "",
        ]
    acks = results.get("acks")
    if acks:
        lines += [
            "## Webhook acknowledgements (client side, every POST)",
            "",
            "| POSTs | count | 200s p50 / p99 / max ms | non-200 | statuses |",
            "|---|---|---|---|---|",
        ]
        for row in acks:
            lines.append(
                f"| {row['label']} | {row['posts']} | {fmt(row['p50_ms'], 1)} / "
                f"{fmt(row['p99_ms'], 1)} / {fmt(row['max_ms'], 0)} | {row['non_200']} | "
                f"{row['statuses']} |"
            )
        lines += [""]
    faults = results.get("faults")
    if faults:
        lines += [
            "## Faults",
            "",
            "Backlog = DMs acknowledged, not yet answered nor parked for a human. From the "
            "fault's end, 'back' = seconds until the backlog is at its pre-fault level "
            f"(median of the 10 s before, +{max(5.0, a.rate):g}) and stays there until the "
            f"next fault; 'young' = until the oldest waiting DM is under {a.recovered_age:g} s "
            "old and stays so until the next fault. '-' = not before the next fault (or the "
            "end of the run). Peaks: from the fault's start to the next fault's.",
            "",
            *([results["capacity_note"], ""] if results.get("capacity_note") else []),
            *([results["peak_queues"], ""] if results.get("peak_queues") else []),
            "| # | t s | fault | lasted s | backlog before / peak | oldest waiting peak s "
            "| back after s | young after s | next fault s after its end | what happened |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for f in faults:
            lines.append(
                f"| {f['n']} | {fmt(f['start_s'], 1)} | {f['kind']}"
                f"{'' if f['ok'] else ' (FAILED)'} "
                f"| {fmt(f['end_s'] - f['start_s'], 1)} | {fmt(float(f['backlog_before']))} / "
                f"{f['peak_backlog']} | {fmt(f['peak_oldest_s'], 0)} | "
                f"{fmt(f['backlog_back_after_s'], 0)} | {fmt(f['oldest_young_after_s'], 0)} | "
                f"{fmt(f['next_fault_after_s'], 0)} | {f['detail']} |"
            )
        lines += [""]
    invariants = results.get("invariants")
    if invariants:
        lines += ["## Invariants", "", "| invariant | held | detail |", "|---|---|---|"]
        for inv in invariants:
            lines.append(
                f"| {inv['invariant']} | {'yes' if inv['held'] else '**NO**'} | {inv['detail']} |"
            )
        lines += [""]
    state = results.get("final_state_summary")
    if state:
        lines += [
            "## Final state",
            "",
            f"- inbox events by status: {state['events']}",
            f"- jobs by kind and status (periodic ones included): {state['jobs']}",
            f"- outbound messages by status/error: {state['outbound']}",
            f"- drafts by status/decision: {state['drafts']}",
            f"- fake Send API: {state['graph']}",
            f"- fake LLM calls: {state['llm_calls']} (smoke DMs and re-drafts included)",
            "",
        ]
        if state["parked"]:
            lines += [
                "Replies not sent (parked for a human), with the times they were queued and "
                "settled (s after the start of the load) to match against the faults:",
                "",
                "| outbound | follower | status | attempts | queued t | settled t "
                "| Send API got | last error |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for p in state["parked"][:30]:
                lines.append(
                    f"| {p['outbound_id']} | {p['follower']} | {p['status']} | {p['attempts']} "
                    f"| {p['queued_at_t']} | {p['settled_at_t']} | {p['send_api_got']} "
                    f"| {p['last_error']} |"
                )
            lines += [""]
    cpu = results.get("cpu")
    if cpu:
        lines += [
            "CPU during load and drain, % of one core: "
            + ", ".join(f"{role} {fmt(value)}" for role, value in cpu.items())
            + f" (of {100 * (os.cpu_count() or 1)}).",
            "",
        ]
    logs = results.get("logs")
    if logs:
        lines += ["## Process logs (bench/results/faults-logs/)", ""]
        lines += [f"- {name}: {info}" for name, info in logs.items()]
        lines += [""]
    if r.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in r.notes[:30]] + [""]
    if r.failures:
        lines += ["## Failures", ""]
        for failure in r.failures:
            lines += ["```", failure.strip(), "```"]
        lines += [""]
    return "\n".join(lines)


def state_summary(r: Run, state: FinalState) -> dict[str, Any]:
    graph = state["graph"]
    counts = graph.get("counts", {})
    parked = [
        {
            "outbound_id": o["id"],
            "follower": o["follower"],
            "status": f"{o['status']}/{o['error_code']}",
            "attempts": o["attempts"],
            "queued_at_t": round(r.rel(o["created_at"].timestamp()), 1),
            "settled_at_t": round(r.rel(o["updated_at"].timestamp()), 1),
            "send_api_got": counts.get(o["follower"], 0),
            "last_error": (o["last_error"] or "")[:160],
        }
        for o in state["outbound"]
        if o["status"] not in ("sent",)
    ]
    return {
        "parked": parked,
        "llm_calls": state.get("llm", {}).get("calls"),
        "events": state["events"],
        "jobs": {f"{j['kind']}/{j['status']}": j["n"] for j in state["jobs"]},
        "outbound": dict(
            Counter(
                f"{o['status']}{'/' + o['error_code'] if o['error_code'] else ''}"
                for o in state["outbound"]
            )
        ),
        "drafts": dict(Counter(f"{d['status']}/{d['decision']}" for d in state["drafts"])),
        "graph": {
            "accepted sends (all)": graph.get("count"),
            "our recipients": graph.get("recipients"),
            "duplicates": graph.get("duplicates"),
            "refused": graph.get("refused"),
            "profile reads": graph.get("profiles"),
        },
    }


def log_findings() -> dict[str, str]:
    found = {}
    for path in sorted(LOGS.glob("*.log")):
        text = path.read_text(errors="replace")
        tracebacks = text.count("Traceback")
        events = Counter(
            word
            for line in text.splitlines()
            for word in line.split()
            if "." in word
            and word.strip("[],").replace(".", "").replace("_", "").isalpha()
            and word.startswith(("worker.", "inbox.", "outbox.", "drafting.", "ingest."))
        )
        top = ", ".join(f"{k} x{n}" for k, n in events.most_common(6))
        found[path.stem] = f"{tracebacks} tracebacks" + (f"; {top}" if top else "")
    return found
