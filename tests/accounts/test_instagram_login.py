"""Instagram API with Instagram Login, end to end against the fake Meta."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.core.clock import as_utc, utc_now
from app.core.crypto import TokenCipher
from app.core.db import unit_of_work
from app.models import Account
from tests.accounts.conftest import instagram_login, sign_in, start
from tests.fakes.meta_oauth import FakeMetaOAuth
from tests.harness import Harness

IG_FIELDS = (
    "messages,messaging_postbacks,messaging_seen,message_reactions,messaging_referral,"
    "comments,live_comments"
)


async def _accounts(harness: Harness) -> list[Account]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(Account).order_by(Account.id))).all())


async def test_start_redirects_to_instagrams_authorize_window(harness: Harness) -> None:
    await sign_in(harness)
    response = await harness.client.get("/oauth/instagram/start")
    assert response.headers["location"].startswith("https://www.instagram.com/oauth/authorize?")
    dialog = await start(harness, "/oauth/instagram/start")
    assert dialog["client_id"] == "999000111"
    assert dialog["redirect_uri"] == "http://127.0.0.1:8000/oauth/instagram/callback"
    assert dialog["response_type"] == "code"
    assert dialog["scope"] == (
        "instagram_business_basic,instagram_business_manage_messages,"
        "instagram_business_manage_comments"
    )
    assert dialog["state"]


async def test_connects_the_account_with_a_60_day_token_and_subscribes_it(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    await sign_in(harness)
    response = await instagram_login(harness, meta)
    assert response.status_code == 303
    assert response.headers["location"] == "/?connected=1"
    [account] = await _accounts(harness)
    assert (account.platform, account.external_id, account.graph_host) == (
        "instagram",
        "17841400000000001",
        "instagram",
    )
    assert account.page_id is None
    assert account.connected_via == "instagram_login"
    assert account.username == "lena.loves"
    assert account.meta_user_id == "26000000000000099"
    assert account.token_expires_at is not None
    assert as_utc(account.token_expires_at) - utc_now() > timedelta(days=59)
    assert account.access_token_encrypted is not None
    long_token = TokenCipher(harness.runtime.settings.secret_key).decrypt(
        account.access_token_encrypted
    )
    assert long_token in meta.issued("ig_long")
    assert meta.subscriptions == [("instagram", "17841400000000001", IG_FIELDS)]
    [code_call] = meta.endpoint_calls("ig_code")
    assert code_call.params["grant_type"] == "authorization_code"
    assert code_call.params["redirect_uri"] == "http://127.0.0.1:8000/oauth/instagram/callback"
    home = await harness.client.get("/")
    assert "lena.loves" in home.text
    assert "Instagram" in home.text


async def test_a_second_login_updates_the_same_account(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    await sign_in(harness)
    await instagram_login(harness, meta)
    meta.instagram_profile["username"] = "lena.renamed"
    await instagram_login(harness, meta)
    [account] = await _accounts(harness)
    assert account.username == "lena.renamed"


async def test_a_personal_account_is_refused(harness: Harness, meta: FakeMetaOAuth) -> None:
    meta.instagram_profile["account_type"] = "PERSONAL"
    await sign_in(harness)
    response = await instagram_login(harness, meta)
    assert response.status_code == 400
    assert "personal Instagram account" in response.text
    assert "professional" in response.text
    assert await _accounts(harness) == []
    assert meta.subscriptions == []


async def test_a_missing_messaging_permission(harness: Harness, meta: FakeMetaOAuth) -> None:
    meta.instagram_permissions = "instagram_business_basic"
    await sign_in(harness)
    response = await instagram_login(harness, meta)
    assert response.status_code == 400
    assert "A permission is missing" in response.text
    assert await _accounts(harness) == []


async def test_without_the_comments_permission_dms_work_and_comments_need_reconnecting(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    meta.instagram_permissions = "instagram_business_basic,instagram_business_manage_messages"
    await sign_in(harness)
    response = await instagram_login(harness, meta)
    assert response.headers["location"] == "/?connected=1"
    [account] = await _accounts(harness)
    assert account.status == "active"
    assert account.comments_problem == (
        "comment triggers need reconnecting: the permission "
        "instagram_business_manage_comments is not granted"
    )
    home = (await harness.client.get("/")).text
    assert "Comment triggers need reconnecting" in home
    assert "Messages are not affected." in home
    assert 'href="/oauth/instagram/start">Reconnect' in home

    meta.instagram_permissions += ",instagram_business_manage_comments"  # all granted now
    await instagram_login(harness, meta)
    [account] = await _accounts(harness)
    assert account.comments_problem is None


async def test_denied(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    dialog = await start(harness, "/oauth/instagram/start")
    response = await harness.client.get(
        "/oauth/instagram/callback",
        params={
            "state": dialog["state"],
            "error": "access_denied",
            "error_reason": "user_denied",
            "error_description": "The user denied your request.",
        },
    )
    assert response.status_code == 400
    assert "Connecting was cancelled" in response.text
    assert 'href="/oauth/instagram/start"' in response.text
    assert meta.calls == []


async def test_a_used_code_is_explained(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    code = meta.instagram_code()
    for _ in range(2):
        dialog = await start(harness, "/oauth/instagram/start")
        response = await harness.client.get(
            "/oauth/instagram/callback", params={"code": code, "state": dialog["state"]}
        )
    assert response.status_code == 400
    assert "This authorization code has been used" in response.text


async def test_a_facebook_state_is_not_an_instagram_state(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    await sign_in(harness)
    dialog = await start(harness, "/oauth/meta/start")
    response = await harness.client.get(
        "/oauth/instagram/callback",
        params={"code": meta.instagram_code(), "state": dialog["state"]},
    )
    assert response.status_code == 400
    assert "not valid" in response.text


async def test_network_failure(harness: Harness, meta: FakeMetaOAuth) -> None:
    meta.network_failure("ig_exchange")
    await sign_in(harness)
    response = await instagram_login(harness, meta)
    assert response.status_code == 502
    assert "Meta could not be reached" in response.text
    assert await _accounts(harness) == []


async def test_a_failed_subscription_flags_the_account(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    meta.fail_next("ig_subscribe", status=500, code=2, message="An unexpected error has occurred.")
    await sign_in(harness)
    response = await instagram_login(harness, meta)
    assert response.status_code == 303
    [account] = await _accounts(harness)
    assert account.status == "active"
    assert account.status_reason is not None
    assert "subscription failed" in account.status_reason
