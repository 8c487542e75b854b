"""Guardrails on drafts: facts the catalog does not back, and messages a human must answer.

Pure functions, no database: the decision (app/policy/service.py) calls them with the
draft, the retrieved products and the conversation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Protocol

from app.core.text import normalise
from app.models import Cooperation, Product
from app.policy.reasons import Reason, ReasonCode


class CatalogEntry(Protocol):
    """A retrieved product with its cooperation (drafting's ProductMatch is one)."""

    @property
    def product(self) -> Product: ...

    @property
    def cooperation(self) -> Cooperation: ...


# --- extraction -------------------------------------------------------------------------

_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+"
    r"|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,24}(?:/[^\s<>\"']*)?",
    re.IGNORECASE,
)
_URL_TRAILING = ".,;:!?)]}'\"»"
_CURRENCY_WORDS = {
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "$": "USD", "usd": "USD",
    "dollar": "USD", "dollars": "USD", "£": "GBP", "gbp": "GBP", "pound": "GBP",
    "pounds": "GBP", "chf": "CHF", "franken": "CHF",
}  # fmt: skip
_CURRENCY = r"€|\$|£|eur|euros?|usd|dollars?|gbp|pounds?|chf|franken"
# Thousands separated by "." "," or the (narrow) no-break spaces French uses.
_NUMBER = r"\d{1,3}(?:[.,\u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_AMOUNT = re.compile(
    rf"(?<![a-z0-9])(?P<c1>{_CURRENCY})\s?(?P<n1>{_NUMBER})(?:,-)?"
    rf"|(?<![\d.,])(?P<n2>{_NUMBER})(?:,-)?\s?(?P<c2>{_CURRENCY})(?![a-z])",
    re.IGNORECASE,
)
_PERCENT = re.compile(
    r"(?P<n>\d+(?:[.,]\d+)?)\s?(?:%|prozent\b|percent\b|per cent\b|por ciento\b"
    r"|pour cent\b|per cento\b)",
    re.IGNORECASE,
)
_MONTHS = {
    # en, de, es, fr, it; after `normalise` (no accents), full names and common short forms.
    1: "january jan januar janner enero janvier gennaio gen",
    2: "february feb februar febrero fevrier febbraio",
    3: "march mar marz marzo mars",
    4: "april apr abril avril aprile",
    5: "may mai mayo maggio mag",
    6: "june jun juni junio juin giugno giu",
    7: "july jul juli julio juillet luglio lug",
    8: "august aug agosto aout ago",
    9: "september sep sept septiembre setiembre septembre settembre set",
    10: "october oct oktober okt octubre octobre ottobre ott",
    11: "november nov noviembre novembre",
    12: "december dec dezember dez diciembre dic decembre dicembre",
}  # fmt: skip
_MONTH_BY_NAME = {name: month for month, names in _MONTHS.items() for name in names.split()}
_MONTH_NAME = "|".join(sorted(_MONTH_BY_NAME, key=len, reverse=True))
_DATE_PATTERNS = (
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    re.compile(r"\b(?P<d>\d{1,2})[./](?P<m>\d{1,2})[./](?P<y>\d{4}|\d{2})\b"),
    re.compile(r"\b(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?!\d)"),  # de: "bis 31.12."
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:\.|st|nd|rd|th|er)?\s+(?:de\s+)?(?P<mn>{_MONTH_NAME})\b"
               rf"(?:\s+(?:de\s+)?(?P<y>\d{{4}}))?"),
    re.compile(rf"\b(?P<mn>{_MONTH_NAME})\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{{4}}))?"),
)  # fmt: skip
TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*")
# Number-with-unit tokens that look like codes but are quantities ("50ml", "24h", "2x").
_UNIT = re.compile(
    r"\d+(?:ml|l|g|kg|mg|cm|mm|m|km|h|hrs?|min|s|x|k|pm|am|st|nd|rd|th|er|oz|gb|tb|mp|fps|p)",
    re.IGNORECASE,
)
_CODE_CUES = frozenset(
    "code codes rabattcode gutscheincode gutschein codigo cupon coupon codice promo"
    " voucher promocode discount".split()
)
_CUE_FILLERS = frozenset("is ist es est e the der le el il la : mit with con avec".split())


@dataclass
class Facts:
    codes: dict[str, str] = field(default_factory=dict)  # normalised -> as written
    urls: dict[str, str] = field(default_factory=dict)
    amounts: dict[tuple[Decimal, str], str] = field(default_factory=dict)
    percents: dict[Decimal, str] = field(default_factory=dict)
    dates: dict[tuple[int, int, int | None], str] = field(default_factory=dict)


