"""Valid webhook acknowledgements alone, then during a flood of bad signatures.

    .venv/bin/python bench/flood.py [--database postgresql|sqlite] [--seconds 10]
        [--rate 100] [--conns 8] [--flood-conns 64] [--flood-rate N]

The service (`inboxpilot serve --no-worker`) runs as in bench/run.py, whose helpers start
and stop it. Two phases, each `--seconds` long:
  alone: `--rate` validly signed DMs per second (open loop, over `--conns` connections);
  flood: the same paced valid stream while `--flood-conns` connections send badly signed
         POSTs back to back (wrong secret, no header, sha1, short, not hex, non-ASCII),
         or `--flood-rate` of them per second.
Reported: valid acknowledgement p50/p99 in each phase and their ratio (flood / alone), the
flood's rate of 401s, and a check in the database that every acknowledged valid event was
stored and nothing of the flood was. Results on stdout and in bench/results/flood.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from bench import common, loadgen
from bench import run as bench_run

FORGED_TEXT = "forged by the flood"


def valid_factory(port: int, prefix: str) -> loadgen.WebhookFactory:
    return loadgen.WebhookFactory(
        host=f"127.0.0.1:{port}",
        path="/webhooks/meta",
        secret=common.APP_SECRET.encode(),
        account_id=common.ACCOUNT_EXTERNAL_ID,
        prefix=prefix,
    )


def bad_requests(port: int, count: int) -> list[bytes]:
    """Prebuilt badly signed requests, every kind in turn (never stored, so reusable)."""
    factory = loadgen.WebhookFactory(
        host=f"127.0.0.1:{port}",
        path="/webhooks/meta",
        secret=b"not-the-app-secret",
        account_id=common.ACCOUNT_EXTERNAL_ID,
        text=FORGED_TEXT,
        prefix="forged",
    )
    out = []
    for n in range(count):
        body, _ = factory.body()
        good = hmac.new(common.APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        signature: bytes | None = [
            factory.signature(body).encode(),  # another secret
            None,  # no header
            b"sha1=" + good[:40].encode(),
            b"sha256=" + good[:-1].encode(),  # one digit short
            b"sha256=" + good[:-1].encode() + b"g",  # not hex
            b"sha256=\xe9\xff" + good[2:].encode(),  # non-ASCII bytes
        ][n % 6]
        head = (
            f"POST /webhooks/meta HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        ).encode()
        if signature is not None:
            head += b"X-Hub-Signature-256: " + signature + b"\r\n"
        out.append(head + b"\r\n" + body)
    return out


def paced_valid(port: int, prefix: str, rate: float, seconds: float) -> list[tuple[bytes, str]]:
    factory = valid_factory(port, prefix)
    return [factory.request() for _ in range(int(rate * seconds))]


async def phase(
    url: str, valid: list[tuple[bytes, str]], args: argparse.Namespace, flood: list[bytes] | None
) -> dict[str, Any]:
    """The paced valid stream, with the flood running for its whole length if given."""
    if flood is None:
        return {"valid": await loadgen.send_all(url, valid, conns=args.conns, rate=args.rate)}
    cycle = itertools.cycle(flood)
    flood_task = asyncio.create_task(
        loadgen.run_duration(
            url,
            lambda: next(cycle),
            conns=args.flood_conns,
            duration=args.seconds + 1.0,
            warmup=0.5,
        )
        if args.flood_rate is None
        else _paced_flood(url, cycle, args)
    )
    await asyncio.sleep(1.0)  # the flood is at full speed before the first valid event
    sent = await loadgen.send_all(url, valid, conns=args.conns, rate=args.rate)
    return {"valid": sent, "flood": await flood_task}


async def _paced_flood(
    url: str, cycle: Iterator[bytes], args: argparse.Namespace
) -> dict[str, Any]:
    """`--flood-rate` bad signatures per second (open loop), in run_duration's terms."""
    duration = args.seconds + 1.0
    requests = [(next(cycle), f"bad-{i}") for i in range(int(args.flood_rate * duration))]
    cpu = loadgen._cpu_seconds()
    sent = await loadgen.send_all(url, requests, conns=args.flood_conns, rate=args.flood_rate)
    took = sent["last_acked"] - sent["first_sent"]
    return {
        "duration_s": took,
        "statuses": sent["statuses"],
        "loadgen_cpu_pct": 100 * (loadgen._cpu_seconds() - cpu) / took,
    }


async def stored_counts(database_url: str) -> tuple[int, int]:
    """(rows in inbox_events, rows holding a flood body)."""
    from sqlalchemy import func, select

    from app.core.db import create_engine
    from app.models import InboxEvent

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(InboxEvent))
            forged = await conn.scalar(
                select(func.count())
                .select_from(InboxEvent)
                .where(InboxEvent.body.contains(FORGED_TEXT))
            )
    finally:
        await engine.dispose()
    return int(total or 0), int(forged or 0)


