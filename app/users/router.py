"""Sign-in and sign-out pages."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.deps import SessionDep, SettingsDep
from app.users.sessions import COOKIE_NAME, SESSION_LIFETIME, SignInFailed, sign_in, sign_out
from app.web import page

router = APIRouter(tags=["sign-in"], include_in_schema=False)

LOGIN_CSRF_COOKIE = "inboxpilot_login_csrf"


def _safe_next(value: str | None) -> str:
    # Only local paths: never redirect to another site after sign-in.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(
        request,
        "login.html",
        csrf_token=token,
        next=_safe_next(next),
        email="",
        error=None,
        user=None,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return page(
            request,
            "login.html",
            status_code=403,
            csrf_token=expected or "",
            next=_safe_next(next),
            email=email,
            error="The form expired; try again.",
            user=None,
        )
    try:
        token, _web_session = await sign_in(session, email=email, password=password)
    except SignInFailed as exc:
        return page(
            request,
            "login.html",
            status_code=401,
            csrf_token=expected,
            next=_safe_next(next),
            email=email,
            error=exc.message,
            user=None,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.PUBLIC_URL.startswith("https://"),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    await sign_out(session, request.cookies.get(COOKIE_NAME))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME)
    return response
