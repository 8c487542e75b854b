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
    "sunglasses": "sonnenbrille gafas lunettes occhiali",
    "boots": "stiefel wanderschuhe botas bottes scarponi stivali",
    "backpack": "rucksack mochila zaino",
    "suitcase": "koffer maleta valise valigia trolley",
    "hoodie": "kapuzenpulli hoodie sudadera felpa",
    "socks": "socken calcetines chaussettes calzini",
    "cap": "kappe gorra casquette cappellino",
    "mug": "becher taza tasse tazza",
    "candle": "kerze vela bougie candela",
    "pillow": "kissen almohada coussin cuscino",
    "blanket": "decke manta plaid coperta",
    "speaker": "lautsprecher altavoz enceinte cassa",
    "earbuds": "ohrhörer earbuds auriculares écouteurs auricolari",
    "tent": "zelt tienda carpa tente tenda",
    "trimmer": "trimmer recortadora tondeuse regolabarba",
    "balm": "balsam bálsamo baume balsamo",
    "powder": "pulver polvo poudre polvere",
    "grinder": "mühle molinillo moulin macinino",
    "camera": "kamera cámara caméra fotocamera",
    "leggings": "leggins mallas collant",
    "shorts": "kurze pantalones courts pantaloncini",
    "hat": "hut sombrero chapeau cappello",
}
# Generic names of a type in several words ("gafas de sol"): the recogniser reads them as
# the type, so an alias that happens to spell one out does not make its product the only
# sunglasses a follower can mean.
_PHRASES: dict[str, str] = {
    "sunglasses": "gafas de sol|lunettes de soleil|occhiali da sole|sun glasses",
    "sunscreen": "crème solaire|crema solare|crema solar|protector solar|sun cream",
    "backpack": "sac à dos|zaino da viaggio|rucksack",
    "hoodie": "sweat à capuche|sudadera con capucha|felpa con cappuccio|hooded sweatshirt",
    "running shoes": "zapatillas de correr|zapatillas de running|chaussures de course"
    "|chaussures de running|scarpe da corsa|scarpe da running|laufschuhe",
    "hiking boots": "botas de montaña|chaussures de randonnée|scarponi da trekking"
    "|wanderschuhe|wanderstiefel",
    "lip balm": "baume à lèvres|bálsamo labial|balsamo labbra|lippenbalsam",
    "yoga mat": "esterilla de yoga|tapis de yoga|tappetino yoga|tappetino da yoga|yogamatte",
    "protein powder": "proteína en polvo|protéine en poudre|proteine in polvere|proteinpulver",
    "travel pillow": "almohada de viaje|coussin de voyage|cuscino da viaggio|nackenkissen",
    "night cream": "crème de nuit|crema de noche|crema notte|nachtcreme",
    "face wash": "gel nettoyant|gel limpiador|detergente viso|waschgel",
    "espresso machine": "machine à espresso|macchina per espresso|macchina del caffè"
    "|espressomaschine|kaffeemaschine|cafetera espresso|máquina de espresso|cafetera",
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


# A type a follower also calls by a broader name: earbuds are headphones to most people.
_BROADER: dict[str, str] = {
    "earbuds": "headphones",
    "sneaker": "shoe",
    "boots": "shoe",
    "hoodie": "sweater",
    "leggings": "trousers",
}


def broader(words: Iterable[str]) -> set[str]:
    """The broader type words (already `tokens()`) of the type words among `words`."""
    table = {tokens(k)[0]: tokens(v)[0] for k, v in _BROADER.items()}
    return {table[word] for word in words if word in table}


def _phrases() -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    # A phrase reads as its head noun ("running shoes" -> "shoe"): "running" alone would
    # name the running socks too.
    table = [
        (tuple(tokens(phrase)), tuple(tokens(english)[-1:]))
        for english, phrases in _PHRASES.items()
        for phrase in phrases.split("|")
    ]
    return sorted(table, key=lambda item: -len(item[0]))


def _by_first_word() -> dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]]:
    # Only the phrases that start with a word can match there: the longest first, as in
    # the whole table (looking through all of it at every word cost a millisecond a draft).
    table: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    for phrase, english in _phrases():
        table.setdefault(phrase[0], []).append((phrase, english))
    return table


_PHRASE_TABLE = _by_first_word()


def canonical(words: list[str]) -> list[str]:
    """The words (already `tokens()`) with each generic type phrase replaced by its English
    type words: "gafas de sol" and "sunglasses" read the same."""
    result: list[str] = []
    position = 0
    while position < len(words):
        for phrase, english in _PHRASE_TABLE.get(words[position], ()):
            if tuple(words[position : position + len(phrase)]) == phrase:
                result += english
                position += len(phrase)
                break
        else:
            result.append(words[position])
            position += 1
    return result


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
