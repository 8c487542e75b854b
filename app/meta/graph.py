"""The Graph API client: the one place that calls Meta's Send API, the comment reply
endpoints and the user profile API.

Built once per process with the shared `httpx.AsyncClient` and the settings, then handed
to whoever sends. Every failure is a `GraphError` subclass (see `app.meta.errors`), never
an httpx exception, and every answer, good or bad, carries the account's `Usage`, so the
outbox can slow an account down before Meta blocks it. The client does not retry: the
worker owns retries and backoff.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx

from app.config import Settings
from app.meta.errors import GraphError, error_from_response, error_from_transport
from app.meta.limits import Usage, parse_usage
from app.ops.metrics import record_graph_call

GraphHost = Literal["facebook", "instagram"]
MESSAGING_TYPES = frozenset({"RESPONSE", "UPDATE", "MESSAGE_TAG"})


@dataclass(frozen=True, slots=True)
class SendTarget:
    """Where a message is sent from, and with which credentials.

    `graph_host` "facebook": Messenger and Instagram via Facebook Login (Page token,
    `META_GRAPH_URL`); "instagram": Instagram API with Instagram Login (IG user token,
    `INSTAGRAM_GRAPH_URL`). `sender_id` is the Page id or the Instagram account id.
    `app_secret`, when given, adds `appsecret_proof` to every call. Reads (the user
    profile API) use the same host and credentials; they ignore `sender_id`.
    """

    graph_host: GraphHost
    sender_id: str
    access_token: str = field(repr=False)
    app_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class SentMessage:
    """Meta's answer to a send: store `message_id`, the echo will carry it."""

    message_id: str
    recipient_id: str
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class PostedComment:
    """Meta's answer to a public reply under a comment: the new comment's id."""

    comment_id: str
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class UserProfile:
    """A follower's profile as Meta shows it to the account; any field may be missing."""

    name: str | None
    username: str | None  # Instagram only
    profile_pic_url: str | None  # expires within days: refetch, never keep for long
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """Whose token it is, as `GET /me` answers it; any field may be missing.

    `id`: the Page's id for a Page token (graph.facebook.com), the app-scoped user id for
    an Instagram-Login token. `instagram_account_id`: the Instagram professional account
    the token speaks for: the Page's `instagram_business_account.id`, or on
    graph.instagram.com the `user_id` (the id webhooks carry).
    """

    id: str | None
    instagram_account_id: str | None
    username: str | None = None


# What `GET /me` is asked for, by graph host (INTERFACE.md, "Security additions").
_ME_FIELDS: dict[GraphHost, str] = {
    "facebook": "id,instagram_business_account",
    "instagram": "user_id,username",
}


_PROFILE_FIELDS = {
    "messenger": "first_name,last_name,profile_pic",
    "instagram": "name,username,profile_pic",
}


