from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, UploadFile, status

from app.catalog import service
from app.catalog.importer import ImportError_, parse_catalog
from app.catalog.schemas import (
    CooperationIn,
    CooperationOut,
    ImportResult,
    ProductIn,
    ProductOut,
    ProductUpdate,
)
from app.core.offload import run_cpu_bound
from app.deps import CurrentUser, Id, SessionDep
from app.errors import API_ERRORS
from app.users.service import ensure_access

router = APIRouter(prefix="/api/v1", tags=["catalog"], responses=API_ERRORS)

MAX_IMPORT_BYTES = 10 * 1024 * 1024


@router.post(
    "/accounts/{account_id}/cooperations",
    response_model=CooperationOut,
    status_code=status.HTTP_201_CREATED,
)
async def create_cooperation(
    account_id: Id, data: CooperationIn, session: SessionDep, user: CurrentUser
) -> CooperationOut:
    return await service.create_cooperation(session, user=user, account_id=account_id, data=data)


@router.get("/accounts/{account_id}/cooperations", response_model=list[CooperationOut])
async def list_cooperations(
    account_id: Id, session: SessionDep, user: CurrentUser
) -> list[CooperationOut]:
    return await service.list_cooperations(session, user=user, account_id=account_id)


@router.post(
    "/accounts/{account_id}/catalog/import",
    response_model=ImportResult,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "dry run: what the import would change, nothing written"}},
)
async def import_catalog(
    account_id: Id,
    file: UploadFile,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    dry_run: Annotated[
        bool, Query(description="only say what the import would change (200), write nothing")
    ] = False,
) -> ImportResult:
    """Imports a CSV or JSON file (the CLI's format) and applies it at once: cooperations
    matched by brand and campaign (title), products by name within their cooperation, both
    without regard to case or spacing, are updated; new ones are added; entries the file
    does not name are kept and listed in `kept` / `kept_products`. All or nothing: any
    invalid row is a 422 listing every problem. `dry_run=true` answers the same report
    (`applied: false`) without writing: the preview the web page shows."""
    await ensure_access(session, user, account_id)
    content = await file.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise ImportError_([f"file larger than {MAX_IMPORT_BYTES} bytes"])
    items = await run_cpu_bound(parse_catalog, content, file.filename or "")
    result = await service.import_catalog(
        session, account_id=account_id, items=items, user=user, apply=not dry_run
    )
    if dry_run:
        response.status_code = status.HTTP_200_OK
    return result


@router.get("/products/{product_id}", response_model=ProductOut)
async def get_product(product_id: Id, session: SessionDep, user: CurrentUser) -> ProductOut:
    return ProductOut.model_validate(
        await service.get_product(session, user=user, product_id=product_id)
    )


@router.patch("/products/{product_id}", response_model=ProductOut)
async def update_product(
    product_id: Id, data: ProductUpdate, session: SessionDep, user: CurrentUser
) -> ProductOut:
    product = await service.update_product(session, user=user, product_id=product_id, data=data)
    await session.flush()
    await session.refresh(product)
    return ProductOut.model_validate(product)


@router.delete("/products/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_product(product_id: Id, session: SessionDep, user: CurrentUser) -> Response:
    await service.delete_product(session, user=user, product_id=product_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/cooperations/{cooperation_id}", response_model=CooperationOut)
async def update_cooperation(
    cooperation_id: Id, data: CooperationIn, session: SessionDep, user: CurrentUser
) -> CooperationOut:
    """Replaces brand, title, period, notes and platform posts; `products` must be empty
    (products are added with `POST .../products` and edited with `PATCH /products/{id}`)."""
    return await service.update_cooperation(
        session, user=user, cooperation_id=cooperation_id, data=data
    )


@router.post(
    "/cooperations/{cooperation_id}/products",
    response_model=ProductOut,
    status_code=status.HTTP_201_CREATED,
)
async def add_product(
    cooperation_id: Id, data: ProductIn, session: SessionDep, user: CurrentUser
) -> ProductOut:
    product = await service.add_product(
        session, user=user, cooperation_id=cooperation_id, data=data
    )
    await session.refresh(product)
    return ProductOut.model_validate(product)
