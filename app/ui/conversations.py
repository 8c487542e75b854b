"""Pages: the conversation list and one whole thread, with pause/resume and a reply by hand.

Also the small display helpers the queue shares (names, the 24-hour window, ages).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.accounts.service import list_accounts
from app.comments.intake import PRIVATE_REPLY_WINDOW
from app.conversations import service as conversations
from app.core.clock import utc_now
from app.deps import Id, OptionalId, SessionDep, SettingsDep
from app.errors import AppError, NotFound
from app.models import Contact, Conversation, Message
from app.moderation import service as moderation
from app.outbox.service import MESSAGING_WINDOW
from app.ui.automation import automation
from app.ui.words import follower_label
from app.web import CheckedWebUser, WebUser, not_found_page, page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
WINDOW_WARN = timedelta(hours=3)


# Display helpers, handed to the templates (never mark follower text safe).


def follower_name(contact: Contact) -> str:
    """Kept for callers; the one rule is app/ui/words.py's `follower_label`."""
    return follower_label(contact)


def initial(contact: Contact) -> str:
    return (contact.name or contact.username or "?")[:1].upper()


def window_state(conversation: Conversation, now: datetime) -> tuple[str, str]:
    """The time left to answer (Meta's 24 hours from the follower's last message), as a
    label and a badge class."""
    if conversation.last_inbound_at is None:
        return "no message from the follower", "bad"
    left = conversation.last_inbound_at + MESSAGING_WINDOW - now
    if left <= timedelta(0):
        return "24-hour window closed", "bad"
    hours, minutes = divmod(int(left.total_seconds()) // 60, 60)
    label = f"{hours} h {minutes:02d} min left" if hours else f"{minutes} min left"
    return label, "warn" if left <= WINDOW_WARN else "ok"


def comment_window_state(comment: Message | None, now: datetime) -> tuple[str, str]:
    """The time left for the private reply to a comment (Meta: 7 days from the comment),
    as a label and a badge class."""
    if comment is None:
        return "comment not found", "bad"
    left = comment.sent_at + PRIVATE_REPLY_WINDOW - now
    if left <= timedelta(0):
        return "7 days for a private reply are over", "bad"
    days, hours = left.days, left.seconds // 3600
    label = f"{days} d {hours} h left to reply" if days else f"{hours} h left to reply"
    return label, "warn" if left <= WINDOW_WARN else "ok"


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return ""
    seconds = int((now - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return moment.strftime("%Y-%m-%d")


def safe_link(url: object) -> str | None:
    """Follower-supplied links are shown only when they are plain web links."""
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    return None


def display(now: datetime) -> dict[str, Any]:
    return {
        "now": now,
        "follower_name": follower_name,
        "initial": initial,
        "window_state": lambda c: window_state(c, now),
        "comment_window_state": lambda m: comment_window_state(m, now),
        "ago": lambda m: ago(m, now),
        "safe_link": safe_link,
    }


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


# Pages


@router.get("/conversations", response_class=HTMLResponse)
async def conversation_list(
    request: Request,
    session: SessionDep,
    web_user: WebUser,
    account_id: OptionalId = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    user, web_session = web_user
    try:
        rows = await conversations.conversation_rows(
            session, user=user, account_id=account_id, search=q, limit=PAGE_SIZE, offset=offset
        )
    except NotFound:
        return not_found_page(request, user, "account", back="/queue")
    return page(
        request,
        "ui/conversations.html",
        user=user,
        csrf_token=web_session.csrf_token,
        nav="conversations",
        rows=rows,
        accounts=await list_accounts(session, user=user),
        account_id=account_id,
        q=q or "",
        offset=offset,
        page_size=PAGE_SIZE,
        **display(utc_now()),
    )


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(
    request: Request, conversation_id: Id, session: SessionDep, web_user: WebUser
) -> Response:
    user, web_session = web_user
    try:
        thread = await conversations.thread(session, user=user, conversation_id=conversation_id)
    except NotFound:
        return not_found_page(request, user, "conversation", back="/queue")
    now = utc_now()
    return page(
        request,
        "ui/conversation.html",
        user=user,
        csrf_token=web_session.csrf_token,
        nav="conversations",
        t=thread,
        automation=automation(
            thread.conversation, platform=thread.account.platform, messages=thread.messages, now=now
        ),
        **display(now),
    )


@router.get("/conversations/{conversation_id}/thread", response_class=HTMLResponse)
async def conversation_thread(
    request: Request, conversation_id: Id, session: SessionDep, web_user: WebUser
) -> Response:
    """The thread alone, polled by the page so new messages and send results show up."""
    user, _web_session = web_user
    thread = await conversations.thread(session, user=user, conversation_id=conversation_id)
    return page(request, "ui/conversation_thread.html", t=thread, **display(utc_now()))


async def _set_paused(
    request: Request, conversation_id: int, session: SessionDep, web_user: Any, paused: bool
) -> Response:
    user, web_session = web_user
    conversation = await conversations.set_paused(
        session, user=user, conversation_id=conversation_id, paused=paused
    )
    if not is_htmx(request):
        return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)
    state = automation(conversation, platform="", messages=(), now=utc_now())
    return page(
        request,
        "ui/conversation_automation.html",
        conversation=conversation,
        automation=state,
        csrf_token=web_session.csrf_token,
        changed=True,
    )


@router.post("/conversations/{conversation_id}/pause", response_class=HTMLResponse)
async def pause(
    request: Request, conversation_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    return await _set_paused(request, conversation_id, session, web_user, True)


@router.post("/conversations/{conversation_id}/resume", response_class=HTMLResponse)
async def resume(
    request: Request, conversation_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    return await _set_paused(request, conversation_id, session, web_user, False)


@router.post("/conversations/{conversation_id}/reply", response_class=HTMLResponse)
async def reply(
    request: Request,
    conversation_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    web_user: CheckedWebUser,
    text: Annotated[str, Form(max_length=8000)] = "",
) -> Response:
    user, web_session = web_user
    csrf_token = web_session.csrf_token
    try:
        await moderation.reply_by_hand(
            session, settings, user=user, conversation_id=conversation_id, text=text
        )
    except NotFound:
        raise
    except AppError as exc:
        await session.rollback()
        return page(
            request,
            "ui/conversation_reply.html",
            conversation_id=conversation_id,
            csrf_token=csrf_token,
            text=text,
            error=exc.message,
            queued=False,
        )
    if not is_htmx(request):
        return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)
    return page(
        request,
        "ui/conversation_reply.html",
        conversation_id=conversation_id,
        csrf_token=csrf_token,
        text="",
        error=None,
        queued=True,
    )