class GraphClient:
    """Calls the Graph API on behalf of connected accounts; one instance per process."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self._http = http
        self._version = settings.META_GRAPH_VERSION.strip("/")
        self._base_urls: dict[GraphHost, str] = {
            "facebook": settings.META_GRAPH_URL.rstrip("/"),
            "instagram": settings.INSTAGRAM_GRAPH_URL.rstrip("/"),
        }

    async def send_text(
        self,
        target: SendTarget,
        recipient_id: str,
        text: str,
        *,
        messaging_type: str = "RESPONSE",
        tag: str | None = None,
        metadata: str | None = None,
    ) -> SentMessage:
        """Send one text message (`POST /{sender_id}/messages`) to a PSID or IGSID.

        `text` must already fit one message (see `app.meta.limits.split_text`).
        `messaging_type` "MESSAGE_TAG" needs a `tag` (e.g. "HUMAN_AGENT", for texts a
        human wrote); `metadata` comes back on the echo, so we can recognise our sends.
        Raises `ValueError` for arguments Meta would reject, `GraphError` subclasses for
        everything that goes wrong on the way or at Meta.
        """
        _check_send_arguments(recipient_id, text, messaging_type, tag)
        message: dict[str, Any] = {"text": text}
        if metadata is not None:
            message["metadata"] = metadata
        body: dict[str, Any] = {
            "recipient": {"id": recipient_id},
            "messaging_type": messaging_type,
            "message": message,
        }
        if tag is not None:
            body["tag"] = tag
        data, usage = await self._post(
            "send_text", target, f"{quote(target.sender_id, safe='')}/messages", body
        )
        message_id, answered_recipient = data.get("message_id"), data.get("recipient_id")
        if not isinstance(message_id, str) or not message_id:
            # The message may have gone out; retrying blindly could send it twice.
            raise GraphError("Graph API answered a send without a message_id", usage=usage)
        recipient = answered_recipient if isinstance(answered_recipient, str) else recipient_id
        return SentMessage(message_id=message_id, recipient_id=recipient, usage=usage)

    async def send_private_reply(
        self, target: SendTarget, comment_id: str, text: str, *, metadata: str | None = None
    ) -> SentMessage:
        """Send the private reply to a comment (`POST /{sender_id}/messages` with
        `"recipient": {"comment_id": ...}`): one message, once per comment, within 7 days
        of it (Live comments: during the broadcast). Meta answers a second one with
        subcode 2534014 (`GraphAlreadyReplied`). It needs no open messaging window and
        opens none: the window opens when the commenter answers. `metadata` comes back on
        the echo like a DM's. Raises `ValueError` for arguments Meta would reject,
        `GraphError` subclasses otherwise.
        """
        if not comment_id:
            raise ValueError("comment_id is required")
        if not text or not text.strip():
            raise ValueError("cannot send an empty message")
        message: dict[str, Any] = {"text": text}
        if metadata is not None:
            message["metadata"] = metadata
        body = {"recipient": {"comment_id": comment_id}, "message": message}
        data, usage = await self._post(
            "send_private_reply", target, f"{quote(target.sender_id, safe='')}/messages", body
        )
        message_id, recipient = data.get("message_id"), data.get("recipient_id")
        if not isinstance(message_id, str) or not message_id:
            # It may have gone out; sending again would be refused (one per comment) anyway.
            raise GraphError("Graph API answered a send without a message_id", usage=usage)
        return SentMessage(
            message_id=message_id,
            recipient_id=recipient if isinstance(recipient, str) else "",
            usage=usage,
        )

    async def reply_to_comment(
        self,
        target: SendTarget,
        comment_id: str,
        text: str,
        *,
        platform: Literal["instagram", "messenger"],
    ) -> PostedComment:
        """Post a public reply under a comment, with parameter `message`.

        Instagram (either graph host): `POST /{ig-comment-id}/replies` (top-level
        comments only; Meta refuses hidden comments and Live). A Facebook Page (platform
        "messenger"): `POST /{comment-id}/comments` with the Page token. Meta answers
        `{"id"}`, the new comment's id. Raises `ValueError` for arguments Meta would
        reject, `GraphError` subclasses otherwise.
        """
        if not comment_id:
            raise ValueError("comment_id is required")
        if not text or not text.strip():
            raise ValueError("cannot post an empty reply")
        edge = "replies" if platform == "instagram" else "comments"
        data, usage = await self._post(
            "reply_to_comment", target, f"{quote(comment_id, safe='')}/{edge}", {"message": text}
        )
        posted = _identifier(data, "id")
        if posted is None:
            raise GraphError("Graph API answered a comment reply without an id", usage=usage)
        return PostedComment(comment_id=posted, usage=usage)

    async def get_user_profile(
        self, target: SendTarget, user_id: str, *, platform: Literal["instagram", "messenger"]
    ) -> UserProfile:
        """Read a follower's public profile (`GET /{PSID|IGSID}?fields=...`).

        Messenger asks for first_name, last_name and profile_pic (Page token); Instagram
        for name, username and profile_pic, on graph.instagram.com with an Instagram-Login
        token or on graph.facebook.com with the Page token (`target.graph_host`). Meta
        answers only once the person has messaged the account: otherwise code 230 ("User
        consent is required"); phone-number Messenger accounts answer 2018218. Every field
        may be missing; picture URLs expire within days. Raises `GraphError` subclasses.
        """
        if not user_id:
            raise ValueError("user_id is required")
        fields = _PROFILE_FIELDS[platform]
        data, usage = await self._get(
            "get_user_profile", target, quote(user_id, safe=""), {"fields": fields}
        )
        first, last = _field(data, "first_name"), _field(data, "last_name")
        joined = " ".join(part for part in (first, last) if part) or None
        return UserProfile(
            name=_field(data, "name") or joined,
            username=_field(data, "username"),
            profile_pic_url=_field(data, "profile_pic"),
            usage=usage,
        )

    async def get_me(self, target: SendTarget) -> TokenOwner:
        """Who the token belongs to (`GET /me`), on the target's graph host.

        graph.facebook.com is asked for `id,instagram_business_account` (a Page token
        answers the Page's id and its linked Instagram account), graph.instagram.com for
        `user_id,username` (an Instagram-Login token). `target.sender_id` is ignored.
        Raises `GraphError` subclasses: `GraphTokenInvalid` for a dead or forged token.
        """
        fields = _ME_FIELDS[target.graph_host]
        data, _usage = await self._get("get_me", target, "me", {"fields": fields})
        linked = data.get("instagram_business_account")
        if target.graph_host == "instagram":
            instagram_id = _identifier(data, "user_id")
        else:
            instagram_id = _identifier(linked, "id") if isinstance(linked, dict) else None
        return TokenOwner(
            id=_identifier(data, "id"),
            instagram_account_id=instagram_id,
            username=_field(data, "username"),
        )

    async def _get(
        self, operation: str, target: SendTarget, path: str, query: dict[str, str]
    ) -> tuple[dict[str, Any], Usage]:
        """GET `{host}/{version}/{path}`; the decoded JSON answer and its usage."""
        if not target.access_token:
            raise ValueError("a Graph call needs an access_token")
        url = f"{self._base_urls[target.graph_host]}/{self._version}/{path}"
        params, headers = _auth(target)
        request = self._http.build_request("GET", url, params={**query, **params}, headers=headers)
        return await self._call(operation, request)

    async def _post(
        self, operation: str, target: SendTarget, path: str, body: dict[str, Any]
    ) -> tuple[dict[str, Any], Usage]:
        """POST to `{host}/{version}/{path}`; the decoded JSON answer and its usage."""
        if not target.sender_id or not target.access_token:
            raise ValueError("a send target needs a sender_id and an access_token")
        prefix = f"{self._base_urls[target.graph_host]}/{self._version}"
        url, headers = _endpoint(prefix, path, target)
        request = self._http.build_request("POST", url, headers=headers, json=body)
        return await self._call(operation, request)

    async def _call(self, operation: str, request: httpx.Request) -> tuple[dict[str, Any], Usage]:
        """Sends one request, counted in `inboxpilot_graph_requests_total` by outcome."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            try:
                response = await self._http.send(request)
            except httpx.RequestError as exc:
                raise error_from_transport(exc) from exc
            return _decode(response)
        except GraphError as exc:
            outcome = _outcome(exc)
            raise
        finally:
            record_graph_call(operation, outcome, time.perf_counter() - started)


def _outcome(exc: GraphError) -> str:
    """`GraphRetryLater` -> "retry_later", `GraphError` -> "error"."""
    name = type(exc).__name__.removeprefix("Graph") or "Error"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _decode(response: httpx.Response) -> tuple[dict[str, Any], Usage]:
    """The JSON object of a successful answer and its usage; a `GraphError` otherwise."""
    data = _json_object(response)
    if response.is_error or (data is not None and "error" in data):
        raise error_from_response(response)
    usage = parse_usage(response.headers)
    if data is None:
        raise GraphError(
            "Graph API answered a non-JSON body", http_status=response.status_code, usage=usage
        )
    return data, usage


def _check_send_arguments(
    recipient_id: str, text: str, messaging_type: str, tag: str | None
) -> None:
    if not recipient_id:
        raise ValueError("recipient_id is required")
    if not text or not text.strip():
        raise ValueError("cannot send an empty message")
    if messaging_type not in MESSAGING_TYPES:
        raise ValueError(f"unknown messaging_type: {messaging_type!r}")
    if (messaging_type == "MESSAGE_TAG") != (tag is not None):
        raise ValueError("a tag goes with messaging_type MESSAGE_TAG, and only with it")


def _auth(target: SendTarget) -> tuple[dict[str, str], dict[str, str]]:
    """Query parameters and headers that authenticate a call.

    graph.facebook.com takes the token as `access_token` (Meta's Send API samples);
    graph.instagram.com as a Bearer header. Either way the token never appears in our
    messages or logs.
    """
    params: dict[str, str] = {}
    headers: dict[str, str] = {}
    if target.graph_host == "facebook":
        params["access_token"] = target.access_token
    else:
        headers["Authorization"] = f"Bearer {target.access_token}"
    if target.app_secret:
        params["appsecret_proof"] = appsecret_proof(target.access_token, target.app_secret)
    return params, headers


@functools.lru_cache(maxsize=1024)
def _endpoint(prefix: str, path: str, target: SendTarget) -> tuple[httpx.URL, Mapping[str, str]]:
    """The URL (with its authenticating query) and headers of a POST to one account's
    endpoint, kept: httpx parses a URL character by character, and with a token in its
    query that was most of the CPU a send spent in our code before the network. An
    account sends to the same few endpoints with the same token until it changes."""
    params, headers = _auth(target)
    return httpx.URL(f"{prefix}/{path}", params=params), headers


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """HMAC-SHA256 of the token keyed with the app secret, hex: Meta's `appsecret_proof`."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def _field(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value.strip() else None


def _identifier(data: dict[str, Any], name: str) -> str | None:
    """An id Meta sends as a string (sometimes as a number: Instagram's `user_id`)."""
    value = data.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _field(data, name)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
