"""What our own code recognises in a follower's message, in de, en, es, fr and it.

The recogniser (`app/policy/recognise.py`) lets a message go out alone only when every
word of it is accounted for by these lists, a product of the catalog, or the account's
name. So the lists say what is safe, not what is dangerous: a word missing here sends
the message to a person, it never lets one through. Keep them to words that cannot
change what the follower asks for: no body, health, money-back, order, delivery, legal,
age or other-person words, no modal of advice ("should"), no comparison ("better").

Everything is matched on `app.core.text.normalise`d text: lowercase, no accents,
punctuation as spaces ("what's" is "what s", "j'ai" is "j ai", "dov'è" is "dov e").
"""

from __future__ import annotations

from enum import StrEnum


class Ask(StrEnum):
    """What a recognised message asks for; each maps to one intent of the rules."""

    CODE = "discount_code"
    VALIDITY = "code_validity"
    LINK = "product_link"
    PRICE = "price"
    GREETING = "greeting"
    THANKS = "thanks"


# Request phrases, regex fragments matched as whole words. A phrase consumes its words.
# fmt: off
REQUESTS: dict[Ask, tuple[str, ...]] = {
    Ask.VALIDITY: (
        # en
        r"(still|is it|it s|its|is the code|code) (work|works|working|valid|good|active|live)",
        r"(not|n t|don t|doesn t|isn t|didn t|won t|dont|doesnt|isnt|didnt)"
        r" (work|working|valid)\w*",
        r"work(s|ing)? (anymore|still)", r"expired?", r"expires?", r"expiry", r"valid",
        r"validity", r"until when", r"till when", r"how long", r"still (on|running)",
        r"invalid", r"(did not|didn t|does not|doesn t|not) work(ed)?", r"work(ed|s)? for me",
        r"work(s)? (on|for)", r"(can|could) (i|we) (still )?use", r"use it until",
        # "the collab ended in June, does the code still work?"
        r"(the |die |der |la |le |el |il )?(collab|collaboration|cooperation|campaign|kooperation"
        r"|zusammenarbeit|kampagne|colaboracion|campana|campagne|collaborazione|campagna)"
        r"( \w+)? (ended|is over|was over|finished|is done|ist vorbei|war vorbei|vorbei"
        r"|ist zu ende|ist beendet|termino|ha terminado|se acabo|ya termino|est finie|est"
        r" terminee|s est terminee|e finita|finita|e terminata)",
        # de
        r"(noch|immer noch) (gultig|aktiv|gut)", r"gultig\w*", r"funktioniert\w*",
        r"funktionieren", r"geht (der|er|es|das)? ?(noch|nicht)", r"abgelaufen",
        r"bis wann", r"wie lange", r"gilt", r"gelten", r"funktioniert (nicht|nicht mehr)",
        r"ungultig", r"geht", r"gehts", r"(kann|darf) (ich|man) (den|ihn|es)? ?(noch )?"
        r"(nutzen|benutzen|verwenden|einlosen)", r"lauft (der|er|das)? ?(noch|ab)",
        # es
        r"sigue (funcionando|valido|activo|vigente|sirviendo)", r"funciona\w*",
        r"valid[oa]s?", r"caducad\w*", r"caduca", r"vigente", r"hasta cuando",
        r"cuanto (tiempo )?dura", r"expirad[oa]", r"(todavia |aun )?sirve( todavia| aun)?",
        r"no funciona", r"caduc\w*", r"sigue (valiendo|andando)", r"sigue", r"siguen",
        r"(puedo|se puede) (usar|utilizar)",
        # fr
        r"marche\w*", r"fonctionne\w*", r"valable\w*", r"valide\w*", r"expire\w*",
        r"jusqu (a|au) quand", r"combien de temps", r"toujours (actif|bon|valable)",
        r"(ne )?(marche|fonctionne) (pas|plus)", r"(encore|toujours) bon",
        r"(je peux|on peut|peut on) (l )?(utiliser|encore utiliser)",
        # it
        r"(ancora )?(valido|attivo|buono)", r"funziona\w*", r"scadut\w*", r"scade",
        r"fino a quando", r"quanto dura", r"non funziona( piu)?",
        r"(va|vale) (ancora|anche|pure)", r"(posso|si puo) (ancora )?usar(e|lo)",
    ),
    Ask.CODE: (
        r"codes?", r"discount( codes?)?", r"coupons?", r"promo ?codes?", r"promos?",
        r"vouchers?", r"rabatt\w*", r"gutschein\w*", r"\w+code", r"codigos?",
        r"descuentos?", r"cupon(es)?", r"code promo", r"reduc", r"reduction", r"remise",
        r"codic[ei]", r"scont[oi]", r"percent off", r"off code", r"deals?", r"offers?",
        r"angebot\w*", r"ofertas?", r"offres?", r"offert[ae]", r"discounted",
        r"(any|some) (deal|discount)s?", r"reduziert",
    ),
    Ask.LINK: (
        r"links?", r"url", r"website", r"web ?site", r"web", r"site", r"online shop",
        r"shop", r"store", r"purchase",
        r"where (can|do|could|to|would|should|did) (i |you |u |one )?(buy|get|find|order"
        r"|purchase|shop)( (it|this|that|them|one))?",
        r"where (is|s) (it|this|that) (sold|available)", r"(still )?available",
        r"(want|like|wanna|need) to (buy|order|get) (it|this|that|them|one)",
        r"buy (it|this|that|them|one)", r"order (it|this|that|them|one)", r"to buy",
        r"(still )?in stock", r"sold out", r"still sell(ing)?( it| them)?",
        r"(noch )?(auf lager|ausverkauft|lieferbar)", r"(agotad[oa]s?|en stock)",
        r"(siguen |todavia )?(vendiendo|venden)", r"epuise\w*", r"(vous )?vendez",
        r"esaurit[oa]", r"(ancora )?(vendete|vendono)",
        # de
        r"wo (kann|konnte|bekomm|bekommt|kauf|kaufe|kauft|gibt|find|finde|bestell)\w*"
        r"( (ich|man|du|es|das|den|die|ihn|sie))*", r"kaufen", r"bestellen", r"erhaltlich",
        r"(noch )?(zu haben|verfugbar)", r"webseite", r"seite", r"onlineshop",
        # es
        r"enlace", r"donde (lo |la |los |las |se )?(compr|consig|encuentr|pued|venden)\w*"
        r"( (comprar|conseguir|encontrar)(lo|la|los|las)?)?",
        r"comprar(lo|la|los|las)?", r"tienda", r"pagina", r"disponibles?",
        # fr
        r"lien", r"ou (est ce qu |est ce que |qu )?(on |je |j )?(peux |puis |peut )?"
        r"(l |le |la |les )?(achet|trouv|command)\w*", r"acheter", r"commander",
        r"boutique", r"dispo", r"disponibles?",
        # it
        r"dove (posso |lo |la |li |le |si )?(compr|trov|ordin|prend|acquist)\w*",
        r"comprar(e|lo|la|li|le)", r"acquistar\w*", r"negozio", r"sito", r"disponibil[ei]",
    ),
    Ask.PRICE: (
        r"prices?", r"pricing", r"how expensive", r"wie teuer", r"que tan car[oa]",
        r"how much( is| does| do| are)?( it| this| that| they)?"
        r"( cost| costs)?", r"cost(s)?", r"what does (it|this|that) cost",
        r"preis\w*", r"kostet", r"kosten", r"wie ?viel( kostet)?",
        r"precios?", r"cuanto (cuesta|vale|cuestan|valen|sale|salen)", r"cuesta",
        r"prix", r"combien( ca coute| coute| il coute| elle coute)?", r"coute\w*",
        r"prezz[oi]", r"quanto (costa|costano|viene)", r"costa", r"costano",
    ),
}

