"""Pages: a cooperation's report for the brand (figures, chart, products, a range form) and
its CSV and PDF downloads for members of the account; the JSON API is app/reports/router.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.deps import Id, SessionDep
from app.errors import NotFound
from app.reports.chart import chart
from app.reports.router import as_file
from app.reports.schemas import FIGURE_WORDS, Report
from app.reports.service import BadRange, report
from app.web import WebUser, error_page, not_found_page, page

router = APIRouter(include_in_schema=False)


def _day(value: str, name: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise BadRange(f"“{name}” is not a date (YYYY-MM-DD)") from exc


def _query(found: Report) -> str:
    return urlencode({"from": found.first.isoformat(), "to": found.last.isoformat()})


@router.get("/cooperations/{cooperation_id}/report", response_class=HTMLResponse)
async def report_page(
    request: Request,
    cooperation_id: Id,
    session: SessionDep,
    web_user: WebUser,
    first: Annotated[str, Query(alias="from", max_length=10)] = "",
    last: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    user, web_session = web_user
    error = None
    try:
        try:
            found = await report(
                session,
                user=user,
                cooperation_id=cooperation_id,
                first=_day(first, "From"),
                last=_day(last, "To"),
            )
        except BadRange as exc:
            # The cooperation's own range, with the reason the asked one was refused.
            error = exc.message
            found = await report(session, user=user, cooperation_id=cooperation_id)
    except NotFound:
        return not_found_page(request, user, "cooperation", back="/catalog")
    return page(
        request,
        "reports/report.html",
        status_code=422 if error else 200,
        user=user,
        csrf_token=web_session.csrf_token,
        nav="catalog",
        report=found,
        chart=chart(found.days),
        words=FIGURE_WORDS,
        query=_query(found),
        asked={"from": first, "to": last},
        error=error,
    )


@router.get("/cooperations/{cooperation_id}/report.{extension}")
async def report_file(
    request: Request,
    cooperation_id: Id,
    extension: str,
    session: SessionDep,
    web_user: WebUser,
    first: Annotated[str, Query(alias="from", max_length=10)] = "",
    last: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    """Download CSV / Download PDF: the same report as a file (the API's `format`)."""
    user, web_session = web_user
    if extension not in ("csv", "pdf"):
        return not_found_page(request, user, "page", back="/catalog")
    try:
        found = await report(
            session,
            user=user,
            cooperation_id=cooperation_id,
            first=_day(first, "From"),
            last=_day(last, "To"),
        )
    except NotFound:
        return not_found_page(request, user, "cooperation", back="/catalog")
    except BadRange as exc:
        return error_page(request, 422, exc.message, user=user, csrf_token=web_session.csrf_token)
    return await as_file(found, "csv" if extension == "csv" else "pdf")
