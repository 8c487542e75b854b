"""A token typed in by hand must belong to the account it is saved for.

Anyone can type any Instagram or Page id; only the account's real owner (or someone they
gave a token to) holds a token Meta answers for that id. So outside sandbox mode a token
given through the API is checked with `GET /me` before anything is saved
(INTERFACE.md, "Security additions"):

- Messenger (a Page token, graph.facebook.com): `id` must be the Page's id;
- Instagram through a Page (`graph_host` facebook): `instagram_business_account.id` must
  be the account's id (and `id` its Page's, when the Page id was given);
- Instagram Login (`graph_host` instagram, graph.instagram.com): `user_id` must be it.
"""

from __future__ import annotations

import structlog

from app.config import Settings
from app.errors import AppError
from app.meta import errors as graph_errors
from app.meta.graph import GraphClient, GraphHost, SendTarget, TokenOwner

log = structlog.get_logger("app.accounts")


class TokenRejected(AppError):
    """The token is not the account's: nothing is saved."""

    status_code = 422


class TokenUncheckable(AppError):
    """Meta could not be asked now; nothing is saved, the same request may work later."""

    status_code = 503


async def check_token(
    graph: GraphClient,
    settings: Settings,
    *,
    platform: str,
    graph_host: GraphHost,
    external_id: str,
    page_id: str | None,
    access_token: str,
) -> str | None:
    """Raises unless the token speaks for the account; the Page id Meta answered, if any."""
    if platform == "messenger" and graph_host != "facebook":
        raise TokenRejected("a Messenger account uses a Page token: graph_host must be facebook")
    secret = settings.META_APP_SECRET
    target = SendTarget(
        graph_host=graph_host,
        sender_id="me",
        access_token=access_token,
        app_secret=None if secret is None else secret.get_secret_value(),
    )
    try:
        owner = await graph.get_me(target)
    except graph_errors.GraphRetryLater as exc:
        _log_failure(exc)
        raise TokenUncheckable(
            "Meta could not be reached to check the access token; nothing was saved, try again"
        ) from exc
    except graph_errors.GraphError as exc:
        _log_failure(exc)
        raise TokenRejected(
            f"Meta refused the access token ({type(exc).__name__}); nothing was saved"
        ) from exc
    if _answered_id(owner, platform) != external_id:
        raise TokenRejected(
            f"the access token does not belong to {platform} account {external_id}; "
            "nothing was saved"
        )
    if platform == "instagram" and graph_host == "facebook":
        if page_id is not None and owner.id != page_id:
            raise TokenRejected(f"the access token is not the token of Page {page_id}")
        return owner.id
    return page_id


def _answered_id(owner: TokenOwner, platform: str) -> str | None:
    if platform == "messenger":
        return owner.id
    return owner.instagram_account_id


def _log_failure(exc: graph_errors.GraphError) -> None:
    log.warning(
        "accounts.token_check_failed",
        error_class=type(exc).__name__,
        code=exc.code,
        subcode=exc.subcode,
        fbtrace_id=exc.fbtrace_id,
    )
