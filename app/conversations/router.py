from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.conversations import service
from app.conversations.schemas import ContactOut, ConversationDetail, ConversationOut, OutboundOut
from app.deps import MAX_ID, CurrentUser, Id, OptionalId, SessionDep
from app.errors import API_ERRORS

router = APIRouter(prefix="/api/v1", tags=["conversations"], responses=API_ERRORS)

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]


@router.get("/conversations", response_model=list[ConversationOut])
async def list_conversations(
    session: SessionDep,
    user: CurrentUser,
    account_id: OptionalId = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[ConversationOut]:
    rows = await service.list_conversations(
        session, user=user, account_id=account_id, limit=limit, offset=offset
    )
    return [ConversationOut.model_validate(c) for c in rows]


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(
    conversation_id: Id, session: SessionDep, user: CurrentUser
) -> ConversationDetail:
    return await service.conversation_detail(session, user=user, conversation_id=conversation_id)


@router.post("/conversations/{conversation_id}/pause", response_model=ConversationOut)
async def pause(conversation_id: Id, session: SessionDep, user: CurrentUser) -> ConversationOut:
    conversation = await service.set_paused(
        session, user=user, conversation_id=conversation_id, paused=True
    )
    return ConversationOut.model_validate(conversation)


@router.post("/conversations/{conversation_id}/resume", response_model=ConversationOut)
async def resume(conversation_id: Id, session: SessionDep, user: CurrentUser) -> ConversationOut:
    conversation = await service.set_paused(
        session, user=user, conversation_id=conversation_id, paused=False
    )
    return ConversationOut.model_validate(conversation)


@router.get("/contacts", response_model=list[ContactOut])
async def list_contacts(
    session: SessionDep,
    user: CurrentUser,
    account_id: OptionalId = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[ContactOut]:
    return await service.list_contacts(
        session, user=user, account_id=account_id, limit=limit, offset=offset
    )


@router.get("/contacts/{contact_id}", response_model=ContactOut)
async def get_contact(contact_id: Id, session: SessionDep, user: CurrentUser) -> ContactOut:
    return ContactOut.model_validate(
        await service.get_contact(session, user=user, contact_id=contact_id)
    )


@router.get("/accounts/{account_id}/outbox", response_model=list[OutboundOut])
async def list_outbox(
    account_id: Id, session: SessionDep, user: CurrentUser, limit: Limit = 100
) -> list[OutboundOut]:
    """Replies on their way or sent; in sandbox mode, the sandbox outbox."""
    return await service.list_outbox(session, user=user, account_id=account_id, limit=limit)
