"""The first judge: does the reply state only facts of the products the follower asked
about, each one true today, and does it answer what was asked?

Not "does this code appear somewhere in the catalog", but "is it the code of a product
the reply names, which the follower asked about, and may it be handed out today": an
expired code, another product's code, a link or price of a product nobody asked about
all send the draft to a person, with a reason a moderator understands.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from app.catalog.validity import CodeStatus, code_validity
from app.policy.guardrails import (
    TOKEN,
    Facts,
    date_known,
    extract_facts,
    normalise_code,
    normalise_url,
)
from app.policy.lexicon import Ask
from app.policy.reasons import Reason, ReasonCode
from app.policy.recognise import MARGIN, Match, Recognition

_STATUS_WORDS = {
    CodeStatus.EXPIRED: "has expired",
    CodeStatus.NOT_STARTED: "is not valid yet (its cooperation has not started)",
    CodeStatus.UNKNOWN: "has no date anywhere in the catalog, so nobody knows if it works",
}


def answer_problems(
    reply: str,
    *,
    matches: Sequence[Match],
    cited: Sequence[int],
    recognition: Recognition,
    today: date,
) -> list[Reason]:
    """Reasons the reply may not go out alone; empty when every fact is the asked product's
    and true today, and the question is answered."""
    stated = extract_facts(reply)
    # A catalog code written the way no code looks ("glowmara") is still a code.
    written = {normalise_code(word): word for word in TOKEN.findall(reply)}
    for match in matches:
        key = _code_key(match)
        if key is not None and key in written:
            stated.codes.setdefault(key, written[key])
    asked = set(recognition.subject) or _best_matches(matches, recognition)
    by_id = {m.product.id: m for m in matches}
    reasons: list[Reason] = []
    strangers = [by_id[i].product.name for i in cited if i in by_id and i not in asked]
    if strangers and not recognition.ambiguous:
        text = f"the reply is about {', '.join(strangers)}, which the follower did not ask about"
        reasons.append(Reason(ReasonCode.OTHER_PRODUCT_ANSWERED, text))
    own = [by_id[i] for i in cited if i in asked and i in by_id]
    others = [m for m in matches if m not in own]
    reasons += _code_problems(stated, own, others, names=_name_words(matches), today=today)
    reasons += _link_problems(stated, own, others)
    reasons += _amount_problems(stated, own)
    reasons += _date_problems(stated, own, today)
    if recognition.recognised and not recognition.ambiguous:
        subject = [by_id[i] for i in recognition.subject if i in by_id]
        reasons += _unanswered(recognition.asks, stated, subject, today)
    return reasons


def _best_matches(matches: Sequence[Match], recognition: Recognition) -> set[int]:
    """What the follower most likely asked about when our code could not tell (the
    draft goes to a person anyway; its reasons should still point at wrong facts)."""
    if recognition.recognised or not matches:
        return set()
    top = max(m.score for m in matches)
    return {m.product.id for m in matches if m.score >= top - MARGIN}


def _code_problems(
    stated: Facts,
    own: Sequence[Match],
    others: Sequence[Match],
    *,
    names: set[str],
    today: date,
) -> list[Reason]:
    """`names`: code-like words of the retrieved products' names ("E2", "K2"): a question
    naming the candidates, or a reply naming its product, states no code by them (a
    product's actual code is still checked, whoever's name holds it)."""
    words = {normalise_code(w) for m in own for w in TOKEN.findall(_texts(m))} | names
    texts = []
    for key, raw in stated.codes.items():
        owner = next((m for m in own if _code_key(m) == key), None)
        if owner is not None:
            validity = code_validity(owner.product, owner.cooperation, today)
            if not validity.sendable:
                texts.append(f"code {raw!r} {_STATUS_WORDS[validity.status]}")
            continue
        stranger = next((m for m in others if _code_key(m) == key), None)
        if stranger is not None:
            texts.append(
                f"code {raw!r} belongs to {stranger.product.name}, not the product asked about"
            )
        elif key not in words:
            texts.append(f"code {raw!r} is not the code of the product asked about")
    return [Reason(ReasonCode.CODE_WRONG, text) for text in texts]


def _code_key(match: Match) -> str | None:
    code = match.product.discount_code
    return normalise_code(code) if code else None


def _name_words(matches: Sequence[Match]) -> set[str]:
    return {
        normalise_code(word)
        for m in matches
        for text in (m.product.name, *(str(a) for a in m.product.aliases or ()))
        for word in TOKEN.findall(text)
    }


def _texts(match: Match) -> str:
    """Words of the product that may look like codes without being one ("SPF50")."""
    product = match.product
    return " ".join([product.name, product.description, *(str(a) for a in product.aliases or ())])


def _link_problems(stated: Facts, own: Sequence[Match], others: Sequence[Match]) -> list[Reason]:
    links = {normalise_url(m.product.url) for m in own if m.product.url}
    links |= {link.split("/", 1)[0] for link in links}  # "on glowlab.example"
    texts = []
    for key, raw in stated.urls.items():
        if key in links:
            continue
        stranger = next(
            (m for m in others if m.product.url and normalise_url(m.product.url) == key), None
        )
        if stranger is not None:
            texts.append(
                f"link {raw!r} belongs to {stranger.product.name}, not the product asked about"
            )
        else:
            texts.append(f"link {raw!r} is not the link of the product asked about")
    return [Reason(ReasonCode.LINK_WRONG, text) for text in texts]


def _amount_problems(stated: Facts, own: Sequence[Match]) -> list[Reason]:
    prices = {(m.product.price, (m.product.currency or "*").upper()) for m in own}
    # "10 EUR off" in the discount's details is an amount of the catalog entry too.
    prices |= {key for m in own for key in extract_facts(_offer_text(m)).amounts}
    reasons = [
        Reason(ReasonCode.PRICE_WRONG, f"price {raw!r} is not the price of the product asked about")
        for (amount, currency), raw in stated.amounts.items()
        if (amount, currency) not in prices and (amount, "*") not in prices
    ]
    percents = {key for m in own for key in extract_facts(_offer_text(m)).percents}
    text = "percentage {!r} is not in the catalog entry of the product asked about"
    reasons += [
        Reason(ReasonCode.PERCENT_WRONG, text.format(raw))
        for key, raw in stated.percents.items()
        if key not in percents
    ]
    return reasons


def _offer_text(match: Match) -> str:
    product = match.product
    return " \n ".join([product.discount_details or "", product.description, product.name])


def _date_problems(stated: Facts, own: Sequence[Match], today: date) -> list[Reason]:
    known = Facts()
    for m in own:
        validity = code_validity(m.product, m.cooperation, today)
        days = (
            validity.until if validity.sendable else None,
            m.cooperation.starts_on,
            m.cooperation.ends_on,
        )
        for day in days:
            if day is not None:
                known.dates[(day.day, day.month, day.year)] = day.isoformat()
    readings: dict[str, list[tuple[int, int, int | None]]] = {}
    for key, raw in stated.dates.items():
        readings.setdefault(raw, []).append(key)
    return [
        Reason(ReasonCode.DATE_WRONG, f"date {raw!r} is not a date of the product asked about")
        for raw, keys in readings.items()
        if not any(date_known(key, known) for key in keys)
    ]


def _unanswered(
    asks: frozenset[Ask], stated: Facts, subject: Sequence[Match], today: date
) -> list[Reason]:
    """What was asked and the catalog has must be in the reply; what it cannot tell, a
    person answers."""
    if not subject:
        return []
    reasons: list[Reason] = []
    first = subject[0].product
    if Ask.LINK in asks:
        links = {normalise_url(m.product.url) for m in subject if m.product.url}
        if not links:
            text = f"asked for a link; the catalog has none for {first.name}"
            reasons.append(Reason(ReasonCode.LINK_NONE_IN_CATALOG, text))
        elif not links & set(stated.urls):
            reasons.append(
                Reason(ReasonCode.LINK_MISSING, "asked for a link; the reply gives none")
            )
    if Ask.PRICE in asks:
        if first.price is None:
            text = f"asked for the price; the catalog has none for {first.name}"
            reasons.append(Reason(ReasonCode.PRICE_NONE_IN_CATALOG, text))
        elif not any(amount == first.price for amount, _ in stated.amounts):
            text = "asked for the price; the reply does not give it"
            reasons.append(Reason(ReasonCode.PRICE_MISSING, text))
    if asks & {Ask.CODE, Ask.VALIDITY}:
        validity = code_validity(first, subject[0].cooperation, today)
        if validity.status in (CodeStatus.UNKNOWN, CodeStatus.NOT_STARTED):
            text = f"the code of {first.name} {_STATUS_WORDS[validity.status]}"
            reasons.append(Reason(ReasonCode.CODE_NOT_VALID_NOW, text))
        elif Ask.CODE in asks and validity.sendable:
            if _code_key(subject[0]) not in stated.codes:
                text = "asked for the code; the reply does not give it"
                reasons.append(Reason(ReasonCode.CODE_MISSING, text))
    return reasons
