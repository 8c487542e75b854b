"""The Graph API's errors, one class per thing the caller does about them.

Meta answers a failed call with `{"error": {"message", "type", "code", "error_subcode",
"error_user_msg", "fbtrace_id", "is_transient"}}`. `error_from_response` reads that body
(or whatever else came back) and picks the class; nobody else parses Meta's error JSON.

    GraphError                      any failed Graph call; also a 2xx we cannot read
    ├── GraphRetryLater             transient (1, 2, 1200, HTTP 5xx, timeouts, network):
    │   │                           retry with bounded backoff; `retry_after_seconds` if known
    │   └── GraphThrottled          rate limited (4, 17, 32, 341, 613, 800xx, HTTP 429):
    │                               pause the account's queue; retry after the usage estimate
    ├── GraphTokenInvalid           190 (and 102): token expired or revoked: re-auth needed
    ├── GraphPermissionMissing      10 (no window subcode), 200-299, 368 policy block:
    │                               give up and alert the operator
    ├── GraphOutsideWindow          10 + 2018278/2018065/2534022, or "outside of allowed
    │                               window": the 24 h window is closed for this follower
    ├── GraphRecipientUnavailable   551, 100 + 2018001: the person blocked us or is gone
    ├── GraphAlreadyReplied         subcode 2534014: this comment already has its one
    │                               private reply; never retry
    └── GraphBadRequest             other 100s and 4xx: our request is wrong; give up

Every error carries `http_status`, `code`, `subcode`, `fbtrace_id` and `error_type` (log
them; Meta support asks for the fbtrace_id) and the answer's `usage`. Messages never hold
tokens: they come from Meta's error body or name the exception class only.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from app.meta.limits import Usage, parse_usage


class GraphError(Exception):
    """A Graph API call failed. Subclasses say what to do about it."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
        error_type: str | None = None,
        user_message: str | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id
        self.error_type = error_type
        self.user_message = user_message  # Meta's error_user_msg, meant for people
        self.usage = usage

    def __str__(self) -> str:
        details = [
            f"{name}={value}"
            for name, value in (
                ("http_status", self.http_status),
                ("code", self.code),
                ("subcode", self.subcode),
                ("fbtrace_id", self.fbtrace_id),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(details)})" if details else self.message


