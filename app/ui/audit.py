"""The audit browser: admins read who did what, when, newest first."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.audit.service import AuditFilter, AuditRow, browse, filter_choices
from app.deps import MAX_ID, OptionalId, SessionDep
from app.web import WebUser, page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
# Suggestions for the action filter (any prefix works).
ACTION_PREFIXES = (
    "user.",
    "user.sign_in_failed",
    "invitation.",
    "draft.",
    "conversation.",
    "catalog.",
    "policy.",
    "account.",
    "outbox.",
    "comment.",
    "contact.",
    "privacy.",
)
Text = Annotated[str, Query(max_length=100)]


def _id(value: str, errors: list[str], what: str) -> int | None:
    if not value:
        return None
    if value.isdigit() and 0 < int(value) <= MAX_ID:
        return int(value)
    errors.append(f"{what} is not valid and was ignored")
    return None


def _day(value: str, errors: list[str], what: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"{what} is not a date (YYYY-MM-DD) and was ignored")
        return None


def readable_details(details: Any) -> list[tuple[str, str]]:
    """Each detail as a key and a one-line value (escaped by the template)."""
    if not isinstance(details, dict):
        return [("", json.dumps(details, ensure_ascii=False, default=str))]
    pairs = []
    for key, value in sorted(details.items()):
        if isinstance(value, str):
            text = value
        elif value is None or isinstance(value, bool | int | float):
            text = json.dumps(value)
        else:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        pairs.append((str(key), text if len(text) <= 2000 else text[:2000] + "…"))
    return pairs


def _who(row: AuditRow) -> str:
    entry = row.entry
    if entry.actor == "user":
        return row.user_email or (f"user #{entry.user_id}" if entry.user_id else "a removed user")
    return entry.actor


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_log(
    request: Request,
    session: SessionDep,
    web_user: WebUser,
    action: Text = "",
    account: Text = "",
    user: Text = "",
    since: Text = "",
    until: Text = "",
    before: OptionalId = None,
    after: OptionalId = None,
) -> Response:
    me, web_session = web_user
    if me.role != "admin":
        return page(
            request,
            "message.html",
            status_code=403,
            title="Not allowed",
            message="Only admins may open this page.",
            hint=None,
            link="/",
            link_text="Back to the start",
            is_error=True,
            user=me,
            csrf_token=web_session.csrf_token,
        )
    errors: list[str] = []
    start, end = _day(since, errors, "From"), _day(until, errors, "To")
    filters = AuditFilter(
        action_prefix=action.strip() or None,
        account_id=_id(account, errors, "The account"),
        user_id=_id(user, errors, "The user"),
        since=None if start is None else datetime.combine(start, time(), UTC),
        until=None if end is None else datetime.combine(end + timedelta(days=1), time(), UTC),
    )
    result = await browse(
        session, filters=filters, before_id=before, after_id=after, limit=PAGE_SIZE
    )
    accounts, users = await filter_choices(session)
    kept = {"action": action, "account": account, "user": user, "since": since, "until": until}
    kept = {k: v for k, v in kept.items() if v}
    rows = [
        {
            "entry": row.entry,
            "who": _who(row),
            "account": row.account_name,
            "details": readable_details(row.entry.details),
        }
        for row in result.rows
    ]
    return page(
        request,
        "audit/list.html",
        user=me,
        csrf_token=web_session.csrf_token,
        nav="audit",
        rows=rows,
        filters=kept,
        errors=errors,
        accounts=accounts,
        users=users,
        prefixes=ACTION_PREFIXES,
        newer_url=_link(kept, after=result.rows[0].entry.id)
        if result.has_newer and result.rows
        else None,
        older_url=_link(kept, before=result.rows[-1].entry.id)
        if result.has_older and result.rows
        else None,
        newest_url=_link(kept) if (before or after) else None,
    )


def _link(kept: dict[str, str], **cursor: int) -> str:
    return "/admin/audit?" + urlencode({**kept, **cursor})