def _number(text: str) -> Decimal | None:
    """ "29,90" and "29.90" are 29.90; "1.299,00" and "1,299" are thousands."""
    digits = re.sub(r"\s", "", text)
    if "," in digits and "." in digits:
        decimal_mark = "," if digits.rfind(",") > digits.rfind(".") else "."
        digits = digits.replace("." if decimal_mark == "," else ",", "")
        digits = digits.replace(decimal_mark, ".")
    elif re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", digits):
        digits = re.sub(r"[.,]", "", digits)
    else:
        digits = digits.replace(",", ".")
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def normalise_url(url: str) -> str:
    """Compare links without scheme, "www.", case, fragment or trailing slash."""
    url = url.strip().rstrip(_URL_TRAILING).lower()
    url = re.sub(r"^[a-z]+://", "", url)
    url = url.removeprefix("www.").split("#", 1)[0]
    return url.rstrip("/")


def normalise_code(code: str) -> str:
    """Codes compare case-insensitively and without separators ("summer-20" == "SUMMER20")."""
    return re.sub(r"[-_\s]", "", code).upper()


def _fold(text: str) -> str:
    """Lowercase without accents, same length as far as dates care (punctuation kept)."""
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(ch)
    )


def _mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _extract_urls(text: str, facts: Facts) -> str:
    spans = []
    for match in _URL.finditer(text):
        raw = match.group().rstrip(_URL_TRAILING)
        if "@" in text[max(0, match.start() - 1) : match.start()]:
            continue  # the domain of an e-mail address is not a link
        facts.urls.setdefault(normalise_url(raw), raw)
        spans.append(match.span())
    return _mask(text, spans)


def _extract_amounts(text: str, facts: Facts) -> str:
    spans = []
    for match in _AMOUNT.finditer(text):
        number = _number(match.group("n1") or match.group("n2"))
        currency = _CURRENCY_WORDS[(match.group("c1") or match.group("c2")).lower()]
        if number is not None:
            facts.amounts.setdefault((number, currency), match.group().strip())
            spans.append(match.span())
    for match in _PERCENT.finditer(text):
        number = _number(match.group("n"))
        if number is not None:
            facts.percents.setdefault(number, match.group().strip())
            spans.append(match.span())
    return _mask(text, spans)


def _extract_dates(text: str, facts: Facts) -> str:
    folded = _fold(text)
    # Folding keeps positions unless a ligature expands ("ß" stays, "ﬁ" does not):
    # then quote the folded text and do not mask.
    aligned = len(folded) == len(text)
    spans: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(folded):
            raw = text[match.start() : match.end()] if aligned else match.group()
            keys = _date_keys(match)
            for key in keys:
                facts.dates.setdefault(key, raw.strip())
            if keys:  # "€34.00." is a price, not the 34th of no month
                spans.append(match.span())
    return _mask(text, spans) if aligned else text


def _date_keys(match: re.Match[str]) -> list[tuple[int, int, int | None]]:
    """(day, month, year or None) readings of a match; "05/06/2026" has two."""
    groups = match.groupdict()
    day = int(groups["d"])
    month = _MONTH_BY_NAME[groups["mn"]] if groups.get("mn") else int(groups["m"])
    year = int(groups["y"]) if groups.get("y") else None
    if year is not None and year < 100:
        year += 2000
    readings = [(day, month)]
    if "/" in match.group() and not groups.get("mn"):
        readings.append((month, day))  # US order
    return [(d, m, year) for d, m in readings if _is_date(d, m, year)]


def _is_date(day: int, month: int, year: int | None) -> bool:
    try:
        date(year or 2000, month, day)  # 2000 is a leap year: 29.02. stays possible
    except ValueError:
        return False
    return True


def _extract_codes(text: str, facts: Facts) -> None:
    tokens = [(m.group(), m.start()) for m in TOKEN.finditer(text)]
    for index, (token, _) in enumerate(tokens):
        if _looks_like_code(token) or _follows_cue(tokens, index):
            facts.codes.setdefault(normalise_code(token), token)


def _looks_like_code(token: str) -> bool:
    has_digit = any(ch.isdigit() for ch in token)
    has_alpha = any(ch.isalpha() for ch in token)
    return has_digit and has_alpha and not _UNIT.fullmatch(token)


