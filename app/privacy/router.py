"""Meta's privacy callbacks, the deletion status page, and followers' export and erasure."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.deps import CurrentUser, Id, SessionDep, SettingsDep
from app.errors import API_ERRORS, NotFound
from app.meta.signed_request import (
    MAX_SIGNED_REQUEST_CHARS,
    SignedRequest,
    SignedRequestError,
    field_from_form,
    parse_signed_request,
)
from app.privacy import contacts, service
from app.privacy.schemas import CallbackOk, ContactExport, DeletionAnswer
from app.web import message_page, page

router = APIRouter(tags=["privacy"])

# The form holds one field of a few hundred bytes; the limit is checked while reading, so
# a huge or endless body is refused without being held in memory.
MAX_FORM_BYTES = MAX_SIGNED_REQUEST_CHARS * 2

_SIGNED_REQUEST_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["signed_request"],
                    "properties": {"signed_request": {"type": "string"}},
                }
            }
        },
    },
    "responses": {"400": {"description": "signed_request missing, malformed or forged"}},
}


async def _signed_request(request: Request, settings: SettingsDep) -> SignedRequest:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise SignedRequestError("form body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise SignedRequestError("form body too large")
    return parse_signed_request(field_from_form(bytes(body)), settings.webhook_secrets)


@router.post("/meta/deauthorize", response_model=CallbackOk, openapi_extra=_SIGNED_REQUEST_FORM)
async def deauthorize(request: Request, session: SessionDep, settings: SettingsDep) -> CallbackOk:
    """Meta: the user removed our app. Their accounts are disconnected; history is kept."""
    signed = await _signed_request(request, settings)
    await service.deauthorize(session, meta_user_id=signed.user_id)
    return CallbackOk()


@router.post(
    "/meta/data-deletion", response_model=DeletionAnswer, openapi_extra=_SIGNED_REQUEST_FORM
)
async def data_deletion(
    request: Request, session: SessionDep, settings: SettingsDep
) -> DeletionAnswer:
    """Meta: the user asks for their data to be deleted. Answered at once; a job erases."""
    signed = await _signed_request(request, settings)
    deletion = await service.request_deletion(session, settings, meta_user_id=signed.user_id)
    code = deletion.confirmation_code
    return DeletionAnswer(url=service.status_url(settings, code), confirmation_code=code)


@router.get("/meta/data-deletion/{code}", response_class=HTMLResponse)
async def deletion_status(request: Request, code: str, session: SessionDep) -> HTMLResponse:
    """The human-readable status of a deletion request (the url given to Meta)."""
    try:
        deletion = await service.get_deletion_request(session, code)
    except NotFound:
        return message_page(
            request,
            "Unknown deletion request",
            "No data deletion request has this confirmation code.",
            status_code=404,
        )
    return page(request, "deletion_status.html", **service.status_view(deletion))


@router.get(
    "/api/v1/contacts/{contact_id}/export", response_model=ContactExport, responses=API_ERRORS
)
async def export_contact(contact_id: Id, session: SessionDep, user: CurrentUser) -> ContactExport:
    """Everything stored about one follower (a data subject's access request)."""
    return await contacts.export_contact(session, user=user, contact_id=contact_id)


@router.delete(
    "/api/v1/contacts/{contact_id}",
    status_code=204,
    response_class=Response,
    responses=API_ERRORS,
)
async def erase_contact(contact_id: Id, session: SessionDep, user: CurrentUser) -> Response:
    """Erases one follower: profile, conversation, messages, drafts, replies, raw events."""
    await contacts.erase_contact(session, user=user, contact_id=contact_id)
    return Response(status_code=204)
