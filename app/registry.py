"""Which handler runs which job kind; the one place a new job kind is registered."""

from __future__ import annotations

from app.conversations.ingest import CONFIRM_SEND_JOB, DRAFT_JOB
from app.conversations.jobs import process_inbox_event
from app.drafting.jobs import draft_reply
from app.outbox.jobs import confirm_send, send_reply
from app.outbox.service import SEND_JOB
from app.runtime import Runtime
from app.worker.runner import JobHandler, Worker

JOB_HANDLERS: dict[str, JobHandler] = {
    DRAFT_JOB: draft_reply,
    SEND_JOB: send_reply,
    CONFIRM_SEND_JOB: confirm_send,
}


# Jobs the worker runs on a schedule: kind -> seconds between runs.
PERIODIC_JOBS: dict[str, float] = {}


def build_worker(runtime: Runtime, *, concurrency: int | None = None) -> Worker:
    return Worker(
        runtime,
        job_handlers=JOB_HANDLERS,
        event_handler=process_inbox_event,
        concurrency=concurrency,
        periodic=PERIODIC_JOBS,
    )
