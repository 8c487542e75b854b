"""FakeMetaOAuth: Meta's login and token endpoints, as a small stateful respx fake.

    meta = FakeMetaOAuth(router, facebook_url=..., instagram_url=..., instagram_api_url=...,
                         app_id=..., app_secret=...)
    code = meta.facebook_code()          # what the dialog hands the browser after "Continue"
    code = meta.instagram_code()
    meta.granted.discard("pages_messaging")          # the person declined a permission
    meta.pages = [...]; meta.instagram_profile = {...}
    meta.fail_next("fb_token", code=100, subcode=36009)   # any Meta error, per endpoint
    meta.network_failure("ig_exchange")  # the next call to that endpoint cannot connect
    meta.revoke(token)                   # the token dies: 190 on use, is_valid false
    meta.calls, meta.subscriptions       # what reached the fake

It answers as Meta documents: codes are single-use, client secrets and `appsecret_proof`
are checked, `/me/accounts` pages one Page at a time through `paging.next`, tokens
unknown or revoked get error 190, api.instagram.com errors come in its own shape.
Endpoints: fb_token, fb_me, fb_permissions, fb_accounts, fb_subscribe, debug_token,
ig_code, ig_exchange, ig_refresh, ig_me, ig_subscribe.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import respx
from respx.models import RouteList

from tests.fakes.graph import FakeGraphAPI, Host

_ME: dict[str, Host] = {"fb_me": "facebook", "ig_me": "instagram"}

FACEBOOK_SCOPES = {
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "pages_read_engagement",
    "instagram_basic",
    "instagram_manage_messages",
    "business_management",
    "instagram_manage_comments",
    "pages_manage_engagement",
}
LONG_LIVED_SECONDS = 5183944


def default_pages() -> list[dict[str, Any]]:
    """Two Pages: one with a linked Instagram account, one without."""
    return [
        {
            "id": "1111000000000001",
            "name": "Lena Loves",
            "access_token": "EAApage-lena",
            "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"],
            "picture": {"data": {"url": "https://cdn.fake/lena-page.jpg"}},
            "instagram_business_account": {
                "id": "17841400000000001",
                "username": "lena.loves",
                "name": "Lena Loves",
                "profile_picture_url": "https://cdn.fake/lena-ig.jpg",
            },
        },
        {
            "id": "1111000000000002",
            "name": "Lena's Shop",
            "access_token": "EAApage-shop",
            "tasks": ["MESSAGING", "MANAGE"],
            "picture": {"data": {"url": "https://cdn.fake/shop.jpg"}},
        },
    ]


@dataclass(frozen=True)
class Call:
    endpoint: str
    method: str
    path: str
    params: dict[str, str]  # query and form fields together


@dataclass
class _Failure:
    status: int = 400
    body: dict[str, Any] = field(default_factory=dict)
    network: bool = False


class FakeMetaOAuth:
    def __init__(
        self,
        router: respx.MockRouter,
        *,
        facebook_url: str,
        instagram_url: str,
        instagram_api_url: str,
        app_id: str,
        app_secret: str,
        graph: FakeGraphAPI | None = None,
    ) -> None:
        # `graph`: GET /me with a token this fake never issued (one typed into the API) is
        # answered by the Graph fake, which knows the tokens tests give accounts by hand.
        self.graph = graph
        self.app_id, self.app_secret = app_id, app_secret
        self.facebook_url = facebook_url.rstrip("/")
        self.meta_user_id = "10220000000000077"
        self.granted: set[str] = set(FACEBOOK_SCOPES)
        self.pages: list[dict[str, Any]] = default_pages()
        self.instagram_profile: dict[str, Any] = {
            "id": "26000000000000099",
            "user_id": "17841400000000001",
            "username": "lena.loves",
            "name": "Lena Loves",
            "profile_picture_url": "https://cdn.fake/lena-ig.jpg",
            "account_type": "MEDIA_CREATOR",
        }
        self.instagram_permissions = (
            "instagram_business_basic,instagram_business_manage_messages,"
            "instagram_business_manage_comments"
        )
        self.calls: list[Call] = []
        self.subscriptions: list[tuple[str, str, str]] = []  # (host, object id, fields)
        self.subscribe_fails_for: set[str] = set()  # Page ids whose subscription fails
        self._codes: dict[str, str] = {}  # code -> facebook | instagram
        self._used_codes: set[str] = set()
        self._tokens: dict[str, str] = {}  # token -> kind
        self._revoked: set[str] = set()
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._serial = itertools.count(1)
        before = list(router.routes)
        self._register(router, facebook_url.rstrip("/"), instagram_url.rstrip("/"))
        self._register_instagram_api(router, instagram_api_url.rstrip("/"))
        _put_first(router, [r for r in router.routes if r not in before])

    # --- the browser's side of the dialogs ---------------------------------------------------

    def facebook_code(self) -> str:
        code = f"fb-code-{next(self._serial)}"
        self._codes[code] = "facebook"
        for page in self.pages:
            self._tokens[page["access_token"]] = "page"
        return code

    def instagram_code(self) -> str:
        code = f"ig-code-{next(self._serial)}"
        self._codes[code] = "instagram"
        return code

    # --- failure modes -----------------------------------------------------------------------

    def fail_next(
        self,
        endpoint: str,
        *,
        status: int = 400,
        code: int = 100,
        subcode: int | None = None,
        message: str = "(#100) Invalid parameter",
        times: int = 1,
    ) -> None:
        error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
        error["fbtrace_id"] = "FakeOAuthTrace"
        self._failures[endpoint].extend([_Failure(status, {"error": error})] * times)

    def network_failure(self, endpoint: str, *, times: int = 1) -> None:
        self._failures[endpoint].extend([_Failure(network=True)] * times)

    def revoke(self, token: str) -> None:
        self._revoked.add(token)

    def issued(self, kind: str) -> list[str]:
        return [t for t, k in self._tokens.items() if k == kind]

    def endpoint_calls(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == endpoint]

    # --- routing -----------------------------------------------------------------------------

    def _register(self, router: respx.MockRouter, fb: str, ig: str) -> None:
        end = r"(?:\?.*)?$"
        routes = [
            ("GET", rf"^{re.escape(fb)}/[^/]+/oauth/access_token{end}", "fb_token"),
            ("GET", rf"^{re.escape(fb)}/[^/]+/me/permissions{end}", "fb_permissions"),
            ("GET", rf"^{re.escape(fb)}/[^/]+/me/accounts{end}", "fb_accounts"),
            ("GET", rf"^{re.escape(fb)}/[^/]+/me{end}", "fb_me"),
            ("GET", rf"^{re.escape(fb)}/[^/]+/debug_token{end}", "debug_token"),
            ("POST", rf"^{re.escape(fb)}/[^/]+/[^/?]+/subscribed_apps{end}", "fb_subscribe"),
            ("GET", rf"^{re.escape(ig)}/access_token{end}", "ig_exchange"),
            ("GET", rf"^{re.escape(ig)}/refresh_access_token{end}", "ig_refresh"),
            ("GET", rf"^{re.escape(ig)}/[^/]+/me{end}", "ig_me"),
            ("POST", rf"^{re.escape(ig)}/[^/]+/me/subscribed_apps{end}", "ig_subscribe"),
        ]
        for method, pattern, endpoint in routes:
            router.route(method=method, url__regex=pattern).mock(
                side_effect=self._handler(endpoint)
            )

    def _register_instagram_api(self, router: respx.MockRouter, api: str) -> None:
        pattern = rf"^{re.escape(api)}/oauth/access_token(?:\?.*)?$"
        router.post(url__regex=pattern).mock(side_effect=self._handler("ig_code"))

    def _handler(self, endpoint: str) -> Any:
        def handle(request: httpx.Request) -> httpx.Response:
            params = dict(request.url.params)
            if request.method == "POST" and request.content:
                params.update(parse_qsl(request.content.decode()))
            if endpoint in _ME and self.graph is not None:
                bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
                token = params.get("access_token") or bearer or None
                if self._token_kind(token) is None and token in self.graph.token_owners:
                    return self.graph.answer_me(_ME[endpoint], request)
            self.calls.append(Call(endpoint, request.method, request.url.path, params))
            if self._failures[endpoint]:
                failure = self._failures[endpoint].popleft()
                if failure.network:
                    raise httpx.ConnectError("connection refused", request=request)
                return httpx.Response(failure.status, json=failure.body)
            answer: httpx.Response = getattr(self, f"_{endpoint}")(request, params)
            return answer

        return handle

    # --- Facebook ----------------------------------------------------------------------------

    def _fb_token(self, _request: httpx.Request, p: dict[str, str]) -> httpx.Response:
        if p.get("client_id") != self.app_id or p.get("client_secret") != self.app_secret:
            return _graph_error(400, 101, "Error validating application. Invalid application ID.")
        if p.get("grant_type") == "fb_exchange_token":
            if self._token_kind(p.get("fb_exchange_token")) != "fb_short":
                return _graph_error(400, 190, "Error validating access token.")
            token = self._issue("fb_long", "EAAlong")
            return httpx.Response(
                200,
                json={
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": LONG_LIVED_SECONDS,
                },
            )
        rejection = self._use_code(p.get("code"), "facebook")
        if rejection is not None:
            return _graph_error(
                400, 100, rejection, subcode=36009 if "used" in rejection else 36007
            )
        token = self._issue("fb_short", "EAAshort")
        return httpx.Response(
            200, json={"access_token": token, "token_type": "bearer", "expires_in": 5400}
        )

    def _fb_me(self, _request: httpx.Request, p: dict[str, str]) -> httpx.Response:
        return self._fb_user_call(p) or httpx.Response(
            200, json={"id": self.meta_user_id, "name": "Lena"}
        )

    def _fb_permissions(self, _request: httpx.Request, p: dict[str, str]) -> httpx.Response:
        data = [
            {"permission": name, "status": "granted" if name in self.granted else "declined"}
            for name in sorted(FACEBOOK_SCOPES)
        ]
        return self._fb_user_call(p) or httpx.Response(200, json={"data": data})

    def _fb_accounts(self, request: httpx.Request, p: dict[str, str]) -> httpx.Response:
        denied = self._fb_user_call(p)
        if denied is not None:
            return denied
        shown = [page for page in self.pages if "pages_show_list" in self.granted]
        index = int(p.get("after", "0"))
        body: dict[str, Any] = {"data": shown[index : index + 1]}
        if index + 1 < len(shown):
            query = {k: v for k, v in p.items() if k != "after"} | {"after": str(index + 1)}
            body["paging"] = {"next": f"{self.facebook_url}{request.url.path}?{urlencode(query)}"}
        return httpx.Response(200, json=body)

    def _fb_subscribe(self, request: httpx.Request, p: dict[str, str]) -> httpx.Response:
        page_id = request.url.path.strip("/").split("/")[-2]
        page = next((pg for pg in self.pages if pg["id"] == page_id), None)
        token = p.get("access_token")
        if page is None or token != page["access_token"] or token in self._revoked:
            return _graph_error(400, 190, "Invalid OAuth access token.")
        if not self._proof_ok(p):
            return _graph_error(400, 100, "Invalid appsecret_proof provided in the API argument")
        if page_id in self.subscribe_fails_for:
            return _graph_error(403, 200, "(#200) Requires pages_manage_metadata permission")
        self.subscriptions.append(("facebook", page_id, p.get("subscribed_fields", "")))
        return httpx.Response(200, json={"success": True})

    def _debug_token(self, _request: httpx.Request, p: dict[str, str]) -> httpx.Response:
        if p.get("access_token") != f"{self.app_id}|{self.app_secret}":
            return _graph_error(400, 190, "Invalid OAuth access token.")
        token = p.get("input_token")
        kind = self._token_kind(token)
        if kind is None or token in self._revoked:
            data = {
                "is_valid": False,
                "error": {
                    "code": 190,
                    "message": "The session has been invalidated: the user changed the password.",
                },
                "scopes": [],
            }
            return httpx.Response(200, json={"data": data})
        data = {
            "app_id": self.app_id,
            "type": "PAGE" if kind == "page" else "USER",
            "is_valid": True,
            "expires_at": 0,
            "scopes": sorted(self.granted),
        }
        return httpx.Response(200, json={"data": data})

    def _fb_user_call(self, p: dict[str, str]) -> httpx.Response | None:
        token = p.get("access_token")
        if self._token_kind(token) != "fb_long" or token in self._revoked:
            return _graph_error(400, 190, "Error validating access token.", subcode=460)
        if not self._proof_ok(p):
            return _graph_error(400, 100, "Invalid appsecret_proof provided in the API argument")
        return None

    def _proof_ok(self, p: dict[str, str]) -> bool:
        token = p.get("access_token", "")
        expected = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(p.get("appsecret_proof", ""), expected)

    # --- Instagram ---------------------------------------------------------------------------

    def _ig_code(self, _request: httpx.Request, p: dict[str, str]) -> httpx.Response:
        if p.get("client_id") != self.app_id or p.get("client_secret") != self.app_secret:
            return _instagram_error("Invalid client_id or client_secret")
        if p.get("grant_type") != "authorization_code" or not p.get("redirect_uri"):
            return _instagram_error("Invalid grant_type or missing redirect_uri")
        rejection = self._use_code(p.get("code"), "instagram")
        if rejection is not None:
            return _instagram_error(rejection)
        token = self._issue("ig_short", "IGshort")
        entry = {
            "access_token": token,
            "user_id": self.instagram_profile["id"],
            "permissions": self.instagram_permissions,
        }
        return httpx.Response(200, json={"data": [entry]})

    def _ig_exchange(self, _request: httpx.Request, p: dict[str, str]) -> httpx.Response:
        if p.get("grant_type") != "ig_exchange_token" or p.get("client_secret") != self.app_secret:
            return _graph_error(400, 100, "Invalid parameter")
        if self._token_kind(p.get("access_token")) != "ig_short":
            return _graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        token = self._issue("ig_long", "IGlong")
        return httpx.Response(
            200,
            json={"access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS},
        )

    def _ig_refresh(self, _request: httpx.Request, p: dict[str, str]) -> httpx.Response:
        token = p.get("access_token")
        if p.get("grant_type") != "ig_refresh_token":
            return _graph_error(400, 100, "Invalid parameter")
        if self._token_kind(token) != "ig_long" or token in self._revoked:
            return _graph_error(400, 190, "Error validating access token.")
        fresh = self._issue("ig_long", "IGrefreshed")
        return httpx.Response(
            200,
            json={"access_token": fresh, "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS},
        )

    def _ig_me(self, _request: httpx.Request, p: dict[str, str]) -> httpx.Response:
        token = p.get("access_token")
        if self._token_kind(token) != "ig_long" or token in self._revoked:
            return _graph_error(400, 190, "Error validating access token.", subcode=460)
        return httpx.Response(200, json=self.instagram_profile)

    def _ig_subscribe(self, _request: httpx.Request, p: dict[str, str]) -> httpx.Response:
        token = p.get("access_token")
        if self._token_kind(token) != "ig_long" or token in self._revoked:
            return _graph_error(400, 190, "Error validating access token.")
        fields = p.get("subscribed_fields", "")
        self.subscriptions.append(("instagram", self.instagram_profile["user_id"], fields))
        return httpx.Response(200, json={"success": True})

    # --- bookkeeping -------------------------------------------------------------------------

    def _issue(self, kind: str, prefix: str) -> str:
        token = f"{prefix}-{next(self._serial)}"
        self._tokens[token] = kind
        return token

    def _token_kind(self, token: str | None) -> str | None:
        return None if token is None else self._tokens.get(token)

    def _use_code(self, code: str | None, flow: str) -> str | None:
        """Meta's complaint about a code, or None when it is good (it is used up then)."""
        if code is None or self._codes.get(code) != flow:
            return "Invalid verification code format."
        if code in self._used_codes:
            return "This authorization code has been used."
        self._used_codes.add(code)
        return None


def _put_first(router: respx.MockRouter, routes: list[respx.Route]) -> None:
    """respx answers with the first matching route. These named endpoints come before any
    generic `/{version}/{object-id}` route already registered (FakeGraphAPI's profile
    lookup matches `GET /me?fields=...profile_picture_url` too)."""
    ordered = RouteList()
    for route in [*routes, *(r for r in router.routes if r not in routes)]:
        ordered.add(route)
    router.routes[:] = ordered


def _graph_error(
    status: int, code: int, message: str, *, subcode: int | None = None
) -> httpx.Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "FakeOAuthTrace"
    return httpx.Response(status, json={"error": error})


def _instagram_error(message: str) -> httpx.Response:
    return httpx.Response(
        400, json={"error_type": "OAuthException", "code": 400, "error_message": message}
    )
