"""Names in free text from word lists: a second opinion beside NER, and the only one beyond English.

The lists: first and last names of Faker's person providers (MIT) and cities
(GeoNames, CC BY 4.0), folded, in ``data/lexicon.json`` (see its ``_source``);
ordinary words per language from ``wordfreq`` (Apache-2.0 code; its lists are
built from public corpora), the most frequent :data:`COMMON` words of each.

A word is a name when its shape and its neighbours say so, never by the list
alone (German nouns are capitalised; "Will", "Rose", "Roman" are words too):

- a first name followed by a capitalised last name or non-word
  ("Anna Müller", "JEAN DUPONT", "Henriette de Pires");
- a first name alone that is not also an ordinary word (:data:`AMBIGUOUS`);
- a capitalised word after a title ("Herr Kranz", "Mme Lefebvre", "Dr. Ng");
- a speaker tag at the start of a line ("Anna: ok", "[10:02] jdoe:");
- a word after a greeting ("Hi john", "Bonjour Amélie", "Liebe Jana");
- a lower-case first name followed by a lower-case last name ("john smith").

:func:`strict_tokens` gives, for a strict scrub, every capitalised word, digit
run and @/URL token that is not an ordinary word of the text's language.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from importlib import resources

COMMON = 40000  # ordinary words per language: wordfreq's most frequent
RARE = 5000  # a word after a particle ("de Ventas") is a name only if rarer than this
FUNCTION = 150  # the most frequent words: function words, not names on their own (unless a city or first name)

# First names that are also ordinary words: a name in the middle of a sentence only where nouns are
# lower-case (not German), never at its start
AMBIGUOUS = frozenset("""
will may mark bill grant hope faith joy grace rose summer lot guy else floor kick till urban marine job
don art amber ruby dawn sky river storm page chase cash gay pat sue pearl holly ivy iris lily daisy heather
crystal destiny precious miracle unique royal king prince major sunny golden ace star angel hunter ranger
rich van von der den la le del di da de du des al el ali ad am an as ha jo lu ma mo no ok so to
allen ernst darin klare roman wolf fee heide ende sonne rosa ida mai
cas aime bas aura beau demi victoire sol lois lance amie jolie ira franco claire marin pierre sylvain
""".split())
# First names that are capitalised words too: months, nationalities, places; never a name alone
NOT_NAMES = frozenset("""
january february march april may june july august september october november december
german christian jesus america india africa virginia carolina sydney angeles francisco georgia victoria
paris london berlin florence adelaide austin dallas houston brooklyn madison china
""".split())
# Abbreviations of banking, identity and support words (some are first names: "Iban")
ACRONYMS = frozenset("iban bic swift ssn nino vat pin cvv cvc ip url id ref sku pdf faq api sms otp iso eur usd"
                     .split())
# Prepositions before a place ("in Lyon", "aus Köln", "à Lyon"): a capitalised city after one is a LOCATION
_PLACE_CUES = frozenset("in from near aus nach à vers près en desde uit naar".split())

_TITLES = (r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam|Herr|Herrn|Frau|Hr|Fr|Dipl|Ing|M|Mme|Mlle|Monsieur|Madame|"
           r"Mademoiselle|Maître|Me|Pr|Sr|Sra|Srta|Don|Doña|Señor|Señora|Sig|Sig\.ra|Signor|Signora|Dott|Dhr|Mevr|"
           r"Mej|Meneer|Mevrouw")
_TITLE = re.compile(rf"(?<!\w)(?:{_TITLES})\.?$")
_GREETINGS = frozenset("""
hi hello hey dear thanks thank cheers regards best sincerely yours cc attn attention
hallo liebe lieber geehrte geehrter grüße gruß gruss danke moin servus
bonjour salut cher chère chere merci cordialement bonsoir coucou
hola querido querida gracias saludos ciao caro cara grazie gentile beste groeten dag
""".split())
_TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*\.?", re.U)
_SPEAKER = re.compile(r"(?m)^[ \t]*(?:\[[^\]\n]{1,25}\][ \t]*)?(?:<)?(?P<name>[^\W\d_][\w.'’-]{1,30}"
                      r"(?:[ \t][^\W\d_][\w.'’-]{1,30})?)(?:>)?[ \t]*:(?=[ \t]|$)", re.U)
_PARTICLES = frozenset(("de", "de la", "du", "des", "van", "van der", "van den", "von", "von der", "di", "da", "del",
                        "della", "dos", "le", "la", "ten", "ter", "zu", "mac", "o'"))


_NAME = r"[A-ZÀ-ÖØ-Þ][^\W\d_]+(?:['’-][^\W\d_]+)*"
_INITIAL = re.compile(rf"(?<![\w.])[A-Z]\.[ \t]?(?P<last>{_NAME})", re.U)
_LAST_FIRST = re.compile(rf"(?m)(?:^|(?<=[-•*]\s))(?P<last>{_NAME}),[ \t](?P<first>{_NAME})(?=[ \t]*[(\n,]|$)", re.U)
_HANDLE = re.compile(r"(?i:\b(?:user(?:name)?|login|account|benutzer(?:name)?|nutzer|utilisateur|identifiant|usuario|"
                     r"utente|handle)\b[ \t]*:?[ \t]*)(?P<name>[^\W\d][\w.-]{2,30})", re.U)
_SIGNATURE = re.compile(
    r"(?i:(?:regards|grüße|gruß|grüßen|cordialement|salutations|saludos|saluti|groeten|sincerely|cheers|thanks|"
    r"danke|merci|gracias|grazie|best)[ \t]*,?[ \t]*\n[ \t]*|(?:my name is|ich bin|ich heiße|je m'appelle|je suis|"
    r"me llamo|mi chiamo|mein name ist|mon nom est)[ \t]+)"
    rf"(?P<name>{_NAME}(?:[ \t]{_NAME}){{0,2}})(?=[ \t]*(?:\n|$|[,.]|\s(?:and|und|et|y|e)\s))", re.U)


def fold(word: str) -> str:
    word = word.replace("ß", "ss").replace("’", "'")
    if not word.isascii():
        word = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
    return word.lower().strip(".")


@cache
def lexicon() -> dict[str, frozenset[str]]:
    data = json.loads(resources.files("veil.detect").joinpath("data/lexicon.json").read_text())
    return {k: frozenset(v) for k, v in data.items() if isinstance(v, list)}


@cache
def _ranked(lang: str) -> dict[str, int]:
    """Rank (0 = most frequent) of wordfreq's :data:`COMMON` most frequent words of ``lang``."""
    from wordfreq import top_n_list

    return {w: i for i, w in enumerate(top_n_list(lang, COMMON))}


