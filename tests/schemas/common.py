"""The shape of a realistic test schema, and the seeded generators of people both schemas share.

Everything is deterministic: one ``numpy.random.default_rng`` and one seeded ``Faker`` per locale,
built from the schema's seed. People come from four locales (German, French, Czech, Japanese) with
their own spellings of names, streets and postcodes; phone numbers are valid E.164 numbers that
fit a ``varchar(12)`` (``+49301234567``), Czech ones 13 characters (``+420601234567``); notes
are free text in the customer's language that always carry the customer's email, and sometimes
their phone number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import phonenumbers
from faker import Faker

LOCALES = ("de_DE", "fr_FR", "cs_CZ", "ja_JP")
COUNTRY = {"de_DE": "DE", "fr_FR": "FR", "cs_CZ": "CZ", "ja_JP": "JP"}
CALLING = {"de_DE": "49", "fr_FR": "33", "cs_CZ": "420", "ja_JP": "81"}
LEADS = {"de_DE": ["30", "40", "89", "221"], "fr_FR": ["1", "6", "7"], "cs_CZ": ["2", "6", "7"], "ja_JP": ["3", "6"]}

Row = tuple


class SqlExpr(str):
    """A value written into the load as SQL, not as a quoted string (``ST_GeomFromText(...)``)."""


@dataclass(frozen=True)
class Relation:
    """A relation a reviewer of the schema knows: ``child(columns) -> parent(ref_columns)``.

    Table names are veil's (schema-qualified for PostgreSQL: ``shop.rental``). ``declared``: a
    FOREIGN KEY exists in the DDL (on a partitioned table's partitions counts: veil lifts it)."""

    child: str
    columns: tuple[str, ...]
    parent: str
    ref_columns: tuple[str, ...]
    declared: bool

    @property
    def name(self) -> str:
        return f"{self.child}({','.join(self.columns)})->{self.parent}"

    def fk_tuple(self) -> tuple:
        return (self.child, self.columns, self.parent, self.ref_columns)


@dataclass(frozen=True)
class Sensitive:
    """Personal columns of one table that must not come out as they went in: at most ``max_share``
    of the distinct output values (tuples, for several columns) may be source values."""

    table: str
    columns: tuple[str, ...]
    max_share: float = 0.05

    @property
    def name(self) -> str:
        return f"{self.table}({','.join(self.columns)})"


@dataclass
class RealSchema:
    name: str
    dialect: str  # "postgresql" or "mysql"
    ddl: str
    data: Callable[[], dict[str, tuple[list[str], list[Row]]]]  # load order: table -> (columns, rows)
    relations: list[Relation]
    inserts: dict[str, str]  # table with a generated key -> the application's INSERT without the key
    sensitive: list[Sensitive]
    # (table, notes column, table.column of identifiers the notes carry): no output note holds a source one
    notes: list[tuple[str, str, str]] = field(default_factory=list)
    after_load: str = ""  # SQL run after the data is loaded (sequences set as the application left them)
    generated: tuple[str, ...] = ()  # table.column computed by the server (not in data())

    @property
    def declared(self) -> set[tuple]:
        return {r.fk_tuple() for r in self.relations if r.declared}

    @property
    def undeclared(self) -> set[tuple]:
        return {r.fk_tuple() for r in self.relations if not r.declared}


# -- people -------------------------------------------------------------------------------

@dataclass
class Person:
    locale: str
    first_name: str
    last_name: str
    email: str
    phone: str  # E.164: at most 12 characters, 13 for Czech numbers
    street: str
    city: str
    postcode: str  # the locale's own format (``110 00``, ``100-0001``)
    zip5: str  # five digits, leading zeros kept
    birth_date: date


class People:
    """Seeded people from several locales; emails are unique over every person drawn."""

    def __init__(self, seed: int, weights: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1)) -> None:
        self.rng = np.random.default_rng(seed)
        self.fakers = {}
        for i, loc in enumerate(LOCALES):
            f = Faker(loc)
            f.seed_instance(seed * 10 + i)
            self.fakers[loc] = f
        self.weights = np.array(weights) / sum(weights)
        self.emails: set[str] = set()

    def locale(self) -> str:
        return LOCALES[int(self.rng.choice(len(LOCALES), p=self.weights))]

    def phone(self, locale: str) -> str:
        """A valid number (libphonenumber) in E.164: 12 characters (+49 30 ..., +33 6 ..., +81 3 ...),
        13 for Czech ones (+420 ...)."""
        cc, leads = CALLING[locale], LEADS[locale]
        while True:
            lead = leads[int(self.rng.integers(0, len(leads)))]
            number = f"+{cc}{lead}" + "".join(str(d) for d in self.rng.integers(0, 10, 9 - len(lead)))
            if phonenumbers.is_valid_number(phonenumbers.parse(number)):
                return number

    def zip5(self) -> str:
        return f"{int(self.rng.integers(1000, 99999)):05d}"  # 01067, 09112 ... leading zeros kept

    def person(self, locale: str | None = None) -> Person:
        loc = locale or self.locale()
        f = self.fakers[loc]
        first, last = f.first_name(), f.last_name()
        while True:
            local = f.user_name()[:20] + str(int(self.rng.integers(1, 999)))
            email = f"{local}@{f.free_email_domain()}".lower()
            if email not in self.emails and len(email) <= 60:
                break
        self.emails.add(email)
        postcode = f.postcode()
        if loc == "ja_JP":
            street = f"{f.prefecture()}{f.city()}{f.town()}{f.chome()}{f.ban()}"
        else:
            street = f.street_address()
        born = date(1950, 1, 1) + timedelta(days=int(self.rng.integers(0, 365 * 55)))
        return Person(loc, first[:45], last[:45], email, self.phone(loc), street[:64], f.city()[:50],
                      postcode[:10], self.zip5(), born)


NOTES = {
    "de_DE": ["Kunde bittet um Rückruf, erreichbar unter {phone}. Bestätigung an {email} geschickt.",
              "Rechnung an {email} erneut gesendet; Zahlung über Überweisung vereinbart.",
              "Beschwerde über Lieferverzug, Gutschein per Mail an {email}. Telefon: {phone}"],
    "fr_FR": ["Le client souhaite être rappelé au {phone}, réponse envoyée à {email}.",
              "Facture renvoyée à {email} ; paiement prévu à la fin du mois.",
              "Réclamation : article abîmé, avoir envoyé à {email}."],
    "cs_CZ": ["Zákazník žádá o zpětné zavolání na {phone}, potvrzení posláno na {email}.",
              "Faktura znovu odeslána na {email}; platba převodem.",
              "Stížnost na zpoždění dodávky, poukaz zaslán na {email}."],
    "ja_JP": ["お客様から折り返しの電話希望 {phone}。確認メールを {email} に送信済み。",
              "請求書を {email} に再送しました。お支払いは月末の予定です。",
              "配送遅延のお問い合わせ。クーポンを {email} に送付しました 🙏"],
}


def note(rng: np.random.Generator, p: Person) -> str:
    """A support note in the person's language, holding their email (and sometimes their phone)."""
    options = NOTES[p.locale]
    return options[int(rng.integers(0, len(options)))].format(email=p.email, phone=p.phone)


def moment(rng: np.random.Generator, start: datetime, days: int) -> datetime:
    """A UTC instant within ``days`` of ``start``, to the second."""
    return (start + timedelta(seconds=int(rng.integers(0, days * 86400)))).replace(tzinfo=UTC)


def money(rng: np.random.Generator, lo: float, hi: float) -> Decimal:
    return Decimal(f"{rng.uniform(lo, hi):.2f}")
