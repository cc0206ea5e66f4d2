"""The personal values the templates' slots are filled with, per language, and their labels.

A slot is ``{key}`` or ``{key|mod}``: ``p1.first`` (person 1's first name), ``a1.city`` (address 1's
city), ``phone``, ``card``... The same key gives the same value everywhere in one text (repeated
mentions); ``mod`` (lower, upper, title) changes only how it is written. Values come from Faker with
the text's own seed; persons and addresses are from another country now and then (non-ASCII names,
foreign postcodes and phone formats), card numbers are built here (every brand, 12 to 19 digits,
Luhn-valid), national ids too where Faker has none for the country.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from functools import cache

from faker import Faker

from . import novel

LABELS = ("PERSON_NAME", "LOCATION", "POSTCODE", "PHONE", "EMAIL", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "URL",
          "NATIONAL_ID", "ORGANIZATION")

# Faker locales per corpus language (the first is the most frequent)
LOCALES = {
    "en": ("en_US", "en_US", "en_GB", "en_GB", "en_CA", "en_AU", "en_IE"),
    "de": ("de_DE", "de_DE", "de_DE", "de_AT", "de_CH"),
    "fr": ("fr_FR", "fr_FR", "fr_FR", "fr_CH", "fr_CA"),
    "es": ("es_ES", "es_ES", "es_ES", "es_MX", "es_AR"),
    "it": ("it_IT",),
}
# persons and addresses from elsewhere (about one in six): non-ASCII names, other postcode and phone shapes
FOREIGN = ("pl_PL", "cs_CZ", "tr_TR", "vi_VN", "pt_PT", "sv_SE", "hu_HU", "nl_NL", "ro_RO", "da_DK", "de_DE",
           "fr_FR", "es_ES", "it_IT", "en_IN", "pt_BR", "fi_FI", "no_NO", "hr_HR", "sk_SK")
PHONE_FOREIGN = FOREIGN + ("en_AU", "en_CA", "ja_JP", "en_US", "en_GB", "de_AT", "fr_CH", "en_NZ", "he_IL")
FOREIGN_SHARE = 0.17

# which field of a slot key gives which label
FIELD_LABELS = {
    "first": "PERSON_NAME", "last": "PERSON_NAME", "full": "PERSON_NAME", "handle": "PERSON_NAME",
    "initial_last": "PERSON_NAME", "last_first": "PERSON_NAME", "email": "EMAIL",
    "street": "LOCATION", "streetname": "LOCATION", "house": "LOCATION", "unit": "LOCATION", "city": "LOCATION",
    "postcode": "POSTCODE",
}
KEY_LABELS = {"phone": "PHONE", "mobile": "PHONE", "phone_intl": "PHONE", "card": "CREDIT_CARD",
              "iban": "IBAN", "ip": "IP_ADDRESS", "ip6": "IP_ADDRESS", "url": "URL", "natid": "NATIONAL_ID",
              "company": "ORGANIZATION", "company2": "ORGANIZATION"}

# ordinary words that fill the templates (never labelled, never to be replaced)
PRODUCTS = ("Windows 11", "iPhone 15", "Office 365", "ThinkPad X1", "Galaxy S23", "PlayStation 5", "Kindle",
            "AirPods Pro", "MacBook Air", "Surface Pro", "Pixel 8", "Fritz!Box 7590", "Teams", "Outlook",
            "Excel", "Nespresso Vertuo", "Dyson V15", "Thermomix TM6", "Gmail", "Zoom")
UNITS_EN = ("Apt. {n}", "Apt {n}{c}", "Suite {n}", "Unit {n}", "Flat {n}", "Apartment {n}{c}", "#{n}")
UNITS = {"en": UNITS_EN, "de": ("Whg. {n}", "Wohnung {n}", "{n}. OG", "Top {n}", "App. {n}"),
         "fr": ("Apt {n}", "Bât. {c}", "Appartement {n}", "Étage {n}", "Escalier {c}"),
         "es": ("Piso {n}", "{n}º {c}", "Puerta {n}", "Escalera {c}", "Bajo {c}"),
         "it": ("Interno {n}", "Scala {c}", "Piano {n}", "int. {n}")}
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "web.de", "gmx.de", "orange.fr", "free.fr", "hotmail.es",
             "libero.it", "proton.me", "icloud.com", "posteo.de", "laposte.net", "mail.ru", "yahoo.co.uk")
URL_SHAPES = ("https://www.linkedin.com/in/{slug}", "https://{slug}.github.io", "https://www.facebook.com/{slug}",
              "https://twitter.com/{handle}", "http://www.{slug}.com", "https://{slug}.de/about",
              "https://instagram.com/{handle}", "https://www.xing.com/profile/{slug2}")


@cache
def faker(locale: str) -> Faker:
    return Faker(locale)


def ascii_fold(s: str) -> str:
    s = s.replace("ß", "ss").replace("ø", "o").replace("Ø", "O").replace("ł", "l").replace("Ł", "L")
    s = s.replace("đ", "d").replace("Đ", "D").replace("æ", "ae").replace("ı", "i")
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()


def slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", ascii_fold(s).lower())


def luhn_complete(digits: str) -> str:
    """digits + the Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return digits + str((10 - total % 10) % 10)


