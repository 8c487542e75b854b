"""Story mentions: a follower mentioned the account in their story. If the influencer
wants it (the policy's `thank_story_mentions`), the bot thanks them with a short DM, and
that thanks is the mention's answer: it is not drafted for review."""

from __future__ import annotations

from app.conversations import repository
from app.conversations.entries import Incoming
from app.conversations.optout import answer_with_notice
from app.conversations.replies import Notice
from app.policy.schemas import Policy

STORY_MENTION = "story_mention"


def is_story_mention(incoming: Incoming) -> bool:
    event = incoming.event
    return event.kind == "message" and any(a.type == STORY_MENTION for a in event.attachments)


async def apply_story_mention(incoming: Incoming, message_id: int) -> bool:
    """True when the mention is answered by a thanks (so it is not drafted for)."""
    if not is_story_mention(incoming) or incoming.event.text:
        return False  # a mention with words of its own gets a real answer
    policy = Policy.of(incoming.account.policy)
    if not policy.thank_story_mentions or policy.mode == "off":
        return False
    if incoming.contact.opted_out_at is not None:
        return False  # no automatic message: drafted for a person, as any message
    main = (incoming.account.languages or ["en"])[0]
    language = await repository.conversation_language(
        incoming.session, incoming.conversation.id, default=main
    )
    await answer_with_notice(incoming, message_id, notice=Notice.STORY_THANKS, language=language)
    return True