# Thanks for something already given ("grazie per il link") asks for nothing: read
# before the requests, so the link in it is not taken for a request.
THANKS_FOR = (
    r"(thanks?|thank (you|u)|thx|ty|danke\w*|merci|gracias|grazie)( \w+){0,2} (for|fur|pour"
    r"|por|per)( the| den| die| das| le| la| les| l| el| il| lo| the)? ?(links?|codes?|info"
    r"|tipp?s?|lien|enlace|codice|codigo|rabattcode)",
    # "it worked!" reports, it does not ask whether the code works.
    r"(it|that|hat|hats|das|ha|a|ca|c a|lo|ha) (really |super |gut |perfekt |bien |"
    r"benissimo )?(worked|funktioniert|funcionado|funciono|fonctionne|marche|marche"
    r" bien|funzionato)",
)
# Greetings and thanks: allowed in any message; alone, they are what it asks for.
SMALL_TALK: dict[Ask, tuple[str, ...]] = {
    Ask.GREETING: (
        r"hi+", r"hey+", r"hell?o+", r"hiya", r"yo", r"good (morning|evening|afternoon)",
        r"hallo+", r"halloechen", r"hallochen", r"servus", r"moin", r"guten (morgen|tag|abend)",
        r"gruss dich", r"grussi", r"hola+", r"buen(os|as) (dias|tardes|noches)", r"buenas",
        r"bonjour", r"salut", r"coucou", r"bonsoir", r"ciao+", r"buongiorno", r"buonasera",
        r"salve",
    ),
    Ask.THANKS: (
        r"thanks?", r"thank (you|u)", r"thx", r"ty", r"tysm", r"many thanks", r"cheers",
        r"merci vielmal", r"merci villmal",
        r"danke\w*", r"vielen dank", r"dankeschon", r"merci( beaucoup)?", r"gracias",
        r"mil gracias", r"muchas gracias", r"grazie", r"grazie mille", r"mille grazie",
    ),
}

