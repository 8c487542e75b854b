"""Sign-in and sign-out pages."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.audit.service import record
from app.core.clock import utc_now
from app.core.crypto import same_secret
from app.deps import SessionDep, SettingsDep
from app.users.attempts import AttemptKind, TooManyAttempts, door
from app.users.sessions import (
    COOKIE_NAME,
    SESSION_LIFETIME,
    SignInFailed,
    resolve,
    sign_in,
    sign_out,
)
from app.web import get_csrf_checked_user, page

router = APIRouter(tags=["sign-in"], include_in_schema=False)

LOGIN_CSRF_COOKIE = "inboxpilot_login_csrf"


def client_address(request: Request) -> str:
    """The peer's address as the server sees it. Behind a proxy, uvicorn puts the client's
    address there when told to trust the proxy (--proxy-headers, --forwarded-allow-ips);
    X-Forwarded-For is never read here, anyone can send it."""
    return request.client.host if request.client is not None else "unknown"


def _safe_next(value: str | None) -> str:
    # Only local paths: never redirect to another site after sign-in.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, settings: SettingsDep, next: str | None = None) -> Response:
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
        secure=settings.PUBLIC_URL.startswith("https://") or request.url.scheme == "https",
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
    if not expected or not same_secret(expected, csrf_token):
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
        async with door():
            token, _web_session = await sign_in(
                session,
                email=email,
                password=password,
                address=client_address(request),
                previous_token=request.cookies.get(COOKIE_NAME),
            )
    except TooManyAttempts as exc:
        return _throttled_page(request, exc, csrf_token=expected, next=next, email=email)
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
    set_session_cookie(response, token, public_url=settings.PUBLIC_URL)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


def set_session_cookie(response: Response, token: str, *, public_url: str) -> None:
    """HttpOnly (no script reads it), SameSite=Lax (no cross-site form posts carry it),
    Secure whenever the service is reached over https."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=public_url.startswith("https://"),
    )


def retry_after(exc: TooManyAttempts) -> int:
    """Whole seconds until the next attempt may be made (at least one)."""
    return max(1, int((exc.retry_at - utc_now()).total_seconds() + 0.999))


def _throttled_page(
    request: Request, exc: TooManyAttempts, *, csrf_token: str, next: str, email: str
) -> Response:
    wait = retry_after(exc)
    where = "from this address" if exc.kind == AttemptKind.ADDRESS else "for this email"
    response = page(
        request,
        "login.html",
        status_code=429,
        csrf_token=csrf_token,
        next=_safe_next(next),
        email=email,
        error=f"Too many failed sign-ins {where}.",
        retry_at=exc.retry_at,
        retry_in=_duration(wait),
        user=None,
    )
    response.headers["Retry-After"] = str(wait)
    return response


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    if minutes == 0:
        return f"{rest} second{'' if rest == 1 else 's'}"
    return f"{minutes} min {rest:02d} s"


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    """CSRF-checked like every state change, so another site cannot sign the user out. A
    browser whose session is already gone is simply sent to the sign-in page."""
    token = request.cookies.get(COOKIE_NAME)
    found = await resolve(session, token)
    if found is not None:
        user, _web_session = await get_csrf_checked_user(request, found)
        await sign_out(session, token)
        await record(session, action="user.signed_out", user=user)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME)
    return response
