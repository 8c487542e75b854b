"""The signed-in home page: each account's state, today's figures and its pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.accounts import service
from app.accounts.schemas import reconnect_path
from app.core.clock import utc_now
from app.deps import SessionDep, SettingsDep
from app.models import Account
from app.moderation.dashboard import summaries
from app.web import WebUser, page

router = APIRouter(include_in_schema=False)

_STATUS_LABELS = {
    "active": "active",
    "needs_reconnect": "needs reconnect",
    "disconnected": "disconnected",
}


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request, session: SessionDep, web: WebUser, settings: SettingsDep
) -> Response:
    user, web_session = web
    accounts = await service.list_accounts(session, user=user)
    figures = await summaries(session, [a.id for a in accounts])
    connected = request.query_params.get("connected", "")
    return page(
        request,
        "home.html",
        user=user,
        csrf_token=web_session.csrf_token,
        nav="accounts",
        sandbox=settings.sandbox,
        accounts=[_row(a) | {"figures": figures[a.id]} for a in accounts],
        now=utc_now(),
        connected=int(connected) if connected.isdigit() else None,
    )


def _row(account: Account) -> dict[str, object]:
    status = _STATUS_LABELS.get(account.status, account.status)
    if account.status == "active" and account.is_paused:
        status = "paused"
    blocked = account.status in ("needs_reconnect", "disconnected")
    return {
        "account": account,
        "platform": "Instagram" if account.platform == "instagram" else "Messenger",
        "status": status,
        "reconnect": reconnect_path(account.connected_via, account.graph_host)
        if blocked or account.comments_problem
        else None,
    }
