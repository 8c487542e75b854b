"""Page: a person's alerts (e-mail digest choices, web push on this browser), and the tiny
JSON answer behind the waiting count in every signed-in tab's title."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from app.deps import SessionDep, SettingsDep
from app.models import User, WebSession
from app.notifications import service
from app.notifications.jobs import MIN_EMAIL_GAP
from app.notifications.push import vapid_keys
from app.ui.people import CheckedUser, ErrorPageRoute
from app.users.sessions import COOKIE_NAME, resolve
from app.web import WebUser, page

router = APIRouter(include_in_schema=False, route_class=ErrorPageRoute)

OFF = "off"


class PushKeys(BaseModel):
    p256dh: str = Field(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9_\-=]+$")
    auth: str = Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_\-=]+$")


class PushSubscriptionIn(BaseModel):
    """What the browser's PushSubscription.toJSON() gives."""

    model_config = ConfigDict(extra="ignore")

    endpoint: str = Field(min_length=12, max_length=2048, pattern=r"^https://\S+$")
    keys: PushKeys


class PushEndpointIn(BaseModel):
    endpoint: str = Field(min_length=1, max_length=2048)


async def _alerts_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    web_user: tuple[User, WebSession],
    *,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    user = web_user[0]
    keys = vapid_keys(settings)
    return page(
        request,
        "alerts.html",
        status_code=status_code,
        user=user,
        csrf_token=web_user[1].csrf_token,
        nav="alerts",
        choices=await service.get_choices(session, user),
        waiting_choices=service.WAITING_CHOICES,
        default_minutes=service.DEFAULT_WAITING_MINUTES,
        mail_on=settings.SMTP_URL is not None,
        gap_minutes=int(MIN_EMAIL_GAP.total_seconds() // 60),
        vapid_public_key=None if keys is None else keys.public_key,
        browsers=await service.subscription_count(session, user),
        notice=notice,
    )


@router.get("/account/alerts", response_class=HTMLResponse)
async def alerts_form(
    request: Request, session: SessionDep, settings: SettingsDep, web_user: WebUser
) -> Response:
    return await _alerts_page(request, session, settings, web_user)


@router.post("/account/alerts", response_class=HTMLResponse)
async def save_alerts(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    web_user: CheckedUser,
    waiting_minutes: Annotated[str, Form(max_length=8)] = OFF,
    sensitive: Annotated[bool, Form()] = False,
    reconnect: Annotated[bool, Form()] = False,
) -> Response:
    minutes = None if waiting_minutes == OFF else _minutes(waiting_minutes)
    if minutes is not None and minutes not in service.WAITING_CHOICES:
        return await _alerts_page(
            request,
            session,
            settings,
            web_user,
            status_code=422,
            notice="Choose one of the offered waiting times.",
        )
    choices = service.Choices(minutes, sensitive, reconnect)
    await service.save_choices(session, user=web_user[0], choices=choices)
    notice = "Saved." if choices.any else "Saved: no alerts."
    return await _alerts_page(request, session, settings, web_user, notice=notice)


def _minutes(value: str) -> int:
    return int(value) if value.isdigit() else -1


@router.post("/account/alerts/push", status_code=204)
async def subscribe_push(
    session: SessionDep, web_user: CheckedUser, body: PushSubscriptionIn
) -> Response:
    await service.subscribe(
        session,
        user=web_user[0],
        endpoint=body.endpoint,
        p256dh=body.keys.p256dh,
        auth=body.keys.auth,
    )
    return Response(status_code=204)


@router.post("/account/alerts/push/remove", status_code=204)
async def unsubscribe_push(
    session: SessionDep, web_user: CheckedUser, body: PushEndpointIn
) -> Response:
    await service.unsubscribe(session, user=web_user[0], endpoint=body.endpoint)
    return Response(status_code=204)


@router.get("/account/alerts/pending")
async def pending(request: Request, session: SessionDep) -> JSONResponse:
    """The count of drafts waiting in the accounts the user can see: for the tab title.
    401 rather than the sign-in redirect, as a script asks, not a person."""
    found = await resolve(session, request.cookies.get(COOKIE_NAME))
    if found is None:
        return JSONResponse({"detail": "sign in first"}, status_code=401)
    return JSONResponse({"pending": await service.pending_count(session, found[0])})
