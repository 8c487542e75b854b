"""Pages of people: password change, invitations, and the admins' user management."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import same_secret
from app.core.db import end_transaction
from app.deps import Id, SessionDep, SettingsDep
from app.errors import AppError, Forbidden
from app.models import Invitation, User, WebSession
from app.users import invitations, repository, service
from app.users.attempts import AttemptKey, TooManyAttempts, address_key, reserve, succeeded
from app.users.router import client_address, retry_after, set_session_cookie
from app.users.sessions import start_session
from app.web import CheckedWebUser, SignInRequired, WebUser, page
from app.web import error_page as web_error_page

INVITE_CSRF_COOKIE = "inboxpilot_invite_csrf"
FORM_TEXT = Annotated[str, Form(max_length=1000)]
TOKEN_FORM = Annotated[str, Form(max_length=200)]


class ErrorPageRoute(APIRoute):
    """Errors of these pages (403 not an admin, 403 CSRF, 404, 409, 410) are rendered as
    pages in the layout rather than as the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                raise
            except AppError as exc:
                return error_page(request, exc)

        return route


router = APIRouter(include_in_schema=False, route_class=ErrorPageRoute)


def error_page(request: Request, exc: AppError) -> HTMLResponse:
    web_user: tuple[User, WebSession] | None = getattr(request.state, "web_user", None)
    return web_error_page(
        request,
        exc.status_code,
        exc.message,
        user=None if web_user is None else web_user[0],
        csrf_token=None if web_user is None else web_user[1].csrf_token,
    )


class AdminOnly(Forbidden):
    def __init__(self) -> None:
        super().__init__("only admins may open this page")


def _admin(request: Request, web_user: tuple[User, WebSession]) -> tuple[User, WebSession]:
    request.state.web_user = web_user
    if web_user[0].role != "admin":
        raise AdminOnly()
    return web_user


async def get_admin(request: Request, web_user: WebUser) -> tuple[User, WebSession]:
    return _admin(request, web_user)


async def get_checked_admin(request: Request, web_user: CheckedWebUser) -> tuple[User, WebSession]:
    return _admin(request, web_user)


async def get_checked_user(request: Request, web_user: CheckedWebUser) -> tuple[User, WebSession]:
    request.state.web_user = web_user
    return web_user


Admin = Annotated[tuple[User, WebSession], Depends(get_admin)]
CheckedAdmin = Annotated[tuple[User, WebSession], Depends(get_checked_admin)]
CheckedUser = Annotated[tuple[User, WebSession], Depends(get_checked_user)]


# --- own password ------------------------------------------------------------------------


