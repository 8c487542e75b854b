"""The disclosure line: replies the bot sends alone say so (EU AI Act art. 50, Meta's
policies on automated experiences).

Per account (`Account.disclosure`): `first` (default) ends the first automatic reply of a
conversation with the line, `every` ends each one with it, `off` never. Replies a person
wrote or approved carry none. The line is the account's `disclosure_text` when set (one
text, as the influencer wrote it), else the default below in the reply's language.

The line never makes a reply longer than the messages it already needs: it goes at the
end of the last part. Automatic drafts are held for review when they could not carry it
(`fits`, the draft job's state `room_for_disclosure`); a notice that cannot carry it is
refused (`NoRoomForDisclosure`) rather than sent without it.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import BindParameter, Exists, exists
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AppError
from app.meta.limits import INSTAGRAM_MAX_BYTES, MESSENGER_MAX_CHARS, split_text
from app.models import IN_FLIGHT, Account, Conversation, Draft, OutboundMessage, SendStatus, User

Disclosure = Literal["first", "every", "off"]
SEPARATOR = "\n\n"
# What a `disclosure_text` must leave for the reply in one message (the account form and
# PATCH /api/v1/accounts/{id} refuse a longer text with 422).
MIN_REPLY_ROOM = 200
# {name}: the account's name. Written for followers: short, plain, in their language.
DEFAULT_LINES = {
    "en": "— sent automatically by {name}'s assistant",
    "de": "— automatisch gesendet vom Assistenten von {name}",
    "fr": "— envoyé automatiquement par l'assistant de {name}",
    "it": "— inviato automaticamente dall'assistente di {name}",
    "es": "— enviado automáticamente por el asistente de {name}",
}
# Outbound rows that carried the line and count as "told": sent, or on their way.
_TOLD_STATUSES = (*IN_FLIGHT, SendStatus.SENT)


class NoRoomForDisclosure(AppError):
    status_code = 422


class DisclosureTooLong(AppError):
    status_code = 422


def check_text(text: str | None, platform: str) -> str | None:
    """The account's own line as stored (None: the default lines); refuses one that
    leaves fewer than MIN_REPLY_ROOM characters of a message for the reply."""
    line = (text or "").strip()
    if not line:
        return None
    room = room_left(line, platform)
    if room < MIN_REPLY_ROOM:
        unit = "bytes" if platform == "instagram" else "characters"
        raise DisclosureTooLong(
            f"disclosure_text is too long: it must leave at least {MIN_REPLY_ROOM} {unit} "
            f"of one {platform} message for the reply (it leaves {max(room, 0)})"
        )
    return line


def line_for(account: Account, language: str | None) -> str:
    """The line in `language` (the account's own text when it has one)."""
    if account.disclosure_text and account.disclosure_text.strip():
        return account.disclosure_text.strip()
    return default_line(account.name, language)


def default_line(name: str, language: str | None) -> str:
    """The default line in `language` (English for a language it is not written in)."""
    code = (language or "en")[:2].lower()
    name = name.strip()
    if code in DEFAULT_LINES and code != "en":
        return DEFAULT_LINES[code].format(name=name)
    line = DEFAULT_LINES["en"].format(name=name)
    # "Lena's assistant", but "James' assistant".
    return line.replace(f"{name}'s", f"{name}'") if name.endswith("s") else line


def with_line(text: str, line: str, platform: str) -> str | None:
    """`text` ending with `line`, or None when the line would need a message of its own."""
    stripped = text.rstrip()
    joined = stripped + SEPARATOR + line
    if len(split_text(joined, platform)) > len(split_text(stripped, platform)):
        return None
    return joined


def fits(text: str, account: Account, language: str | None) -> bool:
    """Whether an automatic reply of `text` could carry the line (always true when the
    account never adds one)."""
    if account.disclosure == "off" or not text.strip():
        return True
    try:
        return with_line(text, line_for(account, language), account.platform) is not None
    except ValueError:  # too long either way: other checks hold it back
        return True


def room_left(line: str, platform: str) -> int:
    """What one message of `platform` leaves for a reply that ends with `line`, in the
    platform's own unit (Instagram: UTF-8 bytes; Messenger: UTF-16 units)."""
    added = SEPARATOR + line.strip()
    if platform == "instagram":
        return INSTAGRAM_MAX_BYTES - len(added.encode())
    return MESSENGER_MAX_CHARS - sum(2 if ord(c) > 0xFFFF else 1 for c in added)


def told_already_statement(conversation_id: int | BindParameter[int]) -> Exists:
    """Whether the conversation had its line already (sent, or on its way)."""
    return exists().where(
        OutboundMessage.conversation_id == conversation_id,
        OutboundMessage.disclosed.is_(True),
        OutboundMessage.status.in_(_TOLD_STATUSES),
    )


async def _told_already(session: AsyncSession, conversation_id: int) -> bool:
    return bool(await session.scalar(told_already_statement(conversation_id).select()))


async def disclose(
    session: AsyncSession,
    *,
    account: Account,
    conversation: Conversation,
    text: str,
    draft: Draft | None,
    user: User | None,
    language: str | None,
    told: bool | None = None,
) -> tuple[str, bool]:
    """(the text as it goes out, whether it carries the line). `told`: whether the
    conversation had its line already, when the caller read it (else it is read here)."""
    bot_alone = user is None and (draft is None or draft.decided_by_user_id is None)
    if not bot_alone or account.disclosure == "off":
        return text, False
    if account.disclosure == "first":
        if told is None:
            told = await _told_already(session, conversation.id)
        if told:
            return text, False
    line = line_for(account, language or (draft.language if draft is not None else None))
    joined = with_line(text, line, account.platform)
    if joined is None:
        raise NoRoomForDisclosure(
            "the reply leaves no room in its last message for the line saying it was sent "
            "automatically"
        )
    return joined, True