# Words that carry neither a request nor a risk, by language (a word may serve several).
_FILLER = {
    "en": """
        i im me my mine you your yours u ur ya we us our the a an this that these those it
        its s t d ll ve re m is are was were be been am do does did can could would will
        may might have has had get got give send share tell know let for of on in at to
        from with about and or but so just still again also too any some there here what
        whats where wheres how when please pls plz ok okay yes yeah yep oh lol haha omg wow
        love loved loving lovely amazing cute gorgeous beautiful pretty nice cool great
        awesome obsessed perfect stunning fab queen babe hun dear guys want
        wanted need wanna gonna like looking look find try saw seen see watched post posted
        reel reels video videos story stories insta ig instagram tiktok youtube yt last
        recent latest new one ones thing product item today yesterday week now quick
        question q asking ask wondering wonder curious btw maybe possible hmm um mention
        mentioned talked talking recommended showed shown wearing wore using used which
        sorry much so many heard said says still same extra true worked
    """,
    "de": """
        ich mich mir mein meine meinen du dich dir dein deine deinen deinem deiner ihr euch
        euer eure wir uns der die das den dem des ein eine einen einem einer es ist sind
        war bin bist hast hat habe hab haben gibt gib kann kannst konnte konntest wurde
        mochte hatte fur uber nochmal noch mal bitte bitteschon vielen dank lieben liebe
        lg wie was wo wann und oder aber auch so schon ja jo ok okay oh lol haha omg wow
        mega super toll schon cool krass suss hubsch gesehen gefunden suche such brauche
        brauch will gern gerne von vom zum zur zu im in am an auf mit aus bei letzten
        letzte letzter neuen neue neuer reel video videos story storys post beitrag insta
        live gestern heute kurz frage eigentlich nur hier da dort denn wieder jetzt grad
        gerade irgendwie nen ne n sag sagen sagst schick schicken schickst verraten
        erwahnt gezeigt getragen benutzt empfohlen dieser diese dieses diesen welche
        welcher welches hattest hatte sah neulich gehort stimmt sorry wollte holen
        lecker gleiche gleichen extra
        """,
    "es": """
        yo me mi mis tu tus te ti usted el la los las un una unos unas lo le es son era
        esta este esto eso ese esa hay tienes tiene tengo puedes puede puedo podrias
        podrias de del al a en con para por y o pero que como donde cuando muchas mil
        porfa porfis favor vale ok si oh jaja jajaja jeje omg wow guapa guapisima linda
        hermosa preciosa bonito bonita lindo encanta encantan encanto amo amor reina chula
        genial increible quiero queria quisiera necesito busco buscando vi visto video
        reel historia story post publicacion insta directo ultimo ultima nuevo nueva ayer
        hoy ahora otra vez tambien solo pregunta duda cosa nos pasas pasar dime decir
        mandas mandar compartir mencionaste mostraste llevabas usaste recomendaste cual
        cuales mismo misma verdad todavia aun perdon
        """,
    "fr": """
        je j me m moi mon ma mes tu t te toi ton ta tes vous votre vos le la les l un une
        des du de d ce c cet cette ces ca il elle est es sont etait ai as a avez avais
        peux peut pouvez pourrais pourriez voudrais veux aimerais cherche besoin pour par
        sur dans en avec et ou mais que qu quoi comment quand bonjour hello merci beaucoup
        stp svp s plait ok oui ouais oh mdr ptdr lol haha omg wow trop belle beau jolie
        joli magnifique canon sublime adore love cherie vu regarde video reel story
        storie post publication insta live dernier derniere nouveau nouvelle hier
        aujourd hui toujours aussi juste petite question donner envoyer dire dis envoie
        partager mentionne montre portais utilise recommande quel quelle quels quelles
        encore meme vrai pardon desole
        """,
    "it": """
        io mi me mio mia miei mie tu ti te tuo tua tuoi tue voi vostro il lo la i gli le l
        un uno una di del della dei delle dello da dal dalla in nel nella a al alla su sul
        con per e ed o ma che cosa come dove quando c sono hai ha ho avete puoi potresti
        posso vorrei voglio cerco cercando bisogno mille favore perfavore pls ok okay si
        oh ahah ahahah haha omg wow bellissima bellissimo bella bello stupenda fantastico
        adoro amo love tesoro cara vista visto video reel storia story post insta diretta
        live ultimo ultima nuovo nuova ieri oggi anche solo domanda dire dici mandi mandare
        inviare condividere nominato mostrato indossavi usato consigliato quale quali
        quella quello questo questa dell della sulla sul ancora stesso stessa vero
        scusa stupendo
        """,
}
# Words of the influencer's world, compliments, time and sighting: what followers wrap a
# question in ("saw it in your Lisbon vlog last week, obsessed!").
_CONTEXT = {
    "en": """
        bio dm dms msg message reply sent asap soon fast quickly favorite favourite fave fav
        literally really very totally absolutely honestly actually definitely gotta grab
        snag outfit routine vlog tutorial haul unboxing trip vacation holiday travel beach
        gym workout morning evening night summer winter spring autumn weekend month ago
        earlier before other day days time back ever since yet already then wear worn
        show showing shared linked tagged tag ad ads brand name called cheers xoxo bye
        appreciate appreciated kind regards best hugs kisses greetings good fabulous dope
        iconic stylish chic elegant comfy cozy lit obsessed excited happy glad bro mate
        dude man yo no not nope going doing next always well thought anywhere everywhere
        them they ah eh hmm cheers hey ya sweet legend flight flights airport hotel train lot lots
        camping roadtrip road camp january february march april may june july august
        september october november december monday tuesday wednesday thursday friday
        saturday sunday ended over
        """,
    "de": """
        huhu halloele vg glg grusse gruss schonen wochenende sehr total voll echt wirklich
        richtig einfach ganz hammer wunderschon traumhaft geil schick outfit look routine
        vlog urlaub reise sommer winter letztens vor kurzem woche wochen tagen immer dann
        gezeigt verlinkt markiert vorgestellt marke name heisst gefallt mag lieb schnell
        fix senden geben teilen weisst wisst weiss wurdest kannst sonst danach freue
        nicht kein keinen keine mehr doch ohne nach bevor endlich kommt dachte sachen
        kleine kleinen kurze kurzen gruezi grueezi hoi salu heast hesch wos scho eh ah oh
        na nun her gsehn gseh hab flug fluge flieger flughafen hotel zug camping roadtrip
        januar februar marz april mai juni juli august september oktober november dezember
        montag dienstag mittwoch donnerstag freitag samstag sonntag vorbei irgendeinen
        irgendeine ganze
        """,
    "es": """
        holi holis besos besitos abrazo abrazos saludos beso xfa xfavor porfi porfavor plis
        please muy super re tan bien divina divino hermoso precioso fascina look outfit
        rutina vlog viaje vacaciones verano invierno semana pasada dia dias hace poco
        antes ensenaste llevas usabas sale salio aparece nombre marca se llama rapido
        pronto saber sabes decirme pasarme mandarme darme gustaria gusta gusto tenias
        tenes ese esos esas aquel aquella oye no siempre desde sin pues vaya wey guey
        parce che neta chido chida tio tia pana ah eh bueno buena ya andando pa crack
        hermano vuelo vuelos aeropuerto hotel tren camping enero febrero marzo abril mayo
        junio julio agosto septiembre octubre noviembre diciembre lunes martes miercoles
        jueves viernes sabado domingo manana
        """,
    "fr": """
        bisous bises biz cordialement bonne journee soiree merciii tres hyper vraiment top
        style tenue routine vlog voyage vacances ete hiver semaine recemment porte portes
        parle presente nom marque appelle rapidement vite savoir sais avoir prendre aime
        kiffe celui celle ceux ne pas plus ben bah allo ouais ils elles tjrs toujours
        sans apres avant depuis gentil vol vols aeroport hotel train camping janvier
        fevrier mars avril mai juin juillet aout septembre octobre novembre decembre lundi
        mardi mercredi jeudi vendredi samedi dimanche fois aux chez
        """,
    "it": """
        baci bacio abbraccio saluti molto tanto super davvero troppo meraviglioso carino
        carina look outfit routine vlog viaggio vacanze estate inverno settimana scorsa
        giorni fa prima indossato parlato presentato nome marca chiama veloce subito
        sapere sai dirmi dare darmi mandarmi piace piaciuto prendere avere serve non
        piu dai boh mah beh raga fra senza dopo sempre qual degli delle sulle sugli nelle
        negli dalle dagli quelli quelle mito sei volo voli aereo aeroporto hotel treno
        campeggio gennaio febbraio marzo aprile maggio giugno luglio agosto settembre
        ottobre novembre dicembre lunedi martedi mercoledi giovedi venerdi sabato domenica
        frate allora volevo chiedere
        """,
}
# Filler in one language, a risk in another ("die" in English, "mal" = hurt in French and
# Spanish): accepted only when the message is not written in the risky language.
RISKY_IN: dict[str, frozenset[str]] = {
    "die": frozenset({"en"}),
    "mal": frozenset({"es", "fr", "it"}),
    "her": frozenset({"en"}),  # "wo bekomm ich die her?", not "send me her address"
    "son": frozenset({"en"}),  # "¿son caros?", not "my son"
}
# fmt: on
FILLER: frozenset[str] = frozenset(
    word for words in (*_FILLER.values(), *_CONTEXT.values()) for word in words.split()
)