# (brand, prefixes, lengths): every length 12..19 and 2-series Mastercard are in here
CARD_BRANDS = (
    ("visa", ("4",), (16, 16, 16, 13, 19)),
    ("mastercard", ("51", "52", "53", "54", "55"), (16,)),
    ("mastercard2", tuple(str(p) for p in range(2221, 2721, 37)), (16,)),
    ("amex", ("34", "37"), (15,)),
    ("diners", ("36", "300", "305"), (14,)),
    ("discover", ("6011", "65"), (16, 19)),
    ("jcb", ("3528", "3530", "3589"), (16, 17, 19)),
    ("maestro", ("5018", "5020", "6304", "6759", "6761"), (12, 13, 15, 16, 18, 19)),
    ("unionpay", ("62",), (16, 17, 18, 19)),
)


def card_number(rng: random.Random) -> str:
    brand, prefixes, lengths = rng.choice(CARD_BRANDS)
    length = rng.choice(lengths)
    body = rng.choice(prefixes)
    body += "".join(str(rng.randrange(10)) for _ in range(length - 1 - len(body)))
    number = luhn_complete(body)
    style = rng.random()
    if style < 0.4:
        return number
    sep = " " if style < 0.8 else "-"
    if brand == "amex":
        groups = [number[:4], number[4:10], number[10:]]
    elif brand == "diners" and length == 14:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i:i + 4] for i in range(0, length, 4)]
    return sep.join(groups)


def de_tax_id(rng: random.Random) -> str:
    """A German Steuer-ID: 11 digits, ISO 7064 MOD 11,10 check digit, one digit twice in the first ten."""
    while True:
        digits = [rng.randrange(1, 10)] + [rng.randrange(10) for _ in range(9)]
        counts = [digits.count(d) for d in set(digits)]
        if sorted(counts)[-1] == 2 and counts.count(2) == 1:
            break
    product = 10
    for d in digits:
        s = (d + product) % 10 or 10
        product = (s * 2) % 11
    check = (11 - product) % 10
    return "".join(map(str, digits)) + str(check)


def uk_nino(rng: random.Random) -> str:
    first, second = "ABCEGHJKLMNOPRSTWXYZ", "ABCEGHJKLMNPRSTWXYZ"
    digits = "".join(str(rng.randrange(10)) for _ in range(6))
    prefix = rng.choice(first) + rng.choice(second)
    if rng.random() < 0.5:
        return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {rng.choice('ABCD')}"
    return f"{prefix}{digits}{rng.choice('ABCD')}"


def seeded(locale: str, rng: random.Random) -> Faker:
    """The locale's Faker, seeded from ``rng`` (so every value is a function of the text's seed)."""
    f = faker(locale)
    f.seed_instance(rng.getrandbits(32))
    return f


