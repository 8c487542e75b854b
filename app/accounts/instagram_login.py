"""Instagram API with Instagram Login: one professional account, no Page, connected at once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.connect import Callback, code_or_raise, graph_failure, redirect_uri
from app.accounts.linking import Connection, flag_subscription_failure, save_connection
from app.accounts.oauth_states import INSTAGRAM_LOGIN, START_PATHS, ConnectFailed, claim_state
from app.accounts.permissions import comments_problem
from app.config import Settings
from app.core.crypto import TokenCipher
from app.meta import errors as graph_errors
from app.meta.oauth import MetaOAuthClient
from app.models import Account, User


async def instagram_callback(
    session: AsyncSession,
    *,
    user: User,
    callback: Callback,
    settings: Settings,
    oauth: MetaOAuthClient,
    cipher: TokenCipher,
) -> Account:
    """Checks the answer, exchanges the code, connects the account and subscribes it."""
    await claim_state(
        session, user=user, provider=INSTAGRAM_LOGIN, value=callback.state, settings=settings
    )
    code = code_or_raise(callback, INSTAGRAM_LOGIN)
    try:
        login = await oauth.exchange_instagram_code(
            code, redirect_uri=redirect_uri(settings, INSTAGRAM_LOGIN)
        )
        _check_instagram_grant(login.permissions)
        token = await oauth.extend_instagram_token(login.access_token)
        profile = await oauth.instagram_profile(token.access_token)
    except graph_errors.GraphError as exc:
        raise graph_failure(exc, INSTAGRAM_LOGIN) from exc
    if not profile.is_professional:
        raise ConnectFailed(
            "This is a personal Instagram account",
            f"@{profile.username or profile.user_id} is not a professional account, and "
            "Meta lets apps answer messages only for business and creator accounts.",
            hint="In the Instagram app, switch to a professional account, then connect again.",
            retry_path=START_PATHS[INSTAGRAM_LOGIN],
        )
    connection = Connection(
        platform="instagram",
        external_id=profile.user_id,
        page_id=None,
        graph_host="instagram",
        name=profile.name or profile.username or profile.user_id,
        username=profile.username,
        picture_url=profile.picture_url,
        access_token=token.access_token,
        token_expires_at=token.expires_at,
        connected_via=INSTAGRAM_LOGIN,
        meta_user_id=profile.app_scoped_id or login.user_id,
        # Meta may not list what was granted: then nothing is known to be missing.
        comments_problem=comments_problem("instagram", "instagram", login.permissions)
        if login.permissions
        else None,
    )
    account = await save_connection(
        session, user=user, connection=connection, cipher=cipher, settings=settings
    )
    try:
        await oauth.subscribe_instagram(token.access_token)
    except graph_errors.GraphError as exc:
        flag_subscription_failure(account, str(exc))
    return account


def _check_instagram_grant(permissions: tuple[str, ...]) -> None:
    # Meta lists the granted permissions on the exchange; when it does not, /me decides.
    if permissions and "instagram_business_manage_messages" not in permissions:
        raise ConnectFailed(
            "A permission is missing",
            "inboxpilot needs the permission to manage your Instagram messages "
            "(instagram_business_manage_messages), and it was not granted.",
            hint="Connect again and allow inboxpilot to manage your messages.",
            retry_path=START_PATHS[INSTAGRAM_LOGIN],
        )