# Colours: "the pink one" names a variant, never a problem.
COLOURS = frozenset(
    """
    black white red pink blue green yellow orange purple grey gray beige brown gold
    silver schwarz weiss rot rosa blau grun gelb lila grau braun negro negra blanco blanca
    rojo roja azul verde amarillo morado gris marron dorado noir noire blanc blanche rouge
    rose bleu vert jaune violet marron dore nero nera bianco bianca rosso rossa blu giallo
    viola grigio marrone oro naranja arancione navy khaki olive
    """.split()
)

# Emoji that add warmth, nothing else; any other emoji is content a person should read.
POSITIVE_EMOJI = frozenset(
    "😍🥰😘❤️♥️💕💖💗💓💞💜💙💚💛🧡🤍🖤🤎✨🔥🙏👍👏🙌😊🙂😀😃😄😁☺️🤩🥳💯🌸🌷🌺🌼💐⭐🌟😻💋🤗😉😎🫶"
    "👋🥺🥹🙈😅😂🤣😋🤤💪👌✌️🤞🎉🎁🛍️💫☀️🌞"
    # Things a follower shows to name a product: objects, food, clothes.
    "💄💅🧴🧼🪥💇👗👚👕👖🧥🧣👟👠👜🎒👓🕶️🎧📱💻⌚📷💡🔌🍫☕🍵🥜🥣🍪🥤🧋🏋️🧘🏃🚲🧳🏕️🌿"
    "🧔♂️♀️🏔️⛰️🌄🌊🏝️🌌🍁✈️🚐🚗🗺️📸🎥"
)


