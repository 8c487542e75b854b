"""What a follower asks for, from keywords in de/en/es/fr/it.

Good enough to pick a template and to let the policy auto-send only safe intents; the
LLM drafter classifies on its own. Patterns run on `normalise`d text (lowercase, no
accents, punctuation as spaces), so "código", "Código!" and "codigo" are the same.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from app.core.text import normalise


@dataclass(frozen=True, slots=True)
class IntentRule:
    intent: str
    patterns: tuple[str, ...]  # regex fragments, matched as whole words
    requires: str | None = None  # another rule's intent that must also match


# Tried in order; the first rule that matches wins. Specific before general: "does
# the code still work" is about validity, not a request for a code; a greeting only
# counts when nothing else was asked.
RULES: tuple[IntentRule, ...] = (
    IntentRule(
        "code_validity",
        (
            # en
            r"still (work|valid|good|active)\w*",
            r"(not|n t|doesn t|isn t) (work|valid)\w*",
            r"expired?",
            r"valid",
            r"work(s|ing)? (anymore|still)",
            # de
            r"noch gultig",
            r"gultig\w*",
            r"funktioniert\w*",
            r"geht (noch|nicht)",
            r"abgelaufen",
            r"noch aktiv",
            # es
            r"sigue (funcionando|valido|activo)",
            r"funciona\w*",
            r"valido",
            r"caducad\w*",
            r"vigente",
            r"todavia",
            # fr
            r"marche\w*",
            r"fonctionne\w*",
            r"valable",
            r"encore valide",
            r"expire\w*",
            # it
            r"ancora (valido|attivo)",
            r"funziona\w*",
            r"scadut\w*",
            r"valido",
        ),
        requires="discount_code",
    ),
    IntentRule(
        "discount_code",
        (
            r"codes?",
            r"discount\w*",
            r"coupons?",
            r"promo\w*",
            r"voucher\w*",
            r"rabatt\w*",
            r"gutschein\w*",
            r"\w+code",
            r"codigos?",
            r"descuentos?",
            r"cupon\w*",
            r"code promo",
            r"reduction",
            r"remise",
            r"codice",
            r"codici",
            r"sconto",
            r"sconti",
        ),
    ),
    IntentRule(
        "price",
        (
            r"price\w*",
            r"how much",
            r"cost\w*",
            r"expensive",
            r"preis\w*",
            r"kostet",
            r"wie ?viel",
            r"teuer",
            r"precios?",
            r"cuanto (cuesta|vale|cuestan)",
            r"cuesta",
            r"caro",
            r"prix",
            r"combien",
            r"coute\w*",
            r"cher",
            r"prezzo",
            r"prezzi",
            r"quanto costa\w*",
            r"costa",
            r"costano",
        ),
    ),
    IntentRule(
        "product_link",
        (
            r"links?",
            r"where (can|do|did|to|should) (i |you )?(buy|get|find|order)",
            r"buy",
            r"shop",
            r"order",
            r"website",
            r"url",
            r"wo (kann|bekomm|kauf|gibt|find|bestell)\w*",
            r"kaufen",
            r"bestellen",
            r"bestellung",
            r"donde (lo |la |los |las )?(compr|consig|encuentr|pued)\w*",
            r"comprar\w*",
            r"enlace",
            r"tienda",
            r"ou (est ce que )?(je )?(peux |puis )?(l |le |la |les )?(achet|trouv|command)\w*",
            r"acheter",
            r"lien",
            r"boutique",
            r"commander",
            r"dove (posso |lo |la |li |le )?(compr|trov|ordin|prend)\w*",
            r"comprare",
            r"acquistar\w*",
            r"negozio",
        ),
    ),
    IntentRule(
        "product_info",
        (
            r"ingredient\w*",
            r"how (do|to|should) (i |you )?use",
            r"good for",
            r"suitable",
            r"sensitive",
            r"vegan",
            r"size\w*",
            r"does it",
            r"is it",
            r"review",
            r"inhaltsstoff\w*",
            r"anwend\w*",
            r"geeignet",
            r"empfindlich\w*",
            r"grosse",
            r"taugt",
            r"lohnt",
            r"ingredientes?",
            r"como se usa",
            r"sirve",
            r"sensible",
            r"talla",
            r"vale la pena",
            r"ingredients?",
            r"comment (l )?utiliser",
            r"convient",
            r"taille",
            r"efficace",
            r"ingredienti",
            r"come si usa",
            r"adatt\w*",
            r"taglia",
            r"funziona bene",
        ),
    ),
    IntentRule(
        "thanks",
        (
            r"thanks?",
            r"thank you",
            r"thx",
            r"ty",
            r"danke\w*",
            r"dankeschon",
            r"merci\w*",
            r"gracias",
            r"grazie",
            r"mille grazie",
        ),
    ),
    IntentRule(
        "greeting",
        (
            r"hi+",
            r"hello",
            r"hey+",
            r"good (morning|evening|afternoon)",
            r"how are you",
            r"hallo",
            r"servus",
            r"moin",
            r"guten (morgen|tag|abend)",
            r"wie geht s",
            r"hola",
            r"buen(os|as) (dias|tardes|noches)",
            r"buenas",
            r"que tal",
            r"bonjour",
            r"salut",
            r"coucou",
            r"bonsoir",
            r"ca va",
            r"ciao",
            r"buongiorno",
            r"buonasera",
            r"salve",
            r"come stai",
        ),
    ),
)


@functools.cache
def _compiled(intent: str) -> re.Pattern[str]:
    rule = next(rule for rule in RULES if rule.intent == intent)
    return re.compile(r"\b(?:" + "|".join(rule.patterns) + r")\b")


def classify_intent(text: str) -> str:
    """One of INTENTS for the follower's message; "other" when no rule matches."""
    normalised = normalise(text)
    for rule in RULES:
        if not _compiled(rule.intent).search(normalised):
            continue
        if rule.intent in SMALL_TALK and not _only_small_talk(rule.intent, normalised, text):
            continue
        if rule.requires is None or _compiled(rule.requires).search(normalised):
            return rule.intent
    return "other"


SMALL_TALK = ("greeting", "thanks")
# Words that may ride along with a greeting or thanks without asking anything.
_SMALL_TALK_EXTRA = 3


def _only_small_talk(intent: str, normalised: str, text: str) -> bool:
    """A greeting or a thanks with (almost) nothing else: "hi ... what's the price?" asks
    something, and answering it with "How can I help?" would ignore the question."""
    rest = _compiled(intent).sub(" ", normalised).split()
    if "?" in text and rest:
        return False
    return len(rest) <= _SMALL_TALK_EXTRA
