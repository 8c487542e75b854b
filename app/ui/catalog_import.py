"""Pages: importing a catalog file in two steps, a preview (or the file's line-numbered
errors) and a confirmation that imports all or nothing.

The confirmation carries the uploaded file itself (compressed, in a hidden field) and
parses it again: what is imported is always what the parser accepts, never a preview the
browser could have changed.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.catalog.importer import ImportError_, parse_catalog
from app.catalog.router import MAX_IMPORT_BYTES
from app.catalog.schemas import CooperationIn
from app.catalog.service import import_catalog
from app.core.offload import run_cpu_bound
from app.deps import SessionDep
from app.errors import NotFound
from app.models import Account, User
from app.users.service import ensure_access
from app.web import CheckedWebUser, WebUser, message_page, page

router = APIRouter(include_in_schema=False)

AccountQuery = Annotated[int, Query(ge=1, le=2**31 - 1)]
# A form field holds at most 1 MiB (Starlette's limit): the carried file, compressed and
# base64-encoded, must fit.
MAX_CARRIED = 1_000_000
MAX_ERRORS_SHOWN = 200


def _not_found(request: Request, user: User) -> HTMLResponse:
    return message_page(
        request,
        "Not found",
        "This account does not exist, or you are not a member of it.",
        status_code=404,
        link="/catalog",
        link_text="Back to the catalog",
        user=user,
    )


def _pack(content: bytes) -> str:
    return base64.b64encode(zlib.compress(content, 9)).decode("ascii")


def _unpack(carried: str) -> bytes | None:
    """The file again, or None when the field is not what _pack made (or too large)."""
    try:
        compressed = base64.b64decode(carried, validate=True)
        inflater = zlib.decompressobj()
        content = inflater.decompress(compressed, MAX_IMPORT_BYTES + 1)
    except (binascii.Error, ValueError, zlib.error):
        return None
    if len(content) > MAX_IMPORT_BYTES or not inflater.eof:
        return None
    return content


def _summary(items: list[CooperationIn]) -> list[dict[str, Any]]:
    return [
        {
            "brand": item.brand,
            "title": item.title,
            "period": " – ".join(str(d) for d in (item.starts_on, item.ends_on) if d),
            "posts": len(item.platform_posts),
            "products": [p.name for p in item.products],
            "codes": sum(1 for p in item.products if p.discount_code),
        }
        for item in items
    ]


def _render(
    request: Request,
    web_user: tuple[User, Any],
    account: Account,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    user, web_session = web_user
    values: dict[str, Any] = {
        "errors": [],
        "problem": None,
        "preview": None,
        "carried": None,
        "filename": "",
    }
    values |= context
    return page(
        request,
        "catalog/import.html",
        status_code=status_code,
        user=user,
        csrf_token=web_session.csrf_token,
        nav="catalog",
        account=account,
        max_bytes=MAX_IMPORT_BYTES,
        **values,
    )


async def _account(session: SessionDep, user: User, account_id: int) -> Account:
    await ensure_access(session, user, account_id)
    account = await session.get(Account, account_id)
    if account is None:
        raise NotFound("account not found")
    return account


@router.get("/catalog/import", response_class=HTMLResponse)
async def import_form(
    request: Request, session: SessionDep, web_user: WebUser, account_id: AccountQuery
) -> Response:
    try:
        account = await _account(session, web_user[0], account_id)
    except NotFound:
        return _not_found(request, web_user[0])
    return _render(request, web_user, account)


async def _parse(
    request: Request,
    web_user: tuple[User, Any],
    account: Account,
    content: bytes,
    filename: str,
) -> tuple[list[CooperationIn] | None, HTMLResponse | None]:
    try:
        return await run_cpu_bound(parse_catalog, content, filename), None
    except ImportError_ as exc:
        shown = exc.errors[:MAX_ERRORS_SHOWN]
        more = len(exc.errors) - len(shown)
        return None, _render(
            request, web_user, account, status_code=422, errors=shown, more=more, filename=filename
        )


@router.post("/catalog/import", response_class=HTMLResponse)
async def preview(
    request: Request,
    session: SessionDep,
    web_user: CheckedWebUser,
    account_id: AccountQuery,
    file: UploadFile | None = None,
) -> Response:
    user = web_user[0]
    try:
        account = await _account(session, user, account_id)
    except NotFound:
        return _not_found(request, user)
    if file is None or not file.filename:
        return _render(request, web_user, account, status_code=422, problem="Choose a file.")
    content = await file.read(MAX_IMPORT_BYTES + 1)
    filename = file.filename[:200]
    if len(content) > MAX_IMPORT_BYTES:
        problem = f"The file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB."
        return _render(request, web_user, account, status_code=422, problem=problem)
    items, failed = await _parse(request, web_user, account, content, filename)
    if failed is not None or items is None:
        return failed or _render(request, web_user, account, status_code=422)
    carried = await run_cpu_bound(_pack, content)
    if len(carried) > MAX_CARRIED:
        problem = (
            "The file is valid but too large to confirm from this page: import it with "
            "`inboxpilot catalog import` or the API (POST /api/v1/accounts/{id}/catalog/import)."
        )
        return _render(request, web_user, account, status_code=422, problem=problem)
    return _render(
        request,
        web_user,
        account,
        preview=_summary(items),
        carried=carried,
        filename=filename,
        totals=(len(items), sum(len(i.products) for i in items)),
    )


@router.post("/catalog/import/confirm", response_class=HTMLResponse)
async def confirm(
    request: Request,
    session: SessionDep,
    web_user: CheckedWebUser,
    account_id: AccountQuery,
    carried: Annotated[str, Form(max_length=MAX_CARRIED)] = "",
    filename: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    user = web_user[0]
    try:
        account = await _account(session, user, account_id)
    except NotFound:
        return _not_found(request, user)
    content = await run_cpu_bound(_unpack, carried)
    if content is None:
        problem = "The confirmation was damaged on its way; upload the file again."
        return _render(request, web_user, account, status_code=422, problem=problem)
    items, failed = await _parse(request, web_user, account, content, filename)
    if failed is not None or items is None:
        return failed or _render(request, web_user, account, status_code=422)
    result = await import_catalog(session, account_id=account.id, items=items, user=user)
    return RedirectResponse(
        f"/catalog?account_id={account.id}&imported={result.cooperations}-{result.products}",
        status_code=303,
    )
