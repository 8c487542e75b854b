from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app.core.offload import run_cpu_bound
from app.deps import CurrentUser, Id, SessionDep
from app.errors import API_ERRORS
from app.reports.export import as_csv, filename
from app.reports.pdf import render_pdf
from app.reports.schemas import Report
from app.reports.service import report

router = APIRouter(prefix="/api/v1", tags=["reports"], responses=API_ERRORS)


def download(content: str | bytes, media_type: str, name: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def as_file(found: Report, file_format: Literal["csv", "pdf"]) -> Response:
    if file_format == "csv":
        return download(as_csv(found), "text/csv; charset=utf-8", filename(found, "csv"))
    pdf = await run_cpu_bound(render_pdf, found)
    return download(pdf, "application/pdf", filename(found, "pdf"))


@router.get(
    "/cooperations/{cooperation_id}/report",
    response_model=Report,
    responses={
        200: {
            "content": {"text/csv": {}, "application/pdf": {}},
            "description": "the report; with format=csv one row per day, with format=pdf "
            "the A4 document for the brand",
        }
    },
)
async def get_report(
    cooperation_id: Id,
    session: SessionDep,
    user: CurrentUser,
    first: Annotated[date | None, Query(alias="from", description="first UTC day")] = None,
    last: Annotated[date | None, Query(alias="to", description="last UTC day, included")] = None,
    file_format: Annotated[Literal["json", "csv", "pdf"], Query(alias="format")] = "json",
) -> Report | Response:
    """What the cooperation brought, in total, per UTC day (every day of the range, zeros
    included) and per product. The range defaults to the cooperation's dates up to today;
    at most 400 days (422 beyond, or when `from` is after `to`)."""
    found = await report(session, user=user, cooperation_id=cooperation_id, first=first, last=last)
    if file_format == "json":
        return found
    return await as_file(found, file_format)