def _password_page(
    request: Request,
    web_user: tuple[User, WebSession],
    *,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    return page(
        request,
        "users/password.html",
        status_code=status_code,
        user=web_user[0],
        csrf_token=web_user[1].csrf_token,
        error=error,
        notice=notice,
        min_length=service.MIN_PASSWORD_LENGTH,
    )


@router.get("/account/password", response_class=HTMLResponse)
async def password_form(request: Request, web_user: WebUser) -> Response:
    return _password_page(request, web_user)


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(
    request: Request,
    session: SessionDep,
    web_user: CheckedUser,
    current_password: FORM_TEXT,
    new_password: FORM_TEXT,
    repeat_password: FORM_TEXT,
    revoke_api_tokens: Annotated[bool, Form()] = False,
) -> Response:
    user, web_session = web_user
    try:
        changed = await service.change_password(
            session,
            user=user,
            keep_session_id=web_session.id,
            current=current_password,
            new=new_password,
            repeat=repeat_password,
            address=client_address(request),
            revoke_api_tokens=revoke_api_tokens,
        )
    except service.PasswordRejected as exc:
        return _password_page(request, web_user, status_code=400, error=exc.message)
    except TooManyAttempts as exc:
        wait = retry_after(exc)
        refused = _password_page(
            request,
            web_user,
            status_code=429,
            error=f"Too many wrong passwords; try again in {wait} seconds.",
        )
        refused.headers["Retry-After"] = str(wait)
        return refused
    ended = changed.sessions_ended
    notice = f"Password changed. {ended} other session{'' if ended == 1 else 's'} signed out"
    notice += "; this one stays."
    if revoke_api_tokens:
        revoked = changed.api_tokens_revoked
        notice += f" {revoked} API token{'' if revoked == 1 else 's'} revoked."
    return _password_page(request, web_user, notice=notice)


# --- invitations: accepting --------------------------------------------------------------


def _accept_page(
    request: Request,
    invitation_email: str,
    token: str,
    *,
    status_code: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    csrf = secrets.token_urlsafe(24)
    response = page(
        request,
        "users/accept.html",
        status_code=status_code,
        user=None,
        csrf_token=csrf,
        invitation_token=token,
        email=invitation_email,
        error=error,
        min_length=service.MIN_PASSWORD_LENGTH,
    )
    response.set_cookie(
        INVITE_CSRF_COOKIE,
        csrf,
        path="/invite",
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.PUBLIC_URL.startswith("https://")
        or request.url.scheme == "https",
    )
    return response


async def _counted_invitation(
    request: Request, session: AsyncSession, token: str
) -> tuple[Invitation, list[AttemptKey]]:
    """The usable invitation of `token`, counted per client address before it is looked
    up (a guessed token counts) and committed at once, so a 404 does not take the count
    back. The caller hands the attempt back (`succeeded`) once the form was right."""
    limited = [address_key(client_address(request))]
    await reserve(session, limited)
    await end_transaction(session)
    return await invitations.usable_invitation(session, token), limited


@router.get("/invite", response_class=HTMLResponse)
async def invitation_opener(request: Request) -> Response:
    """The link's page: holds no token (it is in the fragment); static/pages.js posts the
    fragment to /invite/open, or the person pastes the code."""
    return page(request, "users/invite_open.html", user=None)


@router.post("/invite/open", response_class=HTMLResponse)
async def invitation_form(request: Request, session: SessionDep, token: TOKEN_FORM) -> Response:
    """Shows whom the invitation is for and the password form; uses nothing up. Counted
    per client address like accepting, so the opener cannot be used to guess codes."""
    token = token.strip()[:200]
    invitation, limited = await _counted_invitation(request, session, token)
    await succeeded(session, limited)
    return _accept_page(request, invitation.email, token)


@router.get("/invite/{token}", response_class=HTMLResponse)
async def old_invitation_link(token: str) -> Response:
    """Links made before the token moved to the fragment (valid for a week after the
    upgrade): the browser keeps the fragment across the redirect, so the opener takes it."""
    return RedirectResponse(f"/invite#{quote(token[:200], safe='')}", status_code=303)


@router.post("/invite/accept", response_class=HTMLResponse)
async def accept_invitation(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: TOKEN_FORM,
    password: FORM_TEXT,
    repeat_password: FORM_TEXT,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    token = token.strip()[:200]
    invitation, limited = await _counted_invitation(request, session, token)
    expected = request.cookies.get(INVITE_CSRF_COOKIE)
    if not expected or not same_secret(expected, csrf_token):
        return _accept_page(
            request, invitation.email, token, status_code=403, error="The form expired; try again."
        )
    try:
        user = await invitations.accept_invitation(
            session, token=token, password=password, repeat=repeat_password
        )
    except service.PasswordRejected as exc:
        return _accept_page(request, invitation.email, token, status_code=400, error=exc.message)
    await succeeded(session, limited)
    cookie_token, _web_session = await start_session(
        session, user=user, via="invitation", address=client_address(request)
    )
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, cookie_token, public_url=settings.PUBLIC_URL)
    response.delete_cookie(INVITE_CSRF_COOKIE, path="/invite")
    return response


# --- admins: people and invitations ------------------------------------------------------


async def _people_page(
    request: Request,
    session: SessionDep,
    web_user: tuple[User, WebSession],
    *,
    status_code: int = 200,
    error: str | None = None,
    invited: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
) -> HTMLResponse:
    accounts = await repository.accounts(session)
    return page(
        request,
        "users/people.html",
        status_code=status_code,
        user=web_user[0],
        csrf_token=web_user[1].csrf_token,
        nav="users",
        people=await service.list_people(session),
        pending=await invitations.pending_invitations(session),
        accounts=accounts,
        account_names=dict(accounts),
        roles=service.ROLES,
        error=error,
        invited=invited,
        form=form or {"email": "", "role": "moderator", "accounts": []},
        lifetime_days=invitations.INVITATION_LIFETIME.days,
    )


@router.get("/admin/users", response_class=HTMLResponse)
async def people(request: Request, session: SessionDep, web_user: Admin) -> Response:
    return await _people_page(request, session, web_user)


@router.post("/admin/users/invitations", response_class=HTMLResponse)
async def invite(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    web_user: CheckedAdmin,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[str, Form(max_length=16)],
    account: Annotated[list[int] | None, Form()] = None,
) -> Response:
    account = account or []
    try:
        token, invitation = await invitations.create_invitation(
            session, admin=web_user[0], email=email, role=role, account_ids=account
        )
    except AppError as exc:
        form = {"email": email, "role": role, "accounts": account}
        return await _people_page(
            request, session, web_user, status_code=exc.status_code, error=exc.message, form=form
        )
    link = invitations.invitation_link(settings.PUBLIC_URL, token)
    return await _people_page(
        request, session, web_user, invited={"email": invitation.email, "link": link}
    )


@router.post("/admin/invitations/{invitation_id}/revoke")
async def revoke(session: SessionDep, web_user: CheckedAdmin, invitation_id: Id) -> Response:
    await invitations.revoke_invitation(session, admin=web_user[0], invitation_id=invitation_id)
    return RedirectResponse("/admin/users", status_code=303)


# --- admins: one person ------------------------------------------------------------------


async def _person_page(
    request: Request,
    session: SessionDep,
    web_user: tuple[User, WebSession],
    user_id: int,
    *,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    return page(
        request,
        "users/person.html",
        status_code=status_code,
        user=web_user[0],
        csrf_token=web_user[1].csrf_token,
        nav="users",
        person=await service.get_person(session, user_id),
        accounts=await repository.accounts(session),
        roles=service.ROLES,
        member_roles=service.MEMBER_ROLES,
        error=error,
        notice=notice,
    )


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
async def person(
    request: Request, session: SessionDep, web_user: Admin, user_id: Id, saved: bool = False
) -> Response:
    notice = "Saved." if saved else None
    return await _person_page(request, session, web_user, user_id, notice=notice)


@router.post("/admin/users/{user_id}", response_class=HTMLResponse)
async def update_person(
    request: Request, session: SessionDep, web_user: CheckedAdmin, user_id: Id
) -> Response:
    form = await request.form()
    role = form.get("role")
    memberships: dict[int, str] = {}
    for key, value in form.multi_items():
        if key.startswith("account_") and key[8:].isdigit() and value:
            memberships[int(key[8:])] = str(value)
    try:
        await service.update_access(
            session,
            admin=web_user[0],
            user_id=user_id,
            role=role if isinstance(role, str) else "",
            memberships=memberships,
        )
    except AppError as exc:
        if exc.status_code == 404:
            raise
        # update_access checks everything before it changes anything: nothing to undo.
        return await _person_page(
            request, session, web_user, user_id, status_code=exc.status_code, error=exc.message
        )
    return RedirectResponse(f"/admin/users/{user_id}?saved=1", status_code=303)


@router.post("/admin/users/{user_id}/deactivate")
async def deactivate(session: SessionDep, web_user: CheckedAdmin, user_id: Id) -> Response:
    await service.set_active(session, admin=web_user[0], user_id=user_id, active=False)
    return RedirectResponse(f"/admin/users/{user_id}?saved=1", status_code=303)


@router.post("/admin/users/{user_id}/reactivate")
async def reactivate(session: SessionDep, web_user: CheckedAdmin, user_id: Id) -> Response:
    await service.set_active(session, admin=web_user[0], user_id=user_id, active=True)
    return RedirectResponse(f"/admin/users/{user_id}?saved=1", status_code=303)
