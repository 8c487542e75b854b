"""Connecting accounts through Meta's logins: start, callback, the Page picker, save.

Facebook Login for Business ends on a picker: the callback stores the Pages Meta
returned (tokens included, encrypted) on the used OAuth state, and the influencer ticks
which Pages (Messenger) and linked Instagram accounts to connect. Instagram Login
connects its one account straight away (`app.accounts.instagram_login`). Either way the
app then subscribes itself to the account's webhooks; a failed subscription leaves the
account connected but flagged.
Every failure ends in `ConnectFailed`, which the router shows as a page.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.linking import (
    Connection,
    flag_subscription_failure,
    save_connection,
)
from app.accounts.oauth_states import (
    FACEBOOK_LOGIN,
    INSTAGRAM_LOGIN,
    PICKER_LIFETIME,
    START_PATHS,
    ConnectFailed,
    claim_state,
    create_state,
    load_state,
    sign_state,
)
from app.accounts.permissions import comments_problem
from app.config import Settings
from app.core.clock import as_utc, utc_now
from app.core.crypto import TokenCipher
from app.meta import errors as graph_errors
from app.meta.oauth import FACEBOOK_SCOPES, LinkedInstagram, MetaOAuthClient, PageCandidate
from app.models import Account, OAuthState, User

log = structlog.get_logger("app.accounts")

CALLBACK_PATHS = {
    FACEBOOK_LOGIN: "/oauth/meta/callback",
    INSTAGRAM_LOGIN: "/oauth/instagram/callback",
}
MESSENGER_NEEDS = frozenset({"pages_show_list", "pages_manage_metadata", "pages_messaging"})
INSTAGRAM_NEEDS = frozenset(
    {"pages_show_list", "pages_manage_metadata", "instagram_basic", "instagram_manage_messages"}
)
_MESSAGING_TASKS = frozenset({"MESSAGING", "MODERATE", "MANAGE"})


@dataclass(frozen=True, slots=True)
class Callback:
    """What Meta put on the redirect back to us."""

    state: str | None = None
    code: str | None = None
    error: str | None = None
    error_reason: str | None = None
    error_description: str | None = None


@dataclass(frozen=True, slots=True)
class PageChoice:
    """One row of the picker (no token: this goes to the template)."""

    id: str
    name: str
    picture_url: str | None
    messenger_allowed: bool
    instagram: LinkedInstagram | None
    instagram_allowed: bool
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Picker:
    state: str
    pages: list[PageChoice]
    missing_permissions: list[str]


@dataclass(frozen=True, slots=True)
class Connected:
    accounts: list[Account]
    subscription_failures: int


def redirect_uri(settings: Settings, provider: str) -> str:
    return settings.PUBLIC_URL.rstrip("/") + CALLBACK_PATHS[provider]


async def begin(
    session: AsyncSession, *, user: User, provider: str, settings: Settings, oauth: MetaOAuthClient
) -> str:
    """Creates the OAuth state; the URL of Meta's login dialog to send the browser to."""
    state = await create_state(session, user=user, provider=provider)
    value, uri = sign_state(settings, state.id), redirect_uri(settings, provider)
    if provider == FACEBOOK_LOGIN:
        return oauth.facebook_dialog_url(state=value, redirect_uri=uri)
    return oauth.instagram_authorize_url(state=value, redirect_uri=uri)


# --- Facebook Login for Business -----------------------------------------------------------


async def facebook_callback(
    session: AsyncSession,
    *,
    user: User,
    callback: Callback,
    settings: Settings,
    oauth: MetaOAuthClient,
    cipher: TokenCipher,
) -> str:
    """Checks the answer, fetches the Pages, keeps them on the state; the state value."""
    state = await claim_state(
        session, user=user, provider=FACEBOOK_LOGIN, value=callback.state, settings=settings
    )
    code = code_or_raise(callback, FACEBOOK_LOGIN)
    try:
        short = await oauth.exchange_facebook_code(
            code, redirect_uri=redirect_uri(settings, FACEBOOK_LOGIN)
        )
        token = await oauth.extend_facebook_token(short.access_token)
        meta_user_id = await oauth.facebook_user_id(token.access_token)
        granted = await oauth.facebook_permissions(token.access_token)
        pages = await oauth.facebook_pages(token.access_token)
    except graph_errors.GraphError as exc:
        raise graph_failure(exc, FACEBOOK_LOGIN) from exc
    _check_facebook_grant(granted, pages)
    payload = {
        "meta_user_id": meta_user_id,
        "granted": sorted(granted),
        "pages": [asdict(page) for page in pages],
    }
    state.payload_encrypted = cipher.encrypt(json.dumps(payload))
    state.expires_at = utc_now() + PICKER_LIFETIME
    log.info("accounts.facebook_login_fetched", pages=len(pages), missing=len(_missing(granted)))
    return sign_state(settings, state.id)


