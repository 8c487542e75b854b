"""Short messages the bot sends outside drafting: the confirmation of STOP and of START,
and the thanks for a story mention (app/conversations/optout.py and mentions.py schedule
them). They are automatic replies: the disclosure line applies, and they go out only
while the account is not in mode `off`.

One per follower message (the outbound row's key names the message), so a job that runs
twice sends once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record
from app.config import Settings
from app.conversations.replies import Notice
from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import Account, Contact, Conversation, OutboundMessage, SendStatus
from app.outbox.service import queue_reply
from app.policy.schemas import Policy

log = structlog.get_logger("app.outbox")

OPTED_OUT_TEXTS = {
    "en": "Done: you won't get any more automatic messages from me. Write START to turn "
    "them back on.",
    "de": "Erledigt: Du bekommst keine automatischen Nachrichten mehr von mir. Schreib "
    "START, um sie wieder einzuschalten.",
    "fr": "C'est noté : tu ne recevras plus de messages automatiques de ma part. Écris "
    "START pour les réactiver.",
    "it": "Fatto: non riceverai più messaggi automatici da me. Scrivi START per riattivarli.",
    "es": "Hecho: ya no recibirás mensajes automáticos míos. Escribe START para volver a "
    "activarlos.",
}
OPTED_IN_TEXTS = {
    "en": "Welcome back: automatic replies are on again. Write STOP to turn them off.",
    "de": "Willkommen zurück: Automatische Antworten sind wieder an. Schreib STOP, um sie "
    "abzuschalten.",
    "fr": "Re-bienvenue : les réponses automatiques sont de nouveau activées. Écris STOP "
    "pour les désactiver.",
    "it": "Bentornato/a: le risposte automatiche sono di nuovo attive. Scrivi STOP per "
    "disattivarle.",
    "es": "¡Bienvenido/a de nuevo! Las respuestas automáticas vuelven a estar activas. "
    "Escribe STOP para desactivarlas.",
}
STORY_THANKS_TEXTS = {
    "en": "Thank you so much for mentioning me in your story! 💛",
    "de": "Vielen Dank, dass du mich in deiner Story erwähnt hast! 💛",
    "fr": "Merci beaucoup pour la mention dans ta story ! 💛",
    "it": "Grazie mille per la menzione nella tua storia! 💛",
    "es": "¡Muchas gracias por mencionarme en tu historia! 💛",
}
_TEXTS = {
    Notice.OPTED_OUT: OPTED_OUT_TEXTS,
    Notice.OPTED_IN: OPTED_IN_TEXTS,
    Notice.STORY_THANKS: STORY_THANKS_TEXTS,
}
# A follower who mentions the account in several stories is thanked once a day.
THANKS_EVERY = timedelta(days=1)


def notice_text(notice: Notice, language: str, policy: Policy) -> str:
    if notice is Notice.STORY_THANKS and policy.story_mention_thanks:
        return policy.story_mention_thanks
    texts = _TEXTS[notice]
    return texts.get(language[:2].lower(), texts["en"])


async def send_notice(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, payload: dict[str, Any]
) -> None:
    """The notice job's body (`app.outbox.jobs.send_notice`): the notice queued as a reply,
    once per message, unless the account's rules or the follower say not to."""
    notice = Notice(payload["notice"])
    message_id = int(payload["message_id"])
    language = str(payload.get("language") or "en")
    key = f"notice:{notice.value}:{message_id}"
    async with unit_of_work(sessions) as session:
        conversation = await session.get(Conversation, int(payload["conversation_id"]))
        if conversation is None:
            return  # erased meanwhile
        account = await session.get(Account, conversation.account_id)
        contact = await session.get(Contact, conversation.contact_id)
        assert account is not None
        assert contact is not None
        policy = Policy.of(account.policy)
        skip = await _skip_reason(session, notice, policy, contact, conversation, key)
        if skip is not None:
            log.info("outbox.notice_skipped", notice=notice.value, reason=skip)
            return
        outbound = await queue_reply(
            session,
            settings,
            account=account,
            conversation=conversation,
            text=notice_text(notice, language, policy),
            language=language,
            idempotency_key=key,
        )
        await record(
            session,
            action=f"notice.{notice.value}",
            actor="bot",
            account_id=account.id,
            entity=outbound,
            details={"message_id": message_id, "language": language},
        )


async def _skip_reason(
    session: AsyncSession,
    notice: Notice,
    policy: Policy,
    contact: Contact,
    conversation: Conversation,
    key: str,
) -> str | None:
    if policy.mode == "off":
        return "mode is off"
    if await session.scalar(
        select(OutboundMessage.id).where(OutboundMessage.idempotency_key == key)
    ):
        return "sent already"
    if notice is not Notice.STORY_THANKS:
        return None
    if not policy.thank_story_mentions:
        return "story mention thanks turned off"
    if contact.opted_out_at is not None:
        return "the follower opted out (STOP)"
    if await _thanked_lately(session, conversation.id):
        return "thanked for a story mention in the last day"
    return None


async def _thanked_lately(session: AsyncSession, conversation_id: int) -> bool:
    found = await session.scalar(
        select(OutboundMessage.id)
        .where(
            OutboundMessage.conversation_id == conversation_id,
            OutboundMessage.idempotency_key.startswith(f"notice:{Notice.STORY_THANKS.value}:"),
            OutboundMessage.created_at > utc_now() - THANKS_EVERY,
            OutboundMessage.status != SendStatus.FAILED,
        )
        .limit(1)
    )
    return found is not None
