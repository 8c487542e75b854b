"""STOP and START: a follower turns the bot's automatic messages off and on again.

A message is a command only when its whole text is one of the forms below (case, accents,
punctuation, emoji and a polite word or two ignored): "STOP", "Stopp!", "arrêt",
"cancelar suscripción". A sentence that merely contains the word ("stop being so cute",
"when does the sale stop?") is an ordinary message. The word lists live here and only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import structlog

from app.audit.service import record
from app.conversations import repository
from app.conversations.answered import answered_by_hand, has_unanswered_before
from app.conversations.entries import Incoming
from app.conversations.replies import Notice, answer_later, schedule_notice, withdraw_replies
from app.core.clock import utc_now
from app.core.text import normalise
from app.policy.schemas import Policy
from app.policy.service import OPTED_OUT_REASON

log = structlog.get_logger("app.conversations")

Command = Literal["stop", "start"]

# Whole-text forms -> the language they are written in (None: used in several languages,
# the conversation's language is used for the confirmation).
STOP_FORMS: dict[str, str | None] = {
    # used everywhere
    "stop": None,
    "stop all": None,
    "stopall": None,
    "stop messages": "en",
    "stop messaging me": "en",
    "stop the messages": "en",
    "stop sending messages": "en",
    "unsubscribe": "en",
    "opt out": "en",
    "optout": "en",
    "no more messages": "en",
    # de
    "stopp": "de",
    "abmelden": "de",
    "abbestellen": "de",
    "abmeldung": "de",
    "keine nachrichten mehr": "de",
    "stopp nachrichten": "de",
    # fr
    "arret": "fr",
    "arrete": "fr",
    "arreter": "fr",
    "desabonner": "fr",
    "se desabonner": "fr",
    "desabonnement": "fr",
    "desinscription": "fr",
    "plus de messages": "fr",
    # it
    "basta": "it",  # also Spanish; see _LANGUAGES_OF
    "basta messaggi": "it",
    "disiscrivimi": "it",
    "disiscriviti": "it",
    "disiscrizione": "it",
    "cancellami": "it",
    "annulla iscrizione": "it",
    "niente piu messaggi": "it",
    # es
    "alto": "es",
    "cancelar suscripcion": "es",
    "darme de baja": "es",
    "dar de baja": "es",
    "no mas mensajes": "es",
}
START_FORMS: dict[str, str | None] = {
    "start": None,
    "start again": "en",
    "restart": "en",
    "resume": "en",
    "unstop": "en",
    "subscribe": "en",
    "starten": "de",
    "anmelden": "de",
    "wieder starten": "de",
    "demarrer": "fr",
    "reprendre": "fr",
    "recommencer": "fr",
    "avvia": "it",
    "riattiva": "it",
    "ricomincia": "it",
    "iniciar": "es",
    "reanudar": "es",
    "comenzar": "es",
}
# A form shared by two of our languages: the conversation's language decides among them.
_LANGUAGES_OF = {"basta": ("it", "es")}
# Polite words around a command ("stop please", "bitte STOPP", "START merci").
_FILLERS = frozenset(
    {
        "please",
        "pls",
        "plz",
        "now",
        "bitte",
        "danke",
        "merci",
        "svp",
        "stp",
        "per",
        "favore",
        "grazie",
        "por",
        "favor",
        "gracias",
        "thanks",
        "thank",
        "you",
    }
)
# Longer than this it is a sentence, not a command.
_MAX_WORDS = 6


@dataclass(frozen=True, slots=True)
class OptCommand:
    command: Command
    form: str  # the form as matched ("stop", "cancelar suscripcion")
    language: str | None  # the language the form belongs to; None when it is shared


def read_command(text: str | None) -> OptCommand | None:
    """STOP or START when `text` is, as a whole, one of their forms; else None."""
    if not text:
        return None
    words = normalise(text).split()
    if not words or len(words) > _MAX_WORDS:
        return None
    core = " ".join(w for w in words if w not in _FILLERS)
    if core in STOP_FORMS:
        return OptCommand("stop", core, STOP_FORMS[core])
    if core in START_FORMS:
        return OptCommand("start", core, START_FORMS[core])
    return None


def command_language(found: OptCommand, conversation_language: str) -> str:
    """The language to confirm in: the form's own, else the conversation's."""
    candidates = _LANGUAGES_OF.get(found.form, ())
    if conversation_language in candidates:
        return conversation_language
    return found.language or conversation_language


async def apply_command(incoming: Incoming, message_id: int) -> bool:
    """Applies STOP or START written in this (just stored) follower message; True when it
    was one, so the message is not drafted for: the confirmation is its answer."""
    found = read_command(incoming.event.text) if incoming.event.kind == "message" else None
    if found is None:
        return False
    stop = found.command == "stop"
    was_out = incoming.contact.opted_out_at is not None
    if not stop and not was_out:
        return False  # "start" from someone who never wrote STOP is an ordinary message
    changed = stop != was_out  # a second STOP is answered by silence
    if changed:
        await _switch(incoming, stop=stop, message_id=message_id, form=found.form)
    log.info("ingest.opt_command", command=found.command, changed=changed)
    notice = (Notice.OPTED_OUT if stop else Notice.OPTED_IN) if changed else None
    language = await _language(incoming, found)
    await answer_with_notice(incoming, message_id, notice=notice, language=language)
    return True


async def _switch(incoming: Incoming, *, stop: bool, message_id: int, form: str) -> None:
    session, contact = incoming.session, incoming.contact
    contact.opted_out_at = utc_now() if stop else None
    if stop:
        # An automatic reply still waiting to go out is not sent any more.
        await withdraw_replies(
            session,
            incoming.conversation.id,
            reason=OPTED_OUT_REASON,
            error_code="opted_out",
            pending=False,
        )
    await record(
        session,
        action="contact.opted_out" if stop else "contact.opted_in",
        actor="follower",
        account_id=incoming.account.id,
        entity=contact,
        details={"message_id": message_id, "form": form},
    )


async def _language(incoming: Incoming, found: OptCommand) -> str:
    main = (incoming.account.languages or ["en"])[0]
    spoken = await repository.conversation_language(
        incoming.session, incoming.conversation.id, default=main
    )
    return command_language(found, spoken)


async def answer_with_notice(
    incoming: Incoming, message_id: int, *, notice: Notice | None, language: str
) -> None:
    """The notice answers the message. Alone, the message counts as answered; after other
    unanswered messages, the draft that answers those covers it too."""
    session, conversation = incoming.session, incoming.conversation
    if await has_unanswered_before(session, conversation.id, message_id):
        await answer_later(incoming)
    else:
        await answered_by_hand(session, conversation.id, through_id=message_id)
    held = incoming.event.is_standby or conversation.thread_owner_app_id is not None
    if notice is None or held or Policy.of(incoming.account.policy).mode == "off":
        return
    await schedule_notice(
        session,
        incoming.settings,
        account=incoming.account,
        conversation=conversation,
        notice=notice,
        message_id=message_id,
        language=language,
    )