def summary(args: argparse.Namespace, runs: dict[str, Any], stored: tuple[int, int]) -> str:
    alone, flood = runs["alone"]["valid"], runs["flood"]["valid"]
    bad = runs["flood"]["flood"]
    acked = sum(run["statuses"].get("200", 0) for run in (runs["warmup"]["valid"], alone, flood))
    lines = [
        f"# Bad-signature flood ({args.database}, {args.seconds:.0f} s per phase)",
        "",
        f"Valid stream: {args.rate:.0f} signed DMs/s over {args.conns} connections. "
        f"Flood: {args.flood_conns} connections of bad signatures, "
        + ("back to back." if args.flood_rate is None else f"{args.flood_rate:.0f} per second."),
        "",
        "| phase | valid sent | valid statuses | ack p50 ms | ack p99 ms | flood answers/s "
        "| flood statuses |",
        "|---|---|---|---|---|---|---|",
        f"| alone | {alone['sent']} | {alone['statuses']} | {alone['ack_p50_ms']:.1f} | "
        f"{alone['ack_p99_ms']:.1f} | - | - |",
        f"| flood | {flood['sent']} | {flood['statuses']} | {flood['ack_p50_ms']:.1f} | "
        f"{flood['ack_p99_ms']:.1f} | {sum(bad['statuses'].values()) / bad['duration_s']:.0f} "
        f"| {bad['statuses']} |",
        "",
        f"Ratio flood / alone: p50 **{flood['ack_p50_ms'] / alone['ack_p50_ms']:.2f}x**, "
        f"p99 **{flood['ack_p99_ms'] / alone['ack_p99_ms']:.2f}x**.",
        f"Load generator CPU during the flood: {bad['loadgen_cpu_pct']:.0f}% "
        "(same machine, 2 cores: it competes with the service).",
        "",
        f"Stored: {stored[0]} events for {acked} valid acknowledgements; "
        f"{stored[1]} flood bodies stored.",
    ]
    return "\n".join(lines) + "\n"


def failures(runs: dict[str, Any], stored: tuple[int, int]) -> list[str]:
    found = []
    valid_runs = [runs[name]["valid"] for name in ("warmup", "alone", "flood")]
    acked = sum(run["statuses"].get("200", 0) for run in valid_runs)
    if any(run["errors"] for run in valid_runs):
        found.append(f"valid events refused: {[run['statuses'] for run in valid_runs]}")
    if stored[0] != acked:
        found.append(f"{acked} valid events acknowledged but {stored[0]} stored")
    if stored[1]:
        found.append(f"{stored[1]} badly signed bodies were stored")
    bad = runs["flood"]["flood"]["statuses"]
    if set(bad) - {"401"}:
        found.append(f"the flood got answers other than 401: {bad}")
    return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    p.add_argument("--rate", type=float, default=100.0, help="valid DMs per second")
    p.add_argument("--conns", type=int, default=8, help="connections for the valid stream")
    p.add_argument("--flood-conns", type=int, default=64, help="connections of the flood")
    p.add_argument(
        "--flood-rate",
        type=float,
        default=None,
        help="bad signatures per second (default: back to back, as fast as they are answered)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    procs = common.Processes()
    tmp = tempfile.mkdtemp(prefix="inboxpilot-flood-")
    # graph and llm are never called (no worker runs); their ports only fill the settings.
    ports = {name: common.free_port() for name in ("graph", "llm", "service")}
    s = bench_run.Setup(args=args, procs=procs, env={}, tmp=tmp, ports=ports)
    problems: list[str] = []
    try:
        with bench_run.database(args.database, tmp) as database_url:
            s.env = common.service_env(database_url, ports)
            common.run_cli(["migrate"], env=s.env, cwd=tmp, timeout=180)
            bench_run.start_service(s)
            url = s.url("service", "/webhooks/meta")
            port = ports["service"]
            print(f"[flood] {args.database}: service on {url}", flush=True)
            runs: dict[str, Any] = {}
            warm = paced_valid(port, "warm", args.rate, 2.0)
            runs["warmup"] = loadgen.run_async(phase(url, warm, args, None))
            for name, flood in (("alone", None), ("flood", bad_requests(port, 3000))):
                print(f"[flood] phase {name}", flush=True)
                valid = paced_valid(port, name, args.rate, args.seconds)
                runs[name] = loadgen.run_async(phase(url, valid, args, flood))
            time.sleep(0.5)
            stored = asyncio.run(stored_counts(database_url))
            procs.stop_all()
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    problems = failures(runs, stored)
    text = summary(args, runs, stored)
    if problems:
        text += "\n## Failures\n\n" + "\n".join(f"- {p}" for p in problems) + "\n"
    print("\n" + text)
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    (common.RESULTS / "flood.md").write_text(text)
    for run_ in runs.values():
        run_["valid"].pop("sent_wall", None)
        run_["valid"].pop("acked_wall", None)
    (common.RESULTS / "flood.json").write_text(
        json.dumps({"args": vars(args), "runs": runs, "stored": stored}, indent=2)
    )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
