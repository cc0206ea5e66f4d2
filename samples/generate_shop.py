#!/usr/bin/env python3
"""Deterministic generator for the `shop` sample dataset.

Run from the repository root:

    python samples/generate_shop.py

Writes five tables twice, with identical rows:

* ``samples/shop/*.csv``              every column as text (see samples/README.md)
* ``samples/shop-parquet/*.parquet``  real types (int64, date32, timestamp,
                                      decimal128(10, 2), string)

Timestamps are built as timestamp[s], but Parquet has no second unit: pyarrow
stores them as milliseconds and they read back as timestamp[ms] (all values
are whole seconds).

Everything is driven by fixed seeds (one ``random.Random`` plus one seeded
Faker instance per locale), so running it twice produces byte-identical files
for a given Faker / pyarrow version.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from faker import Faker

SEED = 42
HERE = Path(__file__).resolve().parent
CSV_DIR = HERE / "shop"
PARQUET_DIR = HERE / "shop-parquet"

N_CUSTOMERS = 200
N_SECOND_ADDRESSES = 60
N_ORDERS = 600
N_TICKETS = 150

LOCALES = ["en_US", "de_DE", "fr_FR"]
LOCALE_WEIGHTS = [45, 30, 25]
COUNTRY = {"en_US": "US", "de_DE": "DE", "fr_FR": "FR"}
EMAIL_DOMAINS = {
    "en_US": ["gmail.com", "yahoo.com", "outlook.com", "icloud.com"],
    "de_DE": ["web.de", "gmx.de", "t-online.de", "gmail.com"],
    "fr_FR": ["orange.fr", "free.fr", "laposte.net", "gmail.com"],
}
# Hand-picked customers so the dataset always contains the awkward characters
# we care about (umlauts, diaeresis, cedilla, eszett, apostrophe, hyphen).
FIXED_PEOPLE = [
    ("de_DE", "Jürgen", "Müller"),
    ("fr_FR", "Zoë", "Lefèvre"),
    ("fr_FR", "François", "Dubois-Göhring"),
    ("de_DE", "Björn", "Weiß"),
    ("en_US", "Siobhán", "O'Connor"),
    ("fr_FR", "Anaïs", "Château"),
]

DATE_MIN = dt.date(2019, 1, 1)
DATE_MAX = dt.date(2024, 12, 31)

rng = random.Random(SEED)
Faker.seed(SEED)
FAKERS: dict[str, Faker] = {}
for i, loc in enumerate(LOCALES):
    f = Faker(loc)
    f.seed_instance(SEED + i)
    FAKERS[loc] = f


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})


def ascii_slug(s: str) -> str:
    s = s.translate(_TRANSLIT)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return "".join(c for c in s.lower() if c.isascii() and c.isalnum())


def rand_date(lo: dt.date, hi: dt.date) -> dt.date:
    return lo + dt.timedelta(days=rng.randint(0, (hi - lo).days))


def rand_time_on(day: dt.date, lo_hour: int = 6, hi_hour: int = 23) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, rng.randint(lo_hour, hi_hour - 1), rng.randint(0, 59), rng.randint(0, 59))


def phone_for(loc: str) -> str:
    if loc == "de_DE":
        area = rng.choice(["30", "40", "89", "221", "69", "711", "351", "151", "170", "176"])
        return f"+49 {area} {rng.randint(1000000, 99999999)}"
    if loc == "fr_FR":
        first = rng.choice(["1", "2", "3", "4", "5", "6", "7"])
        pairs = " ".join(f"{rng.randint(0, 99):02d}" for _ in range(4))
        return f"+33 {first} {pairs}"
    area = rng.choice([212, 305, 312, 415, 503, 512, 617, 702, 718, 808, 917, 555])
    return f"({area}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"


def luhn_complete(partial: str) -> str:
    """Append the Luhn check digit to `partial`."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:  # these positions get doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return partial + str((10 - total % 10) % 10)


def card_number() -> str:
    prefix = rng.choice(["4", "4", "51", "52", "53", "54", "55"])
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(15 - len(prefix)))
    return luhn_complete(body)


