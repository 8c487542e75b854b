"""Connected accounts: registered by hand (API) or through OAuth (later), with their rules."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.schemas import AccountCreate, AccountOut, AccountUpdate
from app.audit.service import record
from app.core.crypto import TokenCipher
from app.errors import Conflict, NotFound
from app.models import Account, User
from app.policy.schemas import Policy
from app.users.service import add_member, ensure_access, visible_account_ids


def to_out(account: Account) -> AccountOut:
    return AccountOut.model_validate(
        {
            **{c: getattr(account, c) for c in AccountOut.model_fields if hasattr(account, c)},
            "is_paused": account.is_paused,
            "has_access_token": account.access_token_encrypted is not None,
        }
    )


async def create_account(
    session: AsyncSession, *, user: User | None, data: AccountCreate, cipher: TokenCipher
) -> Account:
    existing = await session.scalar(
        select(Account).where(
            Account.platform == data.platform, Account.external_id == data.external_id
        )
    )
    if existing is not None:
        raise Conflict(f"account {data.platform}/{data.external_id} is registered already")
    graph_host = data.graph_host or ("instagram" if data.platform == "instagram" else "facebook")
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
) -> Account:
    account = await get_account(session, user=user, account_id=account_id)
    changes = data.model_dump(exclude_unset=True)
    if "paused" in changes and changes["paused"] is not None:
        account.is_paused = changes["paused"]
    for field in ("name", "persona", "languages", "has_human_agent"):
        if changes.get(field) is not None:
            setattr(account, field, changes[field])
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


async def get_policy(session: AsyncSession, *, user: User, account_id: int) -> Policy:
    account = await get_account(session, user=user, account_id=account_id)
    return Policy.of(account.policy)


async def put_policy(
    session: AsyncSession, *, user: User, account_id: int, policy: Policy
) -> Policy:
    account = await get_account(session, user=user, account_id=account_id)
    before = Policy.of(account.policy).model_dump()
    account.policy = policy.model_dump()
    await record(
        session,
        action="policy.changed",
        user=user,
        account_id=account.id,
        details={"before": before, "after": account.policy},
    )
    return policy
