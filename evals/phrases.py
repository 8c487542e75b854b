"""What the scripted model answers say, in the five languages of the labels.

Written apart from the offline drafter's templates on purpose: a scripted answer is what a
model might write, and must not pass the checks only because it reuses our own wording.
"""

from __future__ import annotations

from decimal import Decimal

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "code": "Your code for {name}: {code} ({details}).",
        "still_valid": "Yes, {code} still works for {name}.",
        "until": "It's valid until {until}.",
        "expired": "Sorry, the {brand} code has expired.",
        "no_code": "There's no discount code for {name}, sorry.",
        "link": "Here's the link: {url}",
        "price": "{name} costs {price}.",
        "which": "Which one do you mean: {options}?",
        "or": "or",
        "holding": "Thanks for your message! I'll get back to you personally soon.",
        "greeting": "Hi! How can I help you? 😊",
        "thanks": "You're welcome! 💛",
    },
    "de": {
        "code": "Dein Code für {name}: {code} ({details}).",
        "still_valid": "Ja, {code} gilt noch für {name}.",
        "until": "Er gilt bis {until}.",
        "expired": "Sorry, der Code von {brand} ist abgelaufen.",
        "no_code": "Für {name} gibt es leider keinen Rabattcode.",
        "link": "Hier ist der Link: {url}",
        "price": "{name} kostet {price}.",
        "which": "Welches meinst du: {options}?",
        "or": "oder",
        "holding": "Danke für deine Nachricht! Ich melde mich bald persönlich.",
        "greeting": "Hi! Wie kann ich dir helfen? 😊",
        "thanks": "Sehr gerne! 💛",
    },
    "es": {
        "code": "Tu código para {name}: {code} ({details}).",
        "still_valid": "Sí, {code} sigue funcionando para {name}.",
        "until": "Es válido hasta {until}.",
        "expired": "Lo siento, el código de {brand} ha caducado.",
        "no_code": "No hay código de descuento para {name}, lo siento.",
        "link": "Aquí tienes el enlace: {url}",
        "price": "{name} cuesta {price}.",
        "which": "¿Cuál quieres decir: {options}?",
        "or": "o",
        "holding": "¡Gracias por tu mensaje! Te respondo personalmente pronto.",
        "greeting": "¡Hola! ¿En qué te puedo ayudar? 😊",
        "thanks": "¡De nada! 💛",
    },
    "fr": {
        "code": "Ton code pour {name} : {code} ({details}).",
        "still_valid": "Oui, {code} marche toujours pour {name}.",
        "until": "Il est valable jusqu'au {until}.",
        "expired": "Désolée, le code {brand} a expiré.",
        "no_code": "Il n'y a pas de code promo pour {name}, désolée.",
        "link": "Voici le lien : {url}",
        "price": "{name} coûte {price}.",
        "which": "Tu parles duquel : {options} ?",
        "or": "ou",
        "holding": "Merci pour ton message ! Je te réponds personnellement bientôt.",
        "greeting": "Coucou ! Je peux t'aider ? 😊",
        "thanks": "Avec plaisir ! 💛",
    },
    "it": {
        "code": "Il tuo codice per {name}: {code} ({details}).",
        "still_valid": "Sì, {code} funziona ancora per {name}.",
        "until": "È valido fino al {until}.",
        "expired": "Mi dispiace, il codice di {brand} è scaduto.",
        "no_code": "Non c'è un codice sconto per {name}, mi dispiace.",
        "link": "Ecco il link: {url}",
        "price": "{name} costa {price}.",
        "which": "Quale intendi: {options}?",
        "or": "o",
        "holding": "Grazie per il messaggio! Ti rispondo personalmente a breve.",
        "greeting": "Ciao! Come posso aiutarti? 😊",
        "thanks": "Figurati! 💛",
    },
}


def say(language: str, key: str, **values: str) -> str:
    # A label language the phrases lack falls back to English rather than failing a run.
    return PHRASES.get(language, PHRASES["en"])[key].format(**values)


def options(language: str, names: list[str]) -> str:
    """ "A, B or C" in the reply's language."""
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} {say(language, 'or')} {names[-1]}"


def amount(price: Decimal, currency: str | None) -> str:
    return f"{price} {currency or ''}".strip()
