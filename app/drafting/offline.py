"""The offline drafter: templates in five languages, filled only from the catalog.

Used when no LLM is configured, and as the safe baseline: every code, link, price and
date in its replies comes from the matched product, so the guardrails never trip on it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from functools import lru_cache

from app.catalog.validity import CodeStatus, code_validity
from app.core.language import SUPPORTED_LANGUAGES, detect_language
from app.core.text import normalise
from app.drafting.assess import recognise_request
from app.drafting.base import DraftRequest, DraftResult, ProductMatch
from app.drafting.intents import classify_intent
from app.drafting.persona import frame, parse_voice
from app.policy.guardrails import detect_sensitive
from app.policy.lexicon import LANGUAGE_WORDS
from app.policy.recognise import MARGIN, Recognition

# Confidence of replies that do not depend on the catalog.
SMALL_TALK_CONFIDENCE = 0.8
NO_MATCH_CONFIDENCE = 0.15
# Sensitive categories where an apology would sound odd (an attack, a business pitch).
APOLOGY_FREE_CATEGORIES = {"prompt_injection", "business_request", "harassment"}
# A reply missing what was asked (no price, no link) must go to a human.
MISSING_FACT_CONFIDENCE = 0.4
# A product our code recognised by the follower's own words: retrieval's score is moot.
NAMED_CONFIDENCE = 0.95
# How far a template answers each intent: a question about the product ("good for
# sensitive skin?") gets the product's description, which may not answer it.
INTENT_FACTORS = {"product_info": 0.6, "other": 0.85}

TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "sensitive": (
            "Thank you for telling me, and I'm sorry about this. "
            "I'm passing it on and someone will get back to you personally very soon."
        ),
        "greeting": "Hi! Thanks for your message. How can I help you?",
        "thanks": "You're welcome! Have fun with it!",
        "holding": "Thanks for your message! I'll get back to you personally as soon as I can.",
        "code": "Your code: {code} ({details}).",
        "code_plain": "Your code: {code}",
        "valid_until": "It's valid until {date}.",
        "still_valid": "Yes, the code {code} still works.",
        "expired": "Unfortunately the {brand} code has expired.",
        "code_unconfirmed": "I'll check whether the code is active and get back to you.",
        "no_code": "I don't have a discount code for it right now.",
        "link": "Here's the link: {url}",
        "no_link": "I'll send you the link as soon as I can.",
        "price": "It costs {price}.",
        "no_price": "I'll check the current price and get back to you.",
        "which": "Do you mean {options}?",
        "or": "or",
    },
    "de": {
        "sensitive": (
            "Danke, dass du mir das schreibst, und es tut mir leid. "
            "Ich gebe es weiter und jemand meldet sich ganz bald persönlich bei dir."
        ),
        "greeting": "Hi! Danke für deine Nachricht. Wie kann ich dir helfen?",
        "thanks": "Sehr gerne! Viel Spaß damit!",
        "holding": "Danke für deine Nachricht! Ich melde mich so bald wie möglich persönlich.",
        "code": "Dein Code: {code} ({details}).",
        "code_plain": "Dein Code: {code}",
        "valid_until": "Er gilt bis {date}.",
        "still_valid": "Ja, der Code {code} funktioniert noch.",
        "expired": "Leider ist der Code von {brand} abgelaufen.",
        "code_unconfirmed": "Ich schaue nach, ob der Code gerade gilt, und melde mich.",
        "no_code": "Dafür habe ich gerade leider keinen Rabattcode.",
        "link": "Hier ist der Link: {url}",
        "no_link": "Den Link schicke ich dir so bald wie möglich.",
        "price": "Es kostet {price}.",
        "no_price": "Den aktuellen Preis schaue ich nach und melde mich.",
        "which": "Meinst du {options}?",
        "or": "oder",
    },
    "es": {
        "sensitive": (
            "Gracias por contármelo y lo siento mucho. "
            "Lo paso al equipo y alguien te responderá personalmente muy pronto."
        ),
        "greeting": "¡Hola! Gracias por tu mensaje. ¿En qué te puedo ayudar?",
        "thanks": "¡De nada! ¡Que lo disfrutes!",
        "holding": "¡Gracias por tu mensaje! Te responderé personalmente lo antes posible.",
        "code": "Tu código: {code} ({details}).",
        "code_plain": "Tu código: {code}",
        "valid_until": "Es válido hasta el {date}.",
        "still_valid": "Sí, el código {code} sigue funcionando.",
        "expired": "Lo siento, el código de {brand} ha caducado.",
        "code_unconfirmed": "Compruebo si el código está activo y te digo.",
        "no_code": "Ahora mismo no tengo un código de descuento para eso.",
        "link": "Aquí tienes el enlace: {url}",
        "no_link": "Te paso el enlace lo antes posible.",
        "price": "Cuesta {price}.",
        "no_price": "Reviso el precio actual y te digo.",
        "which": "¿Te refieres a {options}?",
        "or": "o",
    },
    "fr": {
        "sensitive": (
            "Merci de me l'avoir signalé, et désolé pour ça. "
            "Je transmets et quelqu'un te répondra personnellement très vite."
        ),
        "greeting": "Coucou ! Merci pour ton message. Comment puis-je t'aider ?",
        "thanks": "Avec plaisir ! Profite bien !",
        "holding": "Merci pour ton message ! Je te réponds personnellement dès que possible.",
        "code": "Ton code : {code} ({details}).",
        "code_plain": "Ton code : {code}",
        "valid_until": "Il est valable jusqu'au {date}.",
        "still_valid": "Oui, le code {code} fonctionne toujours.",
        "expired": "Malheureusement, le code {brand} a expiré.",
        "code_unconfirmed": "Je vérifie si le code est actif et je reviens vers toi.",
        "no_code": "Je n'ai pas de code promo pour ça en ce moment.",
        "link": "Voici le lien : {url}",
        "no_link": "Je t'envoie le lien dès que possible.",
        "price": "Le prix est de {price}.",
        "no_price": "Je vérifie le prix actuel et je reviens vers toi.",
        "which": "Tu parles de {options} ?",
        "or": "ou",
    },
    "it": {
        "sensitive": (
            "Grazie per avermelo detto, mi dispiace. "
            "Lo passo al team e qualcuno ti risponderà personalmente al più presto."
        ),
        "greeting": "Ciao! Grazie per il messaggio. Come posso aiutarti?",
        "thanks": "Figurati! Divertiti!",
        "holding": "Grazie per il messaggio! Ti rispondo personalmente appena possibile.",
        "code": "Il tuo codice: {code} ({details}).",
        "code_plain": "Il tuo codice: {code}",
        "valid_until": "È valido fino al {date}.",
        "still_valid": "Sì, il codice {code} funziona ancora.",
        "expired": "Purtroppo il codice di {brand} è scaduto.",
        "code_unconfirmed": "Controllo se il codice è attivo e ti faccio sapere.",
        "no_code": "Al momento non ho un codice sconto per questo.",
        "link": "Ecco il link: {url}",
        "no_link": "Ti mando il link appena possibile.",
        "price": "Il prezzo è {price}.",
        "no_price": "Controllo il prezzo attuale e ti faccio sapere.",
        "which": "Intendi {options}?",
        "or": "o",
    },
}

# Which parts a reply carries, in order, per intent.
_PARTS: dict[str, tuple[str, ...]] = {
    "discount_code": ("code", "link"),
    "code_validity": ("validity",),
    "product_link": ("link", "code"),
    "price": ("price", "code", "link"),
    "product_info": ("description", "code", "link"),
    "other": ("code", "link"),
}
_CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def format_date(value: date, language: str) -> str:
    """Day first, digits only: every language reads it and the guardrails parse it."""
    return value.strftime("%d.%m.%Y" if language == "de" else "%d/%m/%Y")


def format_price(amount: Decimal, currency: str | None, language: str) -> str:
    """ "29,90 €" in de/es/fr/it, "€29.90" in en; other currencies by their code."""
    number = f"{amount:.2f}"
    code = (currency or "").upper()
    symbol = _CURRENCY_SYMBOLS.get(code)
    if language == "en":
        return f"{symbol}{number}" if symbol else f"{number} {code}".strip()
    return f"{number.replace('.', ',')} {symbol or code}".strip()


class _Reply:
    """Sentences of one reply in one language, and whether something asked was missing."""

    def __init__(self, language: str) -> None:
        self.templates = TEMPLATES[language]
        self.language = language
        self.sentences: list[str] = []
        self.missing: list[str] = []

    def add(self, key: str, **values: str) -> None:
        self.sentences.append(self.templates[key].format(**values))

    def text(self) -> str:
        return " ".join(self.sentences)


async def which_question(request: DraftRequest) -> DraftResult | None:
    """The answer when our own code recognises the message as a question about several
    products it cannot tell apart ("the headphones" of a brand with two): the question
    naming them, written from the catalog, with no code, link or price. Whichever drafter
    is configured, the model is not asked: it could only guess which one was meant (or
    ask in words the checks must then trust). None for any other message."""
    if detect_sensitive(request.follower_text) is not None:
        return None
    recognition = recognise_request(request)
    if not (recognition.recognised and recognition.ambiguous and recognition.asks):
        return None
    return await OfflineDrafter().draft(request)


class OfflineDrafter:
    """Drafts without a network: language and intent by rules, facts by template."""

    name = "offline"

    async def draft(self, request: DraftRequest) -> DraftResult:
        result = self._draft(request)
        # The persona's greeting and sign-off frame every reply, in the reply's language.
        greets = result.intent == "greeting" and not result.needs_human
        reply = frame(result.reply, parse_voice(request.persona), result.language, greets=greets)
        return replace(result, reply=reply)

    def _draft(self, request: DraftRequest) -> DraftResult:
        language = reply_language(request)
        intent = classify_intent(request.follower_text)
        reply = _Reply(language)
        sensitive = detect_sensitive(request.follower_text)
        if sensitive is not None:
            # No product facts for a complaint or an attack: a person answers this one.
            apologetic = sensitive not in APOLOGY_FREE_CATEGORIES
            reply.add("sensitive" if apologetic else "holding")
            return self._result(
                reply,
                sensitive,
                NO_MATCH_CONFIDENCE,
                needs_human=True,
                notes=(f"sensitive message: {sensitive}",),
            )
        recognition = recognise_request(request)
        if recognition.recognised:
            return self._recognised(request, recognition, reply)
        return self._best_guess(request, intent, reply)

    def _recognised(
        self, request: DraftRequest, recognition: Recognition, reply: _Reply
    ) -> DraftResult:
        """A message our code recognises: small talk, a question back when it fits several
        products, or the asked facts of the product it names."""
        by_id = {match.product.id: match for match in request.products}
        if not recognition.asks:
            reply.add(recognition.intent)
            return self._result(reply, recognition.intent, SMALL_TALK_CONFIDENCE)
        if recognition.ambiguous:
            options = [by_id[pid] for pid in recognition.candidates if pid in by_id]
            names = list(dict.fromkeys(match.product.name for match in options))
            joiner = f" {TEMPLATES[reply.language]['or']} "
            reply.add("which", options=joiner.join(names))
            return self._result(
                reply,
                recognition.intent,
                max(match.score for match in options),
                product_ids=tuple(match.product.id for match in options),
                notes=(f"asks which of {len(names)} products",),
            )
        best = by_id[recognition.subject[0]]
        intents = [ask.value for ask in recognition.asks]
        _describe(reply, best, [recognition.intent, *intents], request.today)
        sure = NAMED_CONFIDENCE if recognition.named else best.score
        return self._result(
            reply,
            recognition.intent,
            sure if not reply.missing else MISSING_FACT_CONFIDENCE,
            product_ids=(best.product.id,),
            needs_human=bool(reply.missing),
            notes=tuple(f"catalog has no {fact}" for fact in reply.missing),
        )

    def _best_guess(self, request: DraftRequest, intent: str, reply: _Reply) -> DraftResult:
        """A message our code does not recognise: a person answers it; the suggestion
        covers the best matching product, for the person to edit."""
        if intent in ("greeting", "thanks"):
            reply.add(intent)
            return self._result(reply, intent, SMALL_TALK_CONFIDENCE)
        matches = sorted(request.products, key=lambda match: match.score, reverse=True)
        # Two products alike: a suggestion about either may be about the wrong one.
        close = len(matches) > 1 and matches[0].score - matches[1].score <= MARGIN
        if not matches or close:
            reply.add("holding")
            return self._result(
                reply,
                intent,
                NO_MATCH_CONFIDENCE,
                needs_human=True,
                notes=("no single catalog product matched",),
            )
        best = matches[0]
        _describe(reply, best, [intent], request.today)
        confidence = best.score * INTENT_FACTORS.get(intent, 1.0)
        notes: tuple[str, ...] = ()
        if reply.missing:
            confidence = min(confidence, MISSING_FACT_CONFIDENCE)
            notes += tuple(f"catalog has no {fact}" for fact in reply.missing)
        return self._result(
            reply,
            intent,
            confidence,
            product_ids=(best.product.id,),
            needs_human=bool(reply.missing),
            notes=notes,
        )

    def _result(
        self,
        reply: _Reply,
        intent: str,
        confidence: float,
        *,
        product_ids: tuple[int, ...] = (),
        needs_human: bool = False,
        notes: tuple[str, ...] = (),
    ) -> DraftResult:
        return DraftResult(
            reply=reply.text(),
            intent=intent,
            language=reply.language,
            confidence=round(max(0.0, min(1.0, confidence)), 3),
            product_ids=product_ids,
            needs_human=needs_human,
            drafter=self.name,
            notes=notes,
        )


def reply_language(request: DraftRequest) -> str:
    """The follower's language among the account's (plus en); earlier messages break ties.
    Product names ("pistachio cream") and the influencer's name say nothing about it;
    aliases do, as they are mostly translations ("Haaröl", "crème de nuit")."""
    names = frozenset(
        word
        for match in request.products
        for text in (match.product.name, match.cooperation.brand)
        for word in normalise(str(text)).split()
    ) | frozenset(normalise(request.account_name).split())
    earlier = " ".join(turn.text for turn in request.history if turn.author == "follower")
    return _reply_language(tuple(request.languages), names, earlier, request.follower_text)


@lru_cache(maxsize=1024)
def _reply_language(
    languages: tuple[str, ...], names: frozenset[str], earlier: str, follower_text: str
) -> str:
    """`reply_language` of these texts (a draft asks it several times: the drafter, the
    examples, the recogniser's checks)."""
    account = tuple(lang for lang in languages if lang in SUPPORTED_LANGUAGES)
    allowed = (*account, "en") if account else SUPPORTED_LANGUAGES
    fallback = account[0] if account else "en"
    for text in (earlier, follower_text):
        # Without the names first; with them only when nothing else tells ("hair oil code?").
        for ignore in (names, frozenset()):
            found = detect_language(
                text, allowed=allowed, default="", markers=LANGUAGE_WORDS, ignore=ignore
            )
            if text and found:
                fallback = _beside_english(text, found, allowed, names)
                break
    return fallback


_CLAUSE = re.compile(r"[,.;:!?¡¿()\n]+")


def _beside_english(text: str, found: str, allowed: Sequence[str], names: frozenset[str]) -> str:
    """A follower who mixes English into their own language writes in their own
    ("gracias!! you're amazing", "link zur Hose pls, the sandy one"): English is what
    people switch into, so a message read as English with a clause in another allowed
    language is answered in that language."""
    if found != "en":
        return found
    for clause in _CLAUSE.split(text):
        language = detect_language(
            clause, allowed=allowed, default="", markers=LANGUAGE_WORDS, ignore=names
        )
        if language and language != "en":
            return language
    return found


def _describe(reply: _Reply, match: ProductMatch, intents: list[str], today: date) -> None:
    """The product's facts: first what each intent asks for, then what helps beside it
    (a valid code, the link) and only when the catalog has it: a fact nobody asked for
    never sends a draft to a person."""
    product = match.product
    reply.sentences.append(f"{product.name} ({match.cooperation.brand}):")
    # "other" asks for nothing: its parts only help, so an expired code goes unsaid.
    asked = [_PARTS[i][0] for i in intents if i in _PARTS and i != "other"]
    extra = [part for i in intents for part in _PARTS.get(i, _PARTS["other"])]
    for part in dict.fromkeys([*asked, *extra]):
        if part == "description" and product.description:
            reply.sentences.append(product.description)
        elif part == "code":
            _add_code(reply, match, today, asked="code" in asked)
        elif part == "validity":
            _add_validity(reply, match, today)
        elif part == "link":
            _add_link(reply, product.url, asked="link" in asked)
        elif part == "price" and (product.price is not None or "price" in asked):
            _add_price(reply, product.price, product.currency)


def _add_code(reply: _Reply, match: ProductMatch, today: date, *, asked: bool) -> None:
    product = match.product
    validity = code_validity(product, match.cooperation, today)
    if validity.status is CodeStatus.NO_CODE:
        if asked:
            reply.add("no_code")
        return
    if not validity.sendable or not product.discount_code:
        # Said only when asked: volunteered beside a price or a link, "the code expired"
        # would be wrong whenever the follower meant another product.
        if asked:
            _add_unsendable(reply, match, validity.status)
        return
    code = product.discount_code
    if product.discount_details:
        reply.add("code", code=code, details=product.discount_details)
    else:
        reply.add("code_plain", code=code)
    if validity.until is not None:
        reply.add("valid_until", date=format_date(validity.until, reply.language))


def _add_unsendable(reply: _Reply, match: ProductMatch, status: CodeStatus) -> None:
    """A code that may not go out: expired (said so, never repeated: followers try it
    anyway), or not started / of unknown validity (a person confirms)."""
    if status is CodeStatus.EXPIRED:
        reply.add("expired", brand=match.cooperation.brand)
    else:
        reply.add("code_unconfirmed")
        reply.missing.append("confirmed code")


def _add_validity(reply: _Reply, match: ProductMatch, today: date) -> None:
    product = match.product
    validity = code_validity(product, match.cooperation, today)
    if validity.status is CodeStatus.NO_CODE:
        reply.add("no_code")
    elif not validity.sendable:
        _add_unsendable(reply, match, validity.status)
    else:
        reply.add("still_valid", code=product.discount_code or "")
        if validity.until is not None:
            reply.add("valid_until", date=format_date(validity.until, reply.language))


def _add_link(reply: _Reply, url: str | None, *, asked: bool) -> None:
    if url:
        reply.add("link", url=url)
    elif asked:
        reply.add("no_link")
        reply.missing.append("link")


def _add_price(reply: _Reply, price: Decimal | None, currency: str | None) -> None:
    if price is None:
        reply.add("no_price")
        reply.missing.append("price")
    else:
        reply.add("price", price=format_price(price, currency, reply.language))