class GraphRetryLater(GraphError):
    """Transient: the same call may succeed later. Retry with bounded backoff and jitter.

    A timeout after the request went out may still have delivered the message; senders
    should match the echo's `metadata` before sending the same reply twice.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: float | None = None,
        maybe_delivered: bool = False,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        self.retry_after_seconds = retry_after_seconds  # Meta's estimate, when it gave one
        # True when the request may have reached Meta (it timed out or broke after being
        # written); False when Meta answered with an error or the connection never opened.
        self.maybe_delivered = maybe_delivered


class GraphThrottled(GraphRetryLater):
    """Rate limited. Keep calling and the block lasts longer: pause the whole account."""


class GraphTokenInvalid(GraphError):
    """The access token is expired, revoked or malformed: the account must reconnect."""


class GraphPermissionMissing(GraphError):
    """A permission is missing or the Page/account is blocked for policy: stop and alert."""


class GraphOutsideWindow(GraphError):
    """The messaging window is closed for this follower: do not retry this message."""


class GraphRecipientUnavailable(GraphError):
    """The follower cannot receive messages (blocked us, deactivated, unknown id)."""


class GraphAlreadyReplied(GraphError):
    """A private reply to a comment that already has one (subcode 2534014): Meta allows one
    per comment. Sending it again fails the same way."""


class GraphBadRequest(GraphError):
    """Meta rejected the request itself; sending it again fails the same way."""


_TOKEN_CODES = frozenset({102, 190})
_TRANSIENT_CODES = frozenset({1, 2, 1200})
_THROTTLE_CODES = frozenset({4, 17, 32, 341, 613})
# 80000-80099: Business Use Case limits (80001 Pages, 80002 Instagram, 80006 Messenger...).
_BUC_THROTTLE_CODES = range(80000, 80100)
_WINDOW_SUBCODES = frozenset({2018278, 2018065, 2534022})
_NO_MATCHING_USER = 2018001
_RECIPIENT_CODES = frozenset({551})
# A second private reply to one comment (reported by third parties; the code that comes
# with it varies, the subcode decides).
_ALREADY_REPLIED_SUBCODE = 2534014
_POLICY_BLOCK = 368
_WINDOW_MESSAGE = re.compile(r"outside (?:of )?(?:the )?allowed window", re.IGNORECASE)


def classify(
    *,
    http_status: int | None,
    code: int | None,
    subcode: int | None,
    message: str = "",
    is_transient: bool = False,
) -> type[GraphError]:
    """The class for one Graph error; the order of the checks is the precedence."""
    if code in _TOKEN_CODES:
        return GraphTokenInvalid
    if subcode == _ALREADY_REPLIED_SUBCODE:
        return GraphAlreadyReplied
    if subcode in _WINDOW_SUBCODES or _WINDOW_MESSAGE.search(message):
        return GraphOutsideWindow
    if code in _RECIPIENT_CODES or (code == 100 and subcode == _NO_MATCHING_USER):
        return GraphRecipientUnavailable
    if code in _THROTTLE_CODES or code in _BUC_THROTTLE_CODES or http_status == 429:
        return GraphThrottled
    if code in _TRANSIENT_CODES or is_transient or (http_status or 0) >= 500:
        return GraphRetryLater
    if code == 10 or code == _POLICY_BLOCK or (code is not None and 200 <= code <= 299):
        return GraphPermissionMissing
    return GraphBadRequest


def error_from_response(response: httpx.Response) -> GraphError:
    """The `GraphError` for a failed Graph answer, from its body, status and headers.

    Tolerates bodies that are not Meta's JSON (a proxy's HTML 502, an empty body): the
    HTTP status alone then decides between `GraphRetryLater` and `GraphBadRequest`.
    """
    body = _error_body(response)
    usage = parse_usage(response.headers)
    code, subcode = _int(body.get("code")), _int(body.get("error_subcode"))
    message = _str(body.get("message")) or f"Graph API answered HTTP {response.status_code}"
    error_class = classify(
        http_status=response.status_code,
        code=code,
        subcode=subcode,
        message=message,
        is_transient=body.get("is_transient") is True,
    )
    error = error_class(
        message,
        http_status=response.status_code,
        code=code,
        subcode=subcode,
        fbtrace_id=_str(body.get("fbtrace_id")) or response.headers.get("x-fb-trace-id"),
        error_type=_str(body.get("type")),
        user_message=_str(body.get("error_user_msg")),
        usage=usage,
    )
    if isinstance(error, GraphRetryLater):
        error.retry_after_seconds = _retry_after(response, usage)
    return error


def error_from_transport(exc: httpx.RequestError) -> GraphRetryLater:
    """A network failure or timeout: always worth another try later.

    Only the exception's class name goes into the message: httpx's exception carries the
    request, whose URL may hold the access token.
    """
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return GraphRetryLater(
        f"Graph API unreachable: {type(exc).__name__}", maybe_delivered=not never_sent
    )


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = json.loads(response.content)
    except ValueError:  # includes UnicodeDecodeError
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _retry_after(response: httpx.Response, usage: Usage) -> float | None:
    """Meta's own estimate first, then a standard Retry-After header in seconds."""
    if usage.retry_after_seconds is not None:
        return usage.retry_after_seconds
    header = response.headers.get("retry-after")
    try:
        seconds = float(header) if header is not None else None
    except ValueError:
        return None  # an HTTP date: rare enough from Meta to let the backoff decide
    return seconds if seconds is not None and seconds >= 0 else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
