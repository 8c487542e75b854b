"""The periodic job that tells people what needs them: one e-mail digest and one push
per person and run, with what is new since they were last told.

Each person is read in one short transaction, sent to with no transaction open, and
recorded in another: a failed send records nothing, so the job, retried by the worker
with backoff, sends those items again, and nobody is told an item twice (unless the
worker dies between a send and its record: at least once, never silently lost).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from app.core.clock import as_utc, utc_now
from app.core.db import unit_of_work
from app.models import Job, User
from app.notifications import mail, push, repository, service
from app.notifications.service import Channel, Choices, Digest
from app.runtime import Runtime
from app.worker.runner import RetryLater

log = structlog.get_logger("app.notifications")

DIGEST_EVERY_SECONDS = 60.0
# At most one e-mail per person this often: what arrives meanwhile waits for the next.
MIN_EMAIL_GAP = timedelta(minutes=10)
# Records of drafts decided this long ago are dropped (they cannot come back).
KEEP_RECORDS = timedelta(days=7)


async def send_digests(runtime: Runtime, _job: Job) -> None:
    settings = runtime.settings
    target = mail.smtp_target(settings)
    keys = push.vapid_keys(settings)
    now = utc_now()
    async with unit_of_work(runtime.sessionmaker) as session:
        await repository.forget_reconnected(session)
        await repository.forget_decided(session, now - KEEP_RECORDS)
        people = [
            (user, service.choices_of(alerts), alerts.last_digest_at)
            for user, alerts in await repository.people_with_alerts(session)
        ]
    failures: list[str] = []
    for user, choices, last_digest_at in people:
        structlog.contextvars.bind_contextvars(user_id=user.id)
        try:
            if target is not None and _email_due(last_digest_at, now):
                failures += await _email(runtime, target, user, choices, now)
            if keys is not None:
                failures += await _push(runtime, keys, user, choices, now)
        finally:
            structlog.contextvars.unbind_contextvars("user_id")
    if failures:
        raise RetryLater(f"{len(failures)} alert(s) not delivered, last: {failures[-1]}")


def _email_due(last: datetime | None, now: datetime) -> bool:
    return last is None or now - as_utc(last) >= MIN_EMAIL_GAP


async def _digest(
    runtime: Runtime, user: User, choices: Choices, channel: Channel, now: datetime
) -> Digest:
    async with unit_of_work(runtime.sessionmaker) as session:
        items = await service.new_items(
            session, user=user, choices=choices, channel=channel, now=now
        )
    return Digest(user_id=user.id, email=user.email, items=items)


async def _record(runtime: Runtime, digest: Digest, channel: Channel, now: datetime) -> None:
    async with unit_of_work(runtime.sessionmaker) as session:
        await service.record_told(session, digest=digest, channel=channel, now=now)


async def _email(
    runtime: Runtime, target: mail.SmtpTarget, user: User, choices: Choices, now: datetime
) -> list[str]:
    """Why the digest could not be sent (it is sent again on the next try), if it failed."""
    digest = await _digest(runtime, user, choices, Channel.EMAIL, now)
    if not digest.items:
        return []
    message = mail.build_message(runtime.settings, digest)
    try:
        await mail.send_message(target, message, seconds=runtime.settings.HTTP_TIMEOUT_SECONDS)
    except mail.MailFailed as exc:
        log.warning("notifications.email_failed", error=str(exc), items=len(digest.items))
        return [str(exc)]
    await _record(runtime, digest, Channel.EMAIL, now)
    log.info("notifications.email_sent", items=len(digest.items))
    return []


def _push_message(digest: Digest) -> dict[str, str]:
    # No follower's words in a push: lock screens are read by anyone nearby.
    return {
        "title": "inboxpilot",
        "body": digest.summary[:1].upper() + digest.summary[1:],
        "url": "/queue",
    }


async def _push(
    runtime: Runtime, keys: push.VapidKeys, user: User, choices: Choices, now: datetime
) -> list[str]:
    async with unit_of_work(runtime.sessionmaker) as session:
        subscriptions = [
            push.Subscription(s.id, s.endpoint, s.p256dh, s.auth)
            for s in await repository.subscriptions_of(session, user.id)
        ]
    if not subscriptions:
        return []
    digest = await _digest(runtime, user, choices, Channel.PUSH, now)
    if not digest.items:
        return []
    delivered, gone, failed = 0, [], []
    for subscription in subscriptions:
        try:
            await push.send_push(
                runtime.http, runtime.settings, keys, subscription, _push_message(digest)
            )
            delivered += 1
        except push.PushGone:
            gone.append(subscription.id)
        except push.PushFailed as exc:
            failed.append(str(exc))
            log.warning("notifications.push_failed", error=str(exc))
    async with unit_of_work(runtime.sessionmaker) as session:
        await repository.delete_subscriptions(session, gone)
        if delivered:
            await service.record_told(session, digest=digest, channel=Channel.PUSH, now=now)
    if gone:
        log.info("notifications.push_subscriptions_gone", count=len(gone))
    # One browser reached is enough: the others would be told the same again otherwise.
    return [] if delivered else failed
