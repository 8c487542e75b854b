"""Pages: importing a catalog file in two steps, a preview of what changes (or the file's
line-numbered errors) and a confirmation that applies it all or nothing.

The preview says, against the catalog as it is, which cooperations and products are new,
which change (each field, old -> new), how many stay as they are, and which entries the
file does not name (kept). The confirmation carries the uploaded file itself (compressed,
in a hidden field) and parses and compares it again: what is applied is always what the
parser accepts, never a preview the browser could have changed; if the catalog changed
since the preview (someone edited it meanwhile), the new preview is shown instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.catalog.importer import ImportError_, parse_catalog
from app.catalog.router import MAX_IMPORT_BYTES
from app.catalog.schemas import CooperationIn, ImportResult
from app.catalog.service import import_catalog
from app.core.offload import run_cpu_bound
from app.deps import SessionDep
from app.errors import NotFound
from app.models import Account, User
from app.users.service import ensure_access
from app.web import CheckedWebUser, WebUser, not_found_page, page

router = APIRouter(include_in_schema=False)

AccountQuery = Annotated[int, Query(ge=1, le=2**31 - 1)]
# A form field holds at most 1 MiB (Starlette's limit): the carried file, compressed and
# base64-encoded, must fit.
MAX_CARRIED = 1_000_000
MAX_ERRORS_SHOWN = 200


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


def fingerprint(plan: ImportResult) -> str:
    """Stands for the previewed changes: the confirmation applies only these."""
    dump = plan.model_dump_json(include={"items", "kept"})
    return hashlib.sha256(dump.encode()).hexdigest()[:32]


def shown(value: Any) -> str:
    """A stored value as the preview shows it."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(
            str(v.get("url") or v.get("media_id")) if isinstance(v, dict) else str(v) for v in value
        )
    text = str(value)
    return text if len(text) <= 120 else text[:119] + "…"


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
        "plan": None,
        "carried": None,
        "filename": "",
        "shown": shown,
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
        return not_found_page(request, web_user[0], back="/catalog")
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
        return not_found_page(request, user, back="/catalog")
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
    plan = await import_catalog(session, account_id=account.id, items=items, user=user, apply=False)
    return _preview(request, web_user, account, plan, carried=carried, filename=filename)


def _preview(
    request: Request,
    web_user: tuple[User, Any],
    account: Account,
    plan: ImportResult,
    **context: Any,
) -> HTMLResponse:
    return _render(
        request,
        web_user,
        account,
        plan=plan,
        fingerprint=fingerprint(plan),
        changes=plan.cooperation_counts.new
        + plan.product_counts.new
        + sum(1 for c in plan.items for _ in c.changes)
        + sum(1 for c in plan.items for p in c.products if p.status == "changed"),
        **context,
    )


@router.post("/catalog/import/confirm", response_class=HTMLResponse)
async def confirm(
    request: Request,
    session: SessionDep,
    web_user: CheckedWebUser,
    account_id: AccountQuery,
    carried: Annotated[str, Form(max_length=MAX_CARRIED)] = "",
    filename: Annotated[str, Form(max_length=200)] = "",
    expected: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    user = web_user[0]
    try:
        account = await _account(session, user, account_id)
    except NotFound:
        return not_found_page(request, user, back="/catalog")
    content = await run_cpu_bound(_unpack, carried)
    if content is None:
        problem = "The confirmation was damaged on its way; upload the file again."
        return _render(request, web_user, account, status_code=422, problem=problem)
    items, failed = await _parse(request, web_user, account, content, filename)
    if failed is not None or items is None:
        return failed or _render(request, web_user, account, status_code=422)
    plan = await import_catalog(session, account_id=account.id, items=items, user=user, apply=False)
    if fingerprint(plan) != expected:
        return _preview(
            request, web_user, account, plan, carried=carried, filename=filename, moved=True
        )
    result = await import_catalog(session, account_id=account.id, items=items, user=user)
    c, p = result.cooperation_counts, result.product_counts
    return RedirectResponse(
        f"/catalog?account_id={account.id}&imported={result.cooperations}-{result.products}"
        f"&changes={c.new}-{p.new}-{c.changed}-{p.changed}",
        status_code=303,
    )
