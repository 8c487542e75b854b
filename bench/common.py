"""What the bench scripts share: paths, the bench's constants, the processes they start,
the `inboxpilot` CLI, CPU accounting and PostgreSQL administration.

bench/run.py, bench/faults.py (bench/faultsuite/), bench/flood.py and bench/signin_flood.py
import it; it imports nothing of theirs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
VENV_BIN = Path(sys.executable).parent
INBOXPILOT = str(VENV_BIN / "inboxpilot")

APP_SECRET = "bench-app-secret"
ACCOUNT_EXTERNAL_ID = "17841400000000777"
QUESTION = "What is the code for the Vitamin C Serum?"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/{name}"
POLICY: dict[str, Any] = {
    "mode": "autopilot",
    "min_confidence": 0.5,
    "auto_intents": [
        "discount_code",
        "product_link",
        "price",
        "code_validity",
        "product_info",
        "greeting",
        "thanks",
    ],
    "max_auto_replies_per_conversation_per_day": 100000,
    "pause_after_human_reply_minutes": 0,
}
COOPERATION: dict[str, Any] = {
    "brand": "GlowLab",
    "title": "GlowLab Vitamin C launch",
    "products": [
        {
            "name": "Vitamin C Serum",
            "aliases": ["vit c serum", "vitamin c"],
            "description": "Brightening serum with 15% vitamin C.",
            "price": "29.90",
            "currency": "EUR",
            "url": "https://glowlab.example/serum",
            "discount_code": "LENA15",
            "discount_details": "15% off the whole order",
            # A code with no date anywhere never goes out alone (app/catalog/validity.py).
            "code_valid_until": (datetime.now(UTC).date() + timedelta(days=365)).isoformat(),
        }
    ],
}


class BenchError(Exception):
    """A step failed; the message says which command and what it printed."""


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Processes:
    """Every process a run started, each in its own session, logging into `logs`; all
    stopped at the end."""

    logs: Path = RESULTS / "logs"
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], *, env: dict[str, str], cwd: str) -> Proc:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
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
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, grace: float = 10.0) -> None:
        if proc.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.popen.wait(timeout=10)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs)):
            try:
                self.stop(proc, grace=5.0)
            except Exception as exc:  # keep cleaning up
                print(f"warning: could not stop {proc.name} ({proc.pid}): {exc}", file=sys.stderr)


def wait_http(url: str, proc: Proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not proc.alive():
            raise BenchError(
                f"{proc.name} exited with {proc.popen.returncode} before answering {url}; "
                f"log tail:\n{proc.tail()}"
            )
        try:
            r = httpx.get(url, timeout=2.0)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}: {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    raise BenchError(
        f"{proc.name} not ready at {url} after {timeout:.0f} s ({last}); log tail:\n{proc.tail()}"
    )


def run_cli(args: list[str], *, env: dict[str, str], cwd: str, timeout: float = 120) -> str:
    cmd = [INBOXPILOT, *args]
    try:
        done = subprocess.run(
            cmd,
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"`{' '.join(cmd)}` timed out after {timeout} s") from exc
    if done.returncode != 0:
        raise BenchError(
            f"`{' '.join(cmd)}` exited {done.returncode}:\n"
            f"{(done.stdout + done.stderr).strip()[-2000:]}"
        )
    return done.stdout


def service_env(database_url: str, ports: dict[str, int]) -> dict[str, str]:
    """The service's environment (INTERFACE.md names) pointing at the fakes on `ports`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("META_", "OPENAI_", "INSTAGRAM_", "DATABASE_", "REPLY_"))
    }
    graph = f"http://127.0.0.1:{ports['graph']}"
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="bench-secret",
        META_APP_ID="1",
        META_APP_SECRET=APP_SECRET,
        META_VERIFY_TOKEN="x",
        META_GRAPH_URL=graph,
        INSTAGRAM_GRAPH_URL=graph,
        OPENAI_API_KEY="bench",
        OPENAI_BASE_URL=f"http://127.0.0.1:{ports['llm']}/v1",
        REPLY_DEBOUNCE_SECONDS="0",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


# --------------------------------------------------------------------------- CPU accounting


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by one process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def postgres_cpu() -> float:
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                raw = fh.read()
        except OSError:
            continue
        if "(postgres)" in raw[:64] or "(postmaster)" in raw[:64]:
            fields = raw.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


# --------------------------------------------------------------------------- PostgreSQL


async def pg_admin(statement: str) -> None:
    """One statement on the admin database (CREATE / DROP DATABASE)."""
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


# --------------------------------------------------------------------------- report


def fmt(value: Any, digits: int = 0) -> str:
    """A figure for a Markdown table: '-' for None and NaN, thousands separators."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.{digits}f}"
    return str(value)
