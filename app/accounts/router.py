from __future__ import annotations

from fastapi import APIRouter, status

from app.accounts import service
from app.accounts.schemas import AccountCreate, AccountOut, AccountUpdate, MemberOut, OwnerIn
from app.deps import CurrentUser, Id, RuntimeDep, SessionDep
from app.errors import API_ERRORS
from app.policy.schemas import Policy
from app.users import members

router = APIRouter(prefix="/api/v1", tags=["accounts"], responses=API_ERRORS)


@router.post("/accounts", response_model=AccountOut, status_code=status.HTTP_201_CREATED)
async def create_account(
    data: AccountCreate, session: SessionDep, user: CurrentUser, runtime: RuntimeDep
) -> AccountOut:
    """Admins only (403 for other users): influencers connect their own accounts through
    Meta's logins. Outside sandbox mode the `access_token` must be the account's: Meta's
    `GET /me` must answer its id, else 422 and nothing is saved."""
    account = await service.register_account(
        session,
        user=user,
        data=data,
        cipher=runtime.cipher,
        settings=runtime.settings,
        graph=runtime.graph,
    )
    return service.to_out(account)


@router.get("/accounts", response_model=list[AccountOut])
async def list_accounts(session: SessionDep, user: CurrentUser) -> list[AccountOut]:
    return [service.to_out(a) for a in await service.list_accounts(session, user=user)]


@router.get("/accounts/{account_id}", response_model=AccountOut)
async def get_account(account_id: Id, session: SessionDep, user: CurrentUser) -> AccountOut:
    return service.to_out(await service.get_account(session, user=user, account_id=account_id))


@router.patch("/accounts/{account_id}", response_model=AccountOut)
async def update_account(
    account_id: Id,
    data: AccountUpdate,
    session: SessionDep,
    user: CurrentUser,
    runtime: RuntimeDep,
) -> AccountOut:
    """`access_token`, `retention_days`, `daily_llm_budget_usd`, `has_human_agent`,
    `disclosure`, `disclosure_text` and `track_links` are the owner's (or an admin's) to
    change: 403 for other members. A new token is checked with Meta like a registered one;
    a `disclosure_text` leaving under 200 characters of a message for the reply is 422."""
    account = await service.update_account(
        session,
        user=user,
        account_id=account_id,
        data=data,
        cipher=runtime.cipher,
        settings=runtime.settings,
        graph=runtime.graph,
    )
    return service.to_out(account)


@router.get("/accounts/{account_id}/policy", response_model=Policy)
async def get_policy(account_id: Id, session: SessionDep, user: CurrentUser) -> Policy:
    return await service.get_policy(session, user=user, account_id=account_id)


@router.put("/accounts/{account_id}/policy", response_model=Policy)
async def put_policy(
    account_id: Id, policy: Policy, session: SessionDep, user: CurrentUser
) -> Policy:
    """`mode`, `min_confidence`, `intent_min_confidence` and `auto_intents` are the owner's
    (or an admin's) to change: 403 for other members; they may change the other rules."""
    return await service.put_policy(session, user=user, account_id=account_id, policy=policy)


@router.get("/accounts/{account_id}/members", response_model=list[MemberOut])
async def list_members(account_id: Id, session: SessionDep, user: CurrentUser) -> list[MemberOut]:
    """Who can read the account's messages: `owner`, `moderator`, or `suspended` (had
    access before the owner connected the account through Meta; none until kept)."""
    found = await members.list_members(session, user=user, account_id=account_id)
    return [MemberOut.model_validate(m, from_attributes=True) for m in found]


@router.put("/accounts/{account_id}/owner", response_model=list[MemberOut])
async def hand_over(
    account_id: Id, data: OwnerIn, session: SessionDep, user: CurrentUser
) -> list[MemberOut]:
    """The owner (or an admin) makes another member the owner; the previous owner stays a
    moderator member."""
    await members.hand_over(session, actor=user, account_id=account_id, user_id=data.user_id)
    return await list_members(account_id, session, user)


@router.post("/accounts/{account_id}/members/{user_id}/keep", response_model=list[MemberOut])
async def keep_member(
    account_id: Id, user_id: Id, session: SessionDep, user: CurrentUser
) -> list[MemberOut]:
    """The owner (or an admin) gives a suspended member their access back, as moderator."""
    await members.keep_member(session, actor=user, account_id=account_id, user_id=user_id)
    return await list_members(account_id, session, user)


@router.delete("/accounts/{account_id}/members/{user_id}", response_model=list[MemberOut])
async def remove_member(
    account_id: Id, user_id: Id, session: SessionDep, user: CurrentUser
) -> list[MemberOut]:
    """The owner (or an admin) removes a member (not the owner: hand over first)."""
    await members.remove_member(session, actor=user, account_id=account_id, user_id=user_id)
    return await list_members(account_id, session, user)
