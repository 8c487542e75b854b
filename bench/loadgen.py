"""A small HTTP/1.1 load generator for signed Meta webhooks, plus optional wrk.

Why not httpx: on a 2-core machine an httpx client costs far more CPU per request than the
server it measures (about 1.5 ms per request), so it saturates before a bare FastAPI endpoint
does and squeezes every ratio towards 1. This generator writes prebuilt request bytes on
keep-alive connections from an `asyncio.Protocol` (on uvloop when installed) and parses only
the status line and Content-Length: tens of microseconds per request. Its own CPU use is
measured and reported beside every result, so its share of the two cores is visible.

Two modes:
- closed loop (`run_duration`): C connections, each sends its next request as soon as the
  previous answer arrived, for D seconds after a warm-up; req/s, p50/p90/p99, errors.
- fixed set (`send_all`): N requests over C connections, optionally paced to R per second;
  returns each request's wall-clock send time (for end-to-end latency across processes).

Every webhook body is an Instagram text-message event with a unique `mid` (and, if asked, a
unique sender), padded to about 1.5 KB, signed with HMAC-SHA256 of the raw body.

Standalone: `python bench/loadgen.py --url http://127.0.0.1:8000/webhooks/meta --conns 64
--duration 15 --secret S --account 17841400000000777` prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

DEFAULT_ACCOUNT = "17841400000000777"
DEFAULT_TEXT = "What is the code for the Vitamin C Serum?"
BODY_BYTES = 1536
PAD_SENTENCE = " Also, I love your content and I wanted to say hi from the bench."


# --------------------------------------------------------------------------- bodies


@dataclass(slots=True)
class WebhookFactory:
    """Builds signed webhook requests; a few microseconds each (template + HMAC)."""

    host: str
    path: str
    secret: bytes
    account_id: str = DEFAULT_ACCOUNT
    text: str = DEFAULT_TEXT
    pad_to: int | None = BODY_BYTES
    prefix: str = "bench"
    _template: bytes = b""
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        event = {
            "object": "instagram",
            "entry": [
                {
                    "id": self.account_id,
                    "time": 1111111111111,
                    "messaging": [
                        {
                            "sender": {"id": "@@SENDER@@"},
                            "recipient": {"id": self.account_id},
                            "timestamp": 1111111111111,
                            "message": {"mid": "@@MID@@", "text": self.text + "@@PAD@@"},
                        }
                    ],
                }
            ],
        }
        raw = json.dumps(event, separators=(",", ":"))
        pad = ""
        if self.pad_to:
            # Placeholders are replaced by values of roughly this size.
            approx = len(raw) - len("@@SENDER@@@@MID@@@@PAD@@") + 16 + 40
            missing = max(0, self.pad_to - approx)
            pad = (PAD_SENTENCE * (missing // len(PAD_SENTENCE) + 1))[:missing]
        self._template = raw.replace("@@PAD@@", pad).encode()

    def body(self, sender: str | None = None) -> tuple[bytes, str]:
        """One event body with a unique mid; returns (body, sender id)."""
        n = next(self._counter)
        now_ms = str(int(time.time() * 1000)).encode()
        sender = sender or f"{9_000_000_000_000_000 + n}"
        mid = f"{self.prefix}-{os.getpid()}-{n}-{time.monotonic_ns()}"
        body = (
            self._template.replace(b"1111111111111", now_ms)
            .replace(b"@@SENDER@@", sender.encode())
            .replace(b"@@MID@@", mid.encode())
        )
        return body, sender

    def signature(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()

    def request(self, sender: str | None = None) -> tuple[bytes, str]:
        """A complete HTTP/1.1 request (keep-alive); returns (bytes, sender id)."""
        body, sender = self.body(sender)
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Hub-Signature-256: {self.signature(body)}\r\n\r\n"
        ).encode()
        return head + body, sender


# --------------------------------------------------------------------------- transport


class Conn(asyncio.Protocol):
    """One keep-alive connection; one request in flight; calls back with (status, t_sent)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.callback: Callable[[int, float], None] | None = None
        self.sent_at = 0.0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP connection's transport; uvloop's is not an asyncio.Transport subclass, so
        # it is told to the type checker, not checked with isinstance.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.callback is not None:
            callback, self.callback = self.callback, None
            callback(-1, self.sent_at)
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, data: bytes, callback: Callable[[int, float], None]) -> None:
        assert self.transport is not None
        self.callback = callback
        self.sent_at = time.perf_counter()
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        length = 0
        idx = head.find(b"\r\ncontent-length:")
        if idx >= 0:
            stop = head.find(b"\r\n", idx + 2)
            length = int(head[idx + 17 : stop if stop >= 0 else None])
        elif b"transfer-encoding: chunked" in head:
            final = self.buf.find(b"\r\n0\r\n\r\n", end)
            if final < 0:
                return
            length = final + 7 - (end + 4)
        total = end + 4 + length
        if len(self.buf) < total:
            return
        status = int(head[9:12])
        del self.buf[:total]
        if self.callback is not None:
            callback, self.callback = self.callback, None
            callback(status, self.sent_at)


