"""error_from_response: Meta's error bodies, as documented and as seen in the wild."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.meta.errors import (
    GraphAlreadyReplied,
    GraphBadRequest,
    GraphError,
    GraphOutsideWindow,
    GraphPermissionMissing,
    GraphRecipientUnavailable,
    GraphRetryLater,
    GraphThrottled,
    GraphTokenInvalid,
    error_from_response,
    error_from_transport,
)


def meta_error(
    status: int,
    code: int | None,
    message: str,
    *,
    subcode: int | None = None,
    error_type: str = "OAuthException",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    error: dict[str, Any] = {
        "message": message,
        "type": error_type,
        "code": code,
        "fbtrace_id": "AbCdEf123",
        **extra,
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return httpx.Response(status, json={"error": error}, headers=headers)


WINDOW = "(#10) This message is sent outside of allowed window."


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        # transient
        (meta_error(500, 1, "An unknown error occurred"), GraphRetryLater),
        (
            meta_error(500, 2, "An unexpected error has occurred.", is_transient=True),
            GraphRetryLater,
        ),
        (
            meta_error(400, 1200, "Temporary send message failure. Please try again later"),
            GraphRetryLater,
        ),
        (meta_error(400, 9999, "Something odd", is_transient=True), GraphRetryLater),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), GraphRetryLater),
        (httpx.Response(503, content=b""), GraphRetryLater),
        # throttled
        (meta_error(400, 4, "(#4) Application request limit reached"), GraphThrottled),
        (meta_error(400, 17, "(#17) User request limit reached"), GraphThrottled),
        (meta_error(400, 32, "(#32) Page request limit reached"), GraphThrottled),
        (
            meta_error(400, 613, "(#613) Calls to this api have exceeded the rate limit."),
            GraphThrottled,
        ),
        (meta_error(400, 341, "(#341) Application limit reached"), GraphThrottled),
        (
            meta_error(400, 80001, "There have been too many calls to this Page account."),
            GraphThrottled,
        ),
        (meta_error(400, 80002, "Too many calls to this Instagram account."), GraphThrottled),
        (meta_error(400, 80006, "There have been too many messenger api calls."), GraphThrottled),
        (httpx.Response(429, text="slow down"), GraphThrottled),
        # token
        (
            meta_error(400, 190, "Error validating access token: Session has expired", subcode=463),
            GraphTokenInvalid,
        ),
        (
            meta_error(400, 190, "Error validating access token: password changed", subcode=460),
            GraphTokenInvalid,
        ),
        (
            meta_error(401, 190, "Invalid OAuth access token - Cannot parse access token"),
            GraphTokenInvalid,
        ),
        (meta_error(400, 102, "Session key invalid or no longer valid"), GraphTokenInvalid),
        # permission / policy
        (
            meta_error(403, 10, "(#10) Application does not have permission for this action"),
            GraphPermissionMissing,
        ),
        (
            meta_error(400, 10, "(#10) This Page is temporarily restricted", subcode=1893063),
            GraphPermissionMissing,
        ),
        (
            meta_error(403, 200, "(#200) Requires pages_messaging permission"),
            GraphPermissionMissing,
        ),
        (
            meta_error(403, 230, "(#230) Requires pages_messaging_subscriptions permission"),
            GraphPermissionMissing,
        ),
        (
            meta_error(
                400, 368, "The action attempted has been deemed abusive or is otherwise disallowed"
            ),
            GraphPermissionMissing,
        ),
        # window
        (meta_error(400, 10, WINDOW, subcode=2018278), GraphOutsideWindow),
        (meta_error(400, 10, WINDOW, subcode=2018065), GraphOutsideWindow),
        (
            meta_error(403, 10, WINDOW, subcode=2534022, error_type="IGApiException"),
            GraphOutsideWindow,
        ),
        (meta_error(400, 10, WINDOW), GraphOutsideWindow),
        # recipient
        (
            meta_error(400, 551, "This person isn't available right now.", subcode=1545041),
            GraphRecipientUnavailable,
        ),
        (
            meta_error(400, 100, "(#100) No matching user found", subcode=2018001),
            GraphRecipientUnavailable,
        ),
        # a second private reply to one comment, whatever code comes with the subcode
        (
            meta_error(400, 10, "(#10) Reply already sent to this comment", subcode=2534014),
            GraphAlreadyReplied,
        ),
        (
            meta_error(400, 100, "Activity already replied to", subcode=2534014),
            GraphAlreadyReplied,
        ),
        # bad request
        (meta_error(400, 100, "(#100) The parameter recipient is required"), GraphBadRequest),
        (meta_error(400, 100, "(#100) Attachment size too big", subcode=2018109), GraphBadRequest),
        (meta_error(400, 100, "(#100) Message text empty", subcode=2018034), GraphBadRequest),
        (
            meta_error(404, 803, "(#803) Some of the aliases you requested do not exist"),
            GraphBadRequest,
        ),
        (httpx.Response(400, text="not json"), GraphBadRequest),
        (httpx.Response(400, json={"error": "a string"}), GraphBadRequest),
        (httpx.Response(400, json=[1, 2]), GraphBadRequest),
    ],
)
def test_classes(response: httpx.Response, expected: type[GraphError]) -> None:
    error = error_from_response(response)
    assert type(error) is expected
    assert error.http_status == response.status_code


def test_fields_are_read_from_the_body() -> None:
    response = meta_error(
        403,
        10,
        WINDOW,
        subcode=2534022,
        error_type="IGApiException",
        error_user_msg="You can't reply to this conversation.",
    )
    error = error_from_response(response)
    assert isinstance(error, GraphOutsideWindow)
    assert (error.code, error.subcode, error.http_status) == (10, 2534022, 403)
    assert (error.fbtrace_id, error.error_type) == ("AbCdEf123", "IGApiException")
    assert error.message == WINDOW
    assert error.user_message == "You can't reply to this conversation."
    assert "code=10" in str(error)
    assert "fbtrace_id=AbCdEf123" in str(error)


def test_non_json_body_gets_a_status_message() -> None:
    error = error_from_response(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert error.message == "Graph API answered HTTP 502"
    assert error.code is None
    assert error.usage is not None


def test_string_codes_are_tolerated() -> None:
    response = httpx.Response(400, json={"error": {"code": "190", "error_subcode": "463"}})
    error = error_from_response(response)
    assert isinstance(error, GraphTokenInvalid)
    assert error.subcode == 463


def test_throttle_retry_after_from_business_use_case_header() -> None:
    usage = {
        "104871234567890": [
            {
                "type": "messenger",
                "call_count": 100,
                "total_cputime": 20,
                "total_time": 30,
                "estimated_time_to_regain_access": 12,
            }
        ]
    }
    response = meta_error(
        400,
        80006,
        "There have been too many messenger api calls to this Page.",
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
    )
    error = error_from_response(response)
    assert isinstance(error, GraphThrottled)
    assert error.retry_after_seconds == 12 * 60
    assert error.usage is not None
    assert error.usage.max_percent == 100


def test_retry_after_header_when_meta_gives_no_estimate() -> None:
    response = httpx.Response(503, text="busy", headers={"Retry-After": "30"})
    error = error_from_response(response)
    assert isinstance(error, GraphRetryLater)
    assert error.retry_after_seconds == 30


def test_no_estimate_means_none() -> None:
    error = error_from_response(meta_error(400, 613, "(#613) rate limit"))
    assert isinstance(error, GraphThrottled)
    assert error.retry_after_seconds is None


def test_transport_errors_are_retry_later_without_the_url() -> None:
    request = httpx.Request(
        "POST", "https://graph.facebook.test/v25.0/1/messages?access_token=SECRET"
    )
    for exc in (
        httpx.ReadTimeout("timed out", request=request),
        httpx.ConnectError("connection refused", request=request),
    ):
        error = error_from_transport(exc)
        assert isinstance(error, GraphRetryLater)
        assert "SECRET" not in str(error)
        assert type(exc).__name__ in str(error)


def test_tree() -> None:
    assert issubclass(GraphThrottled, GraphRetryLater)
    for cls in (
        GraphRetryLater,
        GraphTokenInvalid,
        GraphPermissionMissing,
        GraphOutsideWindow,
        GraphRecipientUnavailable,
        GraphAlreadyReplied,
        GraphBadRequest,
    ):
        assert issubclass(cls, GraphError)