def national_id(rng: random.Random, locale: str) -> str:
    f = seeded(locale, rng)
    if locale == "en_US":
        return f.ssn()
    if locale in ("en_GB", "en_IE"):
        return uk_nino(rng)
    if locale.startswith("de_"):
        if locale == "de_AT":  # its number holds a birth date: Faker's default is random up to *today*
            return f.ssn(birthdate=dt.date(1930, 1, 1) + dt.timedelta(days=f.random.randrange(30_000)))
        return de_tax_id(rng) if locale == "de_DE" else f.ssn()
    if locale.startswith("fr_"):
        nir = f.ssn() if locale == "fr_FR" else seeded("fr_FR", rng).ssn()
        if rng.random() < 0.5:
            return f"{nir[0]} {nir[1:3]} {nir[3:5]} {nir[5:7]} {nir[7:10]} {nir[10:13]} {nir[13:]}"
        return nir
    if locale.startswith("es_"):
        return seeded("es_ES", rng).nif() if rng.random() < 0.8 else seeded("es_ES", rng).nie()
    if locale.startswith("it_"):
        return seeded("it_IT", rng).ssn()
    return f.ssn()


def iban(rng: random.Random, locale: str) -> str:
    value = seeded(locale, rng).iban()
    if rng.random() < 0.5:
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


class Values:
    """The values of one text: built on first use of a key, the same for every later use."""

    def __init__(self, lang: str, seed: int, novel: bool = False):
        self.lang = lang
        self.novel = novel  # names, cities, streets and firms from novel.py (in no list) instead of Faker
        self.rng = random.Random(seed)
        self.locale = self.rng.choice(LOCALES[lang])
        self.values: dict[str, str] = {}
        self.objects: dict[str, dict[str, str]] = {}

    def _faker(self, foreign: bool = False, pool: tuple[str, ...] = FOREIGN) -> tuple[str, Faker]:
        loc = self.rng.choice(pool) if foreign else self.locale
        return loc, seeded(loc, self.rng)

    def _person(self) -> dict[str, str]:
        loc, f = self._faker(self.rng.random() < FOREIGN_SHARE)
        first = " ".join(f.first_name().split())
        last = " ".join(f.last_name().split())
        if self.novel:
            lang = loc[:2] if loc[:2] in novel.SOUNDS else self.lang
            first, last = novel.first_name(self.rng, lang), novel.last_name(self.rng, lang)
        fl, ll = slug(first), slug(last)
        handle = self.rng.choice((f"{fl}_{ll[:1]}", f"{fl[:1]}{ll}", f"{fl}.{ll}", f"{fl}{self.rng.randrange(10, 99)}",
                                  f"{ll}_{fl[:1]}"))
        email = self.rng.choice((f"{fl}.{ll}", f"{fl[:1]}.{ll}", f"{fl}{ll}{self.rng.randrange(1, 99)}",
                                 f"{ll}.{fl}", f"{fl}_{ll}")) + "@" + self.rng.choice(FREE_MAIL)
        return {"first": first, "last": last, "full": f"{first} {last}", "handle": handle,
                "initial_last": f"{first[:1]}. {last}", "last_first": f"{last}, {first}", "email": email}

    def _address(self) -> dict[str, str]:
        loc, f = self._faker(self.rng.random() < FOREIGN_SHARE)
        house = str(self.rng.choice((self.rng.randrange(1, 40), self.rng.randrange(1, 400),
                                     self.rng.randrange(1, 9999))))
        if self.rng.random() < 0.15:
            house += self.rng.choice("abcAB")
        street = " ".join(f.street_name().split())
        lang = loc[:2]
        if self.novel:
            street = novel.street(self.rng, lang if lang in novel.SOUNDS else self.lang)
        if lang in ("en", "fr"):
            line = f"{house} {street}" if lang == "en" else f"{house}{self.rng.choice((',', ''))} {street}"
        elif lang == "es":
            line = f"{street}{self.rng.choice((',', ''))} {house}"
        else:
            line = f"{street} {house}"
        unit = self.rng.choice(UNITS.get(self.lang, UNITS_EN)).format(n=self.rng.randrange(1, 60),
                                                                     c=self.rng.choice("ABCD"))
        town = novel.city(self.rng, lang if lang in novel.SOUNDS else self.lang) if self.novel else f.city()
        return {"street": line, "streetname": street, "house": house, "unit": unit, "city": town,
                "postcode": f.postcode()}

    def get(self, key: str) -> str:
        if key in self.values:
            return self.values[key]
        obj, _, field = key.partition(".")
        if field:
            if obj not in self.objects:
                self.objects[obj] = self._person() if obj[0] == "p" else self._address()
            value = self.objects[obj][field]
        else:
            value = self._simple(key)
        value = " ".join(value.split())  # a few Faker entries end in a space or hold two
        self.values[key] = value
        return value

    def _simple(self, key: str) -> str:
        rng = self.rng
        base = key.rstrip("0123456789") if key not in ("ip6",) else key
        if base in ("phone", "mobile"):
            return self._faker()[1].phone_number()
        if base == "phone_intl":
            return self._faker(True, PHONE_FOREIGN)[1].phone_number()
        if base == "card":
            return card_number(rng)
        if base == "iban":
            return iban(rng, self.locale if rng.random() < 0.8 else rng.choice(FOREIGN))
        if base == "ip":
            f = self._faker()[1]
            return f.ipv4_public() if rng.random() < 0.85 else f.ipv6()
        if base == "ip6":
            return self._faker()[1].ipv6()
        if base == "url":
            p = self.get("p1.first"), self.get("p1.last")
            return rng.choice(URL_SHAPES).format(slug=slug(p[0] + p[1]), handle=self.get("p1.handle"),
                                                 slug2=f"{ascii_fold(p[0])}_{ascii_fold(p[1])}")
        if base == "natid":
            return national_id(rng, self.locale)
        if base == "company":
            return novel.company(rng, self.lang) if self.novel else self._faker()[1].company()
        raise KeyError(f"unknown slot {key}")