# Words of one language only (request, greeting and filler words), for telling the
# language of a message too short for an n-gram model ("hair oil code?", "holaaa").
_REQUEST_WORDS = {
    # Not "code", "link", "hey" or "pls": every language's followers write those.
    "en": "discount price how much cost buy where thanks thank please still valid work works"
    " expired available",
    "de": "rabattcode rabatt gutschein preis kostet wieviel kaufen bestellen danke hallo bitte"
    " gilt noch gultig funktioniert abgelaufen wo",
    "es": "codigo descuento enlace precio cuanto cuesta comprar gracias hola porfa donde sigue"
    " funciona caducado tienda",
    "fr": "lien prix combien coute acheter merci coucou salut stp svp marche valable expire"
    " boutique bonjour",
    "it": "codice sconto prezzo quanto costa comprare grazie ciao dove ancora valido funziona"
    " scaduto negozio",
}


def _language_words() -> dict[str, frozenset[str]]:
    words = {
        lang: set(_FILLER[lang].split())
        | set(_CONTEXT[lang].split())
        | set(_REQUEST_WORDS[lang].split())
        for lang in _FILLER
    }
    return {
        lang: frozenset(w for w in own if not any(w in words[o] for o in words if o != lang))
        for lang, own in words.items()
    }


LANGUAGE_WORDS: dict[str, frozenset[str]] = _language_words()

