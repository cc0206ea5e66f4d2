"""Names, places and firms that are in no list: the values of the ``novel`` split.

The corpus's other values come from Faker, and a scrubber that reads Faker's name lists (or
GeoNames) finds them by lookup. Real data has names no list holds, so the ``novel`` split (the
test templates, other seeds) fills persons, cities, street names and companies with pseudo-words
built from each language's letters and endings, checked against every first and last name of
every Faker locale. Only name lookups lose their edge: shapes, cues (titles, greetings, speaker
tags, street words, legal forms) and NER work as on real names.
"""

from __future__ import annotations

import importlib
import random
from functools import cache

from faker.config import AVAILABLE_LOCALES

# (onsets, vowels, codas, name endings, city endings) per language
SOUNDS = {
    "en": (("b", "br", "c", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "r", "s", "sh", "st",
            "t", "th", "tr", "w", "wh"),
           ("a", "e", "i", "o", "u", "ea", "ai", "ou", "y"), ("", "", "n", "r", "l", "ck", "m", "nd", "rt", "ss"),
           ("son", "ton", "ley", "ford", "wick", "er", "by", "well", "more", ""),
           ("ton", "field", "bury", "ham", "wick", " Falls", "stead", "mouth", "ridge")),
    "de": (("b", "br", "d", "f", "fr", "g", "gr", "h", "k", "kl", "kr", "l", "m", "n", "p", "r", "s", "sch",
            "schw", "st", "t", "w", "z"),
           ("a", "e", "i", "o", "u", "ä", "ö", "ü", "ei", "au", "ie"), ("", "", "n", "r", "l", "ck", "tz", "rn",
                                                                        "ng", "lt", "ß"),
           ("mann", "er", "ler", "inger", "huber", "bauer", "ke", "stein", "berg", ""),
           ("ingen", "hausen", "dorf", "bach", "heim", "stedt", "au", "feld", "rode")),
    "fr": (("b", "br", "c", "ch", "d", "f", "g", "gr", "j", "l", "m", "n", "p", "pr", "r", "s", "t", "tr", "v"),
           ("a", "e", "i", "o", "ou", "é", "è", "au", "ai", "eu"), ("", "", "n", "r", "l", "s", "t", "rd", "nt"),
           ("ier", "eau", "ard", "in", "ot", "et", "elle", "ac", "ès", ""),
           ("ville", "court", "ac", "y", "-sur-Loire", "mont", "bourg", "ières", "euil")),
    "es": (("b", "br", "c", "ch", "d", "f", "g", "j", "l", "ll", "m", "n", "p", "r", "s", "t", "v", "z"),
           ("a", "e", "i", "o", "u", "á", "é", "í", "ó", "ue", "ia"), ("", "", "n", "r", "l", "s", "z", "ñ"),
           ("ez", "ado", "era", "ón", "illo", "ana", "ero", "ía", "ino", ""),
           ("illa", "ejo", "al", " del Río", "ares", "osa", "uela", "ena", "eda")),
    "it": (("b", "br", "c", "d", "f", "g", "gi", "l", "m", "n", "p", "r", "s", "sc", "t", "v", "z"),
           ("a", "e", "i", "o", "u", "ia", "io"), ("", "", "", "n", "r", "l", "s"),
           ("ini", "etti", "ello", "one", "ucci", "ari", "esi", "otti", "ani", ""),
           ("ano", "ello", "ate", "ona", "ino", " Marittima", "ezzo", "iglia", "ola")),
}
STREETS = {
    "en": ("{} Street", "{} Road", "{} Lane", "{} Avenue", "{} Close", "{} Drive", "{} Way", "{} Crescent"),
    "de": ("{}straße", "{}weg", "{}gasse", "{}allee", "{}-Straße", "Am {}", "{}ring", "{}platz"),
    "fr": ("rue {}", "avenue {}", "boulevard {}", "chemin de {}", "impasse {}", "place {}", "allée des {}"),
    "es": ("Calle {}", "Avenida {}", "Paseo de {}", "Camino {}", "Plaza {}", "Ronda de {}", "Travesía {}"),
    "it": ("Via {}", "Viale {}", "Piazza {}", "Corso {}", "Vicolo {}", "Largo {}", "Strada {}"),
}
FIRMS = {
    "en": ("{} Ltd", "{} LLC", "{} Inc.", "{} PLC", "{} & Co", "{} Group", "{} and {}"),
    "de": ("{} GmbH", "{} AG", "{} KG", "{} GmbH & Co. KG", "{} & {} OHG", "{} e.K."),
    "fr": ("{} SA", "{} SARL", "{} SAS", "{} et Fils", "{} & {}"),
    "es": ("{} S.L.", "{} S.A.", "{} y Asociados", "{} e Hijos", "{} & {} S.L."),
    "it": ("{} S.p.A.", "{} S.r.l.", "{} & {} S.n.c.", "{} e Figli"),
}


# pseudo-words must not read as slurs or swear words in any of the languages
_UNFIT = ("fuck", "shit", "cunt", "nig", "fag", "cock", "dick", "puta", "merd", "cazz", "fick", "arsch", "porn",
          "nazi", "rape", "bitch", "slut", "wank", "twat", "coño", "culo", "pute", "kurw", "hure", "anal", "sex")


@cache
def faker_names() -> frozenset[str]:
    """Every first and last name of every Faker locale, casefolded."""
    out: set[str] = set()
    for loc in AVAILABLE_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        except ImportError:
            continue
        for attr in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary",
                     "last_names"):
            value = next((k.__dict__[attr] for k in provider.__mro__ if attr in k.__dict__), None)
            if isinstance(value, dict | tuple | list | set | frozenset):
                out.update(str(x).casefold() for x in value)
    return frozenset(out)


def word(rng: random.Random, lang: str, syllables: tuple[int, int] = (1, 3)) -> str:
    """A capitalised pseudo-word of the language's sounds, no Faker first or last name."""
    onsets, vowels, codas, _, _ = SOUNDS[lang]
    while True:
        w = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(*syllables)))
        w = (w + rng.choice(codas)).capitalize()
        if len(w) >= 3 and w.casefold() not in faker_names() and not any(x in w.casefold() for x in _UNFIT):
            return w


def first_name(rng: random.Random, lang: str) -> str:
    return word(rng, lang, (2, 3))


def last_name(rng: random.Random, lang: str) -> str:
    while True:
        w = word(rng, lang, (1, 2)) + rng.choice(SOUNDS[lang][3])
        if w.casefold() not in faker_names() and not any(x in w.casefold() for x in _UNFIT):
            return w


def city(rng: random.Random, lang: str) -> str:
    return word(rng, lang, (1, 2)) + rng.choice(SOUNDS[lang][4])


def street(rng: random.Random, lang: str) -> str:
    return rng.choice(STREETS[lang]).format(word(rng, lang, (1, 3)))


def company(rng: random.Random, lang: str) -> str:
    shape = rng.choice(FIRMS[lang])
    return shape.format(*(last_name(rng, lang) for _ in range(shape.count("{}"))))
