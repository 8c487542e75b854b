"""The browser side of connecting accounts through Meta (the home page: app/ui/home.py).

Every way a login can fail ends on a page saying what to do: the services raise
`ConnectFailed` and this module renders it. It is caught here rather than left to the
app's error handler because the request's transaction must still commit: a callback's
OAuth state is used up even when the login then fails.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.accounts import connect, instagram_login
from app.accounts.oauth_states import FACEBOOK_LOGIN, INSTAGRAM_LOGIN, ConnectFailed
from app.deps import RuntimeDep, SessionDep, SettingsDep
from app.meta.oauth import MetaOAuthClient
from app.models import User
from app.users.sessions import csrf_valid
from app.web import WebUser, message_page, page

router = APIRouter(tags=["connect"], include_in_schema=False)

_MAX_PARAM = 2000  # Meta's parameters are short; anything longer is cut, never a 422


def get_oauth(runtime: RuntimeDep) -> MetaOAuthClient:
    return MetaOAuthClient(runtime.http, runtime.settings)


OAuthDep = Annotated[MetaOAuthClient, Depends(get_oauth)]


def _sandbox_page(request: Request, user: User) -> Response:
    return message_page(
        request,
        "Connecting needs a Meta app",
        "inboxpilot runs in sandbox mode: no Meta app is configured, so accounts cannot be "
        "connected through Facebook or Instagram.",
        hint="The operator sets META_APP_ID and META_APP_SECRET (see docs/connecting-accounts.md).",
        status_code=503,
        link="/",
        link_text="Back to your accounts",
        user=user,
    )


def _failure_page(request: Request, exc: ConnectFailed, user: User) -> Response:
    return message_page(
        request,
        exc.title,
        exc.message,
        hint=exc.hint,
        status_code=exc.status_code,
        link=exc.retry_path or "/",
        link_text="Try again" if exc.retry_path else "Back to your accounts",
        user=user,
    )


def _callback(request: Request) -> connect.Callback:
    def param(name: str) -> str | None:
        value = request.query_params.get(name)
        return value[:_MAX_PARAM] if value else None

    return connect.Callback(
        state=param("state"),
        code=param("code"),
        error=param("error"),
        error_reason=param("error_reason"),
        error_description=param("error_description"),
    )


async def _start(
    request: Request,
    session: SessionDep,
    user: User,
    settings: SettingsDep,
    oauth: MetaOAuthClient,
    provider: str,
) -> Response:
    if settings.sandbox:
        return _sandbox_page(request, user)
    url = await connect.begin(session, user=user, provider=provider, settings=settings, oauth=oauth)
    return RedirectResponse(url, status_code=303)


@router.get("/oauth/meta/start")
async def meta_start(
    request: Request, session: SessionDep, web: WebUser, settings: SettingsDep, oauth: OAuthDep
) -> Response:
    return await _start(request, session, web[0], settings, oauth, FACEBOOK_LOGIN)


@router.get("/oauth/instagram/start")
async def instagram_start(
    request: Request, session: SessionDep, web: WebUser, settings: SettingsDep, oauth: OAuthDep
) -> Response:
    return await _start(request, session, web[0], settings, oauth, INSTAGRAM_LOGIN)


@router.get("/oauth/meta/callback")
async def meta_callback(
    request: Request,
    session: SessionDep,
    web: WebUser,
    settings: SettingsDep,
    runtime: RuntimeDep,
    oauth: OAuthDep,
) -> Response:
    user = web[0]
    if settings.sandbox:
        return _sandbox_page(request, user)
    try:
        state = await connect.facebook_callback(
            session,
            user=user,
            callback=_callback(request),
            settings=settings,
            oauth=oauth,
            cipher=runtime.cipher,
        )
    except ConnectFailed as exc:
        return _failure_page(request, exc, user)
    # Redirect, so that reloading the picker does not replay the (single-use) callback.
    return RedirectResponse(f"/oauth/meta/connect?state={state}", status_code=303)


@router.get("/oauth/meta/connect", response_class=HTMLResponse)
async def meta_picker(
    request: Request, session: SessionDep, web: WebUser, settings: SettingsDep, runtime: RuntimeDep
) -> Response:
    user, web_session = web
    try:
        view = await connect.picker(
            session,
            user=user,
            value=request.query_params.get("state"),
            settings=settings,
            cipher=runtime.cipher,
        )
    except ConnectFailed as exc:
        return _failure_page(request, exc, user)
    return page(
        request, "connect_pick.html", user=user, csrf_token=web_session.csrf_token, picker=view
    )


@router.post("/oauth/meta/connect")
async def meta_connect(
    request: Request,
    session: SessionDep,
    web: WebUser,
    settings: SettingsDep,
    runtime: RuntimeDep,
    oauth: OAuthDep,
    state: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    messenger: Annotated[list[str] | None, Form()] = None,
    instagram: Annotated[list[str] | None, Form()] = None,
) -> Response:
    user, web_session = web
    if not csrf_valid(web_session, csrf_token):
        failure = ConnectFailed(
            "The form expired",
            "This page was open too long or came from elsewhere; nothing was connected.",
            status_code=403,
            retry_path=f"/oauth/meta/connect?state={quote(state)}",
        )
        return _failure_page(request, failure, user)
    try:
        result = await connect.connect_selected(
            session,
            user=user,
            value=state,
            messenger_ids=messenger or [],
            instagram_ids=instagram or [],
            settings=settings,
            oauth=oauth,
            cipher=runtime.cipher,
        )
    except ConnectFailed as exc:
        return _failure_page(request, exc, user)
    return RedirectResponse(f"/?connected={len(result.accounts)}", status_code=303)


@router.get("/oauth/instagram/callback")
async def instagram_callback(
    request: Request,
    session: SessionDep,
    web: WebUser,
    settings: SettingsDep,
    runtime: RuntimeDep,
    oauth: OAuthDep,
) -> Response:
    user = web[0]
    if settings.sandbox:
        return _sandbox_page(request, user)
    try:
        await instagram_login.instagram_callback(
            session,
            user=user,
            callback=_callback(request),
            settings=settings,
            oauth=oauth,
            cipher=runtime.cipher,
        )
    except ConnectFailed as exc:
        return _failure_page(request, exc, user)
    return RedirectResponse("/?connected=1", status_code=303)