@cache
def _person_words() -> frozenset[str]:
    lex = lexicon()
    return lex["first_name"] | lex["last_name"]


def _rank(token: str, lang: str) -> int:
    low = token.casefold().strip(".")  # wordfreq's lists are case-folded ("grüße" -> "grüsse")
    rank = _ranked(lang).get(low, COMMON)
    return min(rank, _ranked("en").get(low, COMMON)) if lang != "en" else rank


def is_word(token: str, lang: str) -> bool:
    """An ordinary word of ``lang`` (or English) that no name or city list holds, or a function word
    that is no first name or city ("der", "the", but not "Berlin")."""
    f = fold(token)
    if f in ACRONYMS:
        return True
    rank = _rank(token, lang)
    if rank >= COMMON:
        return False
    lex = lexicon()
    if rank < FUNCTION:
        return f not in lex["first_name"] and f not in lex["city"]
    return f not in _person_words() and f not in lex["city"]


def frequent(token: str, lang: str) -> bool:
    """An ordinary word among the :data:`RARE` most frequent of ``lang`` (names aside): "Senior", "Email"."""
    return is_word(token, lang) and _rank(token, lang) < RARE


def allowed(token: str, lang: str) -> bool:
    """Strict mode keeps ``token``: an ordinary word of ``lang`` (or English)."""
    return is_word(token, lang)