def _check_facebook_grant(granted: frozenset[str], pages: list[PageCandidate]) -> None:
    if not (MESSENGER_NEEDS <= granted or INSTAGRAM_NEEDS <= granted):
        missing = ", ".join(sorted((MESSENGER_NEEDS | INSTAGRAM_NEEDS) - granted))
        raise ConnectFailed(
            "A permission is missing",
            f"inboxpilot needs these permissions to answer messages: {missing}.",
            hint="Connect again and leave every permission switched on in Facebook's dialog.",
            retry_path=START_PATHS[FACEBOOK_LOGIN],
        )
    if not pages:
        raise ConnectFailed(
            "No Facebook Page was shared",
            "Meta returned no Page that you manage and shared with inboxpilot.",
            hint=(
                "Connect again and select your Page (and its Instagram account) in Facebook's "
                "dialog. You need a role on the Page that may send messages. For Instagram "
                "without a Page, use “Connect with Instagram”."
            ),
            retry_path=START_PATHS[FACEBOOK_LOGIN],
        )


def _missing(granted: frozenset[str] | set[str]) -> list[str]:
    return sorted(set(FACEBOOK_SCOPES) - set(granted))


async def picker(
    session: AsyncSession, *, user: User, value: str | None, settings: Settings, cipher: TokenCipher
) -> Picker:
    """The Pages of a finished Facebook callback, as the influencer can choose them."""
    _state, payload = await _picker_payload(
        session, user=user, value=value, settings=settings, cipher=cipher
    )
    return _picker_of(value or "", payload)


def _picker_of(value: str, payload: dict[str, Any]) -> Picker:
    granted = set(payload["granted"])
    messenger_ok, instagram_ok = MESSENGER_NEEDS <= granted, INSTAGRAM_NEEDS <= granted
    choices = [
        _choice(_page_from(raw), messenger_ok=messenger_ok, instagram_ok=instagram_ok)
        for raw in payload["pages"]
    ]
    return Picker(state=value, pages=choices, missing_permissions=_missing(granted))


def _choice(page: PageCandidate, *, messenger_ok: bool, instagram_ok: bool) -> PageChoice:
    notes = []
    if page.instagram is None:
        notes.append(
            "No Instagram professional account is linked to this Page, so it can be connected "
            "for Messenger only. Link one in the Instagram app (Settings → Account type and "
            "tools → Sharing to other apps) or use “Connect with Instagram”."
        )
    if not messenger_ok:
        notes.append("Messenger needs the pages_messaging permission, which was not granted.")
    if page.instagram is not None and not instagram_ok:
        notes.append("Instagram needs instagram_manage_messages, which was not granted.")
    if page.tasks and not _MESSAGING_TASKS & set(page.tasks):
        notes.append("Your role on this Page may not allow sending messages.")
    return PageChoice(
        id=page.id,
        name=page.name,
        picture_url=page.picture_url,
        messenger_allowed=messenger_ok,
        instagram=page.instagram,
        instagram_allowed=instagram_ok and page.instagram is not None,
        notes=tuple(notes),
    )


async def connect_selected(
    session: AsyncSession,
    *,
    user: User,
    value: str | None,
    messenger_ids: list[str],
    instagram_ids: list[str],
    settings: Settings,
    oauth: MetaOAuthClient,
    cipher: TokenCipher,
) -> Connected:
    """Connects the ticked Pages and Instagram accounts, then subscribes their Pages."""
    state, payload = await _picker_payload(
        session, user=user, value=value, settings=settings, cipher=cipher
    )
    pages = {p.id: p for p in map(_page_from, payload["pages"])}
    chosen = _chosen(_picker_of(value or "", payload), pages, messenger_ids, instagram_ids)
    if not chosen:
        raise ConnectFailed(
            "Nothing was selected",
            "Tick at least one Page or Instagram account to connect.",
            retry_path=f"/oauth/meta/connect?state={quote(value or '')}",
        )
    accounts: dict[str, list[Account]] = {}
    for page, platform in chosen:
        connection = _facebook_connection(
            page, platform, payload["meta_user_id"], frozenset(payload["granted"])
        )
        account = await save_connection(
            session, user=user, connection=connection, cipher=cipher, settings=settings
        )
        accounts.setdefault(page.id, []).append(account)
    state.payload_encrypted = None  # the tokens are with the accounts now; the choice is made
    failures = 0
    for page_id, page_accounts in accounts.items():
        failures += not await _subscribe_page(oauth, pages[page_id], page_accounts)
    return Connected(
        accounts=[a for group in accounts.values() for a in group], subscription_failures=failures
    )


def _chosen(
    view: Picker,
    pages: dict[str, PageCandidate],
    messenger_ids: list[str],
    instagram_ids: list[str],
) -> list[tuple[PageCandidate, str]]:
    """The ticked (page, platform) pairs the picker offered; anything else is ignored."""
    chosen: list[tuple[PageCandidate, str]] = []
    for choice in view.pages:
        if choice.messenger_allowed and choice.id in messenger_ids:
            chosen.append((pages[choice.id], "messenger"))
        if choice.instagram_allowed and choice.instagram and choice.instagram.id in instagram_ids:
            chosen.append((pages[choice.id], "instagram"))
    return chosen