def label_of(key: str) -> str | None:
    """The label of a slot key, or None for filler slots (not personal)."""
    obj, _, field = key.partition(".")
    if field:
        return FIELD_LABELS[field]
    return KEY_LABELS.get(key.rstrip("0123456789")) or KEY_LABELS.get(key)


WEEKDAYS = {"en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
            "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
            "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
            "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
            "it": ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica")}
MONTHS = {"en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                 "October", "November", "December"),
          "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
                 "November", "Dezember"),
          "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
                 "novembre", "décembre"),
          "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
                 "noviembre", "diciembre"),
          "it": ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre",
                 "ottobre", "novembre", "dicembre")}


def filler(key: str, lang: str, rng: random.Random) -> str:
    """An ordinary (not personal) value: weekday, month, order number, amount, time, product."""
    base = key.rstrip("0123456789")
    if base == "weekday":
        return rng.choice(WEEKDAYS[lang])
    if base == "month":
        return rng.choice(MONTHS[lang])
    if base == "day":
        return str(rng.randrange(1, 29))
    if base == "order":
        return str(rng.randrange(100000, 9999999))
    if base == "ticket":
        return f"{rng.choice(('INC', 'TCK', 'SR', 'REQ'))}-{rng.randrange(1000, 99999)}"
    if base == "amount":
        whole = rng.randrange(5, 2000)
        return f"{whole}.{rng.randrange(100):02d}" if lang == "en" else f"{whole},{rng.randrange(100):02d}"
    if base == "time":
        return f"{rng.randrange(7, 20):02d}:{rng.randrange(60):02d}"
    if base == "n":
        return str(rng.randrange(2, 12))
    if base == "product":
        return rng.choice(PRODUCTS)
    raise KeyError(f"unknown slot {key}")


FILLERS = ("weekday", "month", "day", "order", "ticket", "amount", "time", "n", "product")
