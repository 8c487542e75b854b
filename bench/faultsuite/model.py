"""The run's state: the plan (accounts, DMs, faults) and what was observed while it ran."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any

from bench.common import RESULTS, Proc, Processes

LOGS = RESULTS / "faults-logs"
WEBHOOK_PATH = "/webhooks/meta"
THROTTLE_CODES = [613, 4, 32, 80006]
# Jobs the service keeps scheduled for itself; never "stuck".
PERIODIC_PREFIX = "periodic:"
REPLY_JOBS = ("draft_reply", "send_reply", "confirm_send")


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
    webs: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    killed: list[Proc] = field(default_factory=list)
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
