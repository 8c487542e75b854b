"""Which handler runs which job kind; the one place a new job kind is registered."""

from __future__ import annotations

from functools import partial

from app.accounts.tokens import TOKENS_JOB, TOKENS_JOB_EVERY_SECONDS, maintain_tokens
from app.comments.intake import COMMENT_JOB, take_comment
from app.comments.jobs import reply_to_comment
from app.comments.public import post_public_reply
from app.conversations.ingest import CONFIRM_SEND_JOB, DRAFT_JOB
from app.conversations.jobs import process_inbox_events
from app.conversations.profiles import PROFILE_JOB, fetch_profile
from app.conversations.replies import NOTICE_JOB
from app.drafting.embeddings import EMBED_EVERY_SECONDS, EMBED_JOB, embed_catalog
from app.drafting.jobs import draft_reply
from app.notifications.jobs import DIGEST_EVERY_SECONDS, DIGEST_JOB, send_digests
from app.outbox.jobs import confirm_send, send_reply
from app.outbox.notices import send_notice
from app.outbox.service import PUBLIC_REPLY_JOB, SEND_JOB
from app.privacy.jobs import RETENTION_EVERY_SECONDS, RETENTION_JOB, erase_meta_user, purge_expired
from app.privacy.service import DELETION_JOB
from app.runtime import Runtime
from app.worker.runner import JobHandler, Worker

JOB_HANDLERS: dict[str, JobHandler] = {
    DRAFT_JOB: draft_reply,
    COMMENT_JOB: reply_to_comment,
    SEND_JOB: send_reply,
    PUBLIC_REPLY_JOB: post_public_reply,
    CONFIRM_SEND_JOB: confirm_send,
    NOTICE_JOB: send_notice,
    PROFILE_JOB: fetch_profile,
    TOKENS_JOB: maintain_tokens,
    DELETION_JOB: erase_meta_user,
    RETENTION_JOB: purge_expired,
    EMBED_JOB: embed_catalog,
    DIGEST_JOB: send_digests,
}


# Jobs the worker runs on a schedule: kind -> seconds between runs.
PERIODIC_JOBS: dict[str, float] = {
    RETENTION_JOB: RETENTION_EVERY_SECONDS,
    TOKENS_JOB: TOKENS_JOB_EVERY_SECONDS,
    EMBED_JOB: EMBED_EVERY_SECONDS,
    DIGEST_JOB: DIGEST_EVERY_SECONDS,
}


def build_worker(runtime: Runtime, *, concurrency: int | None = None) -> Worker:
    return Worker(
        runtime,
        job_handlers=JOB_HANDLERS,
        # New comments meet the account's comment triggers during ingest.
        event_handler=partial(process_inbox_events, on_comment=take_comment),
        concurrency=concurrency,
        # Embedding the catalog is scheduled only where a model is configured.
        periodic={
            kind: every
            for kind, every in PERIODIC_JOBS.items()
            if kind != EMBED_JOB or runtime.embedder is not None
        },
    )
