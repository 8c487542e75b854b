"""Facebook Login for Business, end to end against the fake Meta at the HTTP boundary."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from app.core.clock import utc_now
from app.core.crypto import TokenCipher
from app.core.db import unit_of_work
from app.models import Account, AccountMember, AuditEntry, OAuthState
from tests.accounts.conftest import (
    create_moderator,
    facebook_callback,
    facebook_login,
    pick,
    sign_in,
    start,
)
from tests.fakes.meta_oauth import FakeMetaOAuth
from tests.harness import Harness

LENA_PAGE, SHOP_PAGE, LENA_IG = "1111000000000001", "1111000000000002", "17841400000000001"
PAGE_FIELDS = (
    "messages,messaging_postbacks,messaging_referrals,message_echoes,message_reactions,"
    "message_reads,message_deliveries,message_edits,standby,messaging_handovers,feed"
)


async def _accounts(harness: Harness) -> list[Account]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(Account).order_by(Account.id))).all())


async def test_start_redirects_to_the_dialog_with_a_state_bound_to_the_user(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    assert (await harness.client.get("/oauth/meta/start")).status_code == 303  # to /login
    await sign_in(harness)
    dialog = await start(harness, "/oauth/meta/start")
    assert dialog["client_id"] == "999000111"
    assert dialog["redirect_uri"] == "http://127.0.0.1:8000/oauth/meta/callback"
    assert set(dialog["scope"].split(",")) == {
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
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        [state] = (await session.scalars(select(OAuthState))).all()
    assert dialog["state"].startswith(state.id + ".")
    assert state.provider == "facebook_login"
    assert state.used_at is None


async def test_a_configuration_id_replaces_the_scopes(harness: Harness) -> None:
    harness.app.state.settings.META_LOGIN_CONFIG_ID = "cfg-123"
    await sign_in(harness)
    dialog = await start(harness, "/oauth/meta/start")
    assert dialog["config_id"] == "cfg-123"
    assert "scope" not in dialog


async def test_the_picker_connects_only_what_was_ticked_and_subscribes_it(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    await sign_in(harness)
    answer = await facebook_login(harness, meta)
    assert answer.status_code == 303
    picker_url = answer.headers["location"]
    assert picker_url.startswith("/oauth/meta/connect?state=")
    picker = await harness.client.get(picker_url)
    assert "Lena Loves" in picker.text
    assert "Lena&#39;s Shop" in picker.text
    assert "@lena.loves" in picker.text
    assert "Messenger only" in picker.text  # the Shop Page has no Instagram account
    assert len(meta.endpoint_calls("fb_accounts")) == 2  # followed paging.next

    done = await pick(harness, picker_url, messenger=[LENA_PAGE], instagram=[LENA_IG])
    assert done.status_code == 303
    assert done.headers["location"] == "/?connected=2"

    accounts = await _accounts(harness)
    assert [(a.platform, a.external_id, a.page_id) for a in accounts] == [
        ("messenger", LENA_PAGE, LENA_PAGE),
        ("instagram", LENA_IG, LENA_PAGE),
    ]
    cipher = TokenCipher(harness.runtime.settings.secret_key)
    for account in accounts:
        assert account.graph_host == "facebook"
        assert account.connected_via == "facebook_login"
        assert account.meta_user_id == meta.meta_user_id
        assert account.status == "active"
        assert account.status_reason is None
        assert account.access_token_encrypted != "EAApage-lena"
        assert account.access_token_encrypted is not None
        assert cipher.decrypt(account.access_token_encrypted) == "EAApage-lena"
    assert accounts[1].username == "lena.loves"
    assert accounts[1].picture_url == "https://cdn.fake/lena-ig.jpg"
    assert meta.subscriptions == [("facebook", LENA_PAGE, PAGE_FIELDS)]

    async with unit_of_work(harness.runtime.sessionmaker) as session:
        members = (await session.scalars(select(AccountMember.account_id))).all()
        actions = (await session.scalars(select(AuditEntry.action))).all()
        [state] = (await session.scalars(select(OAuthState))).all()
    assert sorted(members) == [a.id for a in accounts]
    assert actions.count("account.connected") == 2
    assert state.payload_encrypted is None  # the choice is made; the tokens are gone

    home = await harness.client.get(done.headers["location"])
    assert "Connected 2 accounts" in home.text
    assert "lena.loves" in home.text
    again = await harness.client.get(picker_url)
    assert again.status_code == 400
    assert "no longer open" in again.text


async def test_the_stored_choice_is_encrypted(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    await facebook_login(harness, meta)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        [state] = (await session.scalars(select(OAuthState))).all()
    assert state.used_at is not None
    assert state.payload_encrypted is not None
    assert "EAApage" not in state.payload_encrypted
    assert "Lena" not in state.payload_encrypted


async def test_a_failed_subscription_keeps_the_account_but_flags_it(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    meta.subscribe_fails_for.add(SHOP_PAGE)
    await sign_in(harness)
    answer = await facebook_login(harness, meta)
    done = await pick(harness, answer.headers["location"], messenger=[SHOP_PAGE], instagram=[])
    assert done.status_code == 303
    [account] = await _accounts(harness)
    assert account.status == "active"
    assert account.status_reason is not None
    assert "Webhook subscription failed" in account.status_reason
    home = await harness.client.get("/")
    assert "Webhook subscription failed" in home.text


async def test_the_picker_form_needs_its_csrf_token(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    answer = await facebook_login(harness, meta)
    state = answer.headers["location"].split("state=")[1]
    response = await harness.client.post(
        "/oauth/meta/connect",
        data={"csrf_token": "forged", "state": state, "messenger": [LENA_PAGE]},
    )
    assert response.status_code == 403
    assert await _accounts(harness) == []


async def test_ticking_nothing_connects_nothing(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    answer = await facebook_login(harness, meta)
    response = await pick(harness, answer.headers["location"], messenger=[], instagram=["999"])
    assert response.status_code == 400
    assert "Nothing was selected" in response.text
    assert await _accounts(harness) == []


async def test_a_page_without_instagram_account_is_offered_for_messenger_only(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    meta.pages = [p for p in meta.pages if p["id"] == SHOP_PAGE]
    await sign_in(harness)
    answer = await facebook_login(harness, meta)
    picker = await harness.client.get(answer.headers["location"])
    assert 'name="instagram"' not in picker.text
    assert "No Instagram professional account is linked" in picker.text
    # Submitting an Instagram id the picker did not offer connects nothing for it.
    done = await pick(
        harness, answer.headers["location"], messenger=[SHOP_PAGE], instagram=[LENA_IG]
    )
    assert done.headers["location"] == "/?connected=1"
    assert [a.platform for a in await _accounts(harness)] == ["messenger"]


# --- errors on the callback ----------------------------------------------------------------


async def test_denied(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    dialog = await start(harness, "/oauth/meta/start")
    response = await facebook_callback(
        harness,
        state=dialog["state"],
        error="access_denied",
        error_reason="user_denied",
        error_description="Permissions error",
    )
    assert response.status_code == 400
    assert "Connecting was cancelled" in response.text
    assert 'href="/oauth/meta/start"' in response.text
    assert meta.calls == []


async def test_forged_state(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    dialog = await start(harness, "/oauth/meta/start")
    state_id = dialog["state"].split(".")[0]
    for forged in (f"{state_id}.0000", "nonsense", ""):
        response = await facebook_callback(harness, state=forged, code=meta.facebook_code())
        assert response.status_code == 400
        assert "not valid" in response.text
    assert meta.calls == []


async def test_expired_state(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    dialog = await start(harness, "/oauth/meta/start")
    with time_machine.travel(utc_now() + timedelta(minutes=11), tick=True):
        response = await facebook_callback(harness, state=dialog["state"], code="any")
    assert response.status_code == 400
    assert "expired" in response.text
    assert meta.calls == []


async def test_reused_state(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    dialog = await start(harness, "/oauth/meta/start")
    code = meta.facebook_code()
    first = await facebook_callback(harness, state=dialog["state"], code=code)
    assert first.status_code == 303
    second = await facebook_callback(harness, state=dialog["state"], code=code)
    assert second.status_code == 400
    assert "used already" in second.text
    assert len(meta.endpoint_calls("fb_token")) == 2  # exchange and extension, once


async def test_state_of_another_user(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    dialog = await start(harness, "/oauth/meta/start")
    await create_moderator(harness, "mo@test.example")
    await sign_in(harness, "mo@test.example", "long enough")
    response = await facebook_callback(harness, state=dialog["state"], code=meta.facebook_code())
    assert response.status_code == 403
    assert "someone else" in response.text
    assert meta.calls == []


async def test_callback_without_sign_in_goes_to_login(harness: Harness) -> None:
    response = await harness.client.get("/oauth/meta/callback", params={"code": "x", "state": "y"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/oauth/meta/callback")


async def test_graph_error_on_the_code_exchange(harness: Harness, meta: FakeMetaOAuth) -> None:
    await sign_in(harness)
    dialog = await start(harness, "/oauth/meta/start")
    response = await facebook_callback(harness, state=dialog["state"], code="fb-code-unknown")
    assert response.status_code == 400
    assert "could not be completed" in response.text
    assert "Invalid verification code format." in response.text
    assert await _accounts(harness) == []


async def test_redirect_uri_not_allowed_is_explained_for_the_operator(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    meta.fail_next("fb_token", code=191, message="Can't load URL: the domain is not allowed")
    await sign_in(harness)
    response = await facebook_login(harness, meta)
    assert response.status_code == 502
    assert "Valid OAuth Redirect URIs" in response.text


async def test_missing_permissions(harness: Harness, meta: FakeMetaOAuth) -> None:
    meta.granted -= {"pages_messaging", "instagram_manage_messages"}
    await sign_in(harness)
    response = await facebook_login(harness, meta)
    assert response.status_code == 400
    assert "A permission is missing" in response.text
    assert "instagram_manage_messages" in response.text
    assert "pages_messaging" in response.text


async def test_a_partly_declined_grant_limits_the_choice(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    meta.granted -= {"instagram_manage_messages"}
    await sign_in(harness)
    answer = await facebook_login(harness, meta)
    picker = await harness.client.get(answer.headers["location"])
    assert "Not granted: instagram_manage_messages" in picker.text
    done = await pick(harness, answer.headers["location"], messenger=[], instagram=[LENA_IG])
    assert "Nothing was selected" in done.text


async def test_no_page_shared(harness: Harness, meta: FakeMetaOAuth) -> None:
    meta.pages = []
    await sign_in(harness)
    response = await facebook_login(harness, meta)
    assert response.status_code == 400
    assert "No Facebook Page was shared" in response.text


async def test_network_failure(harness: Harness, meta: FakeMetaOAuth) -> None:
    meta.network_failure("fb_accounts")
    await sign_in(harness)
    response = await facebook_login(harness, meta)
    assert response.status_code == 502
    assert "Meta could not be reached" in response.text
    assert 'href="/oauth/meta/start"' in response.text


async def test_an_expired_token_on_a_later_call(harness: Harness, meta: FakeMetaOAuth) -> None:
    meta.fail_next("fb_me", code=190, subcode=463, message="Session has expired")
    await sign_in(harness)
    response = await facebook_login(harness, meta)
    assert response.status_code == 400
    assert "Session has expired" in response.text