async def _connect(host: str, port: int) -> Conn:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(Conn, host, port)
    return conn


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[idx]


# --------------------------------------------------------------------------- closed loop


async def run_duration(
    url: str,
    make_request: Callable[[], bytes],
    *,
    conns: int,
    duration: float,
    warmup: float = 1.0,
) -> dict[str, Any]:
    """Closed loop on `conns` connections; statistics of the `duration` after `warmup`."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    connections = await asyncio.gather(*(_connect(host, port) for _ in range(conns)))
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    start = time.perf_counter()
    t0 = start + warmup
    t1 = t0 + duration
    cpu0 = [0.0]
    stopped = loop.create_future()
    active = [conns]
    gen_cpu = [0.0]  # CPU spent building requests (signing), measured window only

    def finish_one() -> None:
        active[0] -= 1
        if active[0] == 0 and not stopped.done():
            stopped.set_result(None)

    def issue(conn: Conn) -> None:
        if conn.transport is None:
            finish_one()
            return
        c0 = time.process_time()
        data = make_request()
        gen_cpu[0] += time.process_time() - c0

        def done(status: int, sent: float) -> None:
            now = time.perf_counter()
            if t0 <= now <= t1:
                statuses[status] += 1
                if 200 <= status < 300:
                    latencies.append(now - sent)
            if status < 0 or now >= t1:
                finish_one()
                return
            issue(conn)

        conn.send(data, done)

    def mark_cpu() -> None:
        cpu0[0] = _cpu_seconds()
        gen_cpu[0] = 0.0

    loop.call_at(loop.time() + warmup, mark_cpu)
    for conn in connections:
        issue(conn)
    try:
        await asyncio.wait_for(stopped, timeout=warmup + duration + 30)
    except TimeoutError:
        pass
    cpu = _cpu_seconds() - cpu0[0]
    for conn in connections:
        if conn.transport is not None:
            conn.transport.close()
    latencies.sort()
    ok = len(latencies)
    return {
        "engine": "python",
        "conns": conns,
        "duration_s": duration,
        "requests_ok": ok,
        "errors": sum(v for k, v in statuses.items() if not 200 <= k < 300),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "rps": ok / duration,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p90_ms": percentile(latencies, 0.90) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else float("nan"),
        "loadgen_cpu_pct": 100 * cpu / duration,
        "loadgen_build_cpu_pct": 100 * gen_cpu[0] / duration,
    }


# --------------------------------------------------------------------------- fixed set


def _settle(fut: asyncio.Future[int]) -> Callable[[int, float], None]:
    """A connection's callback that answers `fut` with the response's status, once."""

    def callback(status: int, _sent: float) -> None:
        if not fut.done():
            fut.set_result(status)

    return callback


async def send_all(
    url: str,
    requests: list[tuple[bytes, str]],
    *,
    conns: int,
    rate: float | None = None,
) -> dict[str, Any]:
    """Send every (request bytes, key) once; returns wall-clock send times per key.

    With `rate`, request i is not sent before start + i/rate (open loop, as followers
    would); otherwise as fast as `conns` connections allow.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, bytes, str]] = asyncio.Queue()
    for i, (data, key) in enumerate(requests):
        queue.put_nowait((i, data, key))
    sent_wall: dict[str, float] = {}
    acked_wall: dict[str, float] = {}
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    start = loop.time()

    async def one_connection() -> None:
        conn = await _connect(host, port)
        try:
            while True:
                try:
                    i, data, key = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                if rate:
                    delay = start + i / rate - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if conn.transport is None:
                    conn = await _connect(host, port)
                fut: asyncio.Future[int] = loop.create_future()
                sent_wall[key] = time.time()
                t = time.perf_counter()
                conn.send(data, _settle(fut))
                status = await fut
                latencies.append(time.perf_counter() - t)
                acked_wall[key] = time.time()
                statuses[status] += 1
        finally:
            if conn.transport is not None:
                conn.transport.close()

    t_start = time.time()
    await asyncio.gather(*(one_connection() for _ in range(conns)))
    t_end = time.time()
    latencies.sort()
    return {
        "sent": len(requests),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": sum(v for k, v in statuses.items() if not 200 <= k < 300),
        "first_sent": t_start,
        "last_acked": t_end,
        "ack_p50_ms": percentile(latencies, 0.5) * 1000,
        "ack_p99_ms": percentile(latencies, 0.99) * 1000,
        "sent_wall": sent_wall,
        "acked_wall": acked_wall,
    }


