"""A labelled evaluation set for ``veil scan``: realistic schemas whose columns have known entities.

Every column carries the entity a careful reviewer would give it (veil.detect.entities
names; ``NONE`` for columns that are not personal, many of which are built to look
personal: product codes, SKUs, order and tracking numbers, EAN barcodes, integer ids,
prices, timestamps, enums, file hashes, UUIDs, version strings, product copy ...).
The data is generated deterministically (seeded Faker per table, numpy ``default_rng``),
written as Parquet (real Arrow types) for some schemas and CSV for others, one
directory per schema.

The schema ``crm_nordic`` uses Faker locales (sv_SE, da_DK) whose names are not in
veil's word lists (built from en_US, en_GB, de_DE, fr_FR, es_ES, it_IT, nl_NL, pt_BR,
pl_PL, en_IE): it is the held-out check.

Run as a script for the figures (``python tests/eval_schemas.py --report``); the
test is tests/test_scan_quality.py. Reports name columns and labels, never values.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import string
import sys
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from faker import Faker

STR = pa.string()
I64 = pa.int64()
I32 = pa.int32()
F64 = pa.float64()
DEC = pa.decimal128(12, 2)
DATE = pa.date32()
TS = pa.timestamp("us")
TSZ = pa.timestamp("us", tz="UTC")
BOOL = pa.bool_()

Gen = Callable[[Faker, np.random.Generator, int], list]


@dataclass
class Col:
    name: str
    entity: str  # the true entity (veil.detect.entities.ENTITIES key)
    gen: Gen
    type: pa.DataType = STR
    nulls: float = 0.0  # share of rows left empty


@dataclass
class TableSpec:
    name: str
    rows: int
    cols: list[Col]


@dataclass
class SchemaSpec:
    name: str
    fmt: str  # "csv" or "parquet"
    locales: list[str]
    tables: list[TableSpec]
    held_out: bool = False
    about: str = ""

    @property
    def labels(self) -> dict[tuple[str, str], str]:
        return {(t.name, c.name): c.entity for t in self.tables for c in t.cols}


@dataclass
class Labelled:
    schema: str
    table: str
    column: str
    truth: str
    held_out: bool = False
    extra: dict = field(default_factory=dict)


# -- generators ------------------------------------------------------------------

POOL = 250  # distinct values drawn from Faker per column; rows repeat them (Faker is slow)


def pooled(gen: Gen) -> Gen:
    """``gen`` run for at most POOL values, every one used, the other rows drawn from them."""
    def run(f, r, n):
        pool = gen(f, r, min(n, POOL))
        if n <= len(pool):
            return pool
        return pool + [pool[i] for i in r.integers(0, len(pool), n - len(pool))]
    return run


def each(fn: Callable[[Faker], object]) -> Gen:
    return pooled(lambda f, r, n: [fn(f) for _ in range(n)])


def fk(method: str, *args, **kwargs) -> Gen:
    return pooled(lambda f, r, n: [getattr(f, method)(*args, **kwargs) for _ in range(n)])


def seq(start: int = 1, step_max: int = 1) -> Gen:
    def gen(f, r, n):
        steps = r.integers(1, step_max + 1, n) if step_max > 1 else np.ones(n, dtype=np.int64)
        return (start + np.cumsum(steps) - steps[0]).tolist()
    return gen


def ref(high: int) -> Gen:
    return lambda f, r, n: r.integers(1, high + 1, n).tolist()


def choice(options: list, p: list[float] | None = None) -> Gen:
    return lambda f, r, n: [options[i] for i in r.choice(len(options), n, p=p)]


def ints(lo: int, hi: int) -> Gen:
    return lambda f, r, n: r.integers(lo, hi, n).tolist()


def money(lo: float, hi: float) -> Gen:
    return lambda f, r, n: [Decimal(f"{x:.2f}") for x in r.uniform(lo, hi, n)]


def floats(lo: float, hi: float, digits: int = 2) -> Gen:
    return lambda f, r, n: np.round(r.uniform(lo, hi, n), digits).tolist()


def bools(p: float = 0.5) -> Gen:
    return lambda f, r, n: (r.random(n) < p).tolist()


def timestamps(start: str = "2021-01-01", days: int = 1200) -> Gen:
    base = dt.datetime.fromisoformat(start)
    return lambda f, r, n: [base + dt.timedelta(seconds=int(s)) for s in r.integers(0, days * 86400, n)]


def dates(start: str = "2021-01-01", days: int = 1200) -> Gen:
    base = dt.date.fromisoformat(start)
    return lambda f, r, n: [base + dt.timedelta(days=int(d)) for d in r.integers(0, days, n)]


def births(lo: int = 18, hi: int = 90) -> Gen:
    today = dt.date(2025, 1, 1)
    return lambda f, r, n: [today - dt.timedelta(days=int(d)) for d in r.integers(lo * 365, hi * 365, n)]


def as_text(gen: Gen, fmt: Callable[[object], str] = str) -> Gen:
    return lambda f, r, n: [fmt(v) for v in gen(f, r, n)]


def uuids() -> Gen:
    return lambda f, r, n: [str(uuid.UUID(bytes=bytes(r.integers(0, 256, 16, dtype=np.uint8)), version=4))
                            for _ in range(n)]


def hexes(nbytes: int) -> Gen:
    return lambda f, r, n: [bytes(r.integers(0, 256, nbytes, dtype=np.uint8)).hex() for _ in range(n)]


_B64 = string.ascii_letters + string.digits + "./"


def bcrypt() -> Gen:
    return lambda f, r, n: [f"$2b${int(r.choice([10, 12]))}$" + "".join(r.choice(list(_B64), 53)) for _ in range(n)]


def argon2() -> Gen:
    def one(r):
        salt = base64.b64encode(bytes(r.integers(0, 256, 16, dtype=np.uint8))).decode().rstrip("=")
        digest = base64.b64encode(bytes(r.integers(0, 256, 32, dtype=np.uint8))).decode().rstrip("=")
        return f"$argon2id$v=19$m=65536,t=3,p=4${salt}${digest}"
    return lambda f, r, n: [one(r) for _ in range(n)]


def pbkdf2() -> Gen:
    def one(r):
        salt = "".join(r.choice(list(string.ascii_letters + string.digits), 12))
        digest = base64.b64encode(bytes(r.integers(0, 256, 32, dtype=np.uint8))).decode()
        return f"pbkdf2_sha256$600000${salt}${digest}"
    return lambda f, r, n: [one(r) for _ in range(n)]


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return str((10 - total % 10) % 10)


def ean13() -> Gen:
    def one(r):
        body = "".join(map(str, r.integers(0, 10, 12)))
        s = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body))
        return body + str((10 - s % 10) % 10)
    return lambda f, r, n: [one(r) for _ in range(n)]


def steuer_id() -> Gen:
    """German tax ids (11 digits, ISO 7064 MOD 11,10 check digit)."""
    def one(r):
        digits = [int(r.integers(1, 10))] + r.integers(0, 10, 9).tolist()
        product = 10
        for d in digits:
            s = (d + product) % 10 or 10
            product = (2 * s) % 11
        return "".join(map(str, digits)) + str((11 - product) % 10)
    return lambda f, r, n: [one(r) for _ in range(n)]


def nir() -> Gen:
    """French social security numbers (13 digits + 2-digit key)."""
    def one(r):
        body = f"{int(r.integers(1, 3))}{int(r.integers(40, 100)):02d}{int(r.integers(1, 13)):02d}" \
               f"{int(r.integers(1, 96)):02d}{int(r.integers(1, 990)):03d}{int(r.integers(1, 999)):03d}"
        return f"{body} {97 - int(body) % 97:02d}"
    return lambda f, r, n: [one(r) for _ in range(n)]


def dni() -> Gen:
    letters = "TRWAGMYFPDXBNJZSQVHLCKE"
    return lambda f, r, n: [f"{x:08d}{letters[x % 23]}" for x in r.integers(1_000_000, 99_999_999, n)]


def pattern(fmt: str) -> Gen:
    """``#`` a digit, ``?`` an upper-case letter, ``{i}`` the row number, ``{y}`` a year, ``{s}`` a size."""
    def gen(f, r, n):
        digits = r.integers(0, 10, (n, fmt.count("#"))).astype(str)
        letters = np.array(list(string.ascii_uppercase))[r.integers(0, 26, (n, fmt.count("?")))]
        years = r.integers(2019, 2026, n)
        sizes = r.choice(["XS", "S", "M", "L", "XL", "XXL"], n)
        out = []
        for i in range(n):
            d, a = iter(digits[i]), iter(letters[i])
            text = fmt.replace("{i}", f"{i + 1:06d}").replace("{y}", str(years[i])).replace("{s}", str(sizes[i]))
            out.append("".join(next(d) if ch == "#" else next(a) if ch == "?" else ch for ch in text))
        return out
    return gen


