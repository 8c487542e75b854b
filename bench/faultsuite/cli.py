"""The suite's command line: set up, load with faults, drain, check, report."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from typing import Any

import httpx

from bench import loadgen
from bench.common import (
    PG_URL,
    RESULTS,
    BenchError,
    Processes,
    free_port,
    machine_busy,
    proc_cpu,
    run_cli,
    service_env,
)
from bench.faultsuite.figures import (
    ack_figures,
    capacity_note,
    cpu_figures,
    fault_figures,
    peak_queues,
    summary,
)
from bench.faultsuite.inject import inject, plan_faults
from bench.faultsuite.invariants import check_invariants, classify
from bench.faultsuite.load import Target, load, plan_dms
from bench.faultsuite.model import LOGS, Run
from bench.faultsuite.processes import database, start_fakes, start_webs, start_worker
from bench.faultsuite.provision import account_plan, register_accounts, smoke
from bench.faultsuite.report import log_findings, report, state_summary
from bench.faultsuite.sampling import drained, sample_forever
from bench.faultsuite.state import final_state


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="inboxpilot load and fault suite (bench/README.md)")
    p.add_argument("--quick", action="store_true", help="500 DMs, 10 accounts, short faults")
    p.add_argument("--dms", type=int, help="DMs, one per follower (5000; 500 with --quick)")
    p.add_argument("--accounts", type=int, help="accounts (50; 10 with --quick)")
    p.add_argument(
        "--rate",
        type=float,
        help="DMs per second, open loop (12; 20 with --quick); keep it well under what the "
        "service sustains, or the backlog never drains between faults",
    )
    p.add_argument("--redeliver", type=float, default=0.10, help="share posted twice")
    p.add_argument("--debounce", type=float, default=0.5, help="REPLY_DEBOUNCE_SECONDS")
    p.add_argument("--llm-delay", type=float, help="slow LLM: seconds per answer (10; 5)")
    p.add_argument("--llm-seconds", type=float, help="slow LLM: for how long (60; 10)")
    p.add_argument("--burst-seconds", type=float, help="Send API failure bursts (10; 4)")
    p.add_argument("--no-pg-restart", action="store_true", help="skip the PostgreSQL restart")
    p.add_argument("--drain-timeout", type=float, help="seconds to wait for the backlog (600)")
    p.add_argument(
        "--recovered-age",
        type=float,
        default=5.0,
        help="oldest waiting DM age that counts as recovered (s)",
    )
    p.add_argument("--post-timeout", type=float, default=20.0, help="per webhook POST (s)")
    p.add_argument("--max-redeliveries", type=int, default=12, help="retries of a non-200 POST")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    quick = args.quick
    args.dms = args.dms or (500 if quick else 5000)
    args.accounts = args.accounts or (10 if quick else 50)
    args.rate = args.rate or (20.0 if quick else 12.0)
    args.llm_delay = args.llm_delay if args.llm_delay is not None else (5.0 if quick else 10.0)
    args.llm_seconds = args.llm_seconds or (10.0 if quick else 60.0)
    args.burst_seconds = args.burst_seconds or (4.0 if quick else 10.0)
    args.drain_timeout = args.drain_timeout or (300.0 if quick else 600.0)
    if args.accounts < 2 or args.dms < args.accounts:
        p.error("need at least 2 accounts and one DM per account")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_term(signum: int, _frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    random.seed(args.seed)
    results: dict[str, Any] = {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([".venv/bin/python", "bench/faults.py", *(argv or sys.argv[1:])]),
        "config": dict(vars(args)),
    }
    tmp = tempfile.mkdtemp(prefix="inboxpilot-faults-")
    ports = {name: free_port() for name in ("graph", "llm", "web1", "web2")}
    r = Run(args=args, procs=Processes(logs=LOGS), tmp=tmp, ports=ports)
    if LOGS.exists():
        shutil.rmtree(LOGS)
    interrupted = False
    t_begin = time.monotonic()
    try:
        with database() as name:
            r.db_name = name
            r.env = service_env(PG_URL.format(name=name), ports)
            r.env["REPLY_DEBOUNCE_SECONDS"] = f"{args.debounce:g}"
            try:
                run_suite(r, results)
            except BenchError as exc:
                r.failures.append(str(exc))
                print(f"[faults] FAILED: {exc}", file=sys.stderr, flush=True)
            except Exception:
                r.failures.append(traceback.format_exc())
                print(f"[faults] FAILED:\n{r.failures[-1]}", file=sys.stderr, flush=True)
            finally:
                r.procs.stop_all()
    except KeyboardInterrupt:
        interrupted = True
        r.failures.append("interrupted")
        print("\n[faults] interrupted; cleaning up", file=sys.stderr)
    finally:
        r.procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    results["elapsed_s"] = round(time.monotonic() - t_begin, 1)
    if LOGS.exists():
        results["logs"] = log_findings()
    text = report(r, results) + f"\nElapsed: {results['elapsed_s']} s.\n"
    print("\n" + text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "faults-latest.md").write_text(text)
    results.update(
        notes=r.notes,
        failures=r.failures,
        fault_log=[vars(f) for f in r.faults],
        timeline=r.samples,
    )
    (RESULTS / "faults-latest.json").write_text(json.dumps(results, indent=2, default=str))
    if interrupted:
        return 130
    broken = [i for i in results.get("invariants", []) if not i["held"]]
    return 1 if broken or r.failures or "invariants" not in results else 0


def run_suite(r: Run, results: dict[str, Any]) -> None:
    args = r.args
    r.log(f"database {r.db_name}: migrating")
    run_cli(["migrate"], env=r.env, cwd=r.tmp, timeout=180)
    r.log("starting the fakes and two web processes")
    start_fakes(r)
    start_webs(r)
    r.accounts = account_plan(args.accounts)
    r.log(f"registering {len(r.accounts)} accounts")
    register_accounts(r)
    for _ in range(3):
        start_worker(r)
    time.sleep(1.5)
    for worker in r.workers:
        if not worker.alive():
            raise BenchError(f"{worker.name} exited at start; log tail:\n{worker.tail()}")
    r.log("smoke: one DM per platform")
    smoke(r)
    plan_dms(r)
    r.faults = plan_faults(args)
    busy0 = machine_busy()
    driver0 = loadgen._cpu_seconds()
    for proc in r.procs.procs:
        role = "workers" if proc in r.workers else "web" if proc in r.webs else "fakes"
        r.cpu[proc.pid] = [role, proc_cpu(proc.pid), None]
    r.log(
        f"load: {args.dms} DMs at {args.rate:g}/s over {args.dms / args.rate:.0f} s, "
        f"{len(r.faults)} faults"
    )
    loadgen.run_async(main_phase(r))
    busy1 = machine_busy()
    results["busy_pct"] = 100 * (busy1[0] - busy0[0]) / ((busy1[1] - busy0[1]) or 1)
    results["cpu"] = cpu_figures(r, busy0, busy1, loadgen._cpu_seconds() - driver0)
    results["summary"] = summary(r)
    results["acks"] = ack_figures(r)
    results["faults"] = fault_figures(r)
    results["capacity_note"] = capacity_note(r)
    results["peak_queues"] = peak_queues(r)
    r.log("checking invariants")
    state = asyncio.run(final_state(r))
    results["invariants"] = check_invariants(
        r.dms,
        state,
        drained_at=r.drained,
        alive={p.name: p.alive() for p in (*r.webs, *r.workers)},
    )
    results["final_state_summary"] = state_summary(r, state)
    results["outcomes"] = dict(classify(r.dms, state)[0])


async def main_phase(r: Run) -> None:
    targets = [Target(r.ports["web1"]), Target(r.ports["web2"])]
    rng = random.Random(r.args.seed + 1)
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=30) as client:
        r.t0 = time.time() + 0.5
        sampler = asyncio.create_task(sample_forever(r, client, stop))
        injections = [asyncio.create_task(inject(r, f, client, rng)) for f in r.faults]
        await load(r, targets)
        await asyncio.gather(*injections)
        r.log("waiting for the backlog to drain")
        deadline = time.monotonic() + r.args.drain_timeout
        last_report = 0.0
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            if drained(r.samples):
                r.drained = r.rel()
                break
            if time.monotonic() - last_report > 15 and r.samples:
                last_report = time.monotonic()
                s = r.samples[-1]
                r.log(
                    f"backlog {s['backlog']}, oldest {s['oldest_waiting_s']:.0f} s, events "
                    f"waiting {s.get('events_waiting')}, jobs waiting {s.get('jobs_waiting')}"
                )
            for worker in list(r.workers):
                if not worker.alive() and not any(worker.name in f for f in r.failures):
                    r.failures.append(
                        f"{worker.name} exited by itself with {worker.popen.returncode}; "
                        f"log tail:\n{worker.tail()}"
                    )
        stop.set()
        await sampler
    if r.drained is None:
        r.log(f"NOT drained after {r.args.drain_timeout:g} s")
    else:
        r.log(f"drained at t={r.drained:.1f}s")