# --------------------------------------------------------------------------- wrk


WRK_LUA = """\
local bodies = {}
local sigs = {}
for line in io.lines(@@DATA@@) do
  local sig, body = line:match("^(%S+) (.*)$")
  sigs[#sigs + 1] = sig
  bodies[#bodies + 1] = body
end
local i = math.random(#bodies)
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", @@PATH@@,
    {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = sigs[i]}, bodies[i])
end
"""


def wrk_available() -> str | None:
    return shutil.which("wrk")


def run_wrk(
    url: str, factory: WebhookFactory, *, conns: int, duration: float, bodies: int, workdir: str
) -> dict[str, Any]:
    """wrk with a pre-generated, rotating set of signed bodies (wrk cannot sign cheaply).

    A body repeats every `bodies` requests; the service dedups by body hash, so repeats
    are acknowledged without a new row: with enough distinct bodies this barely matters
    at these rates, but it is noted in the results.
    """
    data_path = os.path.join(workdir, f"wrk-bodies-{conns}.txt")
    with open(data_path, "w") as fh:
        for _ in range(bodies):
            body, _sender = factory.body()
            fh.write(f"{factory.signature(body)} {body.decode()}\n")
    script = os.path.join(workdir, "wrk-webhook.lua")
    with open(script, "w") as fh:
        fh.write(
            WRK_LUA.replace("@@DATA@@", json.dumps(data_path)).replace(
                "@@PATH@@", json.dumps(urlsplit(url).path or "/")
            )
        )
    wrk = wrk_available()
    assert wrk is not None
    cmd = [wrk, "-t1", f"-c{conns}", f"-d{int(round(duration))}s", "--latency", "-s", script, url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = proc.stdout
    result = parse_wrk(out)
    result.update(
        engine="wrk",
        conns=conns,
        duration_s=duration,
        loadgen_cpu_pct=100 * cpu / duration,
        distinct_bodies=bodies,
        raw=out + proc.stderr,
    )
    return result


def _ms(text: str) -> float:
    text = text.strip()
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def parse_wrk(out: str) -> dict[str, Any]:
    result: dict[str, Any] = {"errors": 0}
    total = 0
    for line in out.splitlines():
        parts = line.split()
        if line.strip().startswith("Requests/sec:"):
            result["rps_all"] = float(parts[1])
        elif len(parts) == 2 and parts[0] in ("50%", "90%", "99%"):
            result[f"p{parts[0][:-1]}_ms"] = _ms(parts[1])
        elif "requests in" in line:
            total = int(parts[0])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            result["errors"] += int(parts[-1])
        elif line.strip().startswith("Socket errors:"):
            result["errors"] += sum(
                int(p.rstrip(",")) for p in parts[2::2] if p.rstrip(",").isdigit()
            )
    result["requests_ok"] = total - result["errors"]
    # wrk's Requests/sec counts every answer; keep only the good ones.
    rps_all = result.get("rps_all", 0.0)
    result["rps"] = rps_all * (result["requests_ok"] / total) if total else 0.0
    return result


# --------------------------------------------------------------------------- CLI


def run_async(coro: Any) -> Any:
    """asyncio.run on uvloop when installed (uvicorn[standard] brings it)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)
    return uvloop.run(coro)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--secret", default="bench-app-secret")
    parser.add_argument("--account", default=DEFAULT_ACCOUNT)
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--engine", choices=("python", "wrk"), default="python")
    parser.add_argument("--wrk-bodies", type=int, default=5000)
    args = parser.parse_args(argv)

    parts = urlsplit(args.url)
    factory = WebhookFactory(
        host=parts.netloc,
        path=parts.path or "/",
        secret=args.secret.encode(),
        account_id=args.account,
        prefix=args.prefix,
    )
    if args.engine == "wrk":
        with tempfile.TemporaryDirectory(prefix="inboxpilot-wrk-") as tmp:
            if args.warmup > 0:
                run_wrk(
                    args.url,
                    factory,
                    conns=args.conns,
                    duration=max(1, args.warmup),
                    bodies=100,
                    workdir=tmp,
                )
            result = run_wrk(
                args.url,
                factory,
                conns=args.conns,
                duration=args.duration,
                bodies=args.wrk_bodies,
                workdir=tmp,
            )
    else:

        def make() -> bytes:
            return factory.request()[0]

        result = run_async(
            run_duration(
                args.url, make, conns=args.conns, duration=args.duration, warmup=args.warmup
            )
        )
    result["body_bytes"] = len(factory.body()[0])
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
