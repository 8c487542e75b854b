"""`GET /l/{token}`: a tracked link. Public: the follower who got it has no account here."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.deps import SessionDep
from app.errors import NotFound
from app.links import service
from app.users.sessions import COOKIE_NAME
from app.web import message_page, wants_page

router = APIRouter(tags=["links"])

# Where the follower goes must not learn the short link (the token), nor may a cache keep
# the answer: each click should reach us to be counted.
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


NOT_FOUND = "This link does not lead anywhere (any more)"


class LinkNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(NOT_FOUND[:1].lower() + NOT_FOUND[1:])


@router.get(
    "/l/{token}",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "to the product's page"}, 404: {"description": "unknown"}},
)
async def follow_link(token: str, request: Request, session: SessionDep) -> Response:
    """302 to the product's catalog URL with its cooperation's UTM parameters, counted as a
    click unless it comes from a link-preview fetcher or a bot, is a HEAD request, comes
    from a browser signed in to inboxpilot, or repeats a click on the same link within a
    minute. 404 for an unknown token."""
    target = await service.follow(
        session,
        token=token,
        method=request.method,
        user_agent=request.headers.get("user-agent"),
        # A browser signed in to inboxpilot (or that was): someone of the team, not a
        # follower. Only the cookie's presence is looked at, so it costs no lookup.
        our_user=COOKIE_NAME in request.cookies,
    )
    if target is None:
        if wants_page(request):
            # A follower's browser: no way into the influencer's app from here.
            return message_page(request, "Not found", NOT_FOUND + ".", status_code=404)
        raise LinkNotFound()
    return RedirectResponse(target, status_code=302, headers=_HEADERS)


# The same for HEAD (a link checker's; redirected, never counted), undocumented: one
# operation in the schema per path and purpose.
router.add_api_route("/l/{token}", follow_link, methods=["HEAD"], include_in_schema=False)