def ids_with_phones(share: float = 0.003) -> Gen:
    """Sequential ids where ``share`` of the values are 10-digit numbers that read as US phone numbers."""
    def gen(f, r, n):
        out = list(range(100_000, 100_000 + n))
        for i in r.choice(n, max(1, round(share * n)), replace=False):
            out[int(i)] = int(f"{r.choice([212, 415, 617, 312])}555{int(r.integers(100, 200)):04d}")
        return out
    return gen


_ADJ = ["lightweight", "durable", "ergonomic", "waterproof", "organic", "compact", "stainless", "recycled",
        "breathable", "adjustable", "handmade", "wireless", "insulated", "foldable", "premium"]
_MAT = ["cotton", "steel", "bamboo", "aluminium", "leather", "ceramic", "merino wool", "glass", "oak", "silicone"]
_PRODUCT = ["backpack", "water bottle", "desk lamp", "running shoe", "coffee grinder", "phone case", "yoga mat",
            "chef's knife", "rain jacket", "bluetooth speaker", "office chair", "tea kettle", "camping tent"]
_FEATURE = ["with a lifetime warranty", "in five colours", "that fits most standard sizes", "for everyday use",
            "with a 30-day return policy", "tested to 10,000 cycles", "designed for travel", "dishwasher safe",
            "rated 4.7 out of 5 by reviewers", "with free shipping on orders over 50 EUR"]


def product_copy() -> Gen:
    def one(r):
        return (f"{str(r.choice(_ADJ)).capitalize()} {r.choice(_MAT)} {r.choice(_PRODUCT)} {r.choice(_FEATURE)}. "
                f"{str(r.choice(_ADJ)).capitalize()} and {r.choice(_ADJ)}, {r.choice(_FEATURE)}.")
    return pooled(lambda f, r, n: [one(r) for _ in range(n)])


_CLEAN_NOTES = ["Replaced the charger, issue resolved.", "Refund processed after the return arrived at the warehouse.",
                "Duplicate ticket, closed.", "Escalated to tier 2: the export job times out after 30 minutes.",
                "Package delayed at the sorting centre; new delivery estimate sent.",
                "Explained how to reset two-factor authentication from the settings page.",
                "Invoice corrected, VAT rate was wrong for the order.", "Customer satisfied, no further action needed."]


def notes(pii_share: float = 0.5) -> Gen:
    """Support notes: about ``pii_share`` of them mention an email, a phone number or a name."""
    def one(f, r):
        if r.random() >= pii_share:
            return str(r.choice(_CLEAN_NOTES))
        k = int(r.integers(0, 4))
        if k == 0:
            return f"Customer asked us to use {f.email()} from now on. {r.choice(_CLEAN_NOTES)}"
        if k == 1:
            return f"Call back on {f.phone_number()} after 5pm, {r.choice(_CLEAN_NOTES).lower()}"
        if k == 2:
            return f"Spoke with {f.name()} about the order. {r.choice(_CLEAN_NOTES)}"
        return f"{f.name()} ({f.email()}) reported the parcel missing; ship to {f.street_address()}, {f.city()}."
    return pooled(lambda f, r, n: [one(f, r) for _ in range(n)])


def tickets_subjects() -> Gen:
    return choice(["Where is my order?", "Refund request", "Cannot log in", "Wrong size delivered",
                   "Invoice needed", "Change delivery address", "Payment failed", "Account deletion request"])


def gen_map(gen: Gen, fn: Callable[[object], object]) -> Gen:
    return lambda f, r, n: [fn(v) for v in gen(f, r, n)]


def email_of(f: Faker) -> str:
    return f.email()


def name_of(f: Faker) -> str:
    return f"{f.first_name()} {f.last_name()}"


# -- the schemas -------------------------------------------------------------------

STATUS = ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]
CURRENCIES = ["EUR", "USD", "GBP", "CHF", "SEK", "DKK"]
LANGS = ["en", "de", "fr", "es", "it", "sv", "da", "nl"]
COUNTRY_CODES = ["US", "GB", "DE", "FR", "ES", "IT", "SE", "DK", "NL", "CZ", "PT", "IE"]
SIZES = ["XS", "S", "M", "L", "XL"]
GREETINGS = ["Happy birthday", "Enjoy", "Congratulations on the new job", "Merry Christmas", "Thank you"]


