"""Process control: the database, the fakes, the web and worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from bench.common import (
    BENCH,
    INBOXPILOT,
    PG_DSN,
    BenchError,
    Proc,
    pg_admin,
    wait_http,
)
from bench.faultsuite.model import Run


def pg_cluster() -> tuple[str, str]:
    versions = sorted(os.listdir("/etc/postgresql"))
    if not versions:
        raise BenchError("no cluster under /etc/postgresql: cannot restart PostgreSQL")
    return versions[0], "main"


@contextlib.contextmanager
def database() -> Iterator[str]:
    name = f"inboxpilot_faults_{os.getpid()}_{int(time.time())}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        for attempt in range(10):  # PostgreSQL may still be coming back from the restart
            try:
                asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                break
            except Exception as exc:
                if attempt == 9:
                    print(f"warning: could not drop database {name}: {exc}", file=sys.stderr)
                time.sleep(1)


async def db_connect(r: Run) -> Any:
    import asyncpg

    return await asyncpg.connect(PG_DSN.format(name=r.db_name), timeout=5)


def start_fakes(r: Run) -> None:
    fakes = str(BENCH / "fakes.py")
    for kind in ("graph", "llm"):
        proc = r.procs.start(
            f"fake-{kind}",
            [sys.executable, fakes, kind, "--port", str(r.ports[kind])],
            env=dict(os.environ),
            cwd=r.tmp,
        )
        wait_http(r.url(kind, "/healthz"), proc, timeout=30)


def start_webs(r: Run) -> None:
    for n in (1, 2):
        name = f"web{n}"
        cmd = [INBOXPILOT, "serve", "--no-worker", "--host", "127.0.0.1"]
        proc = r.procs.start(name, [*cmd, "--port", str(r.ports[name])], env=r.env, cwd=r.tmp)
        r.webs.append(proc)
    for n, proc in enumerate(r.webs, 1):
        wait_http(r.url(f"web{n}", "/healthz"), proc, timeout=90)


def start_worker(r: Run) -> Proc:
    r.worker_seq += 1
    proc = r.procs.start(f"worker{r.worker_seq}", [INBOXPILOT, "worker"], env=r.env, cwd=r.tmp)
    r.workers.append(proc)
    return proc