# Every word the lexicon reads as something other than a product: a request, filler,
# context. Retrieval matches these only exactly, never as a misspelt product word
# ("cuesta" is not the "Cresta" trail shoe).
NOT_PRODUCT_WORDS: frozenset[str] = FILLER | frozenset(
    word for words in _REQUEST_WORDS.values() for word in words.split()
)

# Where a follower saw a product: the influencer's posts and trips. The words just before
# one ("the lapland aurora video") or in a place phrase after one ("the reel from
# Lisbon") only say where it was seen, so the recogniser accepts up to `SIGHTING_SLOT`
# words it does not know there (`recognise._sightings`).
# fmt: off
SIGHTINGS = frozenset(
    """
    video videos reel reels vlog vlogs story stories storys storie post posts shoot shooting
    shots photo photos pic pics clip clips tiktok tiktoks youtube live lives beitrag
    beitrage foto fotos bild bilder historia historias publicacion publication storia
    diretta directo trip trips flight flight flug vuelo vol volo reise viaje voyage viaggio
    urlaub vacation holiday vacaciones vacances vacanze tour
    """.split()
)
# Prepositions of place or origin that open a place phrase after a sighting word ("from",
# "aus", "de", "du", "dal"): not "about" or "for", whose phrase says what a post is about.
PLACE_PREPOSITIONS = frozenset(
    """
    from in at to aus ausm von vom im am nach de del desde en a al du des au aux dans di da
    dal dalla dai nel nella nei sulle sul sulla alle ad della dello delle degli dei
    """.split()
)
# Words that end a sighting slot: a phrase with one of them is the follower's own life or
# something else, not where they saw a product ("the video of my son").
SIGHTING_STOPS = frozenset(
    """
    i me my mine we our us mein meine meinen meinem meiner mich mir ich wir unser unsere yo
    mi mis nosotros nuestro nuestra je j moi mon ma mes nous notre nos io mio mia miei mie
    noi nostro nostra
    """.split()
)
# Articles and the follower's "your": they open a slot, they are never one of its words.
SIGHTING_DETERMINERS = frozenset(
    """
    the your ur yr this that those these a an dein deine deinen deinem deiner der die das
    dem den des ein eine einem einen einer el la los las lo tu tus ese esa esos esas un una
    le les l ton ta tes ce cet cette il gli i tuo tua tuoi tue quel quello quella della
    dello delle degli dei
    """.split()
)
# fmt: on
SIGHTING_SLOT = 2
