"""FakeGraphAPI: Meta's Send API on both Graph hosts, as a small stateful respx fake.

    router = respx.mock(assert_all_mocked=True)        # or the `respx_mock` fixture
    graph = FakeGraphAPI(router, facebook_url=..., instagram_url=..., version="v25.0")
    graph.sent            # every accepted send, in order (RecordedSend)
    graph.calls           # every request that reached the fake, failed ones too
    graph.fail_next(status=500, code=2, times=1)       # any Meta error, for the next calls
    graph.outside_window("instagram"); graph.throttle(regain_minutes=5); graph.timeout()
    graph.report_usage(business_percent=95)            # usage headers on later answers

    graph.profiles["IGSID-1"] = {"name": "Mia", "username": "mia"}   # what a lookup returns
    graph.profile_calls   # every user profile lookup (RecordedLookup)
    graph.profile_consent_missing(); graph.profile_phone_number_account()
    graph.profile_token_invalid(); graph.profile_server_error(); graph.profile_timeout()

It answers `POST {url}/{version}/{sender_id}/messages` as Meta documents it:
`{"recipient_id", "message_id"}` with a fresh mid per send, or `{"error": {...}}` with
Meta's codes. Planned failures are used up in order, one per call, before sends succeed
again. Requests Meta would reject anyway get Meta's answer: no token → 190, no recipient
or text → 100, text over the platform limit → 100, another Graph version → 2500.

Private replies (`"recipient": {"comment_id": ...}`) go through the same route and land
in `sent` with `comment_id` set; like Meta, the fake answers a second private reply to
one comment with subcode 2534014 (`graph.already_replied()` plans that answer too).
Public replies under a comment, `POST {url}/{version}/{comment_id}/replies` (Instagram)
and `.../comments` (Facebook), land in `comment_replies` (RecordedCommentReply) and
answer `{"id"}`; `fail_comment_reply_next(...)` / `comment_reply_timeout()` plan failures.

It also answers the user profile API, `GET {url}/{version}/{PSID|IGSID}?fields=...` (only
requests asking for `profile_pic` are routed here): the requested fields of the profile
set in `profiles` (or one made up from the id), or Meta's error from its own failure
queue, so planned send failures and planned profile failures never consume each other.

And `GET {url}/{version}/me`, who a token belongs to: the answer set for the token with
`own_token(...)` (a Page token answers the Page's `id` and its linked
`instagram_business_account`, an Instagram-Login token its `user_id`), Meta's 190 for any
other token, or a failure planned with `fail_me_next(...)`; `me_calls` records them.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import httpx
import respx

Host = Literal["facebook", "instagram"]
_MESSENGER_MAX_CHARS = 2000
_INSTAGRAM_MAX_BYTES = 1000


@dataclass(frozen=True)
class RecordedSend:
    """One request to the Send API as the fake saw it."""

    host: Host
    version: str
    sender_id: str
    recipient_id: str | None
    text: str | None
    messaging_type: str | None
    tag: str | None
    metadata: str | None
    access_token: str | None
    appsecret_proof: str | None
    body: dict[str, Any]
    message_id: str | None = None  # None when the fake answered an error
    status: int | None = None  # the HTTP status answered; None: the call timed out
    comment_id: str | None = None  # a private reply to this comment

    @property
    def recipient(self) -> str:
        """The recipient of a DM; a private reply has a comment id instead."""
        assert self.recipient_id is not None, f"a private reply to {self.comment_id}"
        return self.recipient_id


@dataclass(frozen=True)
class RecordedCommentReply:
    """One public reply under a comment as the fake saw it."""

    host: Host
    version: str
    comment_id: str
    edge: str  # replies (Instagram) | comments (Facebook)
    message: str | None
    access_token: str | None
    reply_id: str | None = None  # None when the fake answered an error
    status: int | None = None  # None: the call timed out


@dataclass(frozen=True)
class RecordedLookup:
    """One request to the user profile API as the fake saw it."""

    host: Host
    version: str
    user_id: str
    fields: tuple[str, ...]
    access_token: str | None
    status: int | None = None  # None: the call timed out


@dataclass(frozen=True)
class PlannedFailure:
    """What the fake answers instead of a success: a Meta error, or a timeout."""

    status: int = 400
    error: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: bool = False


class FakeGraphAPI:
    """The Send API of graph.facebook.com and graph.instagram.com, registered on `router`."""

    def __init__(
        self,
        router: respx.MockRouter,
        *,
        facebook_url: str = "https://graph.facebook.test",
        instagram_url: str = "https://graph.instagram.test",
        version: str | None = None,
    ) -> None:
        self.version = version  # None: accept any version segment
        self.sent: list[RecordedSend] = []
        self.calls: list[RecordedSend] = []
        self.usage_headers: dict[str, str] = {}
        self._failures: deque[PlannedFailure] = deque()
        self._mids = itertools.count(1)
        self.profiles: dict[str, dict[str, Any]] = {}
        self.profile_calls: list[RecordedLookup] = []
        self._profile_failures: deque[PlannedFailure] = deque()
        self.token_owners: dict[str, dict[str, Any]] = {}  # token -> what GET /me answers
        self.me_calls: list[RecordedLookup] = []
        self._me_failures: deque[PlannedFailure] = deque()
        self.comment_replies: list[RecordedCommentReply] = []  # accepted ones
        self.comment_reply_calls: list[RecordedCommentReply] = []
        self._comment_reply_failures: deque[PlannedFailure] = deque()
        hosts: tuple[tuple[Host, str], ...] = (
            ("facebook", facebook_url),
            ("instagram", instagram_url),
        )
        for host, base in hosts:
            pattern = rf"^{re.escape(base.rstrip('/'))}/[^/?]+/[^/?]+/messages(?:\?.*)?$"
            router.post(url__regex=pattern).mock(side_effect=self._handler(host))
            lookup = (
                rf"^{re.escape(base.rstrip('/'))}/[^/?]+/[^/?]+\?(?:.*&)?fields=[^&]*profile_pic"
            )
            router.get(url__regex=lookup).mock(side_effect=self._lookup_handler(host))
            public = rf"^{re.escape(base.rstrip('/'))}/[^/?]+/[^/?]+/(?:replies|comments)(?:\?.*)?$"
            router.post(url__regex=public).mock(side_effect=self._comment_reply_handler(host))
            self.answer_me_at(router, base, host)

    def answer_me_at(self, router: respx.MockRouter, base: str, host: Host) -> None:
        """Answers GET /me at `base` too: tests whose sends go to a real fake server (kill -9,
        worker processes) still register accounts in process, and the API checks the token."""
        me = rf"^{re.escape(base.rstrip('/'))}/[^/?]+/me(?:\?.*)?$"
        router.get(url__regex=me).mock(side_effect=self._me_handler(host))

    # --- failure modes -------------------------------------------------------------------

    def fail_next(
        self,
        *,
        status: int = 400,
        code: int | None = 100,
        subcode: int | None = None,
        message: str = "(#100) Invalid parameter",
        error_type: str = "OAuthException",
        is_transient: bool | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls answer HTTP `status` with Meta's error body."""
        error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
        if is_transient is not None:
            error["is_transient"] = is_transient
        error["fbtrace_id"] = f"Fake{len(self._failures)}Trace"
        failure = PlannedFailure(status=status, error=error, headers=dict(headers or {}))
        self._failures.extend([failure] * times)

    def fail_with_server_error(self, *, times: int = 1) -> None:
        """Meta's transient "unexpected error": HTTP 500, code 2."""
        self.fail_next(
            status=500,
            code=2,
            message="An unexpected error has occurred. Please retry your request later.",
            is_transient=True,
            times=times,
        )

    def throttle(
        self, *, code: int = 613, regain_minutes: float | None = None, times: int = 1
    ) -> None:
        """Rate limited; with `regain_minutes`, the BUC header carries Meta's wait estimate."""
        headers = {}
        if regain_minutes is not None:
            headers["X-Business-Use-Case-Usage"] = _buc_header(100, regain_minutes)
        self.fail_next(
            code=code,
            message=f"(#{code}) Calls to this api have exceeded the rate limit.",
            headers=headers,
            times=times,
        )

    def outside_window(self, platform: str = "messenger", *, times: int = 1) -> None:
        """The 24 h window is closed: Messenger's and Instagram Login's documented shapes."""
        message = "(#10) This message is sent outside of allowed window."
        if platform == "instagram":
            self.fail_next(
                status=403,
                code=10,
                subcode=2534022,
                message=message,
                error_type="IGApiException",
                times=times,
            )
        else:
            self.fail_next(code=10, subcode=2018278, message=message, times=times)

    def token_invalid(self, *, subcode: int = 463, times: int = 1) -> None:
        """Error 190: the access token expired (463) or was invalidated (460, 467...)."""
        self.fail_next(
            code=190,
            subcode=subcode,
            message="Error validating access token: Session has expired.",
            times=times,
        )

    def recipient_unavailable(self, *, times: int = 1) -> None:
        """Error 551: the person blocked the account or is otherwise unreachable."""
        self.fail_next(
            code=551,
            subcode=1545041,
            message="This person isn't available right now.",
            times=times,
        )

    def permission_missing(self, *, code: int = 10, times: int = 1) -> None:
        """Error 10 without a window subcode (or 200-299): a permission is missing."""
        self.fail_next(
            status=403,
            code=code,
            message=f"(#{code}) Application does not have permission for this action",
            times=times,
        )

    def already_replied(self, *, times: int = 1) -> None:
        """The comment already has its private reply: subcode 2534014."""
        self.fail_next(
            code=10,
            subcode=2534014,
            message="(#10) This comment has already been replied to privately.",
            times=times,
        )

    def fail_comment_reply_next(
        self,
        *,
        status: int = 400,
        code: int | None = 100,
        subcode: int | None = None,
        message: str = "(#100) Invalid parameter",
        is_transient: bool | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` public replies under a comment answer Meta's error."""
        error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
        if is_transient is not None:
            error["is_transient"] = is_transient
        self._comment_reply_failures.extend([PlannedFailure(status=status, error=error)] * times)

    def comment_reply_timeout(self, *, times: int = 1) -> None:
        self._comment_reply_failures.extend([PlannedFailure(timeout=True)] * times)

    def timeout(self, *, times: int = 1) -> None:
        """The next `times` calls time out (httpx.ReadTimeout) instead of answering."""
        self._failures.extend([PlannedFailure(timeout=True)] * times)

    def report_usage(
        self,
        *,
        business_percent: float | None = None,
        app_percent: float | None = None,
        regain_minutes: float = 0,
    ) -> None:
        """Put usage headers on every later answer (None removes that header)."""
        self.usage_headers = {}
        if business_percent is not None:
            self.usage_headers["X-Business-Use-Case-Usage"] = _buc_header(
                business_percent, regain_minutes
            )
        if app_percent is not None:
            usage = {"call_count": app_percent, "total_cputime": 0, "total_time": 0}
            self.usage_headers["X-App-Usage"] = json.dumps(usage)

    # --- user profile API failure modes ----------------------------------------------------

    def fail_profile_next(
        self,
        *,
        status: int = 400,
        code: int | None = 100,
        subcode: int | None = None,
        message: str = "(#100) Invalid parameter",
        times: int = 1,
    ) -> None:
        """The next `times` profile lookups answer HTTP `status` with Meta's error body."""
        error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
        error["fbtrace_id"] = "FakeProfileTrace"
        self._profile_failures.extend([PlannedFailure(status=status, error=error)] * times)

    def profile_consent_missing(self, *, times: int = 1) -> None:
        """The person never messaged the account (e.g. only commented): code 230."""
        self.fail_profile_next(
            code=230, message="User consent is required to access user profile", times=times
        )

    def profile_phone_number_account(self, *, times: int = 1) -> None:
        """Messenger accounts registered with a phone number have no profile: 2018218."""
        self.fail_profile_next(
            code=100, subcode=2018218, message="No profile available for this user.", times=times
        )

    def profile_token_invalid(self, *, times: int = 1) -> None:
        self.fail_profile_next(
            code=190,
            subcode=460,
            message="Error validating access token: The session has been invalidated.",
            times=times,
        )

    def profile_server_error(self, *, times: int = 1) -> None:
        self.fail_profile_next(
            status=500,
            code=2,
            message="An unexpected error has occurred. Please retry your request later.",
            times=times,
        )

    def profile_timeout(self, *, times: int = 1) -> None:
        self._profile_failures.extend([PlannedFailure(timeout=True)] * times)

    # --- who a token belongs to (GET /me) ---------------------------------------------------

    def own_token(
        self,
        token: str,
        *,
        platform: str,
        external_id: str,
        graph_host: str = "facebook",
        page_id: str | None = None,
    ) -> None:
        """From now on `token` is the account's: GET /me answers as Meta would for it."""
        if graph_host == "instagram":
            answer: dict[str, Any] = {"user_id": external_id, "username": f"user{external_id}"}
        elif platform == "messenger":
            answer = {"id": external_id}
        else:
            page = page_id or f"page-of-{external_id}"
            answer = {"id": page, "instagram_business_account": {"id": external_id}}
        self.token_owners[token] = answer

    def fail_me_next(
        self, *, status: int = 500, code: int = 2, message: str = "unexpected", times: int = 1
    ) -> None:
        error = {"message": message, "type": "OAuthException", "code": code}
        self._me_failures.extend([PlannedFailure(status=status, error=error)] * times)

    def _me_handler(self, host: Host) -> Any:
        def handle(request: httpx.Request) -> httpx.Response:
            return self.answer_me(host, request)

        return handle

    def answer_me(self, host: Host, request: httpx.Request) -> httpx.Response:
        """GET /me for a token: the answer set with `own_token`, else Meta's 190."""
        token = request.url.params.get("access_token")
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ")
        fields = tuple(request.url.params.get("fields", "").split(","))
        version = request.url.path.strip("/").split("/")[-2]
        self.me_calls.append(RecordedLookup(host, version, "me", fields, token))
        if self._me_failures:
            failure = self._me_failures.popleft()
            return self._error_response(failure.status, failure.error, failure.headers)
        if token is None or token not in self.token_owners:
            error = {
                "message": "Invalid OAuth access token - Cannot parse access token",
                "type": "OAuthException",
                "code": 190,
            }
            return self._error_response(400, error, {})
        return httpx.Response(200, json=self.token_owners[token])

    def reset(self) -> None:
        """Forget planned failures, usage headers and recorded calls."""
        self._failures.clear()
        self.usage_headers = {}
        self.sent.clear()
        self.calls.clear()
        self._profile_failures.clear()
        self.profile_calls.clear()
        self._comment_reply_failures.clear()
        self.comment_replies.clear()
        self.comment_reply_calls.clear()

    # --- request handling ----------------------------------------------------------------

    def _handler(self, host: Host) -> Any:
        def handle(request: httpx.Request) -> httpx.Response:
            return self._answer(host, request)

        return handle

    def _answer(self, host: Host, request: httpx.Request) -> httpx.Response:
        send = _record(host, request)
        if self._failures:
            failure = self._failures.popleft()
            if failure.timeout:
                self.calls.append(send)
                raise httpx.ReadTimeout("timed out", request=request)
            self.calls.append(replace(send, status=failure.status))
            return self._error_response(failure.status, failure.error, failure.headers)
        rejection = self._reject(send)
        if rejection is not None:
            self.calls.append(replace(send, status=400))
            return self._error_response(400, rejection, {})
        mid = f"m_fake_{host}_{next(self._mids):06d}"
        accepted = replace(send, message_id=mid, status=200)
        self.calls.append(accepted)
        self.sent.append(accepted)
        recipient = send.recipient_id or f"IGSID-of-{send.comment_id}"
        body = {"recipient_id": recipient, "message_id": mid}
        return httpx.Response(200, json=body, headers=self.usage_headers)

    def _lookup_handler(self, host: Host) -> Any:
        def handle(request: httpx.Request) -> httpx.Response:
            return self._answer_lookup(host, request)

        return handle

    def _answer_lookup(self, host: Host, request: httpx.Request) -> httpx.Response:
        segments = request.url.path.strip("/").split("/")
        token = request.url.params.get("access_token")
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ")
        fields = tuple(request.url.params.get("fields", "").split(","))
        lookup = RecordedLookup(host, segments[-2], segments[-1], fields, token)
        if self._profile_failures:
            failure = self._profile_failures.popleft()
            if failure.timeout:
                self.profile_calls.append(lookup)
                raise httpx.ReadTimeout("timed out", request=request)
            self.profile_calls.append(replace(lookup, status=failure.status))
            return self._error_response(failure.status, failure.error, {})
        if not token:
            self.profile_calls.append(replace(lookup, status=400))
            return self._error_response(400, _error(190, "Invalid OAuth access token"), {})
        self.profile_calls.append(replace(lookup, status=200))
        profile = {"id": lookup.user_id, **self._profile(lookup.user_id)}
        body = {key: profile[key] for key in ("id", *fields) if key in profile}
        return httpx.Response(200, json=body, headers=self.usage_headers)

    def _profile(self, user_id: str) -> dict[str, Any]:
        """The profile set for `user_id`, or one made up from it (both platforms' fields)."""
        if user_id in self.profiles:
            return self.profiles[user_id]
        return {
            "name": f"Follower {user_id}",
            "first_name": "Follower",
            "last_name": user_id,
            "username": f"user_{user_id.lower()}",
            "profile_pic": f"https://scontent.fake.test/{user_id}.jpg?oe=expiring",
        }

    def _reject(self, send: RecordedSend) -> dict[str, Any] | None:
        """Meta's answer to a request it would refuse whatever the failure mode."""
        if self.version is not None and send.version != self.version:
            return _error(2500, f"Unknown path components: /{send.version}")
        if not send.access_token:
            return _error(190, "Invalid OAuth access token - Cannot parse access token")
        if not send.recipient_id and not send.comment_id:
            return _error(100, "(#100) The parameter recipient is required")
        if send.comment_id and any(s.comment_id == send.comment_id for s in self.sent):
            return _error(10, "(#10) This comment has already been replied to.", 2534014)
        if not send.text:
            return _error(100, "(#100) The parameter message is required", 2018034)
        too_long = (
            len(send.text.encode("utf-8")) > _INSTAGRAM_MAX_BYTES
            if send.host == "instagram"
            else len(send.text) > _MESSENGER_MAX_CHARS
        )
        if too_long:
            return _error(100, "(#100) Length of param message[text] is too long")
        return None

    def _comment_reply_handler(self, host: Host) -> Any:
        def handle(request: httpx.Request) -> httpx.Response:
            return self._answer_comment_reply(host, request)

        return handle

    def _answer_comment_reply(self, host: Host, request: httpx.Request) -> httpx.Response:
        segments = request.url.path.strip("/").split("/")
        try:
            body = json.loads(request.content)
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        token = request.url.params.get("access_token")
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ")
        message = body.get("message", request.url.params.get("message"))
        call = RecordedCommentReply(host, segments[-3], segments[-2], segments[-1], message, token)
        if self._comment_reply_failures:
            failure = self._comment_reply_failures.popleft()
            if failure.timeout:
                self.comment_reply_calls.append(call)
                raise httpx.ReadTimeout("timed out", request=request)
            self.comment_reply_calls.append(replace(call, status=failure.status))
            return self._error_response(failure.status, failure.error, {})
        if not token or not message:
            self.comment_reply_calls.append(replace(call, status=400))
            return self._error_response(400, _error(100, "(#100) message is required"), {})
        reply_id = f"{call.comment_id}_reply_{next(self._mids):06d}"
        accepted = replace(call, reply_id=reply_id, status=200)
        self.comment_reply_calls.append(accepted)
        self.comment_replies.append(accepted)
        return httpx.Response(200, json={"id": reply_id}, headers=self.usage_headers)

    def _error_response(
        self, status: int, error: dict[str, Any] | None, headers: dict[str, str]
    ) -> httpx.Response:
        return httpx.Response(
            status, json={"error": error or {}}, headers={**self.usage_headers, **headers}
        )


def _record(host: Host, request: httpx.Request) -> RecordedSend:
    segments = request.url.path.strip("/").split("/")
    try:
        body = json.loads(request.content)
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    message = _object(body.get("message"))
    recipient = _object(body.get("recipient"))
    token = request.url.params.get("access_token")
    authorization = request.headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        token = authorization.removeprefix("Bearer ")
    return RecordedSend(
        host=host,
        version=segments[-3],
        sender_id=segments[-2],
        recipient_id=recipient.get("id"),
        text=message.get("text"),
        messaging_type=body.get("messaging_type"),
        tag=body.get("tag"),
        metadata=message.get("metadata"),
        access_token=token,
        appsecret_proof=request.url.params.get("appsecret_proof"),
        body=body,
        comment_id=recipient.get("comment_id"),
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _error(code: int, message: str, subcode: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "FakeRejectTrace"
    return error


def _buc_header(percent: float, regain_minutes: float) -> str:
    usage = {
        "type": "pages",
        "call_count": percent,
        "total_cputime": 1,
        "total_time": 1,
        "estimated_time_to_regain_access": regain_minutes,
    }
    return json.dumps({"fake-object-id": [usage]})
