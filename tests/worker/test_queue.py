"""The database queue: concurrent claims never overlap, leases expire, failures back off."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import time_machine
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import InboxEvent, Job
from app.runtime import Runtime
from app.worker import queue
from app.worker.runner import PermanentFailure, RetryLater, Worker
from tests.harness import Harness, make_settings, running_app, truncate_all


async def _enqueue(
    sessionmaker: async_sessionmaker[AsyncSession], count: int, kind: str = "noop"
) -> None:
    async with unit_of_work(sessionmaker) as session:
        for n in range(count):
            await queue.enqueue(session, kind, {"n": n})


async def test_concurrent_claims_never_take_the_same_job(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _enqueue(sessionmaker, 120)

    async def claim_all(worker_id: str) -> list[int]:
        taken: list[int] = []
        while True:
            async with unit_of_work(sessionmaker) as session:
                jobs = await queue.claim(
                    session, Job, worker_id=worker_id, limit=7, lease_seconds=60
                )
            if not jobs:
                return taken
            taken.extend(j.id for j in jobs)

    results = await asyncio.gather(*(claim_all(f"w{i}") for i in range(4)))
    everything = [job_id for taken in results for job_id in taken]
    assert len(everything) == 120
    assert len(set(everything)) == 120


@pytest.mark.parametrize("model", [Job, InboxEvent])
async def test_a_claim_takes_no_more_than_its_limit(
    sessionmaker: async_sessionmaker[AsyncSession], model: type[Job | InboxEvent]
) -> None:
    """On PostgreSQL the planner may rescan a `LIMIT ... FOR UPDATE SKIP LOCKED` subquery
    once per row of the UPDATE around it; each rescan skips the rows this statement has
    just updated and yields the next one, so an `IN (subquery)` claim leased every waiting
    item (20 for a limit of 1 on a fresh table). A worker then ran far more than its
    concurrency and left nothing for the others."""
    if model is Job:
        await _enqueue(sessionmaker, 20)
    else:
        async with unit_of_work(sessionmaker) as session:
            for n in range(20):
                session.add(
                    InboxEvent(
                        status=queue.QUEUED,
                        received_at=utc_now(),
                        body="{}",
                        body_sha256=f"{n:064d}",
                    )
                )
    taken: list[int] = []
    for limit in (1, 2, 5):
        async with unit_of_work(sessionmaker) as session:
            claimed: list[Any] = await queue.claim(
                session, cast(Any, model), worker_id="w", limit=limit, lease_seconds=60
            )
        assert len(claimed) == limit
        taken.extend(item.id for item in claimed)
    assert len(set(taken)) == 8


async def test_expired_lease_is_claimed_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _enqueue(sessionmaker, 1)
    async with unit_of_work(sessionmaker) as session:
        [job] = await queue.claim(session, Job, worker_id="dead", limit=5, lease_seconds=30)
    async with unit_of_work(sessionmaker) as session:
        assert await queue.claim(session, Job, worker_id="alive", limit=5, lease_seconds=30) == []
    with time_machine.travel(utc_now() + timedelta(seconds=31)):
        async with unit_of_work(sessionmaker) as session:
            [again] = await queue.claim(session, Job, worker_id="alive", limit=5, lease_seconds=30)
    assert again.id == job.id
    assert again.attempts == 2
    async with unit_of_work(sessionmaker) as session:
        # The dead worker's late completion does not count: it lost the lease.
        assert await queue.complete(session, job, worker_id="dead") is False
        assert await queue.complete(session, again, worker_id="alive") is True


async def test_debounced_enqueue_keeps_one_waiting_job(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessionmaker) as session:
        first = await queue.enqueue(
            session,
            "draft_reply",
            {"n": 1},
            dedupe_key="draft:1",
            run_at=utc_now() + timedelta(seconds=5),
        )
        second = await queue.enqueue(
            session,
            "draft_reply",
            {"n": 2},
            dedupe_key="draft:1",
            run_at=utc_now() + timedelta(seconds=9),
        )
    assert first == second
    async with unit_of_work(sessionmaker) as session:
        jobs = (await session.scalars(select(Job))).all()
    assert len(jobs) == 1
    assert jobs[0].payload == {"n": 2}


async def test_concurrent_debounced_enqueues_make_one_waiting_job(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Two messages of one follower ingested side by side: the second transaction finds
    the first's job only once that one commits, and pushes it instead of failing on the
    one-waiting-job-per-key index (which used to fail, and retry, the whole ingest)."""
    later = utc_now() + timedelta(seconds=9)
    async with sessionmaker() as first, sessionmaker() as second:
        await queue.enqueue(first, "draft_reply", {"n": 1}, dedupe_key="draft:3")
        racing = asyncio.create_task(
            queue.enqueue(second, "draft_reply", {"n": 2}, dedupe_key="draft:3", run_at=later)
        )
        await asyncio.sleep(0.2)  # PostgreSQL: waiting on the first insert; SQLite: on BEGIN
        await first.commit()
        pushed = await racing
        await second.commit()
    async with unit_of_work(sessionmaker) as session:
        [job] = (await session.scalars(select(Job))).all()
    assert (job.id, job.payload, job.run_at) == (pushed, {"n": 2}, later)


