"""Fault injection: kill -9 a worker holding leases, restart PostgreSQL, switch the fakes
into their failure modes; each at a planned time of the load window."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import subprocess
import time
from typing import Any

import httpx

from bench.common import Proc, proc_cpu
from bench.faultsuite.load import sleep_until
from bench.faultsuite.model import THROTTLE_CODES, Fault, Run
from bench.faultsuite.processes import db_connect, pg_cluster, start_worker


def plan_faults(args: argparse.Namespace) -> list[Fault]:
    """Faults at fractions of the load window, so that they all happen while DMs arrive."""
    window = args.dms / args.rate
    # Spread so that, at the default rate, each fault's effects (a killed worker's leases
    # last WORKER_LEASE_SECONDS, 8 s by default, and so do those of the items in flight
    # when PostgreSQL goes away) are over before the next one starts.
    plan = [
        Fault("kill_worker", 0.06 * window),
        Fault("send_500", 0.13 * window, args.burst_seconds),
        Fault("slow_llm", 0.22 * window, args.llm_seconds),
        Fault("kill_worker", 0.50 * window),
        Fault("pg_restart", 0.62 * window),
        Fault("kill_worker", 0.78 * window),
        Fault("send_500", 0.87 * window, args.burst_seconds),
        # Last: a throttled account's sends wait a minute, which would blur the others.
        Fault("throttle", 0.93 * window, args.burst_seconds),
    ]
    if args.no_pg_restart:
        plan = [f for f in plan if f.kind != "pg_restart"]
    # The Send API has one failure switch: its bursts must not overlap (short windows).
    free_at = 0.0
    for fault in plan:
        if fault.kind in ("send_500", "throttle"):
            fault.at = max(fault.at, free_at + 2.0)
            free_at = fault.at + fault.duration
    return plan


async def leases(conn: Any, pid: int) -> dict[str, int]:
    """What a worker holds (its worker_id is host:pid:suffix): items it runs, or finished
    and not yet marked done (the runner batches that into its next claim)."""
    rows = await conn.fetch(
        "SELECT 'event' AS kind, count(*) AS n FROM inbox_events "
        "WHERE status = 'running' AND locked_by LIKE $1 UNION ALL "
        "SELECT kind, count(*) FROM jobs WHERE status = 'running' AND locked_by LIKE $1 "
        "GROUP BY kind",
        f"%:{pid}:%",
    )
    return {row["kind"]: int(row["n"]) for row in rows if row["n"]}


async def choose_victim(r: Run, alive: list[Proc], rng: random.Random) -> tuple[Proc, str]:
    """A random worker among those holding leases (a worker killed idle tests nothing),
    looking for up to 5 s; any worker if none does."""
    try:
        conn = await db_connect(r)
    except Exception:
        return rng.choice(alive), "?"
    try:
        for _ in range(25):
            held = {w.pid: await leases(conn, w.pid) for w in alive}
            busy = [w for w in alive if held[w.pid]]
            if busy:
                victim = rng.choice(busy)
                return victim, ", ".join(f"{n} {k}" for k, n in held[victim.pid].items())
            await asyncio.sleep(0.2)
        return rng.choice(alive), "nothing"
    except Exception:
        return rng.choice(alive), "?"
    finally:
        await conn.close()


async def kill_worker(r: Run, fault: Fault, rng: random.Random) -> None:
    alive = [w for w in r.workers if w.alive()]
    if not alive:
        fault.ok, fault.detail = False, "no worker alive to kill"
        return
    victim, held = await choose_victim(r, alive, rng)
    cpu_before_kill = proc_cpu(victim.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(victim.pid, signal.SIGKILL)
    await asyncio.to_thread(victim.popen.wait, 10)
    r.workers.remove(victim)
    r.killed.append(victim)
    if victim.pid in r.cpu:
        r.cpu[victim.pid][2] = cpu_before_kill
    if victim in r.procs.procs:
        r.procs.procs.remove(victim)
    replacement = await asyncio.to_thread(start_worker, r)
    r.cpu[replacement.pid] = ["workers", 0.0, None]
    fault.detail = (
        f"kill -9 {victim.name} (pid {victim.pid}; leases it held: {held}); started "
        f"{replacement.name}"
    )


async def pg_restart(fault: Fault) -> None:
    version, cluster = pg_cluster()
    cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"]
    started = time.monotonic()
    try:
        done = await asyncio.to_thread(
            subprocess.run, cmd, capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        fault.ok, fault.detail = False, f"`{' '.join(cmd)}` failed: {exc}"
        return
    took = time.monotonic() - started
    if done.returncode != 0:
        fault.ok = False
        fault.detail = f"`{' '.join(cmd)}` exited {done.returncode}: {done.stderr.strip()[:300]}"
        return
    fault.detail = f"`{' '.join(cmd)}` took {took:.1f} s"


async def switch(
    client: httpx.AsyncClient, url: str, on: dict[str, Any], off: dict[str, Any], seconds: float
) -> None:
    (await client.post(url, json=on)).raise_for_status()
    try:
        await asyncio.sleep(seconds)
    finally:
        (await client.post(url, json=off)).raise_for_status()


async def inject(r: Run, fault: Fault, client: httpx.AsyncClient, rng: random.Random) -> None:
    await sleep_until(r, fault.at)
    fault.started = r.rel()
    r.log(f"fault {fault.kind} starts")
    try:
        if fault.kind == "kill_worker":
            await kill_worker(r, fault, rng)
        elif fault.kind == "pg_restart":
            await pg_restart(fault)
        elif fault.kind == "slow_llm":
            fault.detail = f"fake LLM answers in {r.args.llm_delay:g} s for {fault.duration:g} s"
            await switch(
                client,
                r.url("llm", "/_control"),
                {"delay": r.args.llm_delay},
                {"delay": 0},
                fault.duration,
            )
        elif fault.kind == "send_500":
            fault.detail = f"Send API answers HTTP 500 (code 2) for {fault.duration:g} s"
            await switch(
                client,
                r.url("graph", "/_control"),
                {"fail": "http500"},
                {"fail": None},
                fault.duration,
            )
        elif fault.kind == "throttle":
            fault.detail = (
                f"Send API answers rate-limit errors {'/'.join(map(str, THROTTLE_CODES))} in "
                f"turn for {fault.duration:g} s"
            )
            await switch(
                client,
                r.url("graph", "/_control"),
                {"fail": "throttle", "codes": THROTTLE_CODES},
                {"fail": None},
                fault.duration,
            )
    except Exception as exc:
        fault.ok = False
        fault.detail += f" (injection failed: {type(exc).__name__}: {exc})"
    fault.ended = r.rel()
    r.log(f"fault {fault.kind} ends: {fault.detail}")
