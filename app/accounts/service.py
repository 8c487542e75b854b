"""Connected accounts: registered by hand (API, admins) or through a Meta login, with their
rules. What only the owner or an admin may change is listed in OWNER_FIELDS / OWNER_RULES."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.schemas import AccountCreate, AccountOut, AccountUpdate
from app.accounts.token_check import check_token
from app.audit.service import record
from app.config import Settings
from app.core.crypto import TokenCipher
from app.errors import Conflict, Forbidden, NotFound
from app.meta.graph import GraphClient
from app.models import Account, User
from app.outbox.disclosure import check_text
from app.policy.schemas import Policy
from app.users.members import ensure_owner
from app.users.service import add_member, ensure_access, visible_account_ids

# Account fields only the owner or an admin changes (app.users.members).
OWNER_FIELDS = (
    "access_token",
    "retention_days",
    "daily_llm_budget_usd",
    "has_human_agent",
    "disclosure",
    "disclosure_text",
    "track_links",
)
# Rules only the owner or an admin changes: what may go out in the influencer's name.
OWNER_RULES = (
    "mode",
    "min_confidence",
    "intent_min_confidence",
    "auto_intents",
    "hold_auto_seconds",
    "thank_story_mentions",
    "story_mention_thanks",
)


def to_out(account: Account) -> AccountOut:
    return AccountOut.model_validate(
        {
            **{c: getattr(account, c) for c in AccountOut.model_fields if hasattr(account, c)},
            "is_paused": account.is_paused,
            "has_access_token": account.access_token_encrypted is not None,
        }
    )


async def register_account(
    session: AsyncSession,
    *,
    user: User,
    data: AccountCreate,
    cipher: TokenCipher,
    settings: Settings,
    graph: GraphClient,
) -> Account:
    """An account typed in by hand (the API): admins only, since typing an id proves
    nothing; outside sandbox mode its token must be the account's (`check_token`)."""
    if user.role != "admin":
        raise Forbidden(
            "only admins register accounts by hand; an influencer connects their own "
            "account through Facebook or Instagram login"
        )
    await _ensure_new(session, data)
    if data.access_token and not settings.sandbox:
        graph_host = data.graph_host or _default_host(data.platform)
        page_id = await check_token(
            graph,
            settings,
            platform=data.platform,
            graph_host=graph_host,
            external_id=data.external_id,
            page_id=data.page_id,
            access_token=data.access_token,
        )
        data = data.model_copy(update={"page_id": page_id, "graph_host": graph_host})
    return await create_account(session, user=user, data=data, cipher=cipher)


def _default_host(platform: str) -> Literal["facebook", "instagram"]:
    return "instagram" if platform == "instagram" else "facebook"


async def _ensure_new(session: AsyncSession, data: AccountCreate) -> None:
    existing = await session.scalar(
        select(Account).where(
            Account.platform == data.platform, Account.external_id == data.external_id
        )
    )
    if existing is not None:
        raise Conflict(f"account {data.platform}/{data.external_id} is registered already")


async def create_account(
    session: AsyncSession, *, user: User | None, data: AccountCreate, cipher: TokenCipher
) -> Account:
    """Saves an account as given (no check: callers decide who may, see register_account)."""
    await _ensure_new(session, data)
    graph_host = data.graph_host or _default_host(data.platform)
    account = Account(
        platform=data.platform,
        external_id=data.external_id,
        page_id=data.page_id,
        graph_host=graph_host,
        name=data.name,
        persona=data.persona,
        languages=data.languages,
        policy=Policy().model_dump(),
        access_token_encrypted=cipher.encrypt(data.access_token) if data.access_token else None,
    )
    session.add(account)
    await session.flush()
    if user is not None and user.role != "admin":
        await add_member(session, user=user, account_id=account.id)
    await record(
        session, action="account.created", user=user, account_id=account.id, entity=account
    )
    return account


async def list_accounts(session: AsyncSession, *, user: User) -> list[Account]:
    statement = select(Account).order_by(Account.id)
    ids = await visible_account_ids(session, user)
    if ids is not None:
        statement = statement.where(Account.id.in_(ids))
    return list((await session.scalars(statement)).all())


async def get_account(session: AsyncSession, *, user: User, account_id: int) -> Account:
    await ensure_access(session, user, account_id)
    account = await session.get(Account, account_id)
    if account is None:
        raise NotFound("account not found")
    return account


async def update_account(
    session: AsyncSession,
    *,
    user: User,
    account_id: int,
    data: AccountUpdate,
    cipher: TokenCipher,
    settings: Settings,
    graph: GraphClient,
) -> Account:
    account = await get_account(session, user=user, account_id=account_id)
    changes = data.model_dump(exclude_unset=True)
    owner_changes = _owner_changes(account, changes)
    if owner_changes:
        await ensure_owner(session, user, account.id, ", ".join(owner_changes))
    if changes.get("access_token") and not settings.sandbox:
        await check_token(
            graph,
            settings,
            platform=account.platform,
            graph_host="instagram" if account.graph_host == "instagram" else "facebook",
            external_id=account.external_id,
            page_id=account.page_id,
            access_token=changes["access_token"],
        )
    if "paused" in changes and changes["paused"] is not None:
        account.is_paused = changes["paused"]
    for field in ("name", "persona", "languages", "has_human_agent", "track_links"):
        if changes.get(field) is not None:
            setattr(account, field, changes[field])
    if changes.get("disclosure") is not None:
        account.disclosure = changes["disclosure"]
    if "disclosure_text" in changes:
        account.disclosure_text = check_text(changes["disclosure_text"], account.platform)
    for nullable in ("retention_days", "daily_llm_budget_usd"):
        if nullable in changes:
            setattr(account, nullable, changes[nullable])
    if changes.get("access_token"):
        account.access_token_encrypted = cipher.encrypt(changes["access_token"])
        account.status, account.status_reason = "active", None
    details = data.model_dump(mode="json", exclude_unset=True, exclude={"access_token"})
    await record(
        session, action="account.updated", user=user, account_id=account.id, details=details
    )
    return account


def _owner_changes(account: Account, changes: dict[str, Any]) -> list[str]:
    """The owner's fields this update would change (a value sent unchanged is no change)."""
    changed = []
    for field in OWNER_FIELDS:
        if field not in changes:
            continue
        value = changes[field]
        if field == "access_token":
            if value:
                changed.append(field)
        elif field in ("has_human_agent", "disclosure", "track_links"):
            if value is not None and value != getattr(account, field):
                changed.append(field)
        elif field == "disclosure_text":
            if (value or "").strip() != (account.disclosure_text or ""):
                changed.append(field)
        elif value != getattr(account, field):
            changed.append(field)
    return changed


async def get_policy(session: AsyncSession, *, user: User, account_id: int) -> Policy:
    account = await get_account(session, user=user, account_id=account_id)
    return Policy.of(account.policy)


async def put_policy(
    session: AsyncSession, *, user: User, account_id: int, policy: Policy
) -> Policy:
    account = await get_account(session, user=user, account_id=account_id)
    current = Policy.of(account.policy)
    changed = [rule for rule in OWNER_RULES if getattr(policy, rule) != getattr(current, rule)]
    if changed:
        await ensure_owner(session, user, account.id, ", ".join(changed))
    before = current.model_dump()
    account.policy = policy.model_dump()
    await record(
        session,
        action="policy.changed",
        user=user,
        account_id=account.id,
        details={"before": before, "after": account.policy},
    )
    return policy
