"""Server-rendered pages: the template engine, the signed-in user, CSRF checks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.deps import SessionDep
from app.errors import AppError
from app.models import User, WebSession
from app.ui.words import jinja_globals
from app.users.sessions import COOKIE_NAME, csrf_valid, resolve

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Plain words every page shows the same way (the follower, why a draft waits).
templates.env.globals.update(jinja_globals())


class SignInRequired(AppError):
    """Rendered as a redirect to the sign-in page (see main.py)."""

    status_code = 303

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in first")
        self.location = f"/login?next={quote(next_path, safe='/')}"


async def get_web_user(request: Request, session: SessionDep) -> tuple[User, WebSession]:
    found = await resolve(session, request.cookies.get(COOKIE_NAME))
    if found is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path)
    return found


WebUser = Annotated[tuple[User, WebSession], Depends(get_web_user)]

CSRF_HEADER = "x-csrf-token"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CsrfRejected(AppError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__("the form expired or came from another site; reload the page and retry")


async def get_csrf_checked_user(request: Request, user: WebUser) -> tuple[User, WebSession]:
    """For every state-changing page request: the session's CSRF token must come back, in
    the X-CSRF-Token header (htmx sends it, see base.html) or the form field csrf_token."""
    submitted = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if submitted is None and content_type.startswith(FORM_TYPES):
        value = (await request.form()).get("csrf_token")
        submitted = value if isinstance(value, str) else None
    if not csrf_valid(user[1], submitted):
        raise CsrfRejected()
    return user


CheckedWebUser = Annotated[tuple[User, WebSession], Depends(get_csrf_checked_user)]


def page(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def message_page(
    request: Request,
    title: str,
    message: str,
    *,
    status_code: int = 200,
    hint: str | None = None,
    link: str | None = None,
    link_text: str | None = None,
    user: User | None = None,
) -> HTMLResponse:
    return page(
        request,
        "message.html",
        status_code=status_code,
        title=title,
        message=message,
        hint=hint,
        link=link,
        link_text=link_text,
        is_error=status_code >= 400,
        user=user,
    )


ERROR_TITLES = {
    400: "Not understood",
    403: "Not allowed",
    404: "Not found",
    405: "Not here",
    409: "Already there",
    410: "Link no longer valid",
    413: "Too large",
    422: "Not understood",
    429: "Too many attempts",
}


def wants_page(request: Request) -> bool:
    """A browser that typed or followed an address (not htmx, not a script, not the API):
    it gets an error as a page in the layout; everyone else gets `{"detail": ...}`."""
    return (
        "hx-request" not in request.headers
        and "text/html" in request.headers.get("accept", "")
        and not request.url.path.startswith("/api/")
    )


_BACK = {
    "/": "Back to your accounts",
    "/catalog": "Back to the catalog",
    "/queue": "Back to the queue",
}


def not_found_page(
    request: Request, user: Any, what: str = "account", *, back: str = "/"
) -> HTMLResponse:
    """The pages' one "not found": the same words whether the thing does not exist or
    belongs to an account the user is not a member of, so other tenants' ids do not leak."""
    return message_page(
        request,
        "Not found",
        f"This {what} does not exist, or it belongs to an account you are not a member of.",
        status_code=404,
        link=back,
        link_text=_BACK[back],
        user=user,
    )


def error_page(
    request: Request,
    status_code: int,
    message: str,
    *,
    user: User | None = None,
    csrf_token: str | None = None,
    link_home: bool = False,
) -> HTMLResponse:
    """The one error page of the HTML side: a title by status, the message as a sentence."""
    sentence = message[:1].upper() + message[1:]
    return page(
        request,
        "message.html",
        status_code=status_code,
        title=ERROR_TITLES.get(status_code, "Something is wrong"),
        message=sentence if sentence.endswith((".", "!", "?")) else sentence + ".",
        hint=None,
        link="/" if user or link_home else "/login",
        link_text="Back to the start" if user or link_home else "Sign in",
        is_error=True,
        user=user,
        csrf_token=csrf_token,
    )