def shop_en() -> SchemaSpec:
    customers = TableSpec("customers", 2000, [
        Col("customer_id", "NONE", seq(1)),
        Col("firstName", "FIRST_NAME", fk("first_name")),
        Col("lastName", "LAST_NAME", fk("last_name")),
        Col("email", "EMAIL", fk("email")),
        Col("phone", "PHONE", fk("phone_number"), nulls=0.1),
        Col("dob", "DATE_OF_BIRTH", births(), DATE),
        Col("addr1", "STREET_ADDRESS", fk("street_address")),
        Col("addr2", "STREET_ADDRESS", fk("secondary_address"), nulls=0.7),
        Col("city", "CITY", fk("city")),
        Col("state", "REGION", fk("state_abbr")),
        Col("zip", "POSTCODE", fk("zipcode")),
        Col("country", "COUNTRY", choice(["US", "US", "US", "CA"])),
        Col("signup_ts", "NONE", timestamps(), TS),
        Col("marketing_opt_in", "NONE", bools(), BOOL),
        Col("loyalty_points", "NONE", ints(0, 5000), I64),
        Col("preferred_currency", "NONE", choice(CURRENCIES)),
    ])
    orders = TableSpec("orders", 3000, [
        Col("order_id", "NONE", seq(1000, 3), I64),
        Col("order_number", "NONE", pattern("ORD-{y}-{i}")),
        Col("customer_id", "NONE", ref(2000), I64),
        Col("status", "NONE", choice(STATUS)),
        Col("placed_at", "NONE", timestamps(), TSZ),
        Col("subtotal", "NONE", money(5, 900), DEC),
        Col("shipping_fee", "NONE", money(0, 25), DEC),
        Col("tax_rate", "NONE", choice([0.0, 0.07, 0.19, 0.2]), F64),
        Col("currency", "NONE", choice(CURRENCIES)),
        Col("ship_to_name", "PERSON_NAME", each(name_of)),
        Col("ship_to_address", "STREET_ADDRESS", fk("street_address")),
        Col("ship_to_zip", "POSTCODE", fk("zipcode")),
        Col("tracking_number", "NONE", pattern("1Z###???##########")),
        Col("carrier", "NONE", choice(["UPS", "FedEx", "DHL", "USPS"])),
        Col("gift_message", "FREE_TEXT", each(lambda f: f"{f.random_element(GREETINGS)}, {f.first_name()}! "
                                                         f"Love, {f.first_name()}"), nulls=0.8),
    ])
    items = TableSpec("order_items", 3000, [
        Col("id", "NONE", seq(1), I64),
        Col("order_id", "NONE", ref(9000), I64),
        Col("sku", "NONE", pattern("SKU-#####-{s}")),
        Col("ean", "NONE", ean13()),
        Col("qty", "NONE", ints(1, 6), I32),
        Col("unit_price", "NONE", money(2, 400), DEC),
        Col("discount_pct", "NONE", floats(0, 0.5), F64),
        Col("line_total", "NONE", floats(2, 2000), F64),
        Col("is_gift", "NONE", bools(0.1), BOOL),
    ])
    products = TableSpec("products", 1500, [
        Col("product_id", "NONE", seq(1), I64),
        Col("product_code", "NONE", pattern("P??-####")),
        Col("product_name", "NONE", each(lambda f: f"{f.color_name()} {f.word().capitalize()} Bag")),
        Col("description", "NONE", product_copy()),
        Col("brand", "NONE", fk("company")),
        Col("category", "NONE", choice(["bags", "shoes", "kitchen", "outdoor", "electronics"])),
        Col("price", "NONE", money(2, 400), DEC),
        Col("weight_kg", "NONE", floats(0.1, 25, 3), F64),
        Col("stock_qty", "NONE", ints(0, 800), I64),
        Col("barcode", "NONE", ean13()),
        Col("created_at", "NONE", timestamps(), TS),
        Col("active", "NONE", bools(0.9), BOOL),
    ])
    return SchemaSpec("shop_en", "parquet", ["en_US"], [customers, orders, items, products],
                      about="English e-commerce shop")


def hr_de() -> SchemaSpec:
    mitarbeiter = TableSpec("mitarbeiter", 1500, [
        Col("Personalnummer", "NONE", seq(10_000)),
        Col("Vorname", "FIRST_NAME", fk("first_name")),
        Col("Nachname", "LAST_NAME", fk("last_name")),
        Col("Geburtsdatum", "DATE_OF_BIRTH", gen_map(births(18, 67), lambda d: d.strftime("%d.%m.%Y"))),
        Col("Steuer-ID", "NATIONAL_ID", steuer_id()),
        Col("IBAN", "IBAN", fk("iban")),
        Col("Straße", "STREET_ADDRESS", fk("street_address")),
        Col("PLZ", "POSTCODE", fk("postcode")),
        Col("Ort", "CITY", fk("city")),
        Col("Telefon", "PHONE", fk("phone_number")),
        Col("E-Mail", "EMAIL", fk("company_email")),
        Col("Eintrittsdatum", "NONE", dates("2005-01-01", 7000)),
        Col("Abteilung", "NONE", choice(["Vertrieb", "Einkauf", "IT", "Personal", "Logistik", "Buchhaltung"])),
        Col("Position", "OCCUPATION", fk("job")),
        Col("Bruttogehalt", "SALARY", floats(2500, 9000)),
        Col("Wochenstunden", "NONE", choice([20, 30, 38.5, 40])),
        Col("Aktiv", "NONE", choice(["true", "false"], [0.9, 0.1])),
    ])
    abwesenheiten = TableSpec("abwesenheiten", 2000, [
        Col("id", "NONE", seq(1)),
        Col("mitarbeiter_id", "NONE", ref(1500)),
        Col("von", "NONE", dates("2023-01-01", 700)),
        Col("bis", "NONE", dates("2023-01-10", 700)),
        Col("Grund", "SPECIAL_CATEGORY", choice(["Urlaub", "Krankheit", "Fortbildung", "Elternzeit"])),  # sick leave
        Col("Tage", "NONE", ints(1, 20)),
        Col("genehmigt_von", "PERSON_NAME", each(name_of)),
        Col("erstellt_am", "NONE", timestamps("2023-01-01", 700)),
    ])
    standorte = TableSpec("standorte", 1000, [
        Col("standort_id", "NONE", seq(1)),
        Col("Standortcode", "NONE", pattern("DE-??#")),
        Col("Bezeichnung", "NONE", each(lambda f: f"Lager {f.city()}")),
        Col("Kostenstelle", "NONE", pattern("KST-####")),
        Col("Mitarbeiterzahl", "NONE", ints(3, 400)),
        Col("Flaeche_qm", "NONE", floats(100, 20000, 1)),
        Col("Eroeffnet", "NONE", dates("1990-01-01", 12000)),
    ])
    return SchemaSpec("hr_de", "csv", ["de_DE"], [mitarbeiter, abwesenheiten, standorte],
                      about="German HR system")


def crm_fr() -> SchemaSpec:
    clients = TableSpec("clients", 1500, [
        Col("id_client", "NONE", seq(1)),
        Col("prénom", "FIRST_NAME", fk("first_name")),
        Col("nom", "LAST_NAME", fk("last_name")),
        Col("courriel", "EMAIL", fk("email")),
        Col("téléphone", "PHONE", fk("phone_number")),
        Col("adresse", "STREET_ADDRESS", fk("street_address")),
        Col("code_postal", "POSTCODE", fk("postcode")),
        Col("ville", "CITY", fk("city")),
        Col("numéro_sécurité_sociale", "NATIONAL_ID", nir()),
        Col("date_de_naissance", "DATE_OF_BIRTH", births()),
        Col("date_creation", "NONE", timestamps()),
        Col("segment", "NONE", choice(["PME", "Grand compte", "Particulier"])),
        Col("chiffre_affaires", "NONE", floats(0, 1e6)),
        Col("langue", "NONE", choice(["fr", "en", "de"])),
    ])
    interactions = TableSpec("interactions", 2500, [
        Col("id", "NONE", seq(1)),
        Col("client_id", "NONE", ref(1500)),
        Col("canal", "NONE", choice(["email", "téléphone", "visite", "chat"])),
        Col("date_interaction", "NONE", timestamps()),
        Col("commercial", "PERSON_NAME", each(name_of)),
        Col("commentaire", "FREE_TEXT", notes(0.6)),
        Col("duree_minutes", "NONE", ints(1, 90)),
        Col("resultat", "NONE", choice(["rappel", "devis envoyé", "sans suite", "commande"])),
    ])
    factures = TableSpec("factures", 2000, [
        Col("numero_facture", "NONE", pattern("FA{y}-{i}")),
        Col("client_id", "NONE", ref(1500)),
        Col("montant_ht", "NONE", floats(10, 50000)),
        Col("tva", "NONE", choice([0.055, 0.1, 0.2])),
        Col("devise", "NONE", choice(["EUR"])),
        Col("date_emission", "NONE", dates()),
        Col("payee", "NONE", choice(["true", "false"])),
        Col("siret_fournisseur", "NONE", pattern("##############")),
    ])
    return SchemaSpec("crm_fr", "csv", ["fr_FR"], [clients, interactions, factures], about="French CRM")


