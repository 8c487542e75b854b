"""Pages: the sandbox simulator (type a DM as a follower, watch it become a draft or a sent
reply) and each account's outbox (in sandbox mode, where replies are "sent").

The simulator signs its event with the sandbox webhook secret and hands it to the same
`acknowledge` a real `POST /webhooks/meta` goes through, so the worker handles it exactly
as it would handle Meta's delivery.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask

from app.accounts.service import get_account, list_accounts
from app.config import Settings
from app.conversations.repository import recent_messages
from app.conversations.service import public_replies
from app.deps import Id, OptionalId, SessionDep, SettingsDep
from app.errors import NotFound
from app.inbox.writer import InboxWriter
from app.meta.sandbox import (
    SANDBOX_FOLLOWER,
    SANDBOX_POST,
    comment_key_of,
    follower_comment_event,
    follower_text_event,
    message_id_of,
)
from app.meta.signature import sign
from app.meta.webhook import acknowledge
from app.models import (
    Account,
    CommentReply,
    Contact,
    Conversation,
    Draft,
    DraftStatus,
    Message,
    OutboundMessage,
    User,
)
from app.policy.schemas import Policy
from app.users.service import ensure_access
from app.web import CheckedWebUser, WebUser, message_page, not_found_page, page

router = APIRouter(include_in_schema=False)
log = structlog.get_logger("app.ui.simulator")

MAX_TEXT = 1000  # Instagram's limit for a DM; Messenger allows more, the simulator needs no more
SENDER_PATTERN = re.compile(r"^[0-9A-Za-z_.:-]{1,64}$")
MEDIA_PATTERN = re.compile(r"^[0-9A-Za-z_-]{1,100}$")
THREAD_LENGTH = 20
OUTBOX_LIMIT = 200
# Seconds between progress polls while something is about to happen, and while a draft
# waits for a moderator (who may approve it in another tab).
POLL_BUSY, POLL_WAITING = 1, 4


def _not_sandbox(request: Request, user: User) -> HTMLResponse:
    return message_page(
        request,
        "The simulator needs sandbox mode",
        "This inboxpilot is connected to a Meta app, so its followers' messages come from "
        "Meta and replies go to Meta: there is no simulator here.",
        hint="The simulator is available when META_APP_SECRET is not set (sandbox mode).",
        status_code=404,
        link="/",
        link_text="Back to your accounts",
        user=user,
    )


# The progress of one simulated message


@dataclass
class Progress:
    account_id: int
    mid: str
    step: str  # received | drafting | recorded | pending | sending | sent | stopped
    message: Message | None = None
    draft: Draft | None = None
    outbound: OutboundMessage | None = None
    thread: list[Message] = field(default_factory=list)
    poll_seconds: int | None = None
    # A comment: what its trigger made of it (None: no trigger matched, recorded only).
    comment_reply: CommentReply | None = None


async def _progress(session: AsyncSession, account: Account, mid: str) -> Progress:
    message = await session.scalar(
        select(Message).where(Message.account_id == account.id, Message.mid == mid)
    )
    if message is None:
        return Progress(account.id, mid, "received", poll_seconds=POLL_BUSY)
    thread = await recent_messages(session, message.conversation_id, limit=THREAD_LENGTH)
    # The reply to this message, or to a later one of the same burst.
    draft = await session.scalar(
        select(Draft)
        .where(
            Draft.conversation_id == message.conversation_id,
            Draft.reply_to_message_id >= message.id,
        )
        .order_by(Draft.id.desc())
        .limit(1)
    )
    progress = Progress(account.id, mid, "drafting", message, draft, thread=thread)
    if message.kind == "comment":
        # Stored in the same transaction as the comment: none means no trigger matched.
        progress.comment_reply = await session.scalar(
            select(CommentReply).where(CommentReply.message_id == message.id)
        )
        if progress.comment_reply is None or progress.comment_reply.status == "skipped":
            progress.step, progress.draft = "recorded", None
            return progress
    if draft is None:
        if Policy.of(account.policy).mode == "off":
            progress.step = "recorded"
        else:
            progress.poll_seconds = POLL_BUSY
        return progress
    progress.outbound = await session.scalar(
        select(OutboundMessage).where(OutboundMessage.draft_id == draft.id)
    )
    if draft.status == DraftStatus.PENDING:
        progress.step, progress.poll_seconds = "pending", POLL_WAITING
    elif draft.status in (DraftStatus.APPROVED, DraftStatus.SENDING):
        progress.step, progress.poll_seconds = "sending", POLL_BUSY
    elif draft.status == DraftStatus.SENT:
        progress.step = "sent"
    else:
        progress.step = "stopped"
    return progress


def _sandbox_accounts(accounts: list[Account], selected: int | None) -> int | None:
    ids = [a.id for a in accounts]
    if selected in ids:
        return selected
    return ids[0] if ids else None


@router.get("/simulator", response_class=HTMLResponse)
async def simulator(
    request: Request,
    session: SessionDep,
    web_user: WebUser,
    settings: SettingsDep,
    account_id: OptionalId = None,
    sender: Annotated[str | None, Query(max_length=64)] = None,
    mid: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    user, web_session = web_user
    if not settings.sandbox:
        return _not_sandbox(request, user)
    accounts = await list_accounts(session, user=user)
    selected = _sandbox_accounts(accounts, account_id)
    progress = None
    if mid and selected is not None:
        account = next(a for a in accounts if a.id == selected)
        progress = await _progress(session, account, mid)
    return page(
        request,
        "simulator.html",
        user=user,
        csrf_token=web_session.csrf_token,
        nav="simulator",
        accounts=accounts,
        selected=selected,
        sender=sender if sender and SENDER_PATTERN.match(sender) else SANDBOX_FOLLOWER,
        text="",
        kind="dm",
        media_id=SANDBOX_POST,
        errors={},
        progress=progress,
        max_text=MAX_TEXT,
    )


def _form_errors(sender: str, text: str, kind: str, media_id: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if kind == "comment" and not MEDIA_PATTERN.match(media_id):
        errors["media_id"] = "The post's media id: 1 to 100 letters, digits, _ or -."
    if not SENDER_PATTERN.match(sender):
        errors["sender"] = "1 to 64 letters, digits or _ . : - (no spaces)"
    if not text.strip():
        errors["text"] = "Type the follower's message."
    elif len(text) > MAX_TEXT:
        errors["text"] = f"At most {MAX_TEXT} characters ({len(text)} typed)."
    return errors


@router.post("/simulator", response_class=HTMLResponse)
async def send_message(
    request: Request,
    session: SessionDep,
    web_user: CheckedWebUser,
    settings: SettingsDep,
    account_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    text: Annotated[str, Form(max_length=MAX_TEXT * 4)] = "",
    sender: Annotated[str, Form(max_length=200)] = SANDBOX_FOLLOWER,
    kind: Annotated[str, Form(pattern="^(dm|comment)$")] = "dm",
    media_id: Annotated[str, Form(max_length=200)] = SANDBOX_POST,
) -> Response:
    """A DM, or with `kind=comment` a top-level comment under the post `media_id`."""
    user, web_session = web_user
    if not settings.sandbox:
        return _not_sandbox(request, user)
    sender, media_id = sender.strip(), media_id.strip()
    try:
        account = await get_account(session, user=user, account_id=account_id)
    except NotFound:
        return not_found_page(request, user)
    errors = _form_errors(sender, text, kind, media_id)
    if not errors:
        if kind == "comment":
            event = follower_comment_event(account, sender=sender, text=text, media_id=media_id)
            return _accepted(request, settings, account, sender, event, comment_key_of(event))
        event = follower_text_event(account, sender=sender, text=text)
        return _accepted(request, settings, account, sender, event, message_id_of(event))
    if request.headers.get("hx-request") == "true":
        # htmx swaps only successful answers: the problems go where the progress would.
        return page(request, "simulator_errors.html", errors=errors)
    accounts = await list_accounts(session, user=user)
    return page(
        request,
        "simulator.html",
        status_code=422,
        user=user,
        csrf_token=web_session.csrf_token,
        nav="simulator",
        accounts=accounts,
        selected=account.id,
        sender=sender,
        text=text,
        kind=kind,
        media_id=media_id,
        errors=errors,
        progress=None,
        max_text=MAX_TEXT,
    )


def _accepted(
    request: Request,
    settings: Settings,
    account: Account,
    sender: str,
    event: dict[str, Any],
    mid: str,
) -> Response:
    """Answers at once and stores the event once this request's transaction has ended:
    SQLite admits one writer at a time, and this request holds the write lock until then.
    `mid` is the key its entry is stored under (the progress polls for it)."""
    query = urlencode({"account_id": account.id, "sender": sender, "mid": mid})
    response: Response
    if request.headers.get("hx-request") == "true":
        # The form's htmx request swaps in the progress area, which then polls itself.
        progress = Progress(account.id, mid, "received", poll_seconds=POLL_BUSY)
        response = page(request, "simulator_progress.html", progress=progress)
        response.headers["HX-Push-Url"] = f"/simulator?{query}"
    else:
        response = RedirectResponse(f"/simulator?{query}", status_code=303)
    response.background = BackgroundTask(_deliver, request.app.state.inbox_writer, settings, event)
    return response


async def _deliver(writer: InboxWriter, settings: Settings, event: dict[str, Any]) -> None:
    """Signs the event as Meta would and stores it through the webhook's own path."""
    raw = json.dumps(event).encode()
    status, detail = await acknowledge(
        raw, sign(raw, settings.webhook_secrets[0]), settings, writer
    )
    if status != 200:
        log.error("simulator.not_stored", status=status, detail=detail)


