"""Which handler runs which job kind, and how often the periodic ones run: the one place
a job kind is registered. Handlers come from each domain's `jobs.py`, the kinds from
app/worker/kinds.py; a test checks that every kind has a handler."""

from __future__ import annotations

from functools import partial

from app.accounts.jobs import TOKENS_EVERY_SECONDS, maintain_tokens
from app.comments.jobs import post_public_reply, reply_to_comment, take_comment
from app.conversations.jobs import fetch_profile, process_inbox_event
from app.drafting.jobs import EMBED_EVERY_SECONDS, draft_reply, embed_catalog
from app.notifications.jobs import DIGEST_EVERY_SECONDS, send_digests
from app.outbox.jobs import confirm_send, send_notice, send_reply
from app.privacy.jobs import RETENTION_EVERY_SECONDS, erase_meta_user, purge_expired
from app.runtime import Runtime
from app.worker.kinds import JobKind
from app.worker.runner import JobHandler, Worker

JOB_HANDLERS: dict[str, JobHandler] = {
    JobKind.DRAFT_REPLY: draft_reply,
    JobKind.SEND_REPLY: send_reply,
    JobKind.CONFIRM_SEND: confirm_send,
    JobKind.SEND_NOTICE: send_notice,
    JobKind.FETCH_PROFILE: fetch_profile,
    JobKind.COMMENT_REPLY: reply_to_comment,
    JobKind.PUBLIC_REPLY: post_public_reply,
    JobKind.ERASE_META_USER: erase_meta_user,
    JobKind.MAINTAIN_TOKENS: maintain_tokens,
    JobKind.PURGE_EXPIRED: purge_expired,
    JobKind.EMBED_CATALOG: embed_catalog,
    JobKind.SEND_DIGESTS: send_digests,
}


# Jobs the worker runs on a schedule: kind -> seconds between runs.
PERIODIC_JOBS: dict[str, float] = {
    JobKind.PURGE_EXPIRED: RETENTION_EVERY_SECONDS,
    JobKind.MAINTAIN_TOKENS: TOKENS_EVERY_SECONDS,
    JobKind.EMBED_CATALOG: EMBED_EVERY_SECONDS,
    JobKind.SEND_DIGESTS: DIGEST_EVERY_SECONDS,
}


def build_worker(runtime: Runtime, *, concurrency: int | None = None) -> Worker:
    return Worker(
        runtime,
        job_handlers=JOB_HANDLERS,
        # New comments meet the account's comment triggers during ingest.
        event_handler=partial(process_inbox_event, on_comment=take_comment),
        concurrency=concurrency,
        # Embedding the catalog is scheduled only where a model is configured.
        periodic={
            kind: every
            for kind, every in PERIODIC_JOBS.items()
            if kind != JobKind.EMBED_CATALOG or runtime.embedder is not None
        },
    )