def _iban_check(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    digits = "".join(str(int(c, 36)) for c in rearranged)
    return f"{98 - int(digits) % 97:02d}"


def iban_for(country: str) -> str:
    if country == "FR":
        bank = f"{rng.randint(10000, 30099):05d}"
        branch = f"{rng.randint(0, 99999):05d}"
        account = "".join(str(rng.randint(0, 9)) for _ in range(11))
        # French RIB key: 97 - ((89*bank + 15*branch + 3*account) mod 97)
        key = 97 - ((89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97)
        bban = f"{bank}{branch}{account}{key:02d}"
    else:
        country = "DE"
        blz = rng.choice(["10010010", "37040044", "50010517", "70020270", "20050550", "76026000"])
        bban = blz + "".join(str(rng.randint(0, 9)) for _ in range(10))
    return country + _iban_check(country, bban) + bban


def money(lo: float, hi: float) -> Decimal:
    cents = rng.randint(int(lo * 100), int(hi * 100))
    return Decimal(cents).scaleb(-2)


# --------------------------------------------------------------------------
# customers
# --------------------------------------------------------------------------

NOTE_TEXTS = [
    "Prefers delivery after 6pm, weekdays only.",
    'Called about a "damaged parcel", refund issued.',
    "VIP customer.\nDo not send marketing emails.",
    'Says "the app keeps logging me out", escalated to IT.',
    "Allergic to latex; no latex gloves in packaging.",
    "Bitte nicht klingeln, Paket beim Nachbarn (Weiß) abgeben.",
    "Client fidèle, préfère être contacté par e-mail.",
    "Asked to merge two accounts.\nOld account closed, see ticket.",
    "Returned 3 items, all \"too small\".\nSuggest size guide.",
    "Gift wrapping requested, message: \"Alles Gute, Oma!\"",
    "Disputed charge with bank, resolved.",
    "Lives abroad part of the year, address may change.",
    "Rabattcode \"SOMMER10\" manuell gutgeschrieben, 10 % Nachlass.",
    "Livraison en point relais uniquement, merci.",
]


def make_customers() -> list[dict]:
    ids = list(range(1, N_CUSTOMERS + 1))
    rng.shuffle(ids)
    emails_used: set[str] = set()
    rows = []
    for i in range(N_CUSTOMERS):
        if i < len(FIXED_PEOPLE):
            loc, first, last = FIXED_PEOPLE[i]
        else:
            loc = rng.choices(LOCALES, LOCALE_WEIGHTS)[0]
            f = FAKERS[loc]
            first, last = f.first_name(), f.last_name()
        fs, ls = ascii_slug(first), ascii_slug(last)
        pattern = rng.randint(0, 3)
        local = [f"{fs}.{ls}", f"{fs[0]}.{ls}", f"{fs}{ls}{rng.randint(1, 99)}", f"{ls}.{fs}"][pattern]
        domain = rng.choice(EMAIL_DOMAINS[loc])
        email = f"{local}@{domain}"
        n = 2
        while email in emails_used:
            email = f"{local}{n}@{domain}"
            n += 1
        emails_used.add(email)

        signup = rand_date(DATE_MIN, dt.date(2024, 6, 30))
        r = rng.random()
        if r < 0.30:
            notes = None
        elif r < 0.40:
            notes = ""
        elif r < 0.80:
            notes = rng.choice(NOTE_TEXTS)
        else:
            notes = FAKERS[loc].sentence(nb_words=8)
        rows.append(
            {
                "customer_id": ids[i],
                "email": email,
                "first_name": first,
                "last_name": last,
                "phone": None if rng.random() < 0.05 else phone_for(loc),
                "birth_date": rand_date(dt.date(1950, 1, 1), dt.date(2005, 12, 31)),
                "city": FAKERS[loc].city(),
                "country": COUNTRY[loc],
                "signup_date": signup,
                "notes": notes,
                "_locale": loc,
            }
        )
    return rows


# --------------------------------------------------------------------------
# addresses
# --------------------------------------------------------------------------

LEADING_ZERO_POSTCODES = {"de_DE": ["01067", "04109", "01307", "09111"], "fr_FR": ["01000", "06000", "05100"], "en_US": ["02108", "07030", "01002"]}


def make_addresses(customers: list[dict]) -> list[dict]:
    owners = list(customers)
    owners += rng.sample(customers, N_SECOND_ADDRESSES)
    rows = []
    for aid, c in enumerate(owners, start=1):
        loc = c["_locale"]
        f = FAKERS[loc]
        first_address = aid <= len(customers)
        if rng.random() < 0.08:
            postcode = rng.choice(LEADING_ZERO_POSTCODES[loc])
        else:
            postcode = f.postcode()
        rows.append(
            {
                "address_id": aid,
                "customer_id": c["customer_id"],
                "street": f.street_address(),
                "city": c["city"] if first_address else f.city(),
                "postcode": postcode,
                "country": c["country"],
            }
        )
    return rows


# --------------------------------------------------------------------------
# orders & payments
# --------------------------------------------------------------------------

STATUS = ["placed", "shipped", "delivered", "returned"]


def make_orders(customers: list[dict]) -> list[dict]:
    # Skewed activity: some customers order a lot, ~15% never order.
    weights = [0.0 if rng.random() < 0.15 else rng.paretovariate(1.5) for _ in customers]
    raw = []
    for _ in range(N_ORDERS):
        c = rng.choices(customers, weights)[0]
        day = rand_date(c["signup_date"], DATE_MAX)
        age = (DATE_MAX - day).days
        if age < 7:
            status = "placed"
        elif age < 45:
            status = rng.choices(["placed", "shipped", "delivered"], [1, 3, 4])[0]
        else:
            status = rng.choices(["delivered", "returned"], [85, 15])[0]
        raw.append((day, c, money(4.99, 480.0), status))
    raw.sort(key=lambda r: (r[0], r[1]["customer_id"]))
    return [
        {
            "order_id": 100001 + i,
            "customer_id": c["customer_id"],
            "customer_email": c["email"],
            "order_date": day,
            "total": total,
            "status": status,
            "_customer": c,
        }
        for i, (day, c, total, status) in enumerate(raw)
    ]


def make_payments(orders: list[dict]) -> list[dict]:
    cards: dict[int, str] = {}
    ibans: dict[int, str] = {}
    rows = []
    for o in orders:
        c = o["_customer"]
        cid = c["customer_id"]
        if o["status"] == "placed" and rng.random() < 0.25:
            continue  # not paid yet
        if cid not in cards or rng.random() < 0.1:
            cards[cid] = card_number()
        if cid not in ibans:
            ibans[cid] = iban_for(c["country"] if c["country"] in ("DE", "FR") else rng.choice(["DE", "FR"]))
        if rng.random() < 0.06 and o["total"] > 20:
            first = (o["total"] * Decimal(rng.randint(20, 80)) / 100).quantize(Decimal("0.01"))
            amounts = [first, o["total"] - first]
        else:
            amounts = [o["total"]]
        start = rand_time_on(o["order_date"])
        for k, amount in enumerate(amounts):
            rows.append(
                {
                    "order_id": o["order_id"],
                    "card_number": None if rng.random() < 0.10 else cards[cid],
                    "iban": None if rng.random() < 0.10 else ibans[cid],
                    "amount": amount,
                    "paid_at": start + dt.timedelta(minutes=rng.randint(0, 5) + 90 * k),
                }
            )
    rows.sort(key=lambda r: (r["paid_at"], r["order_id"]))
    for pid, r in enumerate(rows, start=1):
        r["payment_id"] = 900001 + pid - 1
    return rows


# --------------------------------------------------------------------------
# support tickets
# --------------------------------------------------------------------------

SUBJECTS = {
    "en_US": [
        "Where is my order?",
        "Refund, not received yet",
        "Wrong size, need exchange",
        "Change delivery address",
        "Card charged twice",
        "Account locked, can't log in",
        "Damaged item",
    ],
    "de_DE": [
        "Wo bleibt meine Bestellung?",
        "Rückerstattung, noch nicht erhalten",
        "Falsche Größe, Umtausch gewünscht",
        "Lieferadresse ändern",
        "Doppelt abgebucht",
    ],
    "fr_FR": [
        "Où est ma commande ?",
        "Remboursement, toujours rien reçu",
        "Mauvaise taille, échange souhaité",
        "Changement d'adresse de livraison",
        "Article endommagé",
    ],
}

BODY_OPEN = {
    "en_US": "Hi,\n\n",
    "de_DE": "Hallo,\n\n",
    "fr_FR": "Bonjour,\n\n",
}
BODY_MIDDLE = {
    "en_US": [
        'my order #{order} still shows "shipped", but nothing arrived. Could you check, please?',
        "I was charged twice for order #{order}, once on my card and once via SEPA.",
        'The parcel was left at "the front door", which is not what I asked for.',
        "I'd like to exchange the jacket from order #{order}, it's too small.",
        "I can't log in anymore, the reset e-mail never arrives.",
    ],
    "de_DE": [
        "meine Bestellung #{order} ist immer noch nicht da. Können Sie bitte nachsehen?",
        'das Paket wurde beim Nachbarn abgegeben, obwohl ich "nicht beim Nachbarn" gewählt habe.',
        "ich möchte die Schuhe aus Bestellung #{order} umtauschen, Größe 42 statt 41.",
        "mir wurde der Betrag doppelt abgebucht, bitte um Rückerstattung.",
    ],
    "fr_FR": [
        "ma commande #{order} n'est toujours pas arrivée. Pouvez-vous vérifier, s'il vous plaît ?",
        'le colis indique "livré", mais je n\'ai rien reçu.',
        "je souhaite échanger l'article de la commande #{order}, la taille ne convient pas.",
        "j'ai été débité deux fois, merci de me rembourser rapidement.",
    ],
}
BODY_CONTACT = {
    "en_US": "\nYou can reach me at {contact}.",
    "de_DE": "\nSie erreichen mich unter {contact}.",
    "fr_FR": "\nVous pouvez me joindre au {contact}.",
}
BODY_CLOSE = {
    "en_US": "\n\nThanks,\n{name}",
    "de_DE": "\n\nViele Grüße,\n{name}",
    "fr_FR": "\n\nCordialement,\n{name}",
}


def make_tickets(customers: list[dict], orders: list[dict]) -> list[dict]:
    orders_by_customer: dict[int, list[int]] = {}
    for o in orders:
        orders_by_customer.setdefault(o["customer_id"], []).append(o["order_id"])
    raw = []
    for _ in range(N_TICKETS):
        c = rng.choice(customers)
        loc = c["_locale"]
        created = rand_time_on(rand_date(c["signup_date"], DATE_MAX), 0, 24)
        order = rng.choice(orders_by_customer.get(c["customer_id"], [100000 + rng.randint(1, 999)]))
        body = BODY_OPEN[loc] + rng.choice(BODY_MIDDLE[loc]).format(order=order)
        r = rng.random()
        if r < 0.25:
            body += BODY_CONTACT[loc].format(contact=c["email"])
        elif r < 0.45 and c["phone"]:
            body += BODY_CONTACT[loc].format(contact=c["phone"])
        name = c["first_name"] if rng.random() < 0.3 else f"{c['first_name']} {c['last_name']}"
        body += BODY_CLOSE[loc].format(name=name)
        raw.append((created, c["customer_id"], rng.choice(SUBJECTS[loc]), body))
    raw.sort(key=lambda r: (r[0], r[1]))
    return [
        {"ticket_id": 5001 + i, "customer_id": cid, "created_at": created, "subject": subject, "body": body}
        for i, (created, cid, subject, body) in enumerate(raw)
    ]


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------

SCHEMAS = {
    "customers": pa.schema(
        [
            ("customer_id", pa.int64()),
            ("email", pa.string()),
            ("first_name", pa.string()),
            ("last_name", pa.string()),
            ("phone", pa.string()),
            ("birth_date", pa.date32()),
            ("city", pa.string()),
            ("country", pa.string()),
            ("signup_date", pa.date32()),
            ("notes", pa.string()),
        ]
    ),
    "addresses": pa.schema(
        [
            ("address_id", pa.int64()),
            ("customer_id", pa.int64()),
            ("street", pa.string()),
            ("city", pa.string()),
            ("postcode", pa.string()),
            ("country", pa.string()),
        ]
    ),
    "orders": pa.schema(
        [
            ("order_id", pa.int64()),
            ("customer_id", pa.int64()),
            ("customer_email", pa.string()),
            ("order_date", pa.date32()),
            ("total", pa.decimal128(10, 2)),
            ("status", pa.string()),
        ]
    ),
    "payments": pa.schema(
        [
            ("payment_id", pa.int64()),
            ("order_id", pa.int64()),
            ("card_number", pa.string()),
            ("iban", pa.string()),
            ("amount", pa.decimal128(10, 2)),
            ("paid_at", pa.timestamp("s")),
        ]
    ),
    "support_tickets": pa.schema(
        [
            ("ticket_id", pa.int64()),
            ("customer_id", pa.int64()),
            ("created_at", pa.timestamp("s")),
            ("subject", pa.string()),
            ("body", pa.string()),
        ]
    ),
}
BOM_TABLES = {"support_tickets"}
UTF8_BOM = b"\xef\xbb\xbf"


def to_table(name: str, rows: list[dict]) -> pa.Table:
    # Note: timestamp("s") columns come back from Parquet as timestamp("ms").
    schema = SCHEMAS[name]
    return pa.Table.from_pylist([{k: r[k] for k in schema.names} for r in rows], schema=schema)


def write(name: str, table: pa.Table) -> None:
    pq.write_table(table, PARQUET_DIR / f"{name}.parquet")

    as_text = table.cast(pa.schema([(f.name, pa.string()) for f in table.schema]))
    sink = pa.BufferOutputStream()
    pacsv.write_csv(as_text, sink, pacsv.WriteOptions(quoting_style="needed"))
    data = sink.getvalue().to_pybytes()
    if name in BOM_TABLES:
        data = UTF8_BOM + data
    (CSV_DIR / f"{name}.csv").write_bytes(data)


def main() -> None:
    CSV_DIR.mkdir(parents=True, exist_ok=True)
    PARQUET_DIR.mkdir(parents=True, exist_ok=True)

    customers = make_customers()
    addresses = make_addresses(customers)
    orders = make_orders(customers)
    payments = make_payments(orders)
    tickets = make_tickets(customers, orders)

    tables = {
        "customers": customers,
        "addresses": addresses,
        "orders": orders,
        "payments": payments,
        "support_tickets": tickets,
    }
    for name, rows in tables.items():
        table = to_table(name, rows)
        write(name, table)
        print(f"{name:16s} {table.num_rows:4d} rows")


if __name__ == "__main__":
    main()