def _follows_cue(tokens: Sequence[tuple[str, int]], index: int) -> bool:
    # "code SUMMER", "Code: GLOWLAB": an all-caps word right after a code word is a code.
    token = tokens[index][0]
    if len(token) < 3 or not token.isupper():
        return False
    for previous, _ in reversed(tokens[max(0, index - 3) : index]):
        word = normalise(previous)
        if word in _CODE_CUES:
            return True
        if word not in _CUE_FILLERS:
            return False
    return False


def extract_facts(text: str) -> Facts:
    """Codes, links, amounts, percentages and dates stated in `text`."""
    facts = Facts()
    rest = _extract_urls(text, facts)
    rest = _extract_dates(rest, facts)
    rest = _extract_amounts(rest, facts)
    _extract_codes(rest, facts)
    return facts


# --- grounding ---------------------------------------------------------------------------


def catalog_texts(match: CatalogEntry) -> list[str]:
    product, cooperation = match.product, match.cooperation
    texts = [product.name, product.description, cooperation.brand, cooperation.title]
    texts += [str(alias) for alias in product.aliases or ()]
    texts += [t for t in (product.discount_details, product.discount_code, product.url) if t]
    return texts


def _grounding(products: Sequence[CatalogEntry], conversation_texts: Sequence[str]) -> Facts:
    """Everything the reply may state: the products' fields and what was said before."""
    texts = [text for match in products for text in catalog_texts(match)]
    texts += conversation_texts
    known = Facts()
    for text in texts:
        found = extract_facts(text)
        known.urls.update(found.urls)
        known.amounts.update(found.amounts)
        known.percents.update(found.percents)
        known.dates.update(found.dates)
        # Any word of the catalog may be repeated, code-shaped or not ("SPF 50" -> SPF50).
        words = [normalise_code(word) for word in TOKEN.findall(text)]
        known.codes.update({word: word for word in words})
        known.codes.update({a + b: a + b for a, b in zip(words, words[1:], strict=False)})
    for match in products:
        _ground_fields(match, known)
    # A bare domain of a catalog link is fine ("on glowlab.example").
    known.urls.update({url.split("/", 1)[0]: url for url in list(known.urls)})
    return known


def _ground_fields(match: CatalogEntry, known: Facts) -> None:
    product, cooperation = match.product, match.cooperation
    if product.discount_code:
        known.codes[normalise_code(product.discount_code)] = product.discount_code
    if product.url:
        known.urls[normalise_url(product.url)] = product.url
    if product.price is not None:
        known.amounts[(product.price, (product.currency or "*").upper())] = str(product.price)
    for day in (product.code_valid_until, cooperation.starts_on, cooperation.ends_on):
        if day is not None:
            known.dates[(day.day, day.month, day.year)] = day.isoformat()


def _amount_known(key: tuple[Decimal, str], known: Facts) -> bool:
    # A price stored without currency backs the amount in any currency.
    return key in known.amounts or (key[0], "*") in known.amounts


def date_known(key: tuple[int, int, int | None], known: Facts) -> bool:
    day, month, year = key
    return any(d == day and m == month and year in (None, y) for d, m, y in known.dates)


def ungrounded_facts(
    reply: str,
    products: Sequence[CatalogEntry],
    conversation_texts: Sequence[str] = (),
) -> list[Reason]:
    """Reasons, one per fact in `reply` that neither the products nor the conversation back.

    Checked: discount-code-like tokens, links and bare domains, amounts with a currency,
    percentages and dates. Compared normalised: codes without case or separators, links
    without scheme or trailing slash, amounts as numbers (29,90 == 29.9), dates as
    day/month/year whatever the format. An empty list means every such fact is grounded.
    """
    stated = extract_facts(reply)
    known = _grounding(products, conversation_texts)
    code, link = ReasonCode.CODE_NOT_IN_CATALOG, ReasonCode.LINK_WRONG
    reasons = [Reason(code, f"discount code {raw!r} not in catalog")
               for key, raw in stated.codes.items() if key not in known.codes]  # fmt: skip
    reasons += [Reason(link, f"link {raw!r} not in catalog") for key, raw in stated.urls.items()
                if key not in known.urls]  # fmt: skip
    reasons += [Reason(ReasonCode.PRICE_WRONG, f"price {raw!r} not in catalog")
                for key, raw in stated.amounts.items()
                if not _amount_known(key, known)]  # fmt: skip
    reasons += [Reason(ReasonCode.PERCENT_WRONG, f"percentage {raw!r} not in catalog")
                for key, raw in stated.percents.items() if key not in known.percents]  # fmt: skip
    # "01/06/2027" reads as 1 June or 6 January: grounded when either reading is known.
    readings: dict[str, list[tuple[int, int, int | None]]] = {}
    for key, raw in stated.dates.items():
        readings.setdefault(raw, []).append(key)
    reasons += [Reason(ReasonCode.DATE_WRONG, f"date {raw!r} not in catalog")
                for raw, keys in readings.items()
                if not any(date_known(key, known) for key in keys)]  # fmt: skip
    return reasons


