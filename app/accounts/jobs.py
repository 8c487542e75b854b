"""The accounts' worker job: keeping stored access tokens alive (app/accounts/tokens.py)."""

from __future__ import annotations

import structlog

from app.accounts import tokens
from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.meta.oauth import MetaOAuthClient
from app.models import Job
from app.runtime import Runtime

# tokens.CHECK_EVERY (23 h) counts on an hourly run.
TOKENS_EVERY_SECONDS = 3600.0


async def maintain_tokens(runtime: Runtime, _job: Job) -> None:
    """The periodic job: refresh what is about to expire, check what is due a check."""
    if runtime.settings.sandbox:
        return  # no Meta app: sandbox accounts have no tokens to keep
    oauth = MetaOAuthClient(runtime.http, runtime.settings)
    now = utc_now()
    keys = tokens.TokenKeys(runtime.sessionmaker, runtime.cipher)
    async with unit_of_work(runtime.sessionmaker) as session:
        snapshots = await tokens.active_with_tokens(session)
    for snapshot in snapshots:
        structlog.contextvars.bind_contextvars(account_id=snapshot.account_id)
        try:
            await tokens.maintain(keys, oauth, snapshot, now)
        finally:
            structlog.contextvars.unbind_contextvars("account_id")