async def test_a_job_being_pushed_is_not_claimed_before_its_data_commits(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A message's transaction pushes the conversation's waiting draft job: no worker may
    start that job before the message is committed, or the draft would miss it."""
    async with unit_of_work(sessionmaker) as session:
        await queue.enqueue(session, "draft_reply", {"n": 1}, dedupe_key="draft:4")

    async def claim() -> list[Job]:
        async with unit_of_work(sessionmaker) as session:
            return await queue.claim(session, Job, worker_id="w", limit=5, lease_seconds=60)

    async with sessionmaker() as ingest:
        await queue.enqueue(ingest, "draft_reply", {"n": 2}, dedupe_key="draft:4")
        early = asyncio.create_task(claim())
        await asyncio.sleep(0.2)
        # PostgreSQL skips the locked job; SQLite waits for the writer to finish.
        assert not early.done() or early.result() == []
        await ingest.commit()
    claimed = await early or await claim()
    assert [job.payload for job in claimed] == [{"n": 2}]


async def test_a_job_claimed_while_being_pushed_gets_a_new_waiting_job(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The one-statement enqueue meets the waiting job just as a worker claims it: once the
    claim commits, that job no longer waits, so the enqueue queues a new one (the running
    job may have missed this transaction's data) instead of changing the running one."""
    async with unit_of_work(sessionmaker) as session:
        await queue.enqueue(session, "draft_reply", {"n": 1}, dedupe_key="draft:8")

    async def enqueue() -> int:
        async with unit_of_work(sessionmaker) as session:
            return await queue.enqueue(session, "draft_reply", {"n": 2}, dedupe_key="draft:8")

    async with sessionmaker() as claimer:
        [running] = await queue.claim(claimer, Job, worker_id="w", limit=1, lease_seconds=60)
        racing = asyncio.create_task(enqueue())
        await asyncio.sleep(0.2)  # PostgreSQL: waiting on the claimed row; SQLite: on BEGIN
        await claimer.commit()
        queued = await racing
    async with unit_of_work(sessionmaker) as session:
        rows = {job.id: (job.status, job.payload) for job in (await session.scalars(select(Job)))}
    assert queued != running.id
    assert rows == {running.id: (queue.RUNNING, {"n": 1}), queued: (queue.QUEUED, {"n": 2})}


async def test_pending_jobs_are_written_together_and_merge_by_key(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    now = utc_now()
    async with unit_of_work(sessionmaker) as session:
        waiting = await queue.enqueue(
            session, "draft_reply", {"n": 0}, dedupe_key="draft:9", run_at=now
        )
    pending = queue.PendingJobs()
    pending.add("draft_reply", {"n": 1}, dedupe_key="draft:1", run_at=now + timedelta(seconds=9))
    pending.add("draft_reply", {"n": 2}, dedupe_key="draft:1", run_at=now + timedelta(seconds=5))
    pending.add("draft_reply", {"n": 3}, dedupe_key="draft:9", run_at=now + timedelta(seconds=3))
    pending.add("send_notice", {"n": 4})
    pending.add("send_notice", {"n": 5})
    assert len(pending) == 4
    async with unit_of_work(sessionmaker) as session:
        await pending.write(session)
    assert len(pending) == 0
    async with unit_of_work(sessionmaker) as session:
        jobs = (await session.scalars(select(Job).order_by(Job.id))).all()
    rows = [(job.dedupe_key, job.payload, job.run_at, job.status) for job in jobs]
    assert rows == [
        # Pushed to the later run time, with the newest payload; still the same row.
        ("draft:9", {"n": 3}, now + timedelta(seconds=3), queue.QUEUED),
        # Merged before writing: the later run time, the last payload.
        ("draft:1", {"n": 2}, now + timedelta(seconds=9), queue.QUEUED),
        (None, {"n": 4}, jobs[2].run_at, queue.QUEUED),
        (None, {"n": 5}, jobs[3].run_at, queue.QUEUED),
    ]
    assert jobs[0].id == waiting


async def test_pending_jobs_of_any_count_reuse_one_compiled_statement(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A batch of inbox events writes its jobs in one call whatever their number, with the
    statement SQLAlchemy compiled once: a multi-row VALUES has no cache key and was
    compiled again for every batch (about a millisecond of CPU per row)."""
    cache: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, *_: Any) -> None:
        if statement.startswith("INSERT INTO jobs"):
            cache.append(str(context.cache_hit))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        for count in (2, 3, 5):
            pending = queue.PendingJobs()
            for n in range(count):
                pending.add("draft_reply", {"n": n}, dedupe_key=f"draft:{count}:{n}")
            async with unit_of_work(sessionmaker) as session:
                await pending.write(session)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    # One call per batch; compiled at most once (the first, unless compiled before).
    assert len(cache) == 3
    assert cache[1:] == ["CacheStats.CACHE_HIT", "CacheStats.CACHE_HIT"]
    async with unit_of_work(sessionmaker) as session:
        keys = set(await session.scalars(select(Job.dedupe_key)))
    assert keys == {f"draft:{count}:{n}" for count in (2, 3, 5) for n in range(count)}


@pytest.mark.parametrize("outcome", ["fail", "postpone"])
async def test_a_job_cannot_requeue_over_a_newer_one_with_its_key(
    sessionmaker: async_sessionmaker[AsyncSession], outcome: str
) -> None:
    """A draft job fails or is postponed while a newer message already queued another for
    the same conversation: the newer one does the work; the older one ends, without
    breaking the one-waiting-job-per-key index."""
    async with unit_of_work(sessionmaker) as session:
        await queue.enqueue(session, "draft_reply", {"n": 1}, dedupe_key="draft:7")
    async with unit_of_work(sessionmaker) as session:
        [running] = await queue.claim(session, Job, worker_id="w", limit=1, lease_seconds=60)
    async with unit_of_work(sessionmaker) as session:
        newer = await queue.enqueue(session, "draft_reply", {"n": 2}, dedupe_key="draft:7")
    assert newer != running.id
    async with unit_of_work(sessionmaker) as session:
        if outcome == "fail":
            status = await queue.fail(
                session,
                running,
                worker_id="w",
                error="boom",
                max_attempts=8,
                backoff=queue.Backoff(0, 0),
            )
            assert status == queue.DONE
        else:
            await queue.postpone(session, running, worker_id="w", until=utc_now(), reason="later")
    async with unit_of_work(sessionmaker) as session:
        rows = {job.id: job.status for job in (await session.scalars(select(Job))).all()}
    assert rows == {running.id: queue.DONE, newer: queue.QUEUED}


async def test_failing_handler_backs_off_then_parks_with_the_error(harness: Harness) -> None:
    calls: list[int] = []

    async def flaky(_runtime: Runtime, job: Job) -> None:
        calls.append(job.attempts)
        raise RuntimeError("remote said no")

    async def later(_runtime: Runtime, _job: Job) -> None:
        raise RetryLater("throttled", retry_after=3600)

    async def hopeless(_runtime: Runtime, _job: Job) -> None:
        raise PermanentFailure("cannot ever work")

    worker = Worker(
        harness.runtime,
        job_handlers={"flaky": flaky, "later": later, "hopeless": hopeless},
        event_handler=_no_events,
    )
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await queue.enqueue(session, "flaky", {}, max_attempts=3)
        await queue.enqueue(session, "later", {})
        await queue.enqueue(session, "hopeless", {})
    await worker.run_until_idle()

    assert calls == [1, 2, 3]
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        jobs = {j.kind: j for j in (await session.scalars(select(Job))).all()}
    assert jobs["flaky"].status == "failed"
    assert "remote said no" in (jobs["flaky"].last_error or "")
    assert jobs["later"].status == "queued"
    assert jobs["later"].run_at > utc_now() + timedelta(minutes=59)
    assert jobs["hopeless"].status == "failed"
    assert jobs["hopeless"].attempts == 1


async def _no_events(_runtime: Runtime, _item: object) -> None:
    raise AssertionError("no inbox events in this test")


def test_backoff_grows_and_is_capped() -> None:
    backoff = queue.Backoff(base_seconds=2, max_seconds=60)
    samples = [max(backoff.delay(attempt) for _ in range(200)) for attempt in range(1, 10)]
    assert samples[0] <= 2
    assert samples[3] > samples[0]
    assert max(samples) <= 60
    assert min(backoff.delay(1) for _ in range(200)) >= 1


async def test_failures_are_visible_through_the_api(harness: Harness) -> None:
    async def broken(_runtime: Runtime, _job: Job) -> None:
        raise RuntimeError("LLM quota exceeded")

    account = await harness.create_account(external_id="777")
    worker = Worker(harness.runtime, job_handlers={"broken": broken}, event_handler=_no_events)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await queue.enqueue(session, "broken", {}, max_attempts=1, account_id=account["id"])
    await worker.run_until_idle()

    failed = (await harness.api("GET", "/api/v1/jobs", params={"status": "failed"})).json()
    assert [(j["kind"], j["attempts"]) for j in failed] == [("broken", 1)]
    assert "LLM quota exceeded" in failed[0]["last_error"]

    await harness.post_webhook({"object": "user", "entry": []})
    await harness.run_worker()
    events = (await harness.api("GET", "/api/v1/inbox-events")).json()
    assert [e["status"] for e in events] == ["unprocessable"]


async def test_periodic_jobs_keep_exactly_one_waiting_run(harness: Harness) -> None:
    runs: list[int] = []

    async def tick(_runtime: Runtime, job: Job) -> None:
        runs.append(job.id)

    worker = Worker(
        harness.runtime,
        job_handlers={"tick": tick},
        event_handler=_no_events,
        periodic={"tick": 3600},
    )
    await worker.schedule_periodic(force=True)
    await worker.schedule_periodic(force=True)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        [job] = (await session.scalars(select(Job))).all()
    assert job.run_at > utc_now() + timedelta(minutes=59)
    await worker.run_until_idle()
    assert runs == []
    with time_machine.travel(utc_now() + timedelta(hours=1, seconds=1), tick=True):
        await worker.run_until_idle()
        await worker.schedule_periodic(force=True)
    assert runs == [job.id]
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        waiting = (await session.scalars(select(Job).where(Job.status == "queued"))).all()
    assert len(waiting) == 1


async def test_a_slow_job_does_not_hold_back_the_others(harness: Harness) -> None:
    release = asyncio.Event()
    done: list[str] = []

    async def slow(_runtime: Runtime, _job: Job) -> None:
        await release.wait()
        done.append("slow")

    async def fast(_runtime: Runtime, job: Job) -> None:
        done.append(f"fast-{job.payload['n']}")

    worker = Worker(
        harness.runtime,
        job_handlers={"slow": slow, "fast": fast},
        event_handler=_no_events,
        concurrency=2,
    )
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await queue.enqueue(session, "slow", {})
    stop = asyncio.Event()
    loop_task = asyncio.create_task(worker.run_forever(stop))
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        for n in range(3):
            await queue.enqueue(session, "fast", {"n": n})
    for _ in range(200):
        if len(done) == 3:
            break
        await asyncio.sleep(0.02)
    assert sorted(done) == ["fast-0", "fast-1", "fast-2"]  # while the slow one still runs
    stop.set()
    release.set()
    await asyncio.wait_for(loop_task, 10)
    assert "slow" in done  # a stopping worker finishes what it holds


async def test_wake_skips_the_poll_wait(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, str(tmp_path), WORKER_POLL_SECONDS=30)
    async with running_app(settings) as harness:
        handled = asyncio.Event()

        async def ping(_runtime: Runtime, _job: Job) -> None:
            handled.set()

        worker = Worker(harness.runtime, job_handlers={"ping": ping}, event_handler=_no_events)
        stop = asyncio.Event()
        loop_task = asyncio.create_task(worker.run_forever(stop))
        await asyncio.sleep(0.3)  # the worker found nothing and waits for its 30 s poll
        async with unit_of_work(harness.runtime.sessionmaker) as session:
            await queue.enqueue(session, "ping", {})
        worker.wake()
        await asyncio.wait_for(handled.wait(), 5)
        stop.set()
        await asyncio.wait_for(loop_task, 5)


async def test_a_separate_worker_process_hears_new_webhooks_at_once(
    postgres_url: str, tmp_path: Path
) -> None:
    """PostgreSQL: the webhook writer's NOTIFY wakes a worker waiting on a long poll."""
    settings = make_settings(postgres_url, str(tmp_path), WORKER_POLL_SECONDS=30)
    async with running_app(settings) as harness:
        seen = asyncio.Event()

        async def note(_runtime: Runtime, _item: object) -> None:
            seen.set()

        worker = Worker(harness.runtime, job_handlers={}, event_handler=note)
        stop = asyncio.Event()
        loop_task = asyncio.create_task(worker.run_forever(stop))
        await asyncio.sleep(0.5)  # listening, and waiting for its 30 s poll
        assert (await harness.post_webhook({"object": "instagram", "entry": []})).status_code == 200
        await asyncio.wait_for(seen.wait(), 5)
        stop.set()
        await asyncio.wait_for(loop_task, 5)
    await truncate_all(postgres_url)


async def test_claims_completions_and_renewals_send_one_text_whatever_they_hold(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The lists a worker passes (what it holds, what finished) grow and shrink with its
    load. An expanding `IN (...)` wrote one SQL text per length, and each new text is
    prepared again by the driver and pushes hot statements out of its cache; now each
    statement is one text, and still takes exactly the rows its list names."""
    await _enqueue(sessionmaker, 12)
    texts: dict[str, set[str]] = {"claim": set(), "complete": set(), "renew": set()}
    current: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if current and "jobs" in statement:  # not SQLite's BEGIN IMMEDIATE
            texts[current[0]].add(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        held: list[int] = []
        for size in (1, 2, 3):
            current[:] = ["claim"]
            async with unit_of_work(sessionmaker) as session:
                jobs = await queue.claim(
                    session, Job, worker_id="w", limit=size, lease_seconds=60, held_ids=held
                )
            assert len(jobs) == size
            assert not {job.id for job in jobs} & set(held)
            held.extend(job.id for job in jobs)
        current[:] = ["renew"]
        for ids in (held[:1], held, [*held, 10_000]):
            async with unit_of_work(sessionmaker) as session:
                renewed = await queue.renew(session, Job, ids, worker_id="w", lease_seconds=60)
            assert renewed == set(ids) - {10_000}
        current[:] = ["complete"]
        for ids in (held[:1], held[1:3], held[3:]):
            async with unit_of_work(sessionmaker) as session:
                assert await queue.complete_many(session, Job, ids, worker_id="w") == len(ids)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert {name: len(found) for name, found in texts.items()} == {
        "claim": 1,
        "complete": 1,
        "renew": 1,
    }
    async with unit_of_work(sessionmaker) as session:
        statuses = {row.id: row.status for row in await session.execute(select(Job.id, Job.status))}
    assert sorted(job_id for job_id, status in statuses.items() if status == queue.DONE) == sorted(
        held
    )
    assert sum(status == queue.QUEUED for status in statuses.values()) == 6


async def test_release_hands_back_what_the_worker_holds_unless_a_newer_job_waits(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A stopping worker's items go back to the queue at once, the attempt not counted;
    a job whose key already has a newer waiting job stays leased (one may wait per key)."""
    async with unit_of_work(sessionmaker) as session:
        await queue.enqueue(session, "noop", {"n": 1})
        await queue.enqueue(session, "noop", {"n": 2}, dedupe_key="k")
    async with unit_of_work(sessionmaker) as session:
        held = await queue.claim(session, Job, worker_id="w", limit=2, lease_seconds=60)
    assert len(held) == 2
    async with unit_of_work(sessionmaker) as session:
        await queue.enqueue(session, "noop", {"n": 3}, dedupe_key="k")  # the newer one
        released = await queue.release(session, Job, [job.id for job in held], worker_id="w")
        assert await queue.release(session, Job, [job.id for job in held], worker_id="x") == 0
    assert released == 1
    async with unit_of_work(sessionmaker) as session:
        rows = {job.id: job for job in (await session.scalars(select(Job))).all()}
    plain, keyed = sorted(held, key=lambda job: job.dedupe_key is not None)
    assert (rows[plain.id].status, rows[plain.id].locked_by, rows[plain.id].attempts) == (
        queue.QUEUED,
        None,
        0,
    )
    assert (rows[keyed.id].status, rows[keyed.id].locked_by) == (queue.RUNNING, "w")
