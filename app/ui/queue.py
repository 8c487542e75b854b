"""Pages: the approval queue. Approve (as drafted or edited) and reject go through the
moderation service, so the outbox, the window rules and the audit log are the same as the
API's; a draft someone else handled first shows who did, never a second send."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.accounts.service import list_accounts
from app.core.clock import utc_now
from app.deps import Id, OptionalId, SessionDep, SettingsDep
from app.errors import AppError, Conflict, NotFound
from app.models import User, WebSession
from app.moderation import holding
from app.moderation import service as moderation
from app.moderation.bulk import BulkAction, decide_many, grouped
from app.moderation.desk import Family, QueueQuery, Sort
from app.ui.conversations import display, is_htmx
from app.ui.queue_hold import router as hold_router
from app.web import CheckedWebUser, WebUser, not_found_page, page

router = APIRouter(include_in_schema=False)

POLL_SECONDS = 4
MAX_SHOWN = 500
SEARCH_MAX = 200


def _desk_query(request: Request, account_id: int | None) -> QueueQuery:
    """The desk's search, filters and sort from the query string; a value the desk does not
    know is ignored (a stale bookmark shows the whole queue, never an error)."""
    params = request.query_params
    search = " ".join(params.get("q", "").split())[:SEARCH_MAX] or None
    family = params.get("reason", "")
    sort = params.get("sort", "")
    product = params.get("product_id", "")
    language = params.get("language", "").strip()[:8] or None
    return QueueQuery(
        account_id=account_id,
        search=search,
        family=Family(family) if family in Family.__members__.values() else None,
        language=language,
        product_id=int(product) if product.isdigit() and 0 < int(product) < 2**31 else None,
        sort=Sort(sort) if sort in Sort.__members__.values() else Sort.OLDEST,
    )


def _grouping(request: Request) -> bool:
    return request.query_params.get("group") != "0"


def _filters(query: QueueQuery, grouping: bool) -> str:
    """The query string that keeps the desk's view (for the poll and links)."""
    values = {
        "account_id": query.account_id,
        "q": query.search,
        "reason": query.family.value if query.family else None,
        "language": query.language,
        "product_id": query.product_id,
        "sort": query.sort.value if query.sort != Sort.OLDEST else None,
        "group": None if grouping else "0",
    }
    return urlencode({k: v for k, v in values.items() if v is not None})


@router.get("/queue", response_class=HTMLResponse)
async def queue_page(
    request: Request, session: SessionDep, web_user: WebUser, account_id: OptionalId = None
) -> Response:
    user, web_session = web_user
    query = _desk_query(request, account_id)
    grouping = _grouping(request)
    try:
        cards = await moderation.queue_cards(session, user=user, query=query)
        total = await moderation.queue_count(session, user=user, query=query)
    except NotFound:
        return not_found_page(request, user, back="/queue")
    return page(
        request,
        "ui/queue.html",
        user=user,
        csrf_token=web_session.csrf_token,
        nav="queue",
        items=grouped(cards) if grouping else cards,
        cards=cards,
        total=total,
        query=query,
        grouping=grouping,
        filters=_filters(query, grouping),
        families=list(Family),
        sorts=list(Sort),
        options=await moderation.desk_options(session, user=user, account_id=account_id),
        accounts=await list_accounts(session, user=user),
        account_id=account_id,
        last_id=max((c.draft.id for c in cards), default=0),
        poll_seconds=POLL_SECONDS,
        held=await holding.about_to_send(session, user=user, account_id=account_id),
        **display(utc_now()),
    )


def _ids(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part.isdigit()][:MAX_SHOWN]


@router.get("/queue/items", response_class=HTMLResponse)
async def queue_items(
    request: Request,
    session: SessionDep,
    web_user: WebUser,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    account_id: OptionalId = None,
    shown: Annotated[str, Query(max_length=6000)] = "",
) -> Response:
    """Polled by the queue page: cards newer than `after` that match the desk's filters
    (appended, so nothing a moderator is typing is redrawn), and the outcome of shown
    cards that were handled meanwhile."""
    user, web_session = web_user
    query = _desk_query(request, account_id)
    try:
        cards = await moderation.queue_cards(session, user=user, query=query, after_id=after)
    except NotFound:
        return not_found_page(request, user, back="/queue")
    handled = await moderation.handled_since_shown(session, user=user, draft_ids=_ids(shown))
    return page(
        request,
        "ui/queue_items.html",
        cards=cards,
        handled=handled,
        csrf_token=web_session.csrf_token,
        account_id=account_id,
        filters=_filters(query, _grouping(request)),
        last_id=max([after, *(c.draft.id for c in cards)]),
        poll_seconds=POLL_SECONDS,
        me=user.id,
        held=await holding.about_to_send(session, user=user, account_id=account_id),
        **display(utc_now()),
    )