def _first(f: str) -> bool:
    return f in lexicon()["first_name"] and f not in AMBIGUOUS and f not in NOT_NAMES


def _named(token: str) -> bool:
    """Capitalised ("Anna", "Jean-Luc", "O'Brien") or all capitals of two letters or more ("DUPONT")."""
    return token[:1].isupper()


def names(text: str, lang: str) -> list[tuple[int, int]]:
    """(start, end) of the person names the word lists and cues find in ``text``."""
    toks = [(m.start(), m.end() - (1 if m.group().endswith(".") else 0), m.group().rstrip("."))
            for m in _TOKEN.finditer(text)]
    out: list[tuple[int, int]] = []
    lex = lexicon()
    i = 0
    while i < len(toks):
        start, end, tok = toks[i]
        f = fold(tok)
        prev = toks[i - 1][2] if i else ""
        prev_gap = text[toks[i - 1][1]:start] if i else ""
        after_title = bool(i) and _TITLE.search(prev) and prev_gap.strip() in ("", ".")
        after_greeting = bool(i) and fold(prev) in _GREETINGS and prev_gap.strip() in ("", ",")
        take = 0
        sentence_start = not i or bool(re.search(r"[.!?:;\n]\s*$", text[toks[i - 1][1]:start]))
        product = text[end:end + 1] == "!" and text[end + 1:end + 2].isalnum()  # "Fritz!Box"
        if _named(tok) and len(tok) > 1 and f not in _GREETINGS and not product:
            nxt = toks[i + 1][2] if i + 1 < len(toks) and text[end:toks[i + 1][0]] == " " else ""
            if after_title and not _TITLE.search(tok) and fold(tok) not in _GREETINGS \
                    or after_greeting and not is_word(tok, lang):
                take = 1
            elif _first(f) and (not tok.isupper() or nxt.isupper() and len(nxt) > 1 and not is_word(nxt, lang)):
                take = 1  # an all-capitals first name ("IBAN" is one) only before an all-capitals last name
            elif f in AMBIGUOUS and f in lex["first_name"] and lang != "de" and not sentence_start \
                    and not tok.isupper():
                take = 1
        elif tok.islower() and len(tok) > 2 and _first(f) and not frequent(tok, lang):
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            spoken_to = bool(re.search(r"(?:^|\n)[^\n:]{1,40}:[ \t]*$", text[max(0, start - 45):start]))
            if after_greeting or spoken_to or nxt and text[end:nxt[0]] == " " and fold(nxt[2]) in lex["last_name"] \
                    and nxt[2].islower() and not is_word(nxt[2], lang):
                take = 1
        if take:
            j = i + 1  # the rest of the name: capitalised last names, particles, initials
            last = end
            while j < len(toks):
                gap = text[last:toks[j][0]]
                nt = toks[j][2]
                if gap not in (" ", "-") and not (gap == ". " and len(toks[j - 1][2]) == 1):  # "J. Smith"
                    break
                if nt.lower() in ("de", "du", "des", "van", "von", "di", "da", "del", "la", "le", "der", "den") \
                        and j + 1 < len(toks) and _named(toks[j + 1][2]) and text[toks[j][1]:toks[j + 1][0]] == " " \
                        and not is_word(toks[j + 1][2], lang) and _rank(toks[j + 1][2], lang) > RARE:
                    last = toks[j + 1][1]
                    j += 2
                    continue
                same_case = _named(nt) if _named(tok) else nt.islower()
                if not same_case or is_word(nt, lang) and fold(nt) not in lex["last_name"] or _TITLE.search(nt):
                    break
                last = toks[j][1]
                j += 1
            out.append((start, last))
            i = j
            continue
        i += 1
    for m in _INITIAL.finditer(text):  # "L. Sanders", "A. Mędrala"
        if not frequent(m.group("last"), lang):  # "M. Potier" is Monsieur Potier
            out.append((m.start("last") if text[m.start()] == "M" else m.start(), m.end()))
    for m in _LAST_FIRST.finditer(text):  # "Brennan, Keith" in a list
        if _first(fold(m.group("first"))) and not frequent(m.group("last"), lang):
            out.append((m.start(), m.end()))
    for m in _HANDLE.finditer(text):  # "User rebecca_s", "login: jdoe42"
        if not is_word(m.group("name"), lang):
            out.append((m.start("name"), m.end("name")))
    for m in _SIGNATURE.finditer(text):  # the line after "Kind regards," / "my name is Bent Olsen"
        words = m.group("name").split()
        if any(not is_word(w, lang) for w in words):
            out.append((m.start("name"), m.end("name")))
    for m in _SPEAKER.finditer(text):  # a speaker: a name of the lists or a handle ("anna_k", "j.doe")
        words = m.group("name").split()
        start = m.start("name")
        if len(words) == 2 and fold(words[0]) not in _person_words() and fold(words[1]) in _person_words():
            start = m.end("name") - len(words[1])  # "Operatrice Marta:" -> "Marta"
            words = words[1:]
        handle = len(words) == 1 and (re.search(r"[^\W_][_.\d]", words[0]) or words[0].islower() and len(words[0]) > 3)
        if all(not is_word(w, lang) for w in words) and (any(_first(fold(w)) for w in words) or handle):
            out.append((start, m.end("name")))
    return out


