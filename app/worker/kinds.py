"""Every job kind, in one vocabulary: what `enqueue` is given and what the registry maps.

The values are stored in `jobs.kind` and read back by workers, possibly by a newer
release than the one that queued them: never rename a value, add a new member instead
(and keep the old one registered until no queued job can carry it).
"""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    # A follower's DM: draft (debounced), send; and, when an echo proves that a send of
    # uncertain outcome arrived, confirm it (app/outbox/jobs.py).
    DRAFT_REPLY = "draft_reply"
    SEND_REPLY = "send_reply"
    CONFIRM_SEND = "confirm_send"
    # STOP/START confirmations and story-mention thanks (app/outbox/notices.py).
    SEND_NOTICE = "send_notice"
    FETCH_PROFILE = "fetch_profile"
    # A comment that matched a trigger: the private reply, then the public one.
    COMMENT_REPLY = "comment_reply"
    PUBLIC_REPLY = "public_reply"
    ERASE_META_USER = "privacy.erase_meta_user"
    # Periodic (app/registry.py schedules them).
    MAINTAIN_TOKENS = "account_tokens"
    PURGE_EXPIRED = "privacy.purge_expired"
    EMBED_CATALOG = "catalog.embed"
    SEND_DIGESTS = "notifications.send_digests"
