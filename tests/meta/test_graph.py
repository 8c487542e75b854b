"""GraphClient.send_text through FakeGraphAPI, on both Graph hosts."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Literal

import httpx
import pytest
import respx

from app.config import Settings
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
)
from app.meta.graph import GraphClient, SendTarget, SentMessage
from tests.fakes.graph import FakeGraphAPI

FACEBOOK_URL = "https://graph.facebook.test"
INSTAGRAM_URL = "https://graph.instagram.test"
VERSION = "v25.0"
PAGE = SendTarget(graph_host="facebook", sender_id="104871234567890", access_token="PAGE-TOKEN")
IG = SendTarget(graph_host="instagram", sender_id="17841400000000000", access_token="IG-TOKEN")


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def graph(router: respx.MockRouter) -> FakeGraphAPI:
    return FakeGraphAPI(
        router, facebook_url=FACEBOOK_URL, instagram_url=INSTAGRAM_URL, version=VERSION
    )


@pytest.fixture
async def client(graph: FakeGraphAPI) -> AsyncIterator[GraphClient]:
    settings = Settings(
        META_GRAPH_URL=FACEBOOK_URL + "/",
        INSTAGRAM_GRAPH_URL=INSTAGRAM_URL,
        META_GRAPH_VERSION=VERSION,
        _env_file=None,
    )
    async with httpx.AsyncClient() as http:
        yield GraphClient(http, settings)


async def test_facebook_send(client: GraphClient, graph: FakeGraphAPI) -> None:
    result = await client.send_text(PAGE, "6543210987654321", "Hi!", metadata="bot:42")
    assert result.message_id.startswith("m_")
    assert result.recipient_id == "6543210987654321"
    [sent] = graph.sent
    assert (sent.host, sent.version, sent.sender_id) == ("facebook", VERSION, PAGE.sender_id)
    assert sent.access_token == "PAGE-TOKEN"
    assert sent.appsecret_proof is None
    assert sent.message_id == result.message_id
    assert sent.body == {
        "recipient": {"id": "6543210987654321"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Hi!", "metadata": "bot:42"},
    }


async def test_facebook_token_is_a_query_parameter(
    client: GraphClient, router: respx.MockRouter, graph: FakeGraphAPI
) -> None:
    await client.send_text(PAGE, "1", "Hi!")
    request = router.calls.last.request
    assert str(request.url).startswith(f"{FACEBOOK_URL}/{VERSION}/{PAGE.sender_id}/messages?")
    assert request.url.params["access_token"] == "PAGE-TOKEN"
    assert "authorization" not in request.headers


async def test_instagram_send_uses_bearer_header(
    client: GraphClient, router: respx.MockRouter, graph: FakeGraphAPI
) -> None:
    await client.send_text(IG, "987654321012345", "Hallo 👋")
    request = router.calls.last.request
    assert request.url.copy_with(query=None) == httpx.URL(
        f"{INSTAGRAM_URL}/{VERSION}/{IG.sender_id}/messages"
    )
    assert request.headers["authorization"] == "Bearer IG-TOKEN"
    assert "access_token" not in request.url.params
    [sent] = graph.sent
    assert (sent.host, sent.text, sent.access_token) == ("instagram", "Hallo 👋", "IG-TOKEN")
    assert "metadata" not in sent.body["message"]


async def test_appsecret_proof(client: GraphClient, graph: FakeGraphAPI) -> None:
    target = SendTarget("facebook", "1", access_token="TOKEN", app_secret="APP-SECRET")
    await client.send_text(target, "2", "Hi")
    expected = hmac.new(b"APP-SECRET", b"TOKEN", hashlib.sha256).hexdigest()
    assert graph.sent[0].appsecret_proof == expected


async def test_message_tag(client: GraphClient, graph: FakeGraphAPI) -> None:
    await client.send_text(
        PAGE, "1", "Sorry for the wait!", messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT"
    )
    [sent] = graph.sent
    assert (sent.messaging_type, sent.tag) == ("MESSAGE_TAG", "HUMAN_AGENT")


@pytest.mark.parametrize(
    ("recipient", "text", "messaging_type", "tag"),
    [
        ("", "hi", "RESPONSE", None),
        ("1", "  ", "RESPONSE", None),
        ("1", "hi", "PROMO", None),
        ("1", "hi", "MESSAGE_TAG", None),
        ("1", "hi", "RESPONSE", "HUMAN_AGENT"),
    ],
)
async def test_invalid_arguments_never_reach_meta(
    client: GraphClient,
    graph: FakeGraphAPI,
    recipient: str,
    text: str,
    messaging_type: str,
    tag: str | None,
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies per case
        await client.send_text(PAGE, recipient, text, messaging_type=messaging_type, tag=tag)
    assert graph.calls == []


async def test_unique_mids(client: GraphClient, graph: FakeGraphAPI) -> None:
    results = [await client.send_text(PAGE, "1", f"part {i}") for i in range(3)]
    results.append(await client.send_text(IG, "1", "ig"))
    assert len({r.message_id for r in results}) == 4
    assert [s.text for s in graph.sent] == ["part 0", "part 1", "part 2", "ig"]


async def test_server_error_then_success(client: GraphClient, graph: FakeGraphAPI) -> None:
    graph.fail_with_server_error(times=2)
    for _ in range(2):
        with pytest.raises(GraphRetryLater) as caught:
            await client.send_text(PAGE, "1", "hi")
        assert (caught.value.http_status, caught.value.code) == (500, 2)
    assert isinstance(await client.send_text(PAGE, "1", "hi"), SentMessage)
    assert [c.status for c in graph.calls] == [500, 500, 200]
    assert len(graph.sent) == 1


@pytest.mark.parametrize(
    ("arrange", "target", "expected", "code", "subcode"),
    [
        (lambda g: g.throttle(), PAGE, GraphThrottled, 613, None),
        (lambda g: g.throttle(code=80006), PAGE, GraphThrottled, 80006, None),
        (lambda g: g.outside_window("messenger"), PAGE, GraphOutsideWindow, 10, 2018278),
        (lambda g: g.outside_window("instagram"), IG, GraphOutsideWindow, 10, 2534022),
        (lambda g: g.token_invalid(), IG, GraphTokenInvalid, 190, 463),
        (lambda g: g.recipient_unavailable(), PAGE, GraphRecipientUnavailable, 551, 1545041),
        (lambda g: g.permission_missing(), PAGE, GraphPermissionMissing, 10, None),
        (lambda g: g.permission_missing(code=200), IG, GraphPermissionMissing, 200, None),
        (lambda g: g.fail_next(code=100), PAGE, GraphBadRequest, 100, None),
        (lambda g: g.fail_next(code=368), PAGE, GraphPermissionMissing, 368, None),
    ],
)
async def test_failure_modes(
    client: GraphClient,
    graph: FakeGraphAPI,
    arrange: Callable[[FakeGraphAPI], None],
    target: SendTarget,
    expected: type[GraphError],
    code: int,
    subcode: int | None,
) -> None:
    arrange(graph)
    with pytest.raises(expected) as caught:
        await client.send_text(target, "1", "hi")
    assert type(caught.value) is expected
    assert (caught.value.code, caught.value.subcode) == (code, subcode)
    assert caught.value.fbtrace_id
    assert graph.sent == []
    await client.send_text(target, "1", "hi")  # the failure was used up
    assert len(graph.sent) == 1


async def test_timeout_is_retry_later(client: GraphClient, graph: FakeGraphAPI) -> None:
    graph.timeout()
    with pytest.raises(GraphRetryLater) as caught:
        await client.send_text(PAGE, "1", "hi")
    assert "ReadTimeout" in str(caught.value)
    assert "PAGE-TOKEN" not in str(caught.value)
    assert caught.value.http_status is None
    assert [c.status for c in graph.calls] == [None]


async def test_network_error_is_retry_later(client: GraphClient, router: respx.MockRouter) -> None:
    router.post(url__startswith="https://graph.down.test").mock(
        side_effect=httpx.ConnectError("connection refused")
    )
    target = SendTarget("facebook", "1", access_token="SECRET")
    http = httpx.AsyncClient()
    settings = Settings(META_GRAPH_URL="https://graph.down.test", _env_file=None)
    async with http:
        with pytest.raises(GraphRetryLater) as caught:
            await GraphClient(http, settings).send_text(target, "2", "hi")
    assert "SECRET" not in str(caught.value)


async def test_throttle_retry_after_from_usage_header(
    client: GraphClient, graph: FakeGraphAPI
) -> None:
    graph.throttle(code=80006, regain_minutes=7)
    with pytest.raises(GraphThrottled) as caught:
        await client.send_text(PAGE, "1", "hi")
    assert caught.value.retry_after_seconds == 7 * 60
    assert caught.value.usage is not None
    assert caught.value.usage.max_percent == 100


async def test_usage_on_success(client: GraphClient, graph: FakeGraphAPI) -> None:
    graph.report_usage(business_percent=93, app_percent=12)
    result = await client.send_text(PAGE, "1", "hi")
    assert result.usage.business_percent == 93
    assert result.usage.max_percent == 93
    assert result.usage.is_near_limit()


async def test_text_over_the_platform_limit_is_refused_by_the_fake(
    client: GraphClient, graph: FakeGraphAPI
) -> None:
    with pytest.raises(GraphBadRequest):
        await client.send_text(IG, "1", "ü" * 501)  # 1002 bytes
    await client.send_text(PAGE, "1", "ü" * 2000)
    with pytest.raises(GraphBadRequest):
        await client.send_text(PAGE, "1", "a" * 2001)


async def test_wrong_version_is_refused_by_the_fake(graph: FakeGraphAPI) -> None:
    settings = Settings(
        META_GRAPH_URL=FACEBOOK_URL,
        META_GRAPH_VERSION="v19.0",
        _env_file=None,
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(GraphBadRequest) as caught:
            await GraphClient(http, settings).send_text(PAGE, "1", "hi")
    assert caught.value.code == 2500


async def test_success_without_message_id_is_a_graph_error(
    client: GraphClient, router: respx.MockRouter
) -> None:
    # On another host: respx matches routes in order and the fake's route comes first.
    router.post(url__startswith="https://graph.odd.test").mock(
        return_value=httpx.Response(200, json={"recipient_id": "1"})
    )
    settings = Settings(META_GRAPH_URL="https://graph.odd.test", _env_file=None)
    async with httpx.AsyncClient() as http:
        with pytest.raises(GraphError) as caught:
            await GraphClient(http, settings).send_text(PAGE, "1", "hi")
    assert type(caught.value) is GraphError


async def test_unplanned_egress_fails(client: GraphClient) -> None:
    target = SendTarget("facebook", "1", access_token="t")
    async with httpx.AsyncClient() as http:
        settings = Settings(META_GRAPH_URL="https://elsewhere.test", _env_file=None)
        with pytest.raises(AssertionError, match="not mocked"):
            await GraphClient(http, settings).send_text(target, "1", "hi")


def test_send_target_repr_hides_secrets() -> None:
    target = SendTarget("facebook", "1", access_token="TOKEN-XYZ", app_secret="SECRET-XYZ")
    assert "TOKEN-XYZ" not in repr(target)
    assert "SECRET-XYZ" not in repr(target)


# --- comments: the private reply and the public reply ---------------------------------------


async def test_private_reply_goes_to_the_comment(client: GraphClient, graph: FakeGraphAPI) -> None:
    result = await client.send_private_reply(IG, "17900000000000001", "Hi!", metadata="bot:7")
    [sent] = graph.sent
    assert (sent.host, sent.sender_id, sent.comment_id) == (
        "instagram",
        IG.sender_id,
        "17900000000000001",
    )
    assert sent.body == {
        "recipient": {"comment_id": "17900000000000001"},
        "message": {"text": "Hi!", "metadata": "bot:7"},
    }
    assert result.message_id == sent.message_id


async def test_a_second_private_reply_is_already_replied(
    client: GraphClient, graph: FakeGraphAPI
) -> None:
    await client.send_private_reply(PAGE, "1234_5678", "Hi!")
    with pytest.raises(GraphAlreadyReplied) as caught:
        await client.send_private_reply(PAGE, "1234_5678", "Hi again!")
    assert caught.value.subcode == 2534014
    assert len(graph.sent) == 1


async def test_private_reply_arguments_never_reach_meta(
    client: GraphClient, graph: FakeGraphAPI
) -> None:
    with pytest.raises(ValueError, match="comment_id"):
        await client.send_private_reply(IG, "", "Hi!")
    with pytest.raises(ValueError, match="empty"):
        await client.send_private_reply(IG, "1790", "  ")
    assert graph.calls == []


@pytest.mark.parametrize(
    ("target", "platform", "edge"),
    [(IG, "instagram", "replies"), (PAGE, "instagram", "replies"), (PAGE, "messenger", "comments")],
)
async def test_public_reply_endpoint_by_platform(
    client: GraphClient,
    graph: FakeGraphAPI,
    router: respx.MockRouter,
    target: SendTarget,
    platform: Literal["instagram", "messenger"],
    edge: str,
) -> None:
    posted = await client.reply_to_comment(target, "1790001", "Check your DMs!", platform=platform)
    [reply] = graph.comment_replies
    assert (reply.host, reply.version, reply.comment_id, reply.edge, reply.message) == (
        target.graph_host,
        VERSION,
        "1790001",
        edge,
        "Check your DMs!",
    )
    assert reply.access_token == target.access_token
    assert posted.comment_id == reply.reply_id
    assert router.calls.last.request.url.path == f"/{VERSION}/1790001/{edge}"


async def test_public_reply_errors_are_graph_errors(
    client: GraphClient, graph: FakeGraphAPI
) -> None:
    graph.fail_comment_reply_next(code=100, subcode=33, message="Object does not exist")
    with pytest.raises(GraphBadRequest):
        await client.reply_to_comment(IG, "1790001", "Hi", platform="instagram")
    graph.fail_comment_reply_next(status=500, code=2, is_transient=True)
    with pytest.raises(GraphRetryLater):
        await client.reply_to_comment(IG, "1790001", "Hi", platform="instagram")
    assert graph.comment_replies == []