def places(text: str, lang: str) -> list[tuple[int, int]]:
    """(start, end) of the cities (city list, or an all-capitals word that is no ordinary word) right
    after a place preposition ("in Lyon", "aus KÖLN", "à Saint-Denis")."""
    out = []
    toks = list(_TOKEN.finditer(text))
    lex = lexicon()
    for prev, m in zip(toks, toks[1:], strict=False):
        tok = m.group().rstrip(".")
        if prev.group().lower() not in _PLACE_CUES or text[prev.end():m.start()] != " " or not _named(tok):
            continue
        if (fold(tok) in lex["city"] or not is_word(tok, lang) and fold(tok) not in lex["first_name"]) and \
                fold(tok) not in NOT_NAMES and \
                (not frequent(tok, lang) or tok.isupper()):
            out.append((m.start(), m.start() + len(tok)))
    return out


def mentions(text: str, found: list[tuple[int, int]], lang: str) -> list[tuple[int, int]]:
    """Every other place in ``text`` where a word of a found name stands (a name found once is replaced
    everywhere): words of three letters or more that are not ordinary words."""
    words = set()
    for start, end in found:
        for m in _TOKEN.finditer(text, start, end):
            w = m.group().rstrip(".")
            if len(w) >= 3 and not is_word(w, lang):
                words.add(w.lower())
    if not words:
        return []
    rx = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?!\w)",
                    re.I | re.U)
    return [(m.start(), m.end()) for m in rx.finditer(text)]


_STRICT = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]*@[\w.-]+|\d+(?:[.,:/\-]\d+)*|[^\W\d_]+(?:['’-][^\W\d_]+)*", re.U)


def strict_tokens(text: str, lang: str, allow: frozenset[str] = frozenset()) -> list[tuple[int, int, str]]:
    """(start, end, entity) of every token a strict scrub replaces: @/URL tokens (``URL``), digit runs
    (``NUMBER``), capitalised words that are neither ordinary words of ``lang`` nor in ``allow``
    (``WORD``; ``allow`` holds lower-case words)."""
    out: list[tuple[int, int, str]] = []
    for m in _STRICT.finditer(text):
        tok = m.group()
        if tok[0].isdigit():
            out.append((m.start(), m.end(), "NUMBER"))
        elif "@" in tok or "://" in tok or tok.startswith("www."):
            end = m.end()
            while end > m.start() + 1 and text[end - 1] in ".,;:!?)":
                end -= 1
            out.append((m.start(), end, "URL"))
        elif tok[:1].isupper() or not tok.islower() and any(c.isupper() for c in tok):
            if tok.casefold() in allow or allowed(tok, lang) and not _first(fold(tok)):
                continue
            out.append((m.start(), m.end(), "WORD"))
    return out