@router.post("/queue/bulk", response_class=HTMLResponse)
async def bulk(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    web_user: CheckedWebUser,
    action: Annotated[str, Form(max_length=16)],
    ids: Annotated[str, Form(max_length=6000)] = "",
    reason: Annotated[str | None, Form(max_length=1000)] = None,
    group: Annotated[str | None, Form(max_length=40, pattern=r"^group-\d+$")] = None,
) -> Response:
    """Approve or reject many drafts with one action (a group, or the selection): each is
    decided by itself, and the answer says what became of every one."""
    user, _ = web_user
    if action not in BulkAction.__members__.values():
        raise HTTPException(422, "action must be approve or reject")
    draft_ids = _ids(ids)
    if not draft_ids:
        raise HTTPException(422, "choose at least one draft")
    cleaned = reason.strip() if reason and reason.strip() else None
    result = await decide_many(
        session,
        settings,
        user=user,
        draft_ids=draft_ids,
        action=BulkAction(action),
        reason=cleaned,
    )
    if not is_htmx(request):
        return RedirectResponse("/queue", status_code=303)
    return page(
        request,
        "ui/queue_bulk.html",
        result=result,
        already={o.draft.id for o in result.already},
        group=group,
        me=user.id,
        **display(utc_now()),
    )


async def _outcome(
    request: Request,
    session: SessionDep,
    user: User,
    draft_id: int,
    *,
    conflict: bool,
    csrf_token: str,
) -> Response:
    if not is_htmx(request):
        return RedirectResponse("/queue", status_code=303)
    outcome = await moderation.draft_outcome(session, user=user, draft_id=draft_id)
    return page(
        request,
        "ui/queue_outcome.html",
        outcome=outcome,
        conflict=conflict,
        csrf_token=csrf_token,
        me=user.id,
        **display(utc_now()),
    )


async def _failed(
    request: Request,
    session: SessionDep,
    user_id: int,
    csrf_token: str,
    draft_id: int,
    error: AppError,
) -> Response:
    """The decision did not go through (e.g. a reply too long): nothing of it is kept, and
    the card comes back as it was, with the reason."""
    await session.rollback()
    user = await session.get(User, user_id)
    assert user is not None
    card = await moderation.queue_card(session, user=user, draft_id=draft_id)
    return page(
        request,
        "ui/queue_card.html",
        card=card,
        error=error.message,
        csrf_token=csrf_token,
        **display(utc_now()),
    )


async def _decide(
    request: Request,
    session: SessionDep,
    web_user: tuple[User, WebSession],
    draft_id: int,
    decision: Callable[[User], Awaitable[None]],
) -> Response:
    user, web_session = web_user
    user_id, csrf_token = user.id, web_session.csrf_token
    try:
        await decision(user)
    except NotFound:
        raise
    except Conflict:
        # Someone was first: undo nothing of ours (there is nothing), show who it was.
        await session.rollback()
        fresh = await session.get(User, user_id)
        assert fresh is not None
        return await _outcome(
            request, session, fresh, draft_id, conflict=True, csrf_token=csrf_token
        )
    except AppError as exc:
        return await _failed(request, session, user_id, csrf_token, draft_id, exc)
    return await _outcome(request, session, user, draft_id, conflict=False, csrf_token=csrf_token)


@router.post("/queue/{draft_id}/approve", response_class=HTMLResponse)
async def approve(
    request: Request,
    draft_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    web_user: CheckedWebUser,
    text: Annotated[str | None, Form(max_length=8000)] = None,
) -> Response:
    async def decision(user: User) -> None:
        await moderation.approve(session, settings, user=user, draft_id=draft_id, text=text)

    return await _decide(request, session, web_user, draft_id, decision)


@router.post("/queue/{draft_id}/reject", response_class=HTMLResponse)
async def reject(
    request: Request,
    draft_id: Id,
    session: SessionDep,
    web_user: CheckedWebUser,
    reason: Annotated[str | None, Form(max_length=1000)] = None,
) -> Response:
    async def decision(user: User) -> None:
        cleaned = reason.strip() if reason else None
        await moderation.reject(session, user=user, draft_id=draft_id, reason=cleaned or None)

    return await _decide(request, session, web_user, draft_id, decision)


# Undo and Cancel (app/ui/queue_hold.py) share the queue's paths.
router.include_router(hold_router)