def clinic_es_it() -> SchemaSpec:
    pacientes = TableSpec("pacientes", 1500, [
        Col("id_paciente", "NONE", seq(1), I64),
        Col("nombre", "FIRST_NAME", fk("first_name")),
        Col("apellidos", "LAST_NAME", each(lambda f: f"{f.last_name()} {f.last_name()}")),
        Col("dni", "NATIONAL_ID", dni()),
        Col("fecha_nacimiento", "DATE_OF_BIRTH", births(0, 95), DATE),
        Col("telefono_movil", "PHONE", fk("phone_number")),
        Col("correo", "EMAIL", fk("free_email")),
        Col("direccion", "STREET_ADDRESS", fk("street_address")),
        Col("codigo_postal", "POSTCODE", fk("postcode")),
        Col("provincia", "REGION", fk("state")),
        Col("aseguradora", "NONE", choice(["Sanitas", "Adeslas", "DKV", "Mapfre", "Asisa"])),
        Col("alta", "NONE", timestamps(), TS),
    ])
    citas = TableSpec("citas", 2500, [
        Col("id", "NONE", seq(1), I64),
        Col("paciente_id", "NONE", ref(1500), I64),
        Col("fecha_hora", "NONE", timestamps("2024-01-01", 365), TS),
        Col("especialidad", "SPECIAL_CATEGORY",
            choice(["cardiología", "dermatología", "pediatría", "traumatología"])),  # a patient's health
        Col("sala", "NONE", pattern("S-##")),
        Col("importe", "NONE", money(20, 300), DEC),
        Col("pagado", "NONE", bools(0.8), BOOL),
        Col("codigo_diagnostico", "SPECIAL_CATEGORY", pattern("?##.#")),  # an ICD-10 diagnosis
    ])
    pazienti = TableSpec("pazienti", 1500, [
        Col("id", "NONE", seq(1), I64),
        Col("nome", "FIRST_NAME", fk("first_name")),
        Col("cognome", "LAST_NAME", fk("last_name")),
        Col("codice_fiscale", "NATIONAL_ID", fk("ssn")),
        Col("data_nascita", "DATE_OF_BIRTH", births(0, 95), DATE),
        Col("indirizzo", "STREET_ADDRESS", fk("street_address")),
        Col("cap", "POSTCODE", fk("postcode")),
        Col("città", "CITY", fk("city")),
        Col("cellulare", "PHONE", fk("phone_number")),
        Col("email", "EMAIL", fk("email")),
        Col("medico_curante", "PERSON_NAME", each(name_of)),
        Col("numero_tessera", "NONE", pattern("80380########")),
        Col("data_registrazione", "NONE", timestamps(), TS),
    ])
    return SchemaSpec("clinic_es_it", "parquet", ["es_ES", "it_IT"], [pacientes, citas, pazienti],
                      about="Spanish and Italian clinics")


