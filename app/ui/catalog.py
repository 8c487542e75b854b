"""Pages: the catalog of the user's accounts (list, search, add and edit cooperations and
products); the settings page (app/ui/rules.py) and the import (app/ui/catalog_import.py)
are included here."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.accounts.service import list_accounts
from app.catalog import service as catalog
from app.core.clock import utc_now
from app.deps import Id, OptionalId, SessionDep
from app.errors import NotFound
from app.models import Cooperation, Product, User
from app.ui import catalog_forms as forms
from app.ui.catalog_import import router as import_router
from app.ui.rules import router as rules_router
from app.users.service import ensure_access
from app.web import CheckedWebUser, WebUser, not_found_page, page

router = APIRouter(include_in_schema=False)
router.include_router(rules_router)
router.include_router(import_router)

WebUserPair = tuple[User, Any]


def _common(web_user: WebUserPair) -> dict[str, Any]:
    user, web_session = web_user
    return {"user": user, "csrf_token": web_session.csrf_token, "nav": "catalog"}


@router.get("/catalog", response_class=HTMLResponse)
async def catalog_page(
    request: Request,
    session: SessionDep,
    web_user: WebUser,
    account_id: OptionalId = None,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    user = web_user[0]
    accounts = await list_accounts(session, user=user)
    ids = [a.id for a in accounts]
    if account_id is not None and account_id not in ids:
        return not_found_page(request, user, back="/catalog")
    selected = account_id or (ids[0] if ids else None)
    cooperations = (
        []
        if selected is None
        else await catalog.search_cooperations(session, user=user, account_id=selected, query=q)
    )
    imported = re.fullmatch(r"(\d{1,9})-(\d{1,9})", request.query_params.get("imported", ""))
    changes = re.fullmatch(
        r"(\d{1,9})-(\d{1,9})-(\d{1,9})-(\d{1,9})", request.query_params.get("changes", "")
    )
    context = {
        **_common(web_user),
        "imported": imported.groups() if imported else None,
        "import_changes": [int(n) for n in changes.groups()] if changes else None,
        "accounts": accounts,
        "selected": selected,
        "q": q,
        "cooperations": cooperations,
        "today": utc_now().date(),
        "code_state": forms.code_state,
        "cooperation_state": forms.cooperation_state,
    }
    if request.headers.get("hx-target") == "catalog-results":
        return page(request, "catalog/_results.html", **context)
    return page(request, "catalog/index.html", **context)


# Cooperations


def _cooperation_form(
    request: Request,
    web_user: WebUserPair,
    *,
    account_id: int,
    action: str,
    values: dict[str, Any],
    errors: dict[str, str],
    editing: bool,
) -> HTMLResponse:
    return page(
        request,
        "catalog/cooperation_form.html",
        status_code=422 if errors else 200,
        **_common(web_user),
        account_id=account_id,
        action=action,
        values=values,
        errors=errors,
        editing=editing,
    )


def _back(account_id: int, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/catalog?account_id={account_id}#{anchor}", status_code=303)


@router.get("/catalog/cooperations/new", response_class=HTMLResponse)
async def new_cooperation(
    request: Request,
    session: SessionDep,
    web_user: WebUser,
    account_id: Annotated[int, Query(ge=1, le=2**31 - 1)],
) -> Response:
    try:
        await ensure_access(session, web_user[0], account_id)
    except NotFound:
        return not_found_page(request, web_user[0], back="/catalog")
    return _cooperation_form(
        request,
        web_user,
        account_id=account_id,
        action=f"/catalog/cooperations/new?account_id={account_id}",
        values=forms.cooperation_values(None),
        errors={},
        editing=False,
    )


@router.post("/catalog/cooperations/new", response_class=HTMLResponse)
async def create_cooperation(
    request: Request,
    session: SessionDep,
    web_user: CheckedWebUser,
    account_id: Annotated[int, Query(ge=1, le=2**31 - 1)],
) -> Response:
    user = web_user[0]
    try:
        await ensure_access(session, user, account_id)
    except NotFound:
        return not_found_page(request, user, back="/catalog")
    values, data, errors = forms.parse_cooperation(await request.form())
    if data is None:
        return _cooperation_form(
            request,
            web_user,
            account_id=account_id,
            action=f"/catalog/cooperations/new?account_id={account_id}",
            values=values,
            errors=errors,
            editing=False,
        )
    created = await catalog.create_cooperation(session, user=user, account_id=account_id, data=data)
    return _back(account_id, f"cooperation-{created.id}")


async def _find_cooperation(
    session: SessionDep, user: User, cooperation_id: int
) -> Cooperation | None:
    """The cooperation if the user may see it, else None (the page answers 404)."""
    try:
        return await catalog.get_cooperation(session, user=user, cooperation_id=cooperation_id)
    except NotFound:
        return None


async def _find_product(session: SessionDep, user: User, product_id: int) -> Product | None:
    try:
        return await catalog.get_product(session, user=user, product_id=product_id)
    except NotFound:
        return None


def _edit_cooperation_form(
    request: Request,
    web_user: WebUserPair,
    cooperation: Cooperation,
    values: dict[str, Any],
    errors: dict[str, str],
) -> HTMLResponse:
    return _cooperation_form(
        request,
        web_user,
        account_id=cooperation.account_id,
        action=f"/catalog/cooperations/{cooperation.id}/edit",
        values=values,
        errors=errors,
        editing=True,
    )


@router.get("/catalog/cooperations/{cooperation_id}/edit", response_class=HTMLResponse)
async def edit_cooperation(
    request: Request, cooperation_id: Id, session: SessionDep, web_user: WebUser
) -> Response:
    cooperation = await _find_cooperation(session, web_user[0], cooperation_id)
    if cooperation is None:
        return not_found_page(request, web_user[0], "cooperation", back="/catalog")
    values = forms.cooperation_values(cooperation)
    return _edit_cooperation_form(request, web_user, cooperation, values, {})


@router.post("/catalog/cooperations/{cooperation_id}/edit", response_class=HTMLResponse)
async def update_cooperation(
    request: Request, cooperation_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    user = web_user[0]
    cooperation = await _find_cooperation(session, user, cooperation_id)
    if cooperation is None:
        return not_found_page(request, user, "cooperation", back="/catalog")
    values, data, errors = forms.parse_cooperation(await request.form())
    if data is None:
        return _edit_cooperation_form(request, web_user, cooperation, values, errors)
    await catalog.update_cooperation(session, user=user, cooperation_id=cooperation.id, data=data)
    return _back(cooperation.account_id, f"cooperation-{cooperation.id}")


# Products


def _product_form(
    request: Request,
    web_user: WebUserPair,
    *,
    account_id: int,
    brand: str,
    action: str,
    values: dict[str, Any],
    errors: dict[str, str],
    editing: bool,
) -> HTMLResponse:
    return page(
        request,
        "catalog/product_form.html",
        status_code=422 if errors else 200,
        **_common(web_user),
        account_id=account_id,
        brand=brand,
        action=action,
        values=values,
        errors=errors,
        editing=editing,
    )


def _new_product_form(
    request: Request,
    web_user: WebUserPair,
    cooperation: Cooperation,
    values: dict[str, Any],
    errors: dict[str, str],
) -> HTMLResponse:
    return _product_form(
        request,
        web_user,
        account_id=cooperation.account_id,
        brand=cooperation.brand,
        action=f"/catalog/cooperations/{cooperation.id}/products/new",
        values=values,
        errors=errors,
        editing=False,
    )


async def _edit_product_form(
    request: Request,
    session: SessionDep,
    web_user: WebUserPair,
    product: Product,
    values: dict[str, Any],
    errors: dict[str, str],
) -> HTMLResponse:
    cooperation = await catalog.get_cooperation(
        session, user=web_user[0], cooperation_id=product.cooperation_id
    )
    return _product_form(
        request,
        web_user,
        account_id=product.account_id,
        brand=cooperation.brand,
        action=f"/catalog/products/{product.id}/edit",
        values=values,
        errors=errors,
        editing=True,
    )


@router.get("/catalog/cooperations/{cooperation_id}/products/new", response_class=HTMLResponse)
async def new_product(
    request: Request, cooperation_id: Id, session: SessionDep, web_user: WebUser
) -> Response:
    cooperation = await _find_cooperation(session, web_user[0], cooperation_id)
    if cooperation is None:
        return not_found_page(request, web_user[0], "cooperation", back="/catalog")
    return _new_product_form(request, web_user, cooperation, forms.product_values(None), {})


@router.post("/catalog/cooperations/{cooperation_id}/products/new", response_class=HTMLResponse)
async def create_product(
    request: Request, cooperation_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    user = web_user[0]
    cooperation = await _find_cooperation(session, user, cooperation_id)
    if cooperation is None:
        return not_found_page(request, user, "cooperation", back="/catalog")
    values, data, errors = forms.parse_new_product(await request.form())
    if data is None:
        return _new_product_form(request, web_user, cooperation, values, errors)
    product = await catalog.add_product(
        session, user=user, cooperation_id=cooperation.id, data=data
    )
    return _back(cooperation.account_id, f"product-{product.id}")


@router.get("/catalog/products/{product_id}/edit", response_class=HTMLResponse)
async def edit_product(
    request: Request, product_id: Id, session: SessionDep, web_user: WebUser
) -> Response:
    product = await _find_product(session, web_user[0], product_id)
    if product is None:
        return not_found_page(request, web_user[0], "product", back="/catalog")
    values = forms.product_values(product)
    return await _edit_product_form(request, session, web_user, product, values, {})


@router.post("/catalog/products/{product_id}/edit", response_class=HTMLResponse)
async def update_product(
    request: Request, product_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    user = web_user[0]
    product = await _find_product(session, user, product_id)
    if product is None:
        return not_found_page(request, user, "product", back="/catalog")
    values, data, errors = forms.parse_product_update(await request.form())
    if data is None:
        return await _edit_product_form(request, session, web_user, product, values, errors)
    await catalog.update_product(session, user=user, product_id=product.id, data=data)
    return _back(product.account_id, f"product-{product.id}")
