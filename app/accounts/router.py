from __future__ import annotations

from fastapi import APIRouter, status

from app.accounts import service
from app.accounts.schemas import AccountCreate, AccountOut, AccountUpdate
from app.deps import CurrentUser, Id, RuntimeDep, SessionDep
from app.errors import API_ERRORS
from app.policy.schemas import Policy

router = APIRouter(prefix="/api/v1", tags=["accounts"], responses=API_ERRORS)


@router.post("/accounts", response_model=AccountOut, status_code=status.HTTP_201_CREATED)
async def create_account(
    data: AccountCreate, session: SessionDep, user: CurrentUser, runtime: RuntimeDep
) -> AccountOut:
    account = await service.create_account(session, user=user, data=data, cipher=runtime.cipher)
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
    account = await service.update_account(
        session, user=user, account_id=account_id, data=data, cipher=runtime.cipher
    )
    return service.to_out(account)


@router.get("/accounts/{account_id}/policy", response_model=Policy)
async def get_policy(account_id: Id, session: SessionDep, user: CurrentUser) -> Policy:
    return await service.get_policy(session, user=user, account_id=account_id)


@router.put("/accounts/{account_id}/policy", response_model=Policy)
async def put_policy(
    account_id: Id, policy: Policy, session: SessionDep, user: CurrentUser
) -> Policy:
    return await service.put_policy(session, user=user, account_id=account_id, policy=policy)