def saas() -> SchemaSpec:
    users = TableSpec("users", 2000, [
        Col("id", "NONE", seq(1), I64),
        Col("uuid", "NONE", uuids()),
        Col("username", "USERNAME", fk("user_name")),
        Col("email", "EMAIL", fk("email")),
        Col("password_hash", "PASSWORD_HASH", lambda f, r, n: bcrypt()(f, r, n // 2) + argon2()(f, r, n - n // 2)),
        Col("display_name", "PERSON_NAME", fk("name")),
        Col("last_login_ip", "IP_ADDRESS", fk("ipv4_public")),
        Col("avatar_url", "URL", each(lambda f: f"https://cdn.example-app.io/avatars/{f.uuid4()}.png")),
        Col("timezone", "NONE", fk("timezone")),
        Col("locale", "NONE", choice(["en_GB", "en_US", "de_DE", "fr_FR", "sv_SE"])),
        Col("plan", "NONE", choice(["free", "team", "business", "enterprise"])),
        Col("email_verified_at", "NONE", timestamps(), TS, nulls=0.2),
        Col("mfa_enabled", "NONE", bools(0.3), BOOL),
        Col("created_at", "NONE", timestamps(), TSZ),
        Col("login_count", "NONE", ints(0, 3000), I64),
    ])
    audit = TableSpec("audit_log", 3000, [
        Col("event_id", "NONE", uuids()),
        Col("user_id", "NONE", ref(2000), I64),
        Col("action", "NONE", choice(["login", "logout", "export", "invite", "delete_project", "update_billing"])),
        Col("ip", "IP_ADDRESS", lambda f, r, n: [f.ipv4_public() if x < 0.8 else f.ipv6() for x in r.random(n)]),
        Col("user_agent", "NONE", fk("user_agent")),
        Col("resource", "NONE", pattern("projects/#####/files/######")),
        Col("ts", "NONE", timestamps(), TSZ),
        Col("request_id", "NONE", hexes(16)),
        Col("success", "NONE", bools(0.95), BOOL),
    ])
    releases = TableSpec("releases", 1000, [
        Col("id", "NONE", seq(1), I64),
        Col("version", "NONE", lambda f, r, n: [f"{a}.{b}.{c}" for a, b, c in r.integers(0, 30, (n, 3))]),
        Col("git_sha", "NONE", hexes(20)),
        Col("artifact_sha256", "NONE", hexes(32)),
        Col("file_name", "NONE", each(lambda f: f"app-{f.numerify('#.##.#')}-linux-amd64.tar.gz")),
        Col("size_bytes", "NONE", ints(1_000_000, 900_000_000), I64),
        Col("released_at", "NONE", timestamps(), TS),
        Col("changelog", "NONE", product_copy()),
    ])
    return SchemaSpec("saas", "parquet", ["en_GB"], [users, audit, releases], about="SaaS application")


def analytics() -> SchemaSpec:
    events = TableSpec("events", 3000, [
        Col("event_id", "NONE", seq(1), I64),
        Col("session_id", "NONE", hexes(16)),
        Col("anonymous_id", "NONE", uuids()),
        Col("event_name", "NONE", choice(["page_view", "add_to_cart", "checkout", "search", "signup"])),
        Col("page_url", "URL", each(lambda f: f"https://shop.example.com/{f.uri_path()}")),
        Col("referrer", "URL", fk("url"), nulls=0.4),
        Col("client_ip", "IP_ADDRESS", fk("ipv4_public")),
        Col("ua", "NONE", fk("user_agent")),
        Col("screen_w", "NONE", choice([1280, 1366, 1440, 1920, 390, 414]), I32),
        Col("screen_h", "NONE", choice([720, 768, 900, 1080, 844, 896]), I32),
        Col("lang", "NONE", choice(LANGS)),
        Col("geo_country", "COUNTRY", choice(COUNTRY_CODES)),
        Col("utm_campaign", "NONE", choice(["spring_sale", "newsletter_42", "brand", "retargeting"])),
        Col("duration_ms", "NONE", ints(10, 600000), I64),
        Col("ts", "NONE", timestamps(), TS),
    ])
    daily = TableSpec("daily_metrics", 1000, [
        Col("day", "NONE", dates(), DATE),
        Col("channel", "NONE", choice(["seo", "sea", "social", "email", "direct"])),
        Col("sessions", "NONE", ints(100, 90000), I64),
        Col("conversions", "NONE", ints(0, 900), I64),
        Col("revenue", "NONE", money(0, 90000), DEC),
        Col("bounce_rate", "NONE", floats(0, 1, 4), F64),
    ])
    return SchemaSpec("analytics", "parquet", ["en_US"], [events, daily], about="web analytics events")


def payments() -> SchemaSpec:
    pays = TableSpec("payments", 2500, [
        Col("payment_id", "NONE", pattern("pay_??????????????")),
        Col("order_ref", "NONE", pattern("ORD-{y}-{i}")),
        Col("amount", "NONE", floats(1, 5000)),
        Col("currency", "NONE", choice(CURRENCIES)),
        Col("card_number", "CREDIT_CARD", fk("credit_card_number")),
        Col("card_exp", "CARD_EXPIRY", fk("credit_card_expire")),
        Col("cardholder", "PERSON_NAME", each(name_of)),
        Col("card_brand", "NONE", choice(["visa", "mastercard", "amex"])),
        Col("last4", "NONE", pattern("####")),
        Col("billing_zip", "POSTCODE", fk("postcode")),
        Col("billingCountry", "COUNTRY", choice(COUNTRY_CODES)),
        Col("payer_ip", "IP_ADDRESS", fk("ipv4_public")),
        Col("status", "NONE", choice(["succeeded", "failed", "refunded"])),
        Col("authorized_at", "NONE", timestamps()),
        Col("risk_score", "NONE", ints(0, 100)),
    ])
    payouts = TableSpec("payouts", 1500, [
        Col("payout_id", "NONE", seq(1)),
        Col("beneficiary", "PERSON_NAME", each(name_of)),
        Col("iban", "IBAN", fk("iban")),
        Col("bic", "NONE", fk("swift8")),
        Col("amount_eur", "NONE", floats(10, 90000)),
        Col("reference", "NONE", pattern("PO-{i}-??")),
        Col("executed_on", "NONE", dates()),
        Col("batch", "NONE", ints(1, 60)),
    ])
    legacy = TableSpec("legacy_accounts", 2000, [
        Col("acct_id", "NONE", ids_with_phones(0.003)),
        Col("acct_no", "IBAN", fk("iban")),
        Col("holder", "PERSON_NAME", each(name_of)),
        Col("opened", "NONE", dates("2000-01-01", 8000)),
        Col("branch_code", "NONE", pattern("BR###")),
        Col("balance", "NONE", floats(-5000, 250000)),
        Col("overdraft_allowed", "NONE", choice(["Y", "N"])),
    ])
    return SchemaSpec("payments", "csv", ["nl_NL", "en_IE"], [pays, payouts, legacy], about="payments")


def support() -> SchemaSpec:
    tickets = TableSpec("tickets", 2000, [
        Col("ticket_id", "NONE", seq(50_000)),
        Col("ticket_no", "NONE", pattern("TCK-######")),
        Col("subject", "NONE", tickets_subjects()),
        Col("requester_email", "EMAIL", fk("email")),
        Col("requested_by", "PERSON_NAME", each(name_of)),
        Col("contact", "PHONE", fk("phone_number")),
        Col("priority", "NONE", choice(["low", "normal", "high", "urgent"])),
        Col("status", "NONE", choice(["open", "pending", "solved", "closed"])),
        Col("assignee_id", "NONE", ref(40)),
        Col("created", "NONE", timestamps()),
        Col("sla_breached", "NONE", choice(["true", "false"])),
        Col("internal_notes", "FREE_TEXT", notes(0.5)),
        Col("satisfaction", "NONE", ints(1, 6)),
        Col("tags", "NONE", choice(["billing", "shipping;refund", "login", "bug", "feature-request"])),
    ])
    messages = TableSpec("ticket_messages", 2500, [
        Col("msg_id", "NONE", seq(1)),
        Col("ticket_id", "NONE", ref(2000)),
        Col("author_type", "NONE", choice(["customer", "agent", "bot"])),
        Col("body", "FREE_TEXT", notes(0.7)),
        Col("channel", "NONE", choice(["email", "chat", "phone", "web"])),
        Col("sent_at", "NONE", timestamps()),
        Col("attachment_sha1", "NONE", hexes(20), nulls=0.7),
    ])
    agents = TableSpec("agents", 1000, [
        Col("agent_id", "NONE", seq(1)),
        Col("full_name", "PERSON_NAME", fk("name")),
        Col("login", "USERNAME", fk("user_name")),
        Col("work_email", "EMAIL", fk("company_email")),
        Col("team", "NONE", choice(["EMEA", "AMER", "APAC"])),
        Col("hired", "NONE", dates("2015-01-01", 3000)),
        Col("shift", "NONE", choice(["early", "late", "night"])),
    ])
    return SchemaSpec("support", "csv", ["en_US"], [tickets, messages, agents], about="support desk")


def inventory() -> SchemaSpec:
    stock = TableSpec("inventory", 2500, [
        Col("sku", "NONE", pattern("SKU-#####-{s}")),
        Col("warehouse", "NONE", choice(["FRA1", "AMS2", "MAD1", "MXP1"])),
        Col("bin_location", "NONE", pattern("A##-R#-S#")),
        Col("qty_on_hand", "NONE", ints(0, 5000), I64),
        Col("reorder_point", "NONE", ints(0, 300), I64),
        Col("unit_cost", "NONE", money(0.5, 300), DEC),
        Col("lot_number", "NONE", pattern("LOT{y}##??")),
        Col("expiry_date", "NONE", dates("2025-01-01", 900), DATE),
        Col("last_counted", "NONE", timestamps(), TS),
        Col("serial_no", "NONE", pattern("SN##########")),
        Col("gtin", "NONE", ean13()),
        Col("hazmat", "NONE", bools(0.05), BOOL),
    ])
    shipments = TableSpec("shipments", 2500, [
        Col("shipment_id", "NONE", seq(1), I64),
        Col("tracking_no", "NONE", pattern("############")),
        Col("carrier_code", "NONE", choice(["DHL", "UPS", "GLS", "DPD", "FEDEX"])),
        Col("origin_country", "NONE", choice(["CN", "DE", "PL", "VN"])),
        Col("container", "NONE", pattern("MSCU#######")),
        Col("weight_g", "NONE", ints(100, 90000), I64),
        Col("shipped_at", "NONE", timestamps(), TSZ),
        Col("eta", "NONE", dates(), DATE),
        Col("incoterm", "NONE", choice(["EXW", "FOB", "DAP", "DDP"])),
        Col("hs_code", "NONE", pattern("####.##.##")),
        Col("customs_value", "NONE", money(10, 90000), DEC),
    ])
    suppliers = TableSpec("suppliers", 1000, [
        Col("supplier_id", "NONE", seq(1), I64),
        Col("company_name", "NONE", fk("company")),
        Col("vat_number", "NONE", pattern("DE#########")),
        Col("duns", "NONE", pattern("#########")),
        Col("payment_terms_days", "NONE", choice([14, 30, 60, 90]), I32),
        Col("rating", "NONE", floats(1, 5, 1), F64),
        Col("website", "URL", each(lambda f: f"https://www.{f.domain_name()}")),
        Col("lead_time_days", "NONE", ints(1, 120), I64),
        Col("preferred", "NONE", bools(0.2), BOOL),
        Col("catalog_version", "NONE", lambda f, r, n: [f"v{a}.{b}" for a, b in r.integers(1, 20, (n, 2))]),
    ])
    return SchemaSpec("inventory", "parquet", ["en_US"], [stock, shipments, suppliers],
                      about="products, stock and shipments (look-alikes)")


def crm_nordic() -> SchemaSpec:
    kunder = TableSpec("kunder", 1500, [
        Col("kund_id", "NONE", seq(1)),
        Col("fornamn", "FIRST_NAME", fk("first_name")),
        Col("efternamn", "LAST_NAME", fk("last_name")),
        Col("personnummer", "NATIONAL_ID", fk("ssn")),
        Col("epost", "EMAIL", fk("email")),
        Col("mobil", "PHONE", fk("phone_number")),
        Col("adress", "STREET_ADDRESS", fk("street_address")),
        Col("postnummer", "POSTCODE", fk("postcode")),
        Col("ort", "CITY", fk("city")),
        Col("fodelsedatum", "DATE_OF_BIRTH", births()),
        Col("kundsegment", "NONE", choice(["privat", "foretag"])),
        Col("skapad", "NONE", timestamps()),
        Col("aktiv", "NONE", choice(["true", "false"])),
    ])
    ordrer = TableSpec("ordrer", 2000, [
        Col("ordre_nr", "NONE", pattern("DK-{y}-{i}")),
        Col("kunde_id", "NONE", ref(1500)),
        Col("navn", "PERSON_NAME", each(name_of)),
        Col("leveringsadresse", "STREET_ADDRESS", fk("street_address")),
        Col("postnr", "POSTCODE", fk("postcode")),
        Col("by", "CITY", fk("city")),
        Col("telefon", "PHONE", fk("phone_number")),
        Col("beloeb", "NONE", floats(50, 20000)),
        Col("valuta", "NONE", choice(["DKK", "SEK", "EUR"])),
        Col("oprettet", "NONE", timestamps()),
        Col("varenummer", "NONE", pattern("VN-######")),
    ])
    return SchemaSpec("crm_nordic", "csv", ["sv_SE", "da_DK"], [kunder, ordrer], held_out=True,
                      about="Swedish/Danish CRM (held out: locales not in veil's word lists)")


# -- issue 18: card data however stored, secrets, photos, quasi-identifiers, special categories ----------

def card_numbers(style: str) -> Gen:
    """Card numbers (Luhn-valid) as a spreadsheet exports them ("float": half '4.53202E+15', half
    '4532015112830366.0'), as integers ("int"), or in groups of four ("spaced")."""
    def one(f, r, i):
        n = f.credit_card_number(card_type=str(r.choice(["visa16", "mastercard", "discover"])))
        if style == "int":
            return int(n)
        if style == "spaced":
            return " ".join(n[j:j + 4] for j in range(0, len(n), 4))
        return f"{float(n):.5E}" if i % 2 else f"{float(n)!r}"
    return pooled(lambda f, r, n: [one(f, r, i) for i in range(n)])


_MAGIC = {"png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
          "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"}


def blobs(kind: str | None, lo: int = 200, hi: int = 600) -> Gen:
    """Binary values: a file of ``kind`` (its magic bytes, then noise), or noise alone (None)."""
    head = _MAGIC.get(kind, b"")
    return lambda f, r, n: [head + bytes(r.integers(0, 256, int(r.integers(lo, hi)), dtype=np.uint8))
                            for _ in range(n)]


SECURITY_QUESTIONS = ["What is your mother's maiden name?", "What was the name of your first pet?",
                      "What was the name of your first school?", "In which city were you born?"]
RELIGIONS = ["Christian", "Muslim", "Jewish", "Hindu", "Buddhist", "None", "Other"]
ETHNICITIES = ["White", "Black", "Asian", "Hispanic", "Mixed", "Other"]
PARTIES = ["Democratic", "Republican", "Green", "Libertarian", "Independent"]
ORIENTATIONS = ["heterosexual", "gay", "lesbian", "bisexual", "prefer not to say"]
MARITAL = ["single", "married", "divorced", "widowed", "civil partnership"]


def people_us() -> SchemaSpec:
    members = TableSpec("members", 2000, [
        Col("member_id", "NONE", seq(1)),
        Col("full_name", "PERSON_NAME", fk("name")),
        Col("email", "EMAIL", fk("email")),
        Col("gender", "GENDER", choice(["F", "M", "X"], [0.49, 0.49, 0.02])),
        Col("age", "AGE", ints(18, 90)),
        Col("birth_year", "BIRTH_YEAR", ints(1935, 2007)),
        Col("zip", "POSTCODE", fk("zipcode")),
        Col("city", "CITY", fk("city")),
        Col("state", "REGION", fk("state_abbr")),
        Col("nationality", "COUNTRY", choice(["American", "Canadian", "Mexican", "British", "German"])),
        Col("occupation", "OCCUPATION", fk("job")),
        Col("employer", "EMPLOYER", fk("company")),
        Col("marital_status", "MARITAL_STATUS", choice(MARITAL)),
        Col("annual_salary", "SALARY", floats(18000, 180000)),
        Col("religion", "SPECIAL_CATEGORY", choice(RELIGIONS)),
        Col("ethnicity", "SPECIAL_CATEGORY", choice(ETHNICITIES)),
        Col("union_member", "SPECIAL_CATEGORY", choice(["true", "false"], [0.2, 0.8])),
        Col("political_party", "SPECIAL_CATEGORY", choice(PARTIES)),
        Col("sexual_orientation", "SPECIAL_CATEGORY", choice(ORIENTATIONS)),
        Col("security_question", "SECURITY_ANSWER", choice(SECURITY_QUESTIONS)),
        Col("security_answer", "SECURITY_ANSWER", fk("last_name")),
        Col("mothers_maiden_name", "SECURITY_ANSWER", fk("last_name")),
        Col("gender_neutral_pricing", "NONE", choice(["true", "false"])),
        Col("photo_count", "NONE", ints(0, 40)),
        Col("company_id", "NONE", ints(1, 500)),
        Col("loyalty_tier", "NONE", choice(["bronze", "silver", "gold"])),
        Col("member_since", "NONE", dates("2010-01-01", 5000)),
    ])
    cards = TableSpec("cards", 1500, [
        Col("card_id", "NONE", seq(1)),
        Col("member_id", "NONE", ref(2000)),
        Col("cc_number", "CREDIT_CARD", card_numbers("float")),
        Col("card_no", "CREDIT_CARD", card_numbers("int")),
        Col("kreditkarte", "CREDIT_CARD", card_numbers("spaced")),
        Col("cvv2", "CARD_CVV", fk("credit_card_security_code")),
        Col("card_expiry", "CARD_EXPIRY", fk("credit_card_expire")),
        Col("exp_year", "CARD_EXPIRY", ints(2025, 2033)),
        Col("card_type", "NONE", choice(["visa", "mastercard", "discover"])),
        Col("amount", "NONE", floats(1, 900)),
        Col("issued_on", "NONE", dates("2019-01-01", 2000)),
    ])
    return SchemaSpec("people_us", "csv", ["en_US"], [members, cards],
                      about="people and cards: quasi-identifiers, special categories, card data however stored")


def media_health() -> SchemaSpec:
    staff = TableSpec("staff", 1000, [
        Col("staff_id", "NONE", seq(1), I64),
        Col("full_name", "PERSON_NAME", fk("name")),
        Col("email", "EMAIL", fk("company_email")),
        Col("picture", "BINARY_PERSONAL", blobs("png"), pa.binary()),
        Col("signature_scan", "BINARY_PERSONAL", blobs("pdf"), pa.binary()),
        Col("avatar", "BINARY_PERSONAL", blobs("jpeg"), pa.binary(), nulls=0.3),
        Col("fingerprint_template", "BIOMETRIC", blobs(None, 64, 128), pa.binary()),
        Col("photo_count", "NONE", ints(0, 30), I32),
        Col("job_title", "OCCUPATION", fk("job")),
        Col("hired", "NONE", dates("2012-01-01", 4000), DATE),
    ])
    products = TableSpec("product_media", 1000, [
        Col("product_id", "NONE", seq(1), I64),
        Col("product_image", "NONE", blobs("png"), pa.binary()),
        Col("manual_pdf", "NONE", blobs("pdf"), pa.binary()),
        Col("device_fingerprint", "NONE", hexes(20)),
        Col("screen_orientation", "NONE", choice(["portrait", "landscape"])),
        Col("company_id", "NONE", ints(1, 300), I64),
        Col("state", "NONE", choice(["draft", "published", "archived"])),
        Col("company", "NONE", fk("company")),
    ])
    patients = TableSpec("patients", 1500, [
        Col("patient_id", "NONE", seq(1), I64),
        Col("first_name", "FIRST_NAME", fk("first_name")),
        Col("last_name", "LAST_NAME", fk("last_name")),
        Col("date_of_birth", "DATE_OF_BIRTH", births(0, 95), DATE),
        Col("age", "AGE", ints(0, 95), I32),
        Col("sex", "GENDER", choice(["female", "male"])),
        Col("zip_code", "POSTCODE", fk("zipcode")),
        Col("diagnosis", "SPECIAL_CATEGORY", pattern("?##.#")),
        Col("blood_type", "SPECIAL_CATEGORY", choice(["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"])),
        Col("allergies", "SPECIAL_CATEGORY", choice(["none", "penicillin", "peanuts", "latex", "pollen"])),
        Col("religion", "SPECIAL_CATEGORY", choice(RELIGIONS)),
        Col("weight_kg", "NONE", floats(3, 150, 1), F64),
        Col("visit_count", "NONE", ints(1, 40), I32),
    ])
    return SchemaSpec("media_health", "parquet", ["en_US"], [staff, products, patients],
                      about="photos and scans as bytes, biometrics, a clinic's special categories")


SCHEMAS: list[Callable[[], SchemaSpec]] = [shop_en, hr_de, crm_fr, clinic_es_it, saas, analytics, payments,
                                           support, inventory, crm_nordic, people_us, media_health]
# Tables whose Faker locale is not their schema's first one.
_TABLE_LOCALE = {("crm_nordic", "kunder"): "sv_SE", ("crm_nordic", "ordrer"): "da_DK",
                 ("clinic_es_it", "pacientes"): "es_ES", ("clinic_es_it", "citas"): "es_ES",
                 ("clinic_es_it", "pazienti"): "it_IT", ("payments", "legacy_accounts"): "en_IE"}


# Columns built to look personal that are not (the issue names them): each must scan as NONE.
LOOKALIKES: list[tuple[str, str, str]] = [
    ("shop_en", "orders", "order_number"), ("shop_en", "orders", "tracking_number"), ("shop_en", "orders", "order_id"),
    ("shop_en", "order_items", "sku"), ("shop_en", "order_items", "ean"), ("shop_en", "order_items", "unit_price"),
    ("shop_en", "products", "product_code"), ("shop_en", "products", "barcode"), ("shop_en", "products", "price"),
    ("shop_en", "products", "created_at"), ("shop_en", "customers", "signup_ts"),
    ("hr_de", "standorte", "Standortcode"), ("hr_de", "mitarbeiter", "Personalnummer"),
    ("crm_fr", "factures", "numero_facture"), ("crm_fr", "factures", "siret_fournisseur"),
    ("clinic_es_it", "pazienti", "numero_tessera"),
    ("saas", "users", "uuid"), ("saas", "releases", "version"), ("saas", "releases", "git_sha"),
    ("saas", "releases", "artifact_sha256"), ("saas", "audit_log", "request_id"), ("saas", "releases", "size_bytes"),
    ("analytics", "events", "session_id"), ("payments", "payments", "payment_id"),
    ("payments", "payments", "order_ref"),
    ("payments", "payments", "last4"), ("payments", "legacy_accounts", "acct_id"),
    ("support", "tickets", "ticket_no"), ("support", "ticket_messages", "attachment_sha1"),
    ("inventory", "inventory", "sku"), ("inventory", "inventory", "lot_number"),
    ("inventory", "inventory", "serial_no"),
    ("inventory", "inventory", "gtin"), ("inventory", "shipments", "tracking_no"),
    ("inventory", "shipments", "container"), ("inventory", "shipments", "hs_code"), ("inventory", "suppliers", "duns"),
    ("inventory", "suppliers", "vat_number"), ("inventory", "suppliers", "catalog_version"),
    ("crm_nordic", "ordrer", "varenummer"), ("crm_nordic", "ordrer", "ordre_nr"),
    # issue 18: named like the new entities, or holding image bytes, and not personal
    ("people_us", "members", "gender_neutral_pricing"), ("people_us", "members", "photo_count"),
    ("people_us", "members", "company_id"), ("people_us", "cards", "card_type"),
    ("media_health", "staff", "photo_count"), ("media_health", "product_media", "product_image"),
    ("media_health", "product_media", "manual_pdf"), ("media_health", "product_media", "device_fingerprint"),
    ("media_health", "product_media", "screen_orientation"), ("media_health", "product_media", "state"),
    ("media_health", "product_media", "company"),
]
# The entities issue 18 added: their recall is reported apart.
NEW_ENTITIES = {"CARD_CVV", "CARD_EXPIRY", "SECURITY_ANSWER", "BINARY_PERSONAL", "BIOMETRIC", "AGE", "BIRTH_YEAR",
                "GENDER", "REGION", "OCCUPATION", "EMPLOYER", "MARITAL_STATUS", "SALARY", "SPECIAL_CATEGORY"}
# An integer id column where 0.3% of the values read as phone numbers.
PHONE_LIKE_IDS = ("payments", "legacy_accounts", "acct_id")


def specs() -> list[SchemaSpec]:
    return [s() for s in SCHEMAS]


def _seed(*parts: str) -> int:
    return zlib.crc32("/".join(parts).encode())


def build_table(schema: SchemaSpec, table: TableSpec) -> pa.Table:
    locale = _TABLE_LOCALE.get((schema.name, table.name), schema.locales[0])
    arrays, fields = [], []
    for col in table.cols:
        fake = Faker(locale)
        fake.seed_instance(_seed(schema.name, table.name, col.name))
        rng = np.random.default_rng(_seed("rng", schema.name, table.name, col.name))
        values = col.gen(fake, rng, table.rows)
        if col.nulls:
            values = [None if x < col.nulls else v for v, x in zip(values, rng.random(table.rows), strict=True)]
        first = next((v for v in values if v is not None), None)
        # CSV schemas give plain Python values: the type follows from them
        array = pa.array(values, type=None if col.type == STR and not isinstance(first, str) else col.type)
        arrays.append(array)
        fields.append(pa.field(col.name, array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_schema(schema: SchemaSpec, root: Path) -> Path:
    out = root / schema.name
    out.mkdir(parents=True, exist_ok=True)
    for table in schema.tables:
        data = build_table(schema, table)
        if schema.fmt == "parquet":
            pq.write_table(data, out / f"{table.name}.parquet", row_group_size=1000)
        else:
            pacsv.write_csv(data, out / f"{table.name}.csv")
    return out


def write_all(root: Path) -> dict[str, tuple[SchemaSpec, Path]]:
    return {s.name: (s, write_schema(s, root)) for s in specs()}


# -- scoring -----------------------------------------------------------------------

@dataclass
class Row:
    schema: str
    table: str
    column: str
    truth: str
    predicted: str
    confidence: float
    held_out: bool

    @property
    def truth_cls(self) -> str:
        from veil.detect.entities import entity_class
        return entity_class(self.truth)

    @property
    def pred_cls(self) -> str:
        from veil.detect.entities import entity_class
        return entity_class(self.predicted)


@dataclass
class Metrics:
    columns: int
    direct: int
    recall_direct_class: float  # truly direct columns predicted with class "direct"
    recall_direct_entity: float  # truly direct columns predicted with exactly their entity
    recall_personal_class: float  # truly personal (direct or quasi) columns predicted personal
    precision_personal: float  # columns predicted personal (class != none) that are personal
    entity_accuracy: float  # all columns: predicted entity == true entity
    class_accuracy: float
    quasi: int = 0
    sensitive: int = 0
    new: int = 0
    recall_quasi_class: float = 1.0  # truly quasi columns predicted quasi
    recall_sensitive_class: float = 1.0  # special categories predicted sensitive
    recall_new_entity: float = 1.0  # columns of issue 18's entities predicted with exactly their entity
    recall_new_personal: float = 1.0  # the same columns predicted personal (any class but none)


def metrics(rows: list[Row]) -> Metrics:
    direct = [r for r in rows if r.truth_cls == "direct"]
    personal = [r for r in rows if r.truth_cls != "none"]
    predicted = [r for r in rows if r.pred_cls != "none"]
    quasi = [r for r in rows if r.truth_cls == "quasi"]
    sensitive = [r for r in rows if r.truth_cls == "sensitive"]
    new = [r for r in rows if r.truth in NEW_ENTITIES]

    def share(part: int, whole: int) -> float:
        return part / whole if whole else 1.0

    return Metrics(
        columns=len(rows), direct=len(direct),
        recall_direct_class=share(sum(r.pred_cls == "direct" for r in direct), len(direct)),
        recall_direct_entity=share(sum(r.predicted == r.truth for r in direct), len(direct)),
        recall_personal_class=share(sum(r.pred_cls != "none" for r in personal), len(personal)),
        precision_personal=share(sum(r.truth_cls != "none" for r in predicted), len(predicted)),
        entity_accuracy=share(sum(r.predicted == r.truth for r in rows), len(rows)),
        class_accuracy=share(sum(r.pred_cls == r.truth_cls for r in rows), len(rows)),
        quasi=len(quasi), sensitive=len(sensitive), new=len(new),
        recall_quasi_class=share(sum(r.pred_cls == "quasi" for r in quasi), len(quasi)),
        recall_sensitive_class=share(sum(r.pred_cls == "sensitive" for r in sensitive), len(sensitive)),
        recall_new_entity=share(sum(r.predicted == r.truth for r in new), len(new)),
        recall_new_personal=share(sum(r.pred_cls != "none" for r in new), len(new)),
    )


def scan_rows(schema: SchemaSpec, path: Path, **scan_kwargs) -> list[Row]:
    from veil.detect.scan import scan_dataset
    from veil.formats import open_dataset

    result = scan_dataset(open_dataset(path), **scan_kwargs)
    labels = schema.labels
    found = {(f.table, f.column): f for f in result.findings}
    missing = set(labels) - set(found)
    if missing:
        raise AssertionError(f"scan returned no finding for {sorted(missing)}")
    return [Row(schema.name, t, c, truth, found[(t, c)].entity, found[(t, c)].confidence, schema.held_out)
            for (t, c), truth in labels.items()]


def report(rows: list[Row], seconds: float | None = None) -> str:
    """Figures and the confusion list: column names and labels only, never values."""
    lines = []

    def fmt(m: Metrics) -> str:
        return (f"columns={m.columns:3d} direct={m.direct:3d} recall_direct(class)={m.recall_direct_class:.3f} "
                f"recall_direct(entity)={m.recall_direct_entity:.3f} recall_personal={m.recall_personal_class:.3f} "
                f"precision={m.precision_personal:.3f} entity_acc={m.entity_accuracy:.3f}")

    m = metrics(rows)
    lines.append(f"ALL            {fmt(m)}")
    lines.append(f"               quasi={m.quasi} recall_quasi(class)={m.recall_quasi_class:.3f} "
                 f"sensitive={m.sensitive} recall_sensitive(class)={m.recall_sensitive_class:.3f} "
                 f"issue-18 entities={m.new} recall(entity)={m.recall_new_entity:.3f} "
                 f"recall(personal)={m.recall_new_personal:.3f} class_acc={m.class_accuracy:.3f}")
    for schema in dict.fromkeys(r.schema for r in rows):
        part = [r for r in rows if r.schema == schema]
        tag = " (held out)" if part[0].held_out else ""
        lines.append(f"{schema:14s} {fmt(metrics(part))}{tag}")
    seen = [r for r in rows if not r.held_out]
    if len(seen) != len(rows):
        lines.append(f"{'not held out':14s} {fmt(metrics(seen))}")
    if seconds is not None:
        lines.append(f"scan time: {seconds:.1f} s")
    wrong = [r for r in rows if r.predicted != r.truth]
    lines.append(f"mismatches ({len(wrong)}): table.column  truth -> predicted (confidence)  [class]")
    for r in wrong:
        same = "same class" if r.truth_cls == r.pred_cls else f"{r.truth_cls} -> {r.pred_cls}"
        lines.append(f"  {r.schema}/{r.table}.{r.column}  {r.truth} -> {r.predicted} ({r.confidence:.2f})  [{same}]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--report", action="store_true", help="scan every schema and print the figures")
    ap.add_argument("--out", type=Path, help="write the data here (default: a temporary directory)")
    ap.add_argument("--sample", type=int, help="distinct values per column (scan default if omitted)")
    ap.add_argument("--no-ner", action="store_true")
    args = ap.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        t0 = time.perf_counter()
        written = write_all(root)
        gen_s = time.perf_counter() - t0
        n_tables = sum(len(s.tables) for s, _ in written.values())
        n_cols = sum(len(s.labels) for s, _ in written.values())
        print(f"{len(written)} schemas, {n_tables} tables, {n_cols} labelled columns in {root} ({gen_s:.1f} s)")
        if not args.report:
            return 0
        kwargs = {"use_ner": not args.no_ner}
        if args.sample:
            kwargs["sample"] = args.sample
        rows: list[Row] = []
        t0 = time.perf_counter()
        for spec, path in written.values():
            rows.extend(scan_rows(spec, path, **kwargs))
        print(report(rows, time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
