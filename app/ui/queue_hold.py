"""Pages: Undo of an approval (the card comes back) and Cancel in the queue's "about to
send" strip. Both call the moderation service the API calls (app/moderation/holding.py),
so the race with the send job, the 409 and the audit log are the same."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.core.clock import utc_now
from app.deps import Id, SessionDep
from app.errors import Conflict
from app.models import User
from app.moderation import holding
from app.moderation import service as moderation
from app.ui.conversations import display, is_htmx
from app.web import CheckedWebUser, page

router = APIRouter(include_in_schema=False)


@router.post("/queue/{draft_id}/undo", response_class=HTMLResponse)
async def undo(
    request: Request, draft_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    """The draft back in the queue as a card; too late, the outcome says it is on its way."""
    user, web_session = web_user
    user_id, csrf_token = user.id, web_session.csrf_token
    try:
        await holding.undo(session, user=user, draft_id=draft_id)
    except Conflict as exc:
        await session.rollback()
        if not is_htmx(request):
            return RedirectResponse("/queue", status_code=303)
        fresh = await session.get(User, user_id)
        assert fresh is not None
        outcome = await moderation.draft_outcome(session, user=fresh, draft_id=draft_id)
        return page(
            request,
            "ui/queue_outcome.html",
            outcome=outcome,
            conflict=False,
            too_late=exc.message,
            csrf_token=csrf_token,
            me=user_id,
            **display(utc_now()),
        )
    if not is_htmx(request):
        return RedirectResponse(f"/queue#draft-{draft_id}", status_code=303)
    card = await moderation.queue_card(session, user=user, draft_id=draft_id)
    return page(
        request,
        "ui/queue_card.html",
        card=card,
        error=None,
        csrf_token=csrf_token,
        **display(utc_now()),
    )


@router.post("/queue/{draft_id}/cancel", response_class=HTMLResponse)
async def cancel(
    request: Request, draft_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    """Cancel in the "about to send" strip: the entry says whether it was stopped."""
    user = web_user[0]
    user_id = user.id
    try:
        await holding.cancel(session, user=user, draft_id=draft_id)
        stopped, note = True, None
    except Conflict as exc:
        await session.rollback()
        stopped, note = False, exc.message
    if not is_htmx(request):
        return RedirectResponse("/queue", status_code=303)
    fresh = await session.get(User, user_id)
    assert fresh is not None
    outcome = await moderation.draft_outcome(session, user=fresh, draft_id=draft_id)
    return page(
        request,
        "ui/queue_holding.html",
        result=outcome,
        stopped=stopped,
        note=note,
        **display(utc_now()),
    )