async def _picker_payload(
    session: AsyncSession, *, user: User, value: str | None, settings: Settings, cipher: TokenCipher
) -> tuple[OAuthState, dict[str, Any]]:
    state = await load_state(
        session, user=user, provider=FACEBOOK_LOGIN, value=value, settings=settings
    )
    if state.payload_encrypted is None or as_utc(state.expires_at) <= utc_now():
        raise ConnectFailed(
            "This choice is no longer open",
            "The Pages of this login were connected already, or the choice expired.",
            hint="Start connecting again to choose other Pages.",
            retry_path=START_PATHS[FACEBOOK_LOGIN],
        )
    payload: dict[str, Any] = json.loads(cipher.decrypt(state.payload_encrypted))
    return state, payload


def _page_from(raw: dict[str, Any]) -> PageCandidate:
    linked = raw.get("instagram")
    return PageCandidate(
        id=raw["id"],
        name=raw["name"],
        access_token=raw["access_token"],
        tasks=tuple(raw.get("tasks") or ()),
        picture_url=raw.get("picture_url"),
        instagram=LinkedInstagram(**linked) if isinstance(linked, dict) else None,
    )


def _facebook_connection(
    page: PageCandidate, platform: str, meta_user_id: str, granted: frozenset[str]
) -> Connection:
    ig = page.instagram if platform == "instagram" else None
    return Connection(
        platform=platform,
        external_id=ig.id if ig is not None else page.id,
        page_id=page.id,
        graph_host="facebook",
        name=(ig.name or ig.username or ig.id) if ig is not None else page.name,
        username=None if ig is None else ig.username,
        picture_url=page.picture_url if ig is None else ig.picture_url,
        access_token=page.access_token,
        token_expires_at=None,  # a Page token from a long-lived user token never expires
        connected_via=FACEBOOK_LOGIN,
        meta_user_id=meta_user_id,
        comments_problem=comments_problem("facebook", platform, granted),
    )


async def _subscribe_page(
    oauth: MetaOAuthClient, page: PageCandidate, accounts: list[Account]
) -> bool:
    try:
        await oauth.subscribe_page(page.id, page.access_token)
    except graph_errors.GraphError as exc:
        for account in accounts:
            flag_subscription_failure(account, str(exc))
        return False
    return True


# --- errors on the way back from Meta ------------------------------------------------------


def code_or_raise(callback: Callback, provider: str) -> str:
    if callback.error or callback.error_reason:
        denied = callback.error == "access_denied" or callback.error_reason == "user_denied"
        raise ConnectFailed(
            "Connecting was cancelled" if denied else "Meta did not complete the login",
            "You did not allow inboxpilot access, so nothing was connected."
            if denied
            else f"Meta answered: {callback.error_description or callback.error}.",
            hint="Start again and choose “Continue” / “Allow” in Meta's dialog.",
            retry_path=START_PATHS[provider],
        )
    if not callback.code:
        raise ConnectFailed(
            "Meta sent no login code",
            "The answer from Meta carried neither a code nor an error.",
            hint="Start connecting again.",
            retry_path=START_PATHS[provider],
        )
    return callback.code


def graph_failure(exc: graph_errors.GraphError, provider: str) -> ConnectFailed:
    """What to tell the influencer about a failed call during a login."""
    retry = START_PATHS[provider]
    log.warning(
        "accounts.login_failed",
        provider=provider,
        error_class=type(exc).__name__,
        code=exc.code,
        subcode=exc.subcode,
        fbtrace_id=exc.fbtrace_id,
    )
    if isinstance(exc, graph_errors.GraphRetryLater):
        return ConnectFailed(
            "Meta could not be reached",
            "Meta did not answer in time or had a temporary problem; nothing was connected.",
            hint="Try again in a few minutes.",
            status_code=502,
            retry_path=retry,
        )
    if exc.code == 191:
        return ConnectFailed(
            "The app's redirect address is not allowed",
            "Meta refused the address it should send you back to.",
            hint="The operator must add this service's callback URL to the app's Valid OAuth "
            "Redirect URIs in the Meta App Dashboard (see docs/connecting-accounts.md).",
            status_code=502,
        )
    if isinstance(exc, graph_errors.GraphPermissionMissing):
        return ConnectFailed(
            "A permission is missing",
            f"Meta answered: {exc.user_message or exc.message}",
            hint="Connect again and leave every permission switched on.",
            retry_path=retry,
        )
    return ConnectFailed(
        "The login could not be completed",
        f"Meta answered: {exc.user_message or exc.message}",
        hint="Login links work once and for a few minutes only: start connecting again.",
        retry_path=retry,
    )
