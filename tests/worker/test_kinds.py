"""Job kinds are stored: a queued job written by one release is run by the next."""

from __future__ import annotations

from app.worker.kinds import JobKind

# What databases already hold. Add to this list; never change or drop an entry while a
# job of that kind may still be queued.
STORED = {
    "draft_reply",
    "send_reply",
    "confirm_send",
    "send_notice",
    "fetch_profile",
    "comment_reply",
    "public_reply",
    "privacy.erase_meta_user",
    "account_tokens",
    "privacy.purge_expired",
    "catalog.embed",
    "notifications.send_digests",
}


def test_stored_kinds_keep_their_values() -> None:
    assert STORED <= {kind.value for kind in JobKind}


def test_a_kind_reads_as_its_stored_value() -> None:
    # Dedupe keys are built with f-strings ("periodic:{kind}", "public_reply:{id}"): a kind
    # formatted as "JobKind.X" would queue a second run beside each waiting one.
    assert f"periodic:{JobKind.EMBED_CATALOG}" == "periodic:catalog.embed"
    assert str(JobKind.PUBLIC_REPLY) == "public_reply"
    assert JobKind("send_reply") is JobKind.SEND_REPLY
