"""Pages: an account's dashboard, and what the bot sent alone, where any member marks a
reply right or wrong and the owner can stop an intent from going out alone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.accounts.service import get_account, list_accounts
from app.core.clock import utc_now
from app.deps import Id, SessionDep
from app.errors import AppError, Forbidden, NotFound
from app.models import Account, User
from app.moderation import autonomy, marks
from app.moderation.dashboard import dashboard
from app.moderation.schemas import MarkIn
from app.moderation.service import get_draft
from app.policy.schemas import Intent, Policy
from app.policy.words import intent_words
from app.ui.catalog_forms import text
from app.ui.chart import chart
from app.users import members
from app.web import CheckedWebUser, WebUser, message_page, not_found_page, page

router = APIRouter(include_in_schema=False)
PER_PAGE = 20
FILTERS = get_args(marks.MarkFilter)


def waited(delta: timedelta) -> str:
    """How long something has waited, in words: "3 h 20 min", "2 days"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // (24 * 60)} days"


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
async def dashboard_page(
    request: Request, account_id: Id, session: SessionDep, web_user: WebUser
) -> Response:
    user, web_session = web_user
    try:
        account = await get_account(session, user=user, account_id=account_id)
    except NotFound:
        return not_found_page(request, user, "account or reply")
    figures = await dashboard(session, account_id=account.id)
    oldest = figures.oldest_waiting_since
    return page(
        request,
        "dashboard.html",
        user=user,
        csrf_token=web_session.csrf_token,
        nav="accounts",
        account=account,
        figures=figures,
        oldest_wait=None if oldest is None else waited(utc_now() - oldest),
        chart=chart(figures.days),
    )


@router.get("/sent", response_class=HTMLResponse)
async def sent_choice(request: Request, session: SessionDep, web_user: WebUser) -> Response:
    """The main navigation's "Sent automatically": the one account's list, or a choice."""
    user, web_session = web_user
    accounts = await list_accounts(session, user=user)
    if len(accounts) == 1:
        return RedirectResponse(f"/accounts/{accounts[0].id}/sent", status_code=303)
    return page(
        request,
        "sent_choice.html",
        user=user,
        csrf_token=web_session.csrf_token,
        nav="sent",
        accounts=accounts,
    )


def _sent_url(account_id: int, *, which: str = "all", page_no: int = 1, **extra: Any) -> str:
    query: dict[str, Any] = {"mark": which, "page": page_no, **extra}
    if query.get("mark") == "all":
        del query["mark"]
    if query.get("page") == 1:
        del query["page"]
    return f"/accounts/{account_id}/sent" + (f"?{urlencode(query)}" if query else "")


@router.get("/accounts/{account_id}/sent", response_class=HTMLResponse)
async def sent_page(
    request: Request,
    account_id: Id,
    session: SessionDep,
    web_user: WebUser,
    mark: str = "all",
    page_param: str = Query("1", alias="page", max_length=10),
) -> Response:
    user, web_session = web_user
    page_no = int(page_param) if page_param.isdigit() and 0 < int(page_param) < 100_000 else 1
    which: marks.MarkFilter = mark if mark in FILTERS else "all"  # type: ignore[assignment]
    try:
        account = await get_account(session, user=user, account_id=account_id)
    except NotFound:
        return not_found_page(request, user, "account or reply")
    found = await marks.sent_alone_page(
        session, user=user, account_id=account.id, page=page_no, per_page=PER_PAGE, which=which
    )
    paused = request.query_params.get("paused", "")
    return page(
        request,
        "sent.html",
        user=user,
        csrf_token=web_session.csrf_token,
        nav="sent",
        account=account,
        found=found,
        which=which,
        filters=FILTERS,
        url=lambda **kw: _sent_url(account.id, **{"which": which, "page_no": page_no, **kw}),
        auto_intents=Policy.of(account.policy).auto_intents,
        can_decide=await members.can_decide(session, user, account.id),
        words=intent_words,
        marked=request.query_params.get("marked", ""),
        paused=intent_words(paused) if paused else None,
    )


def _back(request: Request, account: Account) -> str:
    """Where a mark or pause form came from: its own account's sent list only."""
    back = request.query_params.get("back", "")
    prefix = f"/accounts/{account.id}/sent"
    return back if back.startswith(prefix) and "//" not in back else prefix


def _with(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


@router.post("/accounts/{account_id}/sent/{draft_id}/mark", response_class=HTMLResponse)
async def mark_page(
    request: Request, account_id: Id, draft_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    user = web_user[0]
    form = await request.form()
    try:
        account = await get_account(session, user=user, account_id=account_id)
        data = MarkIn.model_validate(
            {"mark": text(form, "mark"), "note": text(form, "note") or None}
        )
        draft = await get_draft(session, user=user, draft_id=draft_id)
        if draft.account_id != account.id:
            raise NotFound("draft not found")
        await marks.mark_draft(
            session, user=user, draft_id=draft.id, mark=data.mark, note=data.note
        )
    except NotFound:
        return not_found_page(request, user, "account or reply")
    except ValidationError:
        return message_page(
            request,
            "Not marked",
            "Choose right or wrong; a note has at most 1000 characters.",
            status_code=422,
            link=f"/accounts/{account_id}/sent",
            link_text="Back to the list",
            user=user,
        )
    except AppError as exc:
        return _refused(request, user, account_id, exc)
    target = _with(_back(request, account), marked=str(draft.id))
    return RedirectResponse(f"{target}#sent-{draft.id}", status_code=303)


def _refused(request: Request, user: User, account_id: int, exc: AppError) -> HTMLResponse:
    title = "Only the owner can change this" if isinstance(exc, Forbidden) else "Not changed"
    return message_page(
        request,
        title,
        exc.message[:1].upper() + exc.message[1:] + ".",
        status_code=exc.status_code,
        link=f"/accounts/{account_id}/sent",
        link_text="Back to the list",
        user=user,
    )


@router.post("/accounts/{account_id}/intents/{intent}/pause", response_class=HTMLResponse)
async def pause_page(
    request: Request, account_id: Id, intent: Intent, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    user = web_user[0]
    try:
        account = await get_account(session, user=user, account_id=account_id)
        await autonomy.pause_intent(session, user=user, account_id=account.id, intent=intent)
    except NotFound:
        return not_found_page(request, user, "account or reply")
    except AppError as exc:
        return _refused(request, user, account_id, exc)
    return RedirectResponse(_with(_back(request, account), paused=intent), status_code=303)


@router.post("/accounts/{account_id}/proposals", response_class=HTMLResponse)
async def accept_proposal_page(
    request: Request, account_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    """The owner's one click on a proposal of the rules page."""
    user = web_user[0]
    form = await request.form()
    kind, intent = text(form, "kind"), text(form, "intent")
    try:
        account = await get_account(session, user=user, account_id=account_id)
        await autonomy.accept_proposal(
            session, user=user, account_id=account.id, kind=kind, intent=intent
        )
    except NotFound:
        return not_found_page(request, user, "account or reply")
    except AppError as exc:
        return message_page(
            request,
            "Only the owner can change this" if isinstance(exc, Forbidden) else "Not changed",
            exc.message[:1].upper() + exc.message[1:] + ".",
            status_code=exc.status_code,
            link=f"/accounts/{account_id}/settings#proposals",
            link_text="Back to the rules",
            user=user,
        )
    target = f"/accounts/{account.id}/settings?{urlencode({'accepted': intent})}#proposals"
    return RedirectResponse(target, status_code=303)
