"""Product-type words across our five languages, so that "il siero", "la robe" or
"die Jacke" find the "Vitamin C Serum", the "Linen Wrap Dress" and the "Alpine Shell
Jacket" although catalogs are mostly written in English.

A message's words are expanded with the English word of each type they name; nothing is
translated the other way, and only product types are listed (not colours, sizes or
verbs), so the expansion cannot invent a product: it only lets the type word of a
product's name match in another language.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.core.text import tokens

# English word: its single-word names in German, Spanish, French and Italian (a word of a
# phrase such as "crème solaire" would drag every cream along, so phrases are left out).
_TYPES: dict[str, str] = {
    "serum": "siero sérum suero",
    "cream": "creme crème crema",
    "moisturizer": "feuchtigkeitscreme hidratante hydratant idratante",
    "cleanser": "reinigung reinigungsgel limpiador nettoyant detergente",
    "sunscreen": "sonnencreme sonnenschutz",
    "lipstick": "lippenstift pintalabios labial rossetto",
    "mascara": "wimperntusche rimmel máscara",
    "perfume": "parfum parfüm perfume profumo",
    "shampoo": "champú champoing",
    "oil": "aceite huile olio",
    "mask": "maske mascarilla masque maschera",
    "brush": "pinsel brocha pinceau pennello",
    "dress": "kleid vestido robe abito vestito",
    "jacket": "jacke chaqueta veste giacca giubbotto",
    "coat": "mantel abrigo manteau cappotto",
    "shirt": "hemd camisa chemise camicia",
    "shoe": "schuh schuhe zapato zapatilla chaussure scarpa scarpe",
    "sneaker": "turnschuh sneakers zapatillas baskets",
    "bag": "tasche bolso sac borsa",
    "scarf": "schal bufanda écharpe sciarpa",
    "trousers": "hose pantalón pantalon pantaloni",
    "sweater": "pullover maglione",
    "headphones": "kopfhörer auriculares casque cuffie",
    "charger": "ladegerät cargador chargeur caricabatterie caricatore",
    "light": "licht lampe luz lumière luce",
    "tripod": "stativ trípode trépied treppiede",
    "case": "hülle funda coque custodia",
    "watch": "uhr reloj montre orologio",
    "whisk": "schneebesen batidor fouet frusta",
    "knife": "messer cuchillo couteau coltello",
    "pan": "pfanne sartén poêle padella",
    "coffee": "kaffee café caffè",
    "chocolate": "schokolade chocolat cioccolato",
    "protein": "proteína protéine proteina eiweiß",
    "band": "widerstandsband banda bande elastico",
    "mat": "matte esterilla tapis tappetino",
    "bottle": "flasche botella bouteille gourde bottiglia borraccia",
    "dumbbell": "hantel mancuerna haltère manubrio",
}


def _table() -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    for english, others in _TYPES.items():
        targets = tokens(english)
        for word in tokens(others):
            if word not in targets:
                table.setdefault(word, [])
                table[word].extend(t for t in targets if t not in table[word])
    return {word: tuple(targets) for word, targets in table.items()}


_TABLE = _table()


def expand(words: Iterable[str]) -> list[str]:
    """The words (already `tokens()`), followed by the English type word of each one
    that names a product type in another language."""
    result = list(words)
    extra = [target for word in result for target in _TABLE.get(word, ())]
    return result + [word for word in dict.fromkeys(extra) if word not in result]


def _reverse() -> dict[str, tuple[str, ...]]:
    reverse: dict[str, list[str]] = {}
    for word, targets in _TABLE.items():
        for target in targets:
            reverse.setdefault(target, []).append(word)
    return {target: tuple(words) for target, words in reverse.items()}


_REVERSE = _reverse()


def translations(words: Iterable[str]) -> set[str]:
    """The other languages' words (already `tokens()`) for each English type word among
    `words`: what a follower may call a product whose catalog name is in English."""
    return {other for word in words for other in _REVERSE.get(word, ())}
