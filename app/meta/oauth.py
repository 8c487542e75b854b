"""Meta's two login flows and the token calls around them.

Facebook Login for Business (Messenger, and Instagram through a linked Page):
dialog → code → short-lived user token → long-lived user token (`fb_exchange_token`) →
`/me`, `/me/permissions`, `/me/accounts` (one Page token per Page, linked Instagram
account included) → `POST /{page-id}/subscribed_apps` with the Page token.

Instagram API with Instagram Login: authorize window → code → short-lived token
(`api.instagram.com/oauth/access_token`) → 60-day token (`ig_exchange_token`) → `/me` →
`POST /me/subscribed_apps`; the token is refreshed with `ig_refresh_token` before it ends.

`MetaOAuthClient` is the only code that knows these wire formats; it answers with the
dataclasses below. Every failure is a `GraphError` subclass (`app.meta.errors`), never an
httpx exception. Tokens never appear in a message, a repr or a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import structlog

from app.config import Settings
from app.core.clock import utc_now
from app.meta.errors import (
    GraphBadRequest,
    GraphError,
    GraphTokenInvalid,
    error_from_response,
    error_from_transport,
)

log = structlog.get_logger("app.meta.oauth")

FACEBOOK_SCOPES = (
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "pages_read_engagement",
    "instagram_basic",
    "instagram_manage_messages",
    "business_management",
    # Comment triggers: Instagram comments (webhooks, private and public replies) and a
    # Page's comments (`feed` webhooks, public replies).
    "instagram_manage_comments",
    "pages_manage_engagement",
)
PAGE_SUBSCRIBED_FIELDS = (
    "messages",
    "messaging_postbacks",
    "messaging_referrals",
    "message_echoes",
    "message_reactions",
    "message_reads",
    "message_deliveries",
    "message_edits",
    "standby",
    "messaging_handovers",
    "feed",  # the Page's comments (item: comment) for comment triggers
)
INSTAGRAM_SCOPES = (
    "instagram_business_basic",
    "instagram_business_manage_messages",
    "instagram_business_manage_comments",
)
INSTAGRAM_SUBSCRIBED_FIELDS = (
    "messages",
    "messaging_postbacks",
    "messaging_seen",
    "message_reactions",
    "messaging_referral",
    # Comment triggers; both need instagram_business_manage_comments. Live comments stop
    # arriving when the broadcast ends.
    "comments",
    "live_comments",
)
# Business and creator accounts are "professional"; Meta spells them in either case.
PROFESSIONAL_ACCOUNT_TYPES = frozenset({"BUSINESS", "MEDIA_CREATOR", "CREATOR"})
_PAGE_FIELDS = (
    "id,name,access_token,tasks,picture,"
    "instagram_business_account{id,username,name,profile_picture_url}"
)
_MAX_PAGING = 20  # pages of /me/accounts followed; 20 x 25 Pages is more than anyone has


@dataclass(frozen=True, slots=True)
class UserToken:
    access_token: str = field(repr=False)
    expires_at: datetime | None = None  # None: Meta did not say (Page tokens never expire)


@dataclass(frozen=True, slots=True)
class LinkedInstagram:
    """The Instagram professional account linked to a Page (its id is the webhook's id)."""

    id: str
    username: str | None = None
    name: str | None = None
    picture_url: str | None = None


@dataclass(frozen=True, slots=True)
class PageCandidate:
    """One Page the person manages, with its Page token and linked Instagram account."""

    id: str
    name: str
    access_token: str = field(repr=False)
    tasks: tuple[str, ...] = ()
    picture_url: str | None = None
    instagram: LinkedInstagram | None = None


@dataclass(frozen=True, slots=True)
class InstagramLogin:
    """The answer to an Instagram Login code exchange."""

    access_token: str = field(repr=False)
    user_id: str
    permissions: tuple[str, ...] = ()  # empty when Meta did not list them


@dataclass(frozen=True, slots=True)
class InstagramProfile:
    """`GET /me` of Instagram Login; `user_id` is the id webhooks carry in `entry.id`."""

    user_id: str
    app_scoped_id: str | None
    username: str | None
    name: str | None
    picture_url: str | None
    account_type: str | None

    @property
    def is_professional(self) -> bool:
        # Only an explicit non-professional type is refused; an absent field is Meta's
        # business (the login only works for professional accounts in the first place).
        return self.account_type is None or self.account_type.upper() in PROFESSIONAL_ACCOUNT_TYPES


@dataclass(frozen=True, slots=True)
class TokenHealth:
    """`GET /debug_token`: whether a token still works, and what it may do."""

    is_valid: bool
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    reason: str | None = None  # Meta's explanation when the token is invalid


class MetaOAuthClient:
    """Login dialogs, code exchanges, token upkeep and webhook subscriptions."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self._http = http
        self._settings = settings
        self._version = settings.META_GRAPH_VERSION.strip("/")
        self._facebook = settings.META_GRAPH_URL.rstrip("/")
        self._instagram = settings.INSTAGRAM_GRAPH_URL.rstrip("/")

    # --- Facebook Login for Business -----------------------------------------------------

    def facebook_dialog_url(self, *, state: str, redirect_uri: str) -> str:
        """The login dialog; a configuration id, when set, replaces the scope list."""
        params = {
            "client_id": self._settings.META_APP_ID or "",
            "redirect_uri": redirect_uri,
            "state": state,
            "response_type": "code",
        }
        if self._settings.META_LOGIN_CONFIG_ID:
            params["config_id"] = self._settings.META_LOGIN_CONFIG_ID
        else:
            params["scope"] = ",".join(FACEBOOK_SCOPES)
            # Asks again for permissions the person declined on an earlier attempt.
            params["auth_type"] = "rerequest"
        base = self._settings.FACEBOOK_DIALOG_URL.rstrip("/")
        return f"{base}/{self._version}/dialog/oauth?{urlencode(params)}"

    async def exchange_facebook_code(self, code: str, *, redirect_uri: str) -> UserToken:
        """The short-lived user token (about an hour) for a dialog's code."""
        data = await self._get(
            f"{self._facebook}/{self._version}/oauth/access_token",
            {
                "client_id": self._settings.META_APP_ID or "",
                "client_secret": self._app_secret(),
                "redirect_uri": redirect_uri,
                "code": code,
            },
        )
        return _user_token(data)

    async def extend_facebook_token(self, short_lived: str) -> UserToken:
        """The long-lived user token (about 60 days); Page tokens derived from it never end."""
        data = await self._get(
            f"{self._facebook}/{self._version}/oauth/access_token",
            {
                "grant_type": "fb_exchange_token",
                "client_id": self._settings.META_APP_ID or "",
                "client_secret": self._app_secret(),
                "fb_exchange_token": short_lived,
            },
        )
        return _user_token(data)

    async def facebook_user_id(self, token: str) -> str:
        """The app-scoped id of the person (what deauthorize and deletion requests carry)."""
        data = await self._get(f"{self._facebook}/{self._version}/me", self._fb_auth(token))
        user_id = _text(data.get("id"))
        if user_id is None:
            raise GraphError("Graph API answered /me without an id")
        return user_id

    async def facebook_permissions(self, token: str) -> frozenset[str]:
        """The permissions the person granted (declined and expired ones left out)."""
        data = await self._get(
            f"{self._facebook}/{self._version}/me/permissions", self._fb_auth(token)
        )
        return frozenset(
            name
            for item in _list(data.get("data"))
            if (name := _text(item.get("permission"))) and item.get("status") == "granted"
        )

    async def facebook_pages(self, token: str) -> list[PageCandidate]:
        """Every Page the person granted us, following Meta's paging."""
        url: str | None = f"{self._facebook}/{self._version}/me/accounts"
        params: dict[str, str] | None = {**self._fb_auth(token), "fields": _PAGE_FIELDS}
        pages: list[PageCandidate] = []
        for _ in range(_MAX_PAGING):
            if url is None:
                break
            data = await self._get(url, params)
            pages.extend(p for p in map(_page, _list(data.get("data"))) if p is not None)
            # `paging.next` is a complete URL, token included: use it as it is.
            url, params = _text(_dict(data.get("paging")).get("next")), None
        return pages

    async def subscribe_page(self, page_id: str, page_token: str) -> None:
        """Subscribes the app to the Page's messaging webhooks (needs pages_manage_metadata)."""
        params = {
            **self._fb_auth(page_token),
            "subscribed_fields": ",".join(PAGE_SUBSCRIBED_FIELDS),
        }
        data = await self._send(
            "POST", f"{self._facebook}/{self._version}/{page_id}/subscribed_apps", params=params
        )
        _require_success(data, "Page subscription")

    async def debug_token(self, token: str) -> TokenHealth:
        """Inspects a Facebook user or Page token with the app token."""
        app_token = f"{self._settings.META_APP_ID}|{self._app_secret()}"
        data = await self._get(
            f"{self._facebook}/{self._version}/debug_token",
            {"input_token": token, "access_token": app_token},
        )
        info = _dict(data.get("data"))
        return TokenHealth(
            is_valid=info.get("is_valid") is True,
            expires_at=_epoch(info.get("expires_at")),
            scopes=tuple(s for s in map(_text, _list_of_any(info.get("scopes"))) if s),
            reason=_text(_dict(info.get("error")).get("message")),
        )

    # --- Instagram API with Instagram Login ---------------------------------------------

    def instagram_authorize_url(self, *, state: str, redirect_uri: str) -> str:
        params = {
            "client_id": self._settings.instagram_app_id or "",
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": ",".join(INSTAGRAM_SCOPES),
            "state": state,
        }
        base = self._settings.INSTAGRAM_AUTHORIZE_URL.rstrip("/")
        return f"{base}/oauth/authorize?{urlencode(params)}"

    async def exchange_instagram_code(self, code: str, *, redirect_uri: str) -> InstagramLogin:
        """The short-lived token, the person's id and the permissions granted."""
        form = {
            "client_id": self._settings.instagram_app_id or "",
            "client_secret": self._instagram_secret(),
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
            # Instagram appends "#_" to the redirect; a copied code may still carry it.
            "code": code.removesuffix("#_"),
        }
        url = f"{self._settings.INSTAGRAM_API_URL.rstrip('/')}/oauth/access_token"
        data = await self._send("POST", url, data=form)
        # Documented as {"data": [{...}]}; older answers are the object itself.
        entries = _list(data.get("data"))
        entry = entries[0] if entries else data
        token, user_id = _text(entry.get("access_token")), _text(entry.get("user_id"))
        if token is None or user_id is None:
            raise GraphError("Instagram answered the code exchange without a token")
        permissions = entry.get("permissions")
        if isinstance(permissions, str):
            permissions = permissions.split(",")
        granted = tuple(p.strip() for p in _list_of_any(permissions) if isinstance(p, str))
        return InstagramLogin(access_token=token, user_id=user_id, permissions=granted)

    async def extend_instagram_token(self, short_lived: str) -> UserToken:
        """The 60-day token for a short-lived one."""
        data = await self._get(
            f"{self._instagram}/access_token",
            {
                "grant_type": "ig_exchange_token",
                "client_secret": self._instagram_secret(),
                "access_token": short_lived,
            },
        )
        return _user_token(data)

    async def refresh_instagram_token(self, token: str) -> UserToken:
        """A new 60 days for a long-lived token at least 24 hours old and not expired."""
        data = await self._get(
            f"{self._instagram}/refresh_access_token",
            {"grant_type": "ig_refresh_token", "access_token": token},
        )
        return _user_token(data)

    async def instagram_profile(self, token: str) -> InstagramProfile:
        data = await self._get(
            f"{self._instagram}/{self._version}/me",
            {
                "fields": "user_id,username,name,profile_picture_url,account_type",
                "access_token": token,
            },
        )
        user_id = _text(data.get("user_id")) or _text(data.get("id"))
        if user_id is None:
            raise GraphError("Instagram answered /me without a user_id")
        return InstagramProfile(
            user_id=user_id,
            app_scoped_id=_text(data.get("id")),
            username=_text(data.get("username")),
            name=_text(data.get("name")),
            picture_url=_text(data.get("profile_picture_url")),
            account_type=_text(data.get("account_type")),
        )

    async def subscribe_instagram(self, token: str) -> None:
        params = {
            "subscribed_fields": ",".join(INSTAGRAM_SUBSCRIBED_FIELDS),
            "access_token": token,
        }
        data = await self._send(
            "POST", f"{self._instagram}/{self._version}/me/subscribed_apps", params=params
        )
        _require_success(data, "Instagram subscription")

    # --- transport -------------------------------------------------------------------------

    def _app_secret(self) -> str:
        secret = self._settings.META_APP_SECRET
        if secret is None:
            raise GraphBadRequest("no Meta app is configured (META_APP_SECRET is unset)")
        return secret.get_secret_value()

    def _instagram_secret(self) -> str:
        secret = self._settings.instagram_app_secret
        if secret is None:
            raise GraphBadRequest("no Instagram app secret is configured")
        return secret

    def _fb_auth(self, token: str) -> dict[str, str]:
        """The token and its `appsecret_proof`, which apps requiring it demand on every call."""
        proof = hmac.new(self._app_secret().encode(), token.encode(), hashlib.sha256).hexdigest()
        return {"access_token": token, "appsecret_proof": proof}

    async def _get(self, url: str, params: dict[str, str] | None) -> dict[str, Any]:
        return await self._send("GET", url, params=params)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(method, url, params=params, data=data)
        except httpx.RequestError as exc:
            raise error_from_transport(exc) from exc
        body = _json_object(response)
        if response.is_error or body is None or "error" in body or "error_message" in body:
            error = _error(response, body)
            log.warning(
                "meta.oauth_call_failed",
                path=httpx.URL(url).path,
                error_class=type(error).__name__,
                code=error.code,
                subcode=error.subcode,
                fbtrace_id=error.fbtrace_id,
            )
            raise error
        return body


def _error(response: httpx.Response, body: dict[str, Any] | None) -> GraphError:
    if body is not None and "error_message" in body:
        # api.instagram.com answers {"error_type", "code", "error_message"}, not Graph's shape.
        message = str(body.get("error_message"))
        kind = _text(body.get("error_type"))
        error_class = GraphTokenInvalid if "token" in message.lower() else GraphBadRequest
        return error_class(message, http_status=response.status_code, error_type=kind)
    if body is None and not response.is_error:
        return GraphError("Meta answered a non-JSON body", http_status=response.status_code)
    return error_from_response(response)


def _require_success(data: dict[str, Any], what: str) -> None:
    if data.get("success") is not True:
        raise GraphError(f"{what} was not confirmed by Meta")


def _user_token(data: dict[str, Any]) -> UserToken:
    token = _text(data.get("access_token"))
    if token is None:
        raise GraphError("Meta answered a token request without an access_token")
    expires_in = data.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
        expires_at = utc_now() + timedelta(seconds=float(expires_in))
    return UserToken(access_token=token, expires_at=expires_at)


def _page(item: dict[str, Any]) -> PageCandidate | None:
    page_id, token = _text(item.get("id")), _text(item.get("access_token"))
    if page_id is None or token is None:
        return None  # a Page we got no token for cannot be connected
    linked = _dict(item.get("instagram_business_account"))
    instagram = None
    if (ig_id := _text(linked.get("id"))) is not None:
        instagram = LinkedInstagram(
            id=ig_id,
            username=_text(linked.get("username")),
            name=_text(linked.get("name")),
            picture_url=_text(linked.get("profile_picture_url")),
        )
    picture = _text(_dict(_dict(item.get("picture")).get("data")).get("url"))
    return PageCandidate(
        id=page_id,
        name=_text(item.get("name")) or page_id,
        access_token=token,
        tasks=tuple(t for t in map(_text, _list_of_any(item.get("tasks"))) if t),
        picture_url=picture,
        instagram=instagram,
    )


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, tz=utc_now().tzinfo)
    return None  # 0 means "never expires"


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in _list_of_any(value) if isinstance(item, dict)]


def _list_of_any(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
