"""The load: signed webhook bodies, posted open loop and redelivered like Meta."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time

from bench import loadgen
from bench.common import APP_SECRET, QUESTION
from bench.faultsuite.model import WEBHOOK_PATH, Account, Dm, Run


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
    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


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

            def answered(status: int, _sent: float, f: asyncio.Future[int] = done) -> None:
                if not f.done():
                    f.set_result(status)

            conn.send(data, answered)
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
        dm.body = event_body(dm.account, dm.follower, dm.mid, QUESTION, now_ms())
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