@router.get("/simulator/progress", response_class=HTMLResponse)
async def progress_fragment(
    request: Request,
    session: SessionDep,
    web_user: WebUser,
    settings: SettingsDep,
    account_id: Annotated[int, Query(ge=1, le=2**31 - 1)],
    mid: Annotated[str, Query(min_length=1, max_length=100)],
) -> Response:
    user = web_user[0]
    if not settings.sandbox:
        return _not_sandbox(request, user)
    try:
        account = await get_account(session, user=user, account_id=account_id)
    except NotFound:
        return not_found_page(request, user)
    progress = await _progress(session, account, mid)
    return page(request, "simulator_progress.html", progress=progress)


# The outbox


@dataclass
class OutboxRow:
    outbound: OutboundMessage
    contact: Contact
    how: str  # automatic | approved | by hand
    # For a private reply to a comment: the comment's row, with its public reply.
    comment: CommentReply | None = None


async def _outbox(session: AsyncSession, account_id: int) -> list[OutboxRow]:
    rows = await session.execute(
        select(OutboundMessage, Contact)
        .join(Conversation, Conversation.id == OutboundMessage.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(OutboundMessage.account_id == account_id)
        .order_by(OutboundMessage.id.desc())
        .limit(OUTBOX_LIMIT)
    )
    pairs = [(outbound, contact) for outbound, contact in rows]
    public = await public_replies(session, [outbound for outbound, _ in pairs])
    result = []
    for outbound, contact in pairs:
        if outbound.sent_by_user_id is None:
            how = "automatic"
        else:
            how = "approved by a moderator" if outbound.draft_id else "written by hand"
        result.append(OutboxRow(outbound, contact, how, public.get(outbound.id)))
    return result


@router.get("/accounts/{account_id}/outbox", response_class=HTMLResponse)
async def outbox(
    request: Request,
    account_id: Id,
    session: SessionDep,
    web_user: WebUser,
    settings: SettingsDep,
) -> Response:
    user, web_session = web_user
    try:
        await ensure_access(session, user, account_id)
    except NotFound:
        return not_found_page(request, user)
    account = await session.get(Account, account_id)
    assert account is not None
    return page(
        request,
        "outbox.html",
        user=user,
        csrf_token=web_session.csrf_token,
        nav="accounts",
        account=account,
        rows=await _outbox(session, account_id),
        sandbox=settings.sandbox,
        limit=OUTBOX_LIMIT,
    )
