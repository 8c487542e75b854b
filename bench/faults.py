"""inboxpilot load and fault suite: DMs keep arriving while workers die, PostgreSQL restarts,
the LLM slows down and the Send API fails; then every DM must be stored and answered once.

    .venv/bin/python bench/faults.py [--dms 5000] [--accounts 50] [--rate 12] [--quick]

Not a unit test: it prints figures, and exits 1 only when an invariant breaks (or the run
could not be set up), 130 on Ctrl-C. Everything runs on 127.0.0.1 against a fresh PostgreSQL
database (dropped at the end): the fakes of bench/fakes.py (Send API, LLM), two web
processes (`inboxpilot serve --no-worker`) and three `inboxpilot worker` processes.

The run:
1. Setup: migrate, start everything, register `--accounts` accounts (Instagram and Messenger
   in turn; autopilot; one cooperation each, so the fake LLM's answer is sent automatically),
   one smoke DM per platform (the run stops if it gets no reply).
2. Load: `--dms` DMs, each from its own follower with its own mid, paced at `--rate` per
   second (open loop), alternating between the two web processes, plus `--redeliver` (10%)
   of them posted again byte for byte 0-20 s later, to either web process, as Meta does. A
   non-200 (or a refused / timed-out connection) is posted again with backoff (0.5 s doubling
   to 15 s), as Meta redelivers; every attempt's status and latency is kept.
3. Faults, at fixed fractions of the load window, each logged with its time: kill -9 a random
   worker holding leases, three times (a replacement starts at once, as a supervisor would);
   HTTP 500 bursts and a throttling burst (Graph codes 613 / 4 / 32 / 80006) at the fake Send
   API; the LLM answering in `--llm-delay` s for `--llm-seconds`; one restart of the
   PostgreSQL cluster.
4. Drain: until every acknowledged DM is answered or parked for a human and no inbox event or
   job is waiting (or `--drain-timeout`).
5. Invariants, from the database and the fake Send API's records (see `check_invariants`).

Definitions used in the report:
- backlog: DMs acknowledged (200) by a web process whose follower has no reply at the fake
  Send API yet and that are not parked for a human (a failed/expired send, a pending draft).
- oldest waiting: the age of the oldest DM in the backlog (since its acknowledgement).
- drain time after a fault: from the fault's end (the replacement worker started, the
  restart command returned, the fake switched back) until the backlog is back at its level
  before the fault (median of the 10 s before it, plus the DMs of one second at `--rate`),
  and, separately, until the oldest waiting DM is younger than `--recovered-age` s; each
  counted only if it then stays so until the next fault starts.
- throughput: replies at the fake Send API / (last reply - first webhook sent).

Results: a Markdown report on stdout and in bench/results/faults-latest.md (+ .json with the
per-second timeline); process logs in bench/results/faults-logs/. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import loadgen  # noqa: E402
import run as bench  # noqa: E402

RESULTS = bench.RESULTS
LOGS = RESULTS / "faults-logs"
INBOXPILOT = bench.INBOXPILOT
PG_ADMIN_DSN = bench.PG_ADMIN_DSN
PG_DSN = "postgresql://postgres@127.0.0.1:5432/{name}"
WEBHOOK_PATH = "/webhooks/meta"
THROTTLE_CODES = [613, 4, 32, 80006]
# Jobs the service keeps scheduled for itself; never "stuck".
PERIODIC_PREFIX = "periodic:"
REPLY_JOBS = ("draft_reply", "send_reply", "confirm_send")


# --------------------------------------------------------------------------- processes


class Processes(bench.Processes):
    """run.py's process set, logging into bench/results/faults-logs/ instead."""

    def start(self, name: str, cmd: list[str], *, env: dict[str, str], cwd: str) -> bench.Proc:
        LOGS.mkdir(parents=True, exist_ok=True)
        log = LOGS / f"{name}.log"
        with open(log, "wb") as fh:
            popen = subprocess.Popen(
                cmd,
                env=env,
                cwd=cwd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        proc = bench.Proc(name, popen, log)
        self.procs.append(proc)
        return proc


def pg_cluster() -> tuple[str, str]:
    versions = sorted(os.listdir("/etc/postgresql"))
    if not versions:
        raise bench.BenchError("no cluster under /etc/postgresql: cannot restart PostgreSQL")
    return versions[0], "main"


@contextlib.contextmanager
def database() -> Any:
    name = f"inboxpilot_faults_{os.getpid()}_{int(time.time())}"
    asyncio.run(bench._pg(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        for attempt in range(10):  # PostgreSQL may still be coming back from the restart
            try:
                asyncio.run(bench._pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                break
            except Exception as exc:
                if attempt == 9:
                    print(f"warning: could not drop database {name}: {exc}", file=sys.stderr)
                time.sleep(1)


# --------------------------------------------------------------------------- the run's state


@dataclass
class Account:
    index: int
    platform: str  # instagram | messenger
    external_id: str
    api_id: int = 0


@dataclass
class Dm:
    index: int
    follower: str
    account: Account
    mid: str
    at: float  # planned first post, seconds after the start of the load
    body: bytes = b""
    signature: str = ""
    first_sent: float | None = None  # wall clock
    acked: float | None = None  # wall clock of the first 200
    gave_up: int = 0  # deliveries (first or redelivery) that never got a 200


@dataclass
class Fault:
    kind: str  # kill_worker | pg_restart | slow_llm | send_500 | throttle
    at: float  # planned, seconds after the start of the load
    duration: float = 0.0
    started: float | None = None  # actual, seconds after the start of the load
    ended: float | None = None
    detail: str = ""
    ok: bool = True


@dataclass
class Run:
    args: argparse.Namespace
    procs: Processes
    tmp: str
    ports: dict[str, int]
    env: dict[str, str] = field(default_factory=dict)
    db_name: str = ""
    accounts: list[Account] = field(default_factory=list)
    dms: list[Dm] = field(default_factory=list)
    prefix: str = ""
    webs: list[bench.Proc] = field(default_factory=list)
    workers: list[bench.Proc] = field(default_factory=list)
    killed: list[bench.Proc] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    # (dm index, kind, retry, web, wall clock sent, latency s, status)
    attempts: list[tuple[int, str, int, int, float, float, int]] = field(default_factory=list)
    acked_order: list[int] = field(default_factory=list)
    replied: dict[str, float] = field(default_factory=dict)  # follower -> first reply (wall)
    parked: set[str] = field(default_factory=set)
    samples: list[dict[str, Any]] = field(default_factory=list)
    t0: float = 0.0  # wall clock of the start of the load
    load_done: float | None = None  # seconds after t0
    drained: float | None = None
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    worker_seq: int = 0
    # pid -> [role, CPU seconds at the start of the load (or 0), at the end (or at its kill)]
    cpu: dict[int, list[Any]] = field(default_factory=dict)

    def url(self, name: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def rel(self, wall: float | None = None) -> float:
        return (time.time() if wall is None else wall) - self.t0

    def log(self, message: str) -> None:
        stamp = f"t={self.rel():7.1f}s" if self.t0 else "setup"
        print(f"[faults] {stamp} {message}", flush=True)


# --------------------------------------------------------------------------- setup


def start_fakes(r: Run) -> None:
    fakes = str(BENCH / "fakes.py")
    for kind in ("graph", "llm"):
        proc = r.procs.start(
            f"fake-{kind}",
            [sys.executable, fakes, kind, "--port", str(r.ports[kind])],
            env=dict(os.environ),
            cwd=r.tmp,
        )
        bench.wait_http(r.url(kind, "/healthz"), proc, timeout=30)


def start_webs(r: Run) -> None:
    for n in (1, 2):
        name = f"web{n}"
        cmd = [INBOXPILOT, "serve", "--no-worker", "--host", "127.0.0.1"]
        proc = r.procs.start(name, [*cmd, "--port", str(r.ports[name])], env=r.env, cwd=r.tmp)
        r.webs.append(proc)
    for n, proc in enumerate(r.webs, 1):
        bench.wait_http(r.url(f"web{n}", "/healthz"), proc, timeout=90)


def start_worker(r: Run) -> bench.Proc:
    r.worker_seq += 1
    proc = r.procs.start(f"worker{r.worker_seq}", [INBOXPILOT, "worker"], env=r.env, cwd=r.tmp)
    r.workers.append(proc)
    return proc


def account_plan(count: int) -> list[Account]:
    accounts = []
    for i in range(count):
        if i % 2 == 0:
            accounts.append(Account(i, "instagram", str(17841400000100000 + i)))
        else:
            accounts.append(Account(i, "messenger", str(100000000100000 + i)))
    return accounts


def register_accounts(r: Run) -> None:
    """Like run.py's register_account, for every account: CLI token, then the JSON API."""
    email = "faults@example.com"
    bench.run_cli(
        ["users", "create", "--email", email, "--role", "admin", "--password", "benchpass123"],
        env=r.env,
        cwd=r.tmp,
    )
    out = bench.run_cli(["tokens", "create", "--email", email], env=r.env, cwd=r.tmp)
    token = [line for line in out.splitlines() if line.strip()][-1].strip()
    policy = {**bench.POLICY, "max_auto_replies_per_conversation_per_day": 1000}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=r.url("web1"), headers=headers, timeout=30) as api:
        for account in r.accounts:
            instagram = account.platform == "instagram"
            data: dict[str, Any] = {
                "platform": account.platform,
                "external_id": account.external_id,
                "name": f"Faults {account.platform} {account.index}",
                "access_token": f"faults-token-{account.index}",
                "graph_host": "instagram" if instagram else "facebook",
            }
            if not instagram:
                data["page_id"] = account.external_id
            steps: list[tuple[str, str, dict[str, Any], int]] = [
                ("POST", "/api/v1/accounts", data, 201),
                ("PUT", "/api/v1/accounts/{id}/policy", policy, 200),
                ("POST", "/api/v1/accounts/{id}/cooperations", bench.COOPERATION, 201),
            ]
            for method, path, body, expected in steps:
                url = path.format(id=account.api_id)
                answer = api.request(method, url, json=body)
                if answer.status_code != expected:
                    raise bench.BenchError(
                        f"{method} {url} -> {answer.status_code}: {answer.text[:1000]}"
                    )
                if path == "/api/v1/accounts":
                    account.api_id = int(answer.json()["id"])


def event_body(account: Account, follower: str, mid: str, text: str, ms: int) -> bytes:
    """A follower's text message as Meta posts it (Instagram or Messenger shape)."""
    item = {
        "sender": {"id": follower},
        "recipient": {"id": account.external_id},
        "timestamp": ms,
        "message": {"mid": mid, "text": text},
    }
    payload = {
        "object": "instagram" if account.platform == "instagram" else "page",
        "entry": [{"id": account.external_id, "time": ms, "messaging": [item]}],
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def sign(body: bytes) -> str:
    digest = hmac.new(bench.APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def smoke(r: Run) -> None:
    """One DM per platform, end to end, before the load: a broken setup stops here."""
    prefix = f"{random.randint(100000, 999999)}"
    pending: dict[str, Account] = {}
    for account in {a.platform: a for a in r.accounts}.values():
        follower = f"{prefix}{account.index:07d}"
        body = event_body(
            account, follower, f"smoke-{prefix}-{account.index}", bench.QUESTION, now_ms()
        )
        answer = httpx.post(
            r.url("web1", WEBHOOK_PATH),
            content=body,
            headers={"X-Hub-Signature-256": sign(body), "Content-Type": "application/json"},
            timeout=30,
        )
        if answer.status_code != 200:
            raise bench.BenchError(f"smoke webhook -> {answer.status_code}: {answer.text[:300]}")
        pending[follower] = account
    deadline = time.monotonic() + 90
    while pending and time.monotonic() < deadline:
        stats = httpx.get(r.url("graph", "/_stats"), params={"prefix": prefix}, timeout=10).json()
        if stats["recipients"] >= len(pending):
            return
        time.sleep(0.5)
    raise bench.BenchError(
        f"smoke: {len(pending)} DMs ({', '.join(a.platform for a in pending.values())}) got "
        f"{stats['recipients']} replies in 90 s; worker log tail:\n{r.workers[0].tail()}"
    )


def now_ms() -> int:
    return int(time.time() * 1000)


def plan_dms(r: Run) -> None:
    args = r.args
    r.prefix = f"{random.randint(100000, 999999)}"
    for i in range(args.dms):
        account = r.accounts[i % len(r.accounts)]
        r.dms.append(
            Dm(
                index=i,
                follower=f"{r.prefix}{i:07d}",
                account=account,
                mid=f"faults-{r.prefix}-{i}",
                at=i / args.rate,
            )
        )


def plan_faults(args: argparse.Namespace) -> list[Fault]:
    """Faults at fractions of the load window, so that they all happen while DMs arrive."""
    window = args.dms / args.rate
    # Spread so that, at the default rate, each fault's effects (a killed worker's leases
    # last 60 s, so do those of the items in flight when PostgreSQL goes away) are over
    # before the next one starts.
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


# --------------------------------------------------------------------------- load generator


class Target:
    """Keep-alive connections to one web process (loadgen.Conn: prebuilt bytes, status only)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.free: list[loadgen.Conn] = []

    def request(self, body: bytes, signature: str) -> bytes:
        head = (
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Hub-Signature-256: {signature}\r\n\r\n"
        ).encode()
        return head + body

    async def post(self, data: bytes, wait: float) -> int:
        """The HTTP status; -1: connection refused or lost, -2: no answer within timeout."""
        loop = asyncio.get_running_loop()
        for _ in range(2):
            conn: loadgen.Conn | None = None
            while self.free and conn is None:
                candidate = self.free.pop()
                if candidate.transport is not None:
                    conn = candidate
            reused = conn is not None
            if conn is None:
                try:
                    conn = await asyncio.wait_for(loadgen._connect("127.0.0.1", self.port), 5)
                except (OSError, TimeoutError):
                    return -1
            done: asyncio.Future[int] = loop.create_future()
            conn.send(data, lambda status, _sent, f=done: f.done() or f.set_result(status))
            try:
                status = await asyncio.wait_for(done, wait)
            except TimeoutError:
                if conn.transport is not None:
                    conn.transport.close()
                return -2
            if status == -1 and reused:
                continue  # the server closed an idle keep-alive connection: a new one
            if status >= 0 and conn.transport is not None:
                self.free.append(conn)
            elif conn.transport is not None:
                conn.transport.close()
            return status
        return -1


async def deliver(r: Run, targets: list[Target], dm: Dm, kind: str, at: float, web: int) -> None:
    """Posts one delivery of a DM at `at`, and again (like Meta) until it gets a 200."""
    await sleep_until(r, at)
    if not dm.body:
        dm.body = event_body(dm.account, dm.follower, dm.mid, bench.QUESTION, now_ms())
        dm.signature = sign(dm.body)
    delay = 0.5
    for retry in range(r.args.max_redeliveries + 1):
        target = targets[web]
        sent = time.time()
        started = time.perf_counter()
        status = await target.post(target.request(dm.body, dm.signature), r.args.post_timeout)
        latency = time.perf_counter() - started
        r.attempts.append((dm.index, kind, retry, web, sent, latency, status))
        if dm.first_sent is None:
            dm.first_sent = sent
        if status == 200:
            if dm.acked is None:
                dm.acked = time.time()
                r.acked_order.append(dm.index)
            return
        await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        delay = min(delay * 2, 15.0)
        web = 1 - web  # a redelivery may reach the other web process
    dm.gave_up += 1


async def sleep_until(r: Run, at: float) -> None:
    delay = r.t0 + at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


async def load(r: Run, targets: list[Target]) -> None:
    rng = random.Random(r.args.seed)
    tasks = []
    for dm in r.dms:
        tasks.append(deliver(r, targets, dm, "first", dm.at, dm.index % 2))
    for dm in rng.sample(r.dms, round(len(r.dms) * r.args.redeliver)):
        later = dm.at + rng.choice((0.0, rng.uniform(0.05, 2.0), rng.uniform(2.0, 20.0)))
        tasks.append(deliver(r, targets, dm, "redelivery", later, rng.randrange(2)))
    await asyncio.gather(*tasks)
    r.load_done = r.rel()
    r.log(f"load done: {len(r.attempts)} POSTs, {len(r.acked_order)}/{len(r.dms)} DMs acked")


# --------------------------------------------------------------------------- faults


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


async def choose_victim(
    r: Run, alive: list[bench.Proc], rng: random.Random
) -> tuple[bench.Proc, str]:
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
    cpu_before_kill = bench.proc_cpu(victim.pid)
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


# --------------------------------------------------------------------------- sampling


async def db_connect(r: Run) -> Any:
    import asyncpg

    return await asyncpg.connect(PG_DSN.format(name=r.db_name), timeout=5)


PARKED_SQL = """
SELECT ct.external_id FROM outbound_messages o
  JOIN conversations cv ON cv.id = o.conversation_id JOIN contacts ct ON ct.id = cv.contact_id
 WHERE o.status IN ('failed', 'expired')
UNION
SELECT ct.external_id FROM drafts d
  JOIN conversations cv ON cv.id = d.conversation_id JOIN contacts ct ON ct.id = cv.contact_id
 WHERE d.status = 'pending'
"""


async def queue_depths(conn: Any) -> dict[str, Any]:
    events = await conn.fetchrow(
        "SELECT count(*) AS n, min(received_at) AS oldest FROM inbox_events "
        "WHERE status IN ('queued', 'running')"
    )
    jobs = await conn.fetch(
        "SELECT kind, count(*) AS n FROM jobs WHERE status IN ('queued', 'running') "
        "AND (dedupe_key IS NULL OR dedupe_key NOT LIKE $1) GROUP BY kind",
        PERIODIC_PREFIX + "%",
    )
    oldest = events["oldest"]
    return {
        "events_waiting": int(events["n"]),
        "oldest_event_s": None if oldest is None else round(time.time() - oldest.timestamp(), 1),
        "jobs_waiting": {row["kind"]: int(row["n"]) for row in jobs},
    }


async def sample_forever(r: Run, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
    """Once a second: replies seen by the fake Send API, parked DMs and queue depths."""
    conn: Any = None
    since = 0.0
    depths: dict[str, Any] = {}
    while not stop.is_set():
        db_ok = True
        try:
            answer = await client.get(
                r.url("graph", "/_stats"),
                params={"prefix": r.prefix, "times": "1", "since": str(since)},
            )
            first = answer.json()["first"] or {}
            r.replied.update({k: v for k, v in first.items() if k not in r.replied})
            if first:
                # The fake stamps a send when it arrives and records it when its body is
                # read: look a few seconds back, so a slow one is not skipped.
                since = max(since, max(first.values()) - 5.0)
        except (httpx.HTTPError, ValueError) as exc:
            r.notes.append(f"t={r.rel():.0f}s: fake Send API stats failed: {exc}")
        try:
            if conn is None or conn.is_closed():
                conn = await db_connect(r)
            r.parked = {row[0] for row in await conn.fetch(PARKED_SQL)}
            depths = await queue_depths(conn)
        except Exception:
            db_ok = False
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.terminate()
            conn = None
        now = time.time()
        backlog, oldest = 0, 0.0
        for index in r.acked_order:
            dm = r.dms[index]
            if dm.follower in r.replied or dm.follower in r.parked:
                continue
            backlog += 1
            oldest = max(oldest, now - (dm.acked or now))
        r.samples.append(
            {
                "t": round(r.rel(now), 2),
                "acked": len(r.acked_order),
                "replied": len(r.replied),
                "parked": len(r.parked),
                "backlog": backlog,
                "oldest_waiting_s": round(oldest, 2),
                "db_ok": db_ok,
                **depths,
            }
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    if conn is not None:
        with contextlib.suppress(Exception):
            await conn.close()


def drained(r: Run) -> bool:
    """The last three samples: nothing acknowledged is waiting, no event or job is either."""
    last = r.samples[-3:]
    return len(last) == 3 and all(
        s["db_ok"]
        and s["backlog"] == 0
        and s.get("events_waiting") == 0
        and not any(s.get("jobs_waiting", {}).values())
        for s in last
    )


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
            if drained(r):
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


# --------------------------------------------------------------------------- invariants


async def final_state(r: Run) -> dict[str, Any]:
    conn = await db_connect(r)
    try:
        messages = await conn.fetch(
            "SELECT mid, count(*) AS n FROM messages WHERE direction = 'in' AND mid LIKE $1 "
            "GROUP BY mid",
            f"faults-{r.prefix}-%",
        )
        outbound = await conn.fetch(
            "SELECT ct.external_id AS follower, o.id, o.status, o.error_code, o.attempts, "
            "jsonb_array_length(o.parts) AS parts, jsonb_array_length(o.external_ids) AS sent_ids, "
            "o.last_error, o.created_at, o.updated_at "
            "FROM outbound_messages o JOIN conversations cv ON cv.id = o.conversation_id "
            "JOIN contacts ct ON ct.id = cv.contact_id WHERE ct.external_id LIKE $1",
            r.prefix + "%",
        )
        drafts = await conn.fetch(
            "SELECT ct.external_id AS follower, d.status, d.decision, d.reasons::text AS reasons "
            "FROM drafts d JOIN conversations cv ON cv.id = d.conversation_id "
            "JOIN contacts ct ON ct.id = cv.contact_id WHERE ct.external_id LIKE $1",
            r.prefix + "%",
        )
        out_messages = await conn.fetch(
            "SELECT outbound_id, count(*) AS n FROM messages WHERE direction = 'out' "
            "AND outbound_id IS NOT NULL GROUP BY outbound_id"
        )
        events = await conn.fetch("SELECT status, count(*) AS n FROM inbox_events GROUP BY status")
        jobs = await conn.fetch(
            "SELECT kind, status, count(*) AS n, "
            "count(*) FILTER (WHERE dedupe_key LIKE $1) AS periodic "
            "FROM jobs GROUP BY kind, status ORDER BY kind, status",
            PERIODIC_PREFIX + "%",
        )
    finally:
        await conn.close()
    async with httpx.AsyncClient(timeout=60) as client:
        graph = (
            await client.get(r.url("graph", "/_stats"), params={"prefix": r.prefix, "counts": "1"})
        ).json()
        llm = (await client.get(r.url("llm", "/_stats"))).json()
    return {
        "messages": {row["mid"]: int(row["n"]) for row in messages},
        "outbound": [dict(row) for row in outbound],
        "drafts": [dict(row) for row in drafts],
        "out_messages": {int(row["outbound_id"]): int(row["n"]) for row in out_messages},
        "events": {row["status"]: int(row["n"]) for row in events},
        "jobs": [dict(row) for row in jobs],
        "graph": graph,
        "llm": llm,
    }


def classify(r: Run, state: dict[str, Any]) -> tuple[Counter[str], dict[str, list[str]]]:
    """Each DM's outcome, from its follower's outbound rows, drafts and the fake's count."""
    by_follower: dict[str, list[dict[str, Any]]] = {}
    for row in state["outbound"]:
        by_follower.setdefault(row["follower"], []).append(row)
    pending = Counter(d["follower"] for d in state["drafts"] if d["status"] == "pending")
    live = Counter(d["follower"] for d in state["drafts"] if d["status"] != "superseded")
    counts = state["graph"].get("counts", {})
    outcomes: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for dm in r.dms:
        rows = by_follower.get(dm.follower, [])
        delivered = counts.get(dm.follower, 0)
        sent = [o for o in rows if o["status"] == "sent"]
        unknown = [
            o for o in rows if (o["status"], o["error_code"]) == ("failed", "outcome_unknown")
        ]
        other_failed = [
            o for o in rows if o["status"] in ("failed", "expired") and o not in unknown
        ]
        waiting = [o for o in rows if o["status"] in ("queued", "sending")]
        if delivered > 1:
            outcome = "duplicate: several replies at the Send API"
        elif len(sent) > 1 or len(rows) > 1:
            outcome = "duplicate: several outbound rows"
        elif live[dm.follower] > 1:
            outcome = "duplicate: several live drafts"
        elif sent and delivered == 1 and not unknown and not other_failed:
            outcome = "answered once"
        elif sent and delivered == 0:
            outcome = "sent per database, never reached the Send API"
        elif unknown and not sent:
            outcome = f"parked outcome_unknown, Send API got {delivered}"
        elif pending[dm.follower] and not rows:
            outcome = "pending draft (review)"
        elif other_failed:
            codes = ",".join(sorted({str(o["error_code"]) for o in other_failed}))
            outcome = f"send failed ({codes})"
        elif waiting:
            outcome = "still queued/sending"
        elif dm.acked is None:
            outcome = "never acknowledged"
        else:
            outcome = "unanswered"
        outcomes[outcome] += 1
        found = examples.setdefault(outcome, [])
        if len(found) < 5:
            found.append(dm.follower)
    return outcomes, examples


ACCEPTABLE = (
    "answered once",
    "parked outcome_unknown, Send API got 0",
    "parked outcome_unknown, Send API got 1",
    "pending draft (review)",
)


def check_invariants(r: Run, state: dict[str, Any]) -> list[dict[str, Any]]:
    outcomes, examples = classify(r, state)
    acked = [dm for dm in r.dms if dm.acked is not None]
    stored = state["messages"]
    missing = [dm.mid for dm in acked if dm.mid not in stored]
    doubled = [mid for mid, n in stored.items() if n > 1]
    counts = state["graph"].get("counts", {})
    twice = {k: n for k, n in counts.items() if n > 1}
    parts = {o["id"]: o["parts"] for o in state["outbound"]}
    by_meta = state["graph"].get("by_metadata", {})
    resent = {
        key: n
        for key, n in by_meta.items()
        if key.startswith("inboxpilot:")
        and key.removeprefix("inboxpilot:").isdigit()
        and n > parts.get(int(key.removeprefix("inboxpilot:")), 1)
    }
    recorded_twice = {oid: n for oid, n in state["out_messages"].items() if n > parts.get(oid, 1)}
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
    bad = {k: n for k, n in outcomes.items() if k not in ACCEPTABLE}
    gave_up = [dm.follower for dm in r.dms if dm.acked is None]
    crashed = [p.name for p in (*r.webs, *r.workers) if not p.alive()]

    def row(name: str, ok: bool, detail: str) -> dict[str, Any]:
        return {"invariant": name, "held": ok, "detail": detail}

    return [
        row(
            "every webhook eventually acknowledged (200), redelivered like Meta",
            not gave_up,
            f"{len(acked)}/{len(r.dms)} DMs acknowledged"
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
            r.drained is not None,
            f"drained at t={r.drained:.0f} s" if r.drained is not None else "not drained",
        ),
        row(
            "no service process died (except the ones killed on purpose)",
            not crashed,
            ", ".join(crashed)
            if crashed
            else f"{len(r.webs)} web + {len(r.workers)} workers alive",
        ),
    ]


# --------------------------------------------------------------------------- figures


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
    groups = [
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
        # Until the next fault (or the end): effects show late (a lease runs out after 60 s).
        after = [s for s in samples if end <= s["t"] < (nxt if nxt is not None else 1e12)]
        back = settled(after, lambda s, limit=level + slack: s["backlog"] <= limit)
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


# --------------------------------------------------------------------------- report


def cpu_figures(
    r: Run, busy0: tuple[float, float], busy1: tuple[float, float], driver: float
) -> dict[str, float]:
    """CPU % (100 = one core) over the load and drain, per role of our processes."""
    wall = (busy1[1] - busy0[1]) / (os.cpu_count() or 1)
    used: Counter[str] = Counter()
    for pid, (role, start, end) in r.cpu.items():
        used[role] += (bench.proc_cpu(pid) if end is None else end) - start
    used["driver (this script)"] = driver
    figures = {role: 100 * seconds / wall for role, seconds in used.items()} if wall else {}
    machine = 100 * (busy1[0] - busy0[0]) / wall if wall else 0.0
    figures["PostgreSQL and everything else"] = machine - sum(figures.values())
    figures["machine"] = machine
    return figures


def fmt(value: Any, digits: int = 0) -> str:
    return bench.fmt(value, digits)


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


def state_summary(r: Run, state: dict[str, Any]) -> dict[str, Any]:
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


# --------------------------------------------------------------------------- main


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
    ports = {name: bench.free_port() for name in ("graph", "llm", "web1", "web2")}
    r = Run(args=args, procs=Processes(), tmp=tmp, ports=ports)
    if LOGS.exists():
        shutil.rmtree(LOGS)
    interrupted = False
    t_begin = time.monotonic()
    try:
        with database() as name:
            r.db_name = name
            r.env = bench.service_env(bench.PG_URL.format(name=name), ports)
            r.env["REPLY_DEBOUNCE_SECONDS"] = f"{args.debounce:g}"
            try:
                run_suite(r, results)
            except bench.BenchError as exc:
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
    bench.run_cli(["migrate"], env=r.env, cwd=r.tmp, timeout=180)
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
            raise bench.BenchError(f"{worker.name} exited at start; log tail:\n{worker.tail()}")
    r.log("smoke: one DM per platform")
    smoke(r)
    plan_dms(r)
    r.faults = plan_faults(args)
    busy0 = bench.machine_busy()
    driver0 = loadgen._cpu_seconds()
    for proc in r.procs.procs:
        role = "workers" if proc in r.workers else "web" if proc in r.webs else "fakes"
        r.cpu[proc.pid] = [role, bench.proc_cpu(proc.pid), None]
    r.log(
        f"load: {args.dms} DMs at {args.rate:g}/s over {args.dms / args.rate:.0f} s, "
        f"{len(r.faults)} faults"
    )
    loadgen.run_async(main_phase(r))
    busy1 = bench.machine_busy()
    results["busy_pct"] = 100 * (busy1[0] - busy0[0]) / ((busy1[1] - busy0[1]) or 1)
    results["cpu"] = cpu_figures(r, busy0, busy1, loadgen._cpu_seconds() - driver0)
    results["summary"] = summary(r)
    results["acks"] = ack_figures(r)
    results["faults"] = fault_figures(r)
    results["capacity_note"] = capacity_note(r)
    results["peak_queues"] = peak_queues(r)
    r.log("checking invariants")
    state = asyncio.run(final_state(r))
    results["invariants"] = check_invariants(r, state)
    results["final_state_summary"] = state_summary(r, state)
    results["outcomes"] = dict(classify(r, state)[0])


if __name__ == "__main__":
    raise SystemExit(main())