def unanswered(intent: str, reply: str) -> list[str]:
    """The follower asked for a link and the reply gives none (the catalog may lack it):
    "where can I buy it?" answered without a link is not an answer."""
    if intent == "product_link" and not extract_facts(reply).urls:
        return ["asked where to buy, the reply gives no link"]
    return []


# --- sensitive messages ------------------------------------------------------------------

# Regex fragments over `normalise`d text (lowercase, no accents, punctuation as spaces:
# "don't" is "don t", "j'ai" is "j ai"), matched as whole words. Ordered by severity:
# the first category that matches is returned. Phrases, not single words, where a word
# alone is an ordinary product question ("sensitive skin", "delivery time").
# fmt: off
SENSITIVE_PATTERNS: dict[str, tuple[str, ...]] = {
    "self_harm": (
        r"kill myself", r"suicid\w*", r"self harm", r"hurt myself", r"end my life",
        r"want to die", r"cutting myself",
        r"mich umbringen", r"selbstmord\w*", r"suizid\w*", r"mich ritzen",
        r"nicht mehr leben", r"will sterben",
        r"matarme", r"quitarme la vida", r"hacerme dano", r"no quiero vivir",
        r"me suicider", r"me tuer", r"en finir avec (la vie|tout)", r"me faire du mal",
        r"envie de mourir",
        r"uccidermi", r"ammazzarmi", r"farla finita", r"farmi del male",
        r"non voglio piu vivere",
    ),
    "prompt_injection": (
        r"(ignore|disregard|forget|override) (all |any )?(the |your |my )?(previous |prior "
        r"|above |earlier |preceding )?(instructions?|rules|prompts?|guidelines|directions)",
        r"you are now (a |an |the |in |my )?(\w+ )?(bot|ai|assistant|chatbot|model|gpt|dan"
        r"|mode|persona|character|unrestricted|jailbroken)",
        r"from now on,? you (are|will|must|should)", r"system prompt", r"developer mode",
        r"jailbreak\w*", r"(reveal|show|print|repeat) (me )?(your|the) (prompt|instructions)",
        r"new instructions?", r"act as (a |an )?(\w+ )?(ai|bot|assistant|gpt|dan)",
        r"ignoriere? (alle|die|deine|samtliche|jegliche)",
        r"(vergiss|missachte) (alle |deine |die )?(vorherigen |bisherigen )?(anweisungen|regeln)",
        r"du bist (jetzt|ab sofort|nun) (ein|eine|der|die) (\w+ )?(bot|ki|ai|assistent|modell)",
        r"ab (jetzt|sofort) bist du", r"systemprompt", r"system anweisung\w*",
        r"neue anweisung\w*",
        r"ignora (todas |las |tus )?(las )?(instrucciones|reglas)",
        r"olvida (todas |tus |las )?(las )?(instrucciones|reglas)",
        r"(ahora|a partir de ahora) eres", r"instrucciones (del sistema|anteriores)",
        r"prompt del sistema", r"nuevas instrucciones",
        r"ignore (toutes |tes |les |vos )?(les )?(instructions|regles|consignes)",
        r"oublie (toutes |tes |les |vos )?(les )?(instructions|regles|consignes)",
        r"(tu es|vous etes) (maintenant|desormais) (un|une) (\w+ )?(bot|ia|assistant|modele)",
        r"a partir de maintenant,? tu es", r"prompt systeme", r"nouvelles instructions",
        r"ignora (tutte |le |tue )?(le )?(istruzioni|regole)",
        r"dimentica (tutte |le |tue )?(le )?(istruzioni|regole)",
        r"(d ora in poi|da ora in poi|adesso|ora) sei (un|una) (\w+ )?(bot|ia|ai|assistente"
        r"|modello)",
        r"prompt di sistema", r"nuove istruzioni",
    ),
    "harassment": (
        r"fuck (you|u|off)", r"bitch", r"slut", r"whore", r"cunt",
        r"(kill|rape|hurt) (you|u)", r"i know where you live", r"send (me )?nudes?",
        r"send (me )?(nude|naked|sexy) (pics|photos|pictures)",
        r"schlampe", r"hure", r"fotze", r"fick dich", r"halt die fresse",
        r"(bring|mach) dich (um|kalt)", r"nacktbilder", r"nacktfotos",
        r"puta", r"zorra", r"te voy a matar", r"fotos desnuda", r"hija de puta",
        r"salope", r"pute", r"connasse", r"je vais te tuer", r"ta gueule", r"nique ta",
        r"puttana", r"troia", r"stronza", r"ti ammazzo", r"vaffanculo", r"foto nuda",
    ),
    "health_safety": (
        r"rash", r"allergic reaction", r"(burns|burning|itches|itching|swollen|swelling"
        r"|bleeding|peeling) (skin|face|eyes?|lips)", r"my (skin|face|eyes?|lips) "
        r"(is |are )?(burning|burns|itching|swollen|bleeding|peeling|red)",
        r"(burned|burnt|irritated) my", r"hospital", r"emergency room", r"poison\w*",
        r"pregnan\w*", r"breastfeeding", r"swallowed", r"choked",
        r"ausschlag", r"allergische reaktion", r"brenn(t|en)", r"juck(t|en)",
        r"geschwollen\w*",
        r"krankenhaus", r"notaufnahme", r"verbrennung\w*", r"vergiftung", r"schwanger",
        r"stillzeit", r"verschluckt",
        r"sarpullido", r"erupcion", r"reaccion alergica", r"me (quema|pica|arde)",
        r"hinchad[oa]s?", r"urgencias", r"quemadura\w*", r"embarazada", r"lactancia",
        r"eruption", r"reaction allergique", r"(ca|ma peau) (brule|gratte|pique)",
        r"me brule", r"demangeaisons?", r"gonfle\w*", r"hopital", r"urgences", r"brulure\w*",
        r"enceinte", r"allaitement",
        r"eruzione", r"sfogo", r"reazione allergica", r"(mi )?(brucia|prude)", r"prurito",
        r"gonfi[oa]", r"ospedale", r"pronto soccorso", r"ustion\w*", r"incinta",
        r"allattamento",
    ),
    "legal": (
        r"lawyer", r"attorney", r"(sue|suing|sued) (you|u|them|your|the brand)", r"lawsuit",
        r"legal action", r"(take|see) (you|u) (to|in) court", r"cease and desist",
        r"police", r"consumer protection",
        r"anwalt\w*", r"anwaltin", r"rechtsanwalt\w*", r"verklagen", r"klage", r"gericht",
        r"polizei", r"abmahnung", r"strafanzeige", r"anzeige (erstatten|gegen)",
        r"verbraucherzentrale",
        r"abogad[oa]s?", r"demanda\w*", r"denuncia\w*", r"tribunal", r"policia",
        # "avocat" is also the avocado: only with a possessive or article before it.
        r"(mon|un|notre|votre|mes|l) avocats?", r"porter plainte", r"plainte contre",
        r"poursuivre en justice", r"mise en demeure",
        r"avvocat[oi]", r"querela", r"tribunale", r"causa legale", r"polizia",
    ),
    "minor": (
        r"i m a minor", r"i am a minor", r"under 18",
        r"ich bin minderjahrig", r"unter 18",
        r"soy menor( de edad)?", r"menor de edad",
        r"je suis mineure?", r"moins de 18 ans",
        r"sono minorenne", r"minorenne",
    ),
    "refund": (
        r"refund\w*", r"money back", r"reimburse\w*", r"chargeback",
        r"ruckerstattung", r"(geld|kohle) zuruck", r"erstatt\w*", r"zuruckschicken",
        r"retoure", r"widerruf\w*",
        r"reembols\w*", r"devolucion", r"devolver (el|mi|la)", r"mi dinero",
        r"rembours\w*", r"renvoyer (le|la|mon|ma)", r"mon argent",
        r"rimbors\w*", r"restituire", r"soldi indietro", r"i miei soldi",
    ),
    "delivery_problem": (
        r"(hasn t|has not|haven t|have not|never|didn t|did not|still not|not yet) "
        r"(been )?(arrived?|delivered|received|come|shipped)",
        r"where is my (order|package|parcel)",
        r"(lost|wrong|missing) (package|parcel|order|item)",
        r"(nicht|nie|noch nicht) (angekommen|geliefert|erhalten|bekommen)",
        r"wo (ist|bleibt) meine? (paket|bestellung|lieferung)",
        r"falsche[sn]? (artikel|produkt|ware|lieferung)",
        r"no (me )?(ha llegado|llego|han llegado|he recibido)",
        r"donde esta mi (pedido|paquete)", r"paquete perdido",
        r"(producto|articulo|pedido|talla|color) (equivocad[oa]|incorrect[oa])",
        r"me (llego|enviaron|mandaron) (el|la|un|una|otro|otra) \w+ (equivocad[oa]|incorrect[oa])",
        r"(pas|jamais) (encore |toujours )?(recue?s?|arrivee?s?|livree?s?)",
        r"toujours pas (recue?s?|arrivee?s?|livree?s?)", r"ou est mon (colis|commande)",
        r"colis perdu",
        r"non (mi )?(e|sono) (ancora )?(arrivat[oi]|consegnat[oi])",
        r"non ho (ancora )?ricevuto", r"dov e il mio (pacco|ordine)", r"pacco perso",
    ),
    "complaint": (
        r"broken", r"damaged", r"defective", r"faulty", r"scam", r"rip ?off",
        r"disappointed", r"terrible", r"worst", r"complain\w*", r"unacceptable",
        r"poor quality",
        r"kaputt", r"beschadigt", r"defekt", r"enttauscht", r"beschwerde", r"reklamation",
        r"abzocke", r"betrug", r"unverschamt",
        r"roto", r"rota", r"danado", r"defectuos[oa]", r"queja", r"estafa",
        r"decepcion\w*", r"reclamacion",
        r"casse", r"abime", r"defectueux", r"arnaque", r"decue?", r"reclamation",
        r"rotto", r"rotta", r"danneggiato", r"difettoso", r"reclamo", r"truffa",
        r"delus[oa]", r"lamentela",
    ),
    "business_request": (
        r"(a|an|our|potential|paid|possible|new) (collab|collaboration|partnership)",
        r"(collab|collaboration|partnership) (request|inquiry|enquiry|opportunity|proposal)",
        r"(want|like|love|interested) to (collab|collaborate|partner|work with you)",
        r"sponsor(ship|ing|ed post)?", r"media ?kit", r"brand deal", r"your rates",
        r"kooperationsanfrage", r"kooperation anfrage", r"(eine|einer) kooperation",
        r"zusammenarbeit (mit (uns|dir|ihnen)|anfrage)", r"werbepartner\w*", r"mediakit",
        # "your collaboration with GlowLab" is a product question: only an offered one counts.
        r"una colaboracion", r"colaborar (con|contigo)", r"patrocinio", r"trabajar contigo",
        r"(une|nouvelle) collaboration", r"collaborer", r"(un|nouveau) partenariat",
        r"sponsoris\w*", r"travailler avec (toi|vous)",
        r"una (nuova )?collaborazione", r"collaborare", r"sponsorizzazion\w*",
        r"lavorare con te",
    ),
}
# fmt: on
_SENSITIVE = {
    category: re.compile(r"\b(?:" + "|".join(patterns) + r")\b")
    for category, patterns in SENSITIVE_PATTERNS.items()
}
# A stated age under 18: "i m 14", "ich bin 15", "tengo 13 anos", "j ai 12 ans", "ho 16 anni".
# es/fr/it need the unit: "tengo 2 preguntas", "ho 3 domande" are not ages.
_AGE = (
    re.compile(r"\b(?:i m|i am|im|ich bin) (\d{1,2})\b(?! (?:min|minutes|mins|euro|h|cm|kg)\b)"),
    re.compile(
        r"\b(?:tengo|j ai|ho|i m|i am|ich bin) (\d{1,2}) (?:anos|ans|anni|years? old|jahre)\b"
    ),
)


def detect_sensitive(text: str) -> str | None:
    """The first sensitive category `text` falls in, by severity, or None.

    Categories: self_harm, prompt_injection, harassment, health_safety, legal, minor,
    refund, delivery_problem, complaint, business_request. Keywords in de, en, es, fr,
    it; a match means a human answers, so the lists lean towards catching.
    """
    normalised = normalise(text)
    for category, pattern in _SENSITIVE.items():
        if pattern.search(normalised):
            return category
        if category == "minor" and _states_minor_age(normalised):
            return category
    return None


def _states_minor_age(normalised: str) -> bool:
    return any(int(m.group(1)) < 18 for pattern in _AGE for m in pattern.finditer(normalised))
