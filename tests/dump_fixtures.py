"""Helpers for the SQL dump round-trip tests: scratch PostgreSQL databases, a
schema full of awkward data, pg_dump/psql wrappers, and an independent reader
of pg_dump's plain output (COPY blocks and INSERT statements) to compare an
input dump with veil's output field by field.

The PostgreSQL connection follows tests/vault_fixtures.py: VEIL_PG_HOST,
VEIL_PG_PORT, VEIL_PG_USER, VEIL_PG_PASSWORD, VEIL_PG_DB; the tests are skipped
when the server is unreachable, and fail instead when VEIL_REQUIRE_DB=1.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from .vault_fixtures import PG_ADMIN_DB, PG_HOST, PG_PASSWORD, PG_PORT, PG_USER, _pg_dsn, _pg_unavailable

# -- scratch databases --------------------------------------------------------------------


def pg_env() -> dict[str, str]:
    """Environment for pg_dump / psql / pg_restore pointing at the test server."""
    env = dict(os.environ)
    env.update(PGHOST=PG_HOST, PGPORT=PG_PORT, PGUSER=PG_USER, PGCONNECT_TIMEOUT="5")
    if PG_PASSWORD:
        env["PGPASSWORD"] = PG_PASSWORD
    return env


class PgServer:
    """Creates databases named veil_src_<hex> / veil_dst_<hex> and drops them all at the end."""

    def __init__(self) -> None:
        import psycopg

        self.psycopg = psycopg
        self.created: list[str] = []

    def admin(self):
        return self.psycopg.connect(_pg_dsn(PG_ADMIN_DB), autocommit=True, connect_timeout=5)

    def create(self, prefix: str) -> str:
        name = f"{prefix}_{secrets.token_hex(6)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        self.created.append(name)
        return name

    def connect(self, name: str):
        return self.psycopg.connect(_pg_dsn(name), autocommit=True, connect_timeout=5)

    def drop_all(self) -> None:
        with self.admin() as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


@pytest.fixture(scope="session")
def pg_tools() -> dict[str, str]:
    tools = {t: shutil.which(t) for t in ("pg_dump", "pg_restore", "psql")}
    missing = [t for t, p in tools.items() if p is None]
    if missing:
        _pg_unavailable(f"{', '.join(missing)} not on PATH")
    return tools  # type: ignore[return-value]


@pytest.fixture
def pg(pg_tools) -> PgServer:
    """A handle on the PostgreSQL server; every database it creates is dropped afterwards."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is installed in CI
        _pg_unavailable(f"psycopg is not installed ({exc})")
    try:
        psycopg.connect(_pg_dsn(PG_ADMIN_DB), autocommit=True, connect_timeout=5).close()
    except psycopg.Error as exc:
        _pg_unavailable(f"{type(exc).__name__}: {str(exc).strip()}")
    server = PgServer()
    try:
        yield server
    finally:
        server.drop_all()


def pg_dump(db: str, out: Path, *flags: str, gzip_it: bool = False) -> Path:
    """Run the real pg_dump; with gzip_it, pipe it through gzip into a .sql.gz."""
    if gzip_it:
        dump = subprocess.run(["pg_dump", "--no-owner", *flags, db], capture_output=True, env=pg_env(),
                              check=False, timeout=60)
        assert dump.returncode == 0, dump.stderr.decode(errors="replace")
        gz = subprocess.run(["gzip", "-c"], input=dump.stdout, capture_output=True, check=True, timeout=60)
        out.write_bytes(gz.stdout)
        return out
    res = subprocess.run(["pg_dump", "--no-owner", *flags, "-f", str(out), db], capture_output=True, env=pg_env(),
                         check=False, timeout=60)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    return out


def pg_restore_text(archive: Path) -> bytes:
    """The plain SQL a custom-format archive stands for."""
    res = subprocess.run(["pg_restore", "--file=-", str(archive)], capture_output=True, check=False, timeout=60)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    return res.stdout


def psql_file(db: str, path: Path) -> subprocess.CompletedProcess:
    """Restore a plain SQL file with psql, stopping at the first error."""
    return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", str(path)],
                          capture_output=True, text=True, env=pg_env(), check=False, timeout=60)


def psql_bytes(db: str, sql: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db], input=sql,
                          capture_output=True, env=pg_env(), check=False, timeout=60)


# -- the source schema and its data ----------------------------------------------------------

SCHEMA = r"""
CREATE TABLE customers (
    customer_id integer PRIMARY KEY,
    email text NOT NULL UNIQUE,
    full_name text NOT NULL,
    birth_date date,
    signup_at timestamp without time zone,
    notes text,
    balance numeric(14,2) NOT NULL DEFAULT 0 CHECK (balance >= 0),
    tags text[],
    prefs jsonb,
    avatar bytea
);

CREATE TABLE accounts (
    customer_id integer NOT NULL REFERENCES customers (customer_id),
    account_no integer NOT NULL CHECK (account_no > 0),
    opened_on date NOT NULL,
    label text,
    PRIMARY KEY (customer_id, account_no)
);

CREATE TABLE transfers (
    transfer_id integer PRIMARY KEY,
    customer_id integer NOT NULL,
    account_no integer NOT NULL,
    amount numeric(14,4) NOT NULL CHECK (amount <> 0),
    memo text,
    CONSTRAINT transfers_account_fkey FOREIGN KEY (customer_id, account_no)
        REFERENCES accounts (customer_id, account_no)
);

CREATE TABLE orders (
    order_id integer NOT NULL,
    customer_id integer NOT NULL REFERENCES customers (customer_id),
    customer_email text NOT NULL REFERENCES customers (email),
    placed_at timestamp without time zone NOT NULL,
    total numeric(10,2) NOT NULL CHECK (total >= 0),
    PRIMARY KEY (order_id)
) PARTITION BY RANGE (order_id);
CREATE TABLE orders_low PARTITION OF orders FOR VALUES FROM (0) TO (100);
CREATE TABLE orders_high PARTITION OF orders FOR VALUES FROM (100) TO (MAXVALUE);

CREATE TABLE "Kunden" (
    "Kunden-Nr" integer PRIMARY KEY REFERENCES customers (customer_id),
    "E-Mail" text NOT NULL UNIQUE,
    "Straße" text,
    "Ort" text NOT NULL
);

CREATE TABLE product_catalog (
    id serial PRIMARY KEY,
    sku text NOT NULL UNIQUE,
    title text NOT NULL,
    description text,
    price numeric(12,4) CHECK (price > 0),
    tags text[],
    attrs jsonb,
    image bytea,
    released date,
    updated_at timestamp without time zone,
    in_stock boolean
);

CREATE TABLE newsletter (
    email text PRIMARY KEY,
    subscribed_at timestamp without time zone NOT NULL
);
"""

# Every personal value carries a marker "pii" + two digits; neither the
# pseudonyms (lower-case base32: no 0, 1, 8, 9) nor the fakes can contain one.
PII_MARKER = re.compile(rb"pii[0-9][0-9]")

CUSTOMERS = [
    # customer_id, email, full_name, birth_date, signup_at, notes, balance, tags, prefs, avatar
    (1, "zoe.pii01@example.org", "Zoë Ångström pii02", date(1985, 3, 14), datetime(2021, 6, 1, 8, 15),
     "Call Zoë about\tthe\nrefund pii03", Decimal("12.50"), ["vip", "tab\there"],
     '{"lang": "de", "quote": "it\'s"}', b"\x00\x01\xff"),
    (2, "o'brien.pii04@example.com", "Seán O'Brien pii05", date(1990, 11, 2), datetime(2022, 1, 15, 23, 59, 59),
     "back\\slash \\N is not null pii06\r\nCRLF inside", Decimal("0"), [], "{}", b""),
    (3, "李.pii07@例子.公司", "李小龙 pii08", None, None, "", Decimal("1000000.99"), None, None, None),
    (4, "tab.pii09@example.net", "Tab\tName pii10", date(2000, 2, 29), datetime(2020, 2, 29, 12, 0),
     None, Decimal("3.14"), ["a,b", 'c"d', "{x}", "NULL", None], '{"nested": {"arr": [1, 2, "\\u00e9"]}}', b"\\"),
    (5, "quote.pii11@example.com", "Back\\slash pii12", date(1970, 7, 1), datetime(1999, 12, 31, 23, 59, 59),
     "It's \"quoted\"; DROP TABLE x; -- pii13", Decimal("7"), ["ü"], '"just a string"', b"\x1f\x8b"),
    (6, "cr.pii14@example.com", "Carriage\rReturn pii15", date(1961, 12, 24), datetime(2023, 3, 26, 2, 30),
     "multi\nline\nnote pii16\n\\.\nafter a fake terminator", Decimal("99999.99"), None, "[]", b"PGDMP"),
    (7, "plain.pii17@example.com", "Plain Person pii18", date(1999, 6, 30), datetime(2024, 12, 31, 0, 0, 1),
     "\\.", Decimal("0.01"), ["{}"], "null", None),
    (2147483000, "big.pii19@example.com", "Big Id pii20", date(1955, 5, 5), datetime(2010, 10, 10, 10, 10, 10),
     "COPY public.customers FROM stdin; pii21", Decimal("5"), None, None, b"\n\t\r"),
]

ACCOUNTS = [
    # customer_id, account_no, opened_on, label
    (1, 1, date(2021, 6, 2), "main"),
    (1, 2, date(2021, 7, 1), "savings\ttab"),
    (2, 1, date(2022, 1, 16), "Zoë's shared"),
    (3, 1, date(2019, 1, 1), None),
    (4, 1, date(2020, 3, 1), ""),
    (4, 2, date(2020, 3, 2), "back\\slash"),
    (4, 3, date(2020, 3, 3), "new\nline"),
    (5, 1, date(2000, 1, 1), "李"),
    (7, 1, date(2025, 1, 1), "x"),
    (2147483000, 1, date(2010, 10, 11), "big"),
]

TRANSFERS = [
    # transfer_id, customer_id, account_no, amount, memo
    (1, 1, 1, Decimal("10.5"), "rent\nMay"),
    (2, 1, 2, Decimal("-3.25"), "\\"),
    (3, 2, 1, Decimal("100"), None),
    (4, 3, 1, Decimal("0.0001"), ""),
    (5, 4, 1, Decimal("1"), "李 → Zoë"),
    (6, 4, 2, Decimal("2"), "tab\there"),
    (7, 4, 3, Decimal("3"), "cr\rhere"),
    (8, 5, 1, Decimal("4"), "'quoted'"),
    (9, 7, 1, Decimal("5"), "\\N"),
    (10, 2147483000, 1, Decimal("6"), "big"),
    (11, 1, 1, Decimal("7"), "again"),
]

ORDERS = [
    # order_id, customer_id, customer_email, placed_at, total
    (1, 1, "zoe.pii01@example.org", datetime(2021, 6, 3, 9, 0), Decimal("19.99")),
    (2, 2, "o'brien.pii04@example.com", datetime(2022, 2, 1, 10, 30), Decimal("0")),
    (3, 3, "李.pii07@例子.公司", datetime(2019, 5, 5, 5, 5, 5), Decimal("5.50")),
    (50, 1, "zoe.pii01@example.org", datetime(2021, 7, 1, 12, 0), Decimal("1.00")),
    (99, 4, "tab.pii09@example.net", datetime(2020, 3, 1, 0, 0), Decimal("2.00")),
    (100, 5, "quote.pii11@example.com", datetime(2000, 1, 2, 3, 4, 5), Decimal("3.00")),
    (101, 6, "cr.pii14@example.com", datetime(2023, 4, 1, 8, 0), Decimal("4.00")),
    (150, 7, "plain.pii17@example.com", datetime(2025, 1, 2, 3, 4), Decimal("5.00")),
    (500, 2147483000, "big.pii19@example.com", datetime(2011, 1, 1, 1, 1, 1), Decimal("6.00")),
    (501, 1, "zoe.pii01@example.org", datetime(2021, 8, 1, 0, 0), Decimal("7.00")),
]

KUNDEN = [
    # Kunden-Nr, E-Mail, Straße, Ort
    (1, "zoe.pii01@example.org", "Hauptstraße 1 pii30", "München"),
    (2, "o'brien.pii04@example.com", "O'Connell St\t2 pii31", "Dublin"),
    (3, "李.pii07@例子.公司", "长安街 3 pii32", "北京"),
    (5, "quote.pii11@example.com", None, "Köln"),
    (6, "cr.pii14@example.com", "Line\nBreak 5 pii33", "Zürich"),
]

PRODUCTS = [
    # sku, title, description, price, tags, attrs, image, released, updated_at, in_stock
    ("SKU-1", "Teapot", "Holds\ttea\nand \\ backslashes", Decimal("19.9900"), ["kitchen", "tea"],
     '{"colour": "blue", "size": {"cm": 20}}', b"\x89PNG\r\n\x1a\n", date(2020, 1, 1),
     datetime(2024, 5, 6, 7, 8, 9, 123456), True),
    ("SKU-2", "Crème brûlée torch", "", Decimal("0.0001"), [], "{}", b"", date(1999, 12, 31),
     datetime(1999, 12, 31, 23, 59, 59), False),
    ("SKU-3", "筷子", None, None, None, None, None, None, None, None),
    ("SKU-4", "It's a \"quote\"", "carriage\rreturn and \\N literal", Decimal("12345678.1234"),
     ["with space", "a,b", 'q"d', "NULL", None], '{"a": [1, "\\t", null]}', b"\\\x00", date(2024, 2, 29),
     datetime(2024, 2, 29, 0, 0, 0, 1), True),
    ("SKU-5", "Semi;colon -- not a comment /* nor this */", "$$dollar$$ 'quotes'", Decimal("1"), ["ü"],
     '"str"', b"\xff" * 5, date(2000, 6, 15), datetime(2000, 6, 15, 12, 0), None),
    ("SKU-6", "\\.", "\\.\n\\.", Decimal("2"), ["{}"], "[]", b"\\.", date(2001, 1, 2), datetime(2001, 1, 2), True),
]

# the emails, names, free texts and streets (values such as "" or "\\." identify nobody)
PERSONAL_VALUES = sorted(v for v in (
    {c[1] for c in CUSTOMERS} | {c[2] for c in CUSTOMERS} | {c[5] for c in CUSTOMERS if c[5]}
    | {k[1] for k in KUNDEN} | {k[2] for k in KUNDEN if k[2]} | {o[2] for o in ORDERS}
) if PII_MARKER.search(v.encode()))
assert len(PERSONAL_VALUES) == 25

# rows per table as PostgreSQL stores them (leaf partitions counted on their own)
ROW_COUNTS = {
    "customers": len(CUSTOMERS), "accounts": len(ACCOUNTS), "transfers": len(TRANSFERS),
    "orders": len(ORDERS), "orders_low": sum(1 for o in ORDERS if o[0] < 100),
    "orders_high": sum(1 for o in ORDERS if o[0] >= 100), "Kunden": len(KUNDEN), "product_catalog": len(PRODUCTS),
    "newsletter": 0,
}

PROFILE = """\
version: 1
defaults:
  unknown_columns: fail
tables:
  {customers}:
    columns:
      customer_id: {{op: pseudonymize, format: int, domain: customer_id}}
      email: {{op: pseudonymize, format: email, domain: email}}
      full_name: {{op: fake, kind: name}}
      birth_date: {{op: generalize, to: year}}
      signup_at: {{op: date_shift, subject: customer_id, max_days: 30, domain: customer_shift}}
      notes: redact
      balance: keep
      tags: keep
      prefs: keep
      avatar: keep
  accounts:
    columns:
      account_no: keep
      opened_on: keep
      label: keep
  transfers:
    columns:
      transfer_id: keep
      amount: keep
      memo: keep
  orders:
    columns:
      order_id: keep
      placed_at: {{op: date_shift, subject: customer_id, max_days: 30, domain: customer_shift}}
      total: keep
  {kunden}:
    columns:
      "E-Mail": {{op: pseudonymize, format: email, domain: email}}
      "Straße": {{op: fake, kind: street_address}}
      "Ort": keep
  product_catalog:
    unknown_columns: keep
  newsletter:
    columns:
      email: {{op: pseudonymize, format: email, domain: email}}
      subscribed_at: {{op: generalize, to: month}}
"""

# Foreign keys and primary keys a data-only dump cannot tell veil (it has no DDL).
DATA_ONLY_KEYS = {
    "customers": "    primary_key: [customer_id]\n    unique: [[email]]\n",
    "accounts": "    primary_key: [customer_id, account_no]\n    foreign_keys:\n"
                "      - {columns: [customer_id], references: {table: customers, columns: [customer_id]}}\n",
    "transfers": "    primary_key: [transfer_id]\n    foreign_keys:\n"
                 "      - {columns: [customer_id, account_no],"
                 " references: {table: accounts, columns: [customer_id, account_no]}}\n",
    "orders": "    primary_key: [order_id]\n    foreign_keys:\n"
              "      - {columns: [customer_id], references: {table: customers, columns: [customer_id]}}\n"
              "      - {columns: [customer_email], references: {table: customers, columns: [email]}}\n",
    "Kunden": "    primary_key: [Kunden-Nr]\n    foreign_keys:\n"
              "      - {columns: [Kunden-Nr], references: {table: customers, columns: [customer_id]}}\n",
}

# columns each table's rows change in (by table as the dump names its data, leaf partitions included)
TRANSFORMED = {
    "customers": {"customer_id", "email", "full_name", "birth_date", "signup_at", "notes"},
    "accounts": {"customer_id"},
    "transfers": {"customer_id"},
    "orders": {"customer_id", "customer_email", "placed_at"},
    "orders_low": {"customer_id", "customer_email", "placed_at"},
    "orders_high": {"customer_id", "customer_email", "placed_at"},
    "Kunden": {"Kunden-Nr", "E-Mail", "Straße"},
    "product_catalog": set(),
    "newsletter": {"email", "subscribed_at"},
}

TABLE_COLUMNS = {
    "customers": ["customer_id", "email", "full_name", "birth_date", "signup_at", "notes", "balance", "tags",
                  "prefs", "avatar"],
    "accounts": ["customer_id", "account_no", "opened_on", "label"],
    "transfers": ["transfer_id", "customer_id", "account_no", "amount", "memo"],
    "orders_low": ["order_id", "customer_id", "customer_email", "placed_at", "total"],
    "orders_high": ["order_id", "customer_id", "customer_email", "placed_at", "total"],
    "Kunden": ["Kunden-Nr", "E-Mail", "Straße", "Ort"],
    "product_catalog": ["id", "sku", "title", "description", "price", "tags", "attrs", "image", "released",
                        "updated_at", "in_stock"],
    "newsletter": ["email", "subscribed_at"],
}


def profile_text(customers_name: str = "customers", kunden_name: str = "Kunden", data_only: bool = False) -> str:
    """The profile; for a data-only dump it also declares the keys (no DDL), and the leaf
    partitions are tables of their own (no ATTACH PARTITION either)."""
    text = PROFILE.format(customers=customers_name, kunden=kunden_name)
    if data_only:
        for table, keys in DATA_ONLY_KEYS.items():
            head = f"  {dict(customers=customers_name, Kunden=kunden_name).get(table, table)}:\n"
            assert head in text
            text = text.replace(head, head + keys, 1)
        orders = re.search(r"  orders:\n(?:    .*\n)+", text).group(0)
        text = text.replace(orders, orders.replace("  orders:", "  orders_low:")
                            + orders.replace("  orders:", "  orders_high:"))
    return text


def populate(server: PgServer, db: str) -> None:
    with server.connect(db) as conn:
        conn.execute(SCHEMA)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO customers VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)", CUSTOMERS)
            cur.executemany("INSERT INTO accounts VALUES (%s, %s, %s, %s)", ACCOUNTS)
            cur.executemany("INSERT INTO transfers VALUES (%s, %s, %s, %s, %s)", TRANSFERS)
            cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s, %s)", ORDERS)
            cur.executemany('INSERT INTO "Kunden" VALUES (%s, %s, %s, %s)', KUNDEN)
            cur.executemany("INSERT INTO product_catalog (sku, title, description, price, tags, attrs, image, "
                            "released, updated_at, in_stock) VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s)",
                            PRODUCTS)


def table_rows(server: PgServer, db: str, table: str, order_by: str = "1") -> list[tuple]:
    with server.connect(db) as conn:
        return conn.execute(f"SELECT * FROM ONLY {table} ORDER BY {order_by}").fetchall()


def count(server: PgServer, db: str, sql: str) -> int:
    with server.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


# -- an independent reader of pg_dump's plain output --------------------------------------------

@dataclass
class Block:
    """One piece of a plain dump: verbatim text, a COPY block, or one INSERT statement."""

    kind: str  # "text", "copy", "insert"
    text: str  # verbatim text; for data: the statement head (COPY ... FROM stdin; / INSERT ... VALUES)
    table: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # raw fields (COPY) or raw literals (INSERT)
    raw: str = ""  # the data text: COPY lines up to and including "\.", or the INSERT statement


_COPY = re.compile(r'^COPY (?P<table>\S+) \((?P<cols>[^)]*)\) FROM stdin;\n$')
_INSERT = re.compile(r'^INSERT INTO (?P<table>\S+?)(?: \((?P<cols>[^)]*)\))?(?: OVERRIDING SYSTEM VALUE)? VALUES ?')


def _name(raw: str) -> str:
    """public."Kunden" -> Kunden; public.orders_low -> orders_low."""
    last = re.findall(r'"((?:[^"]|"")*)"|([^."]+)', raw)[-1]
    return last[0].replace('""', '"') if last[0] else last[1]


def _idents(raw: str) -> list[str]:
    return [q.replace('""', '"') if q else p for q, p in re.findall(r'"((?:[^"]|"")*)"|([^\s,"]+)', raw)]


def _literals(text: str, pos: int) -> tuple[list[list[str]], int]:
    """Parse "(v, v), (v, v);" as pg_dump writes it; returns the raw literals per row and the end."""
    rows: list[list[str]] = []
    n = len(text)
    while True:
        while text[pos] in " \n\t":
            pos += 1
        assert text[pos] == "(", text[pos:pos + 40]
        pos += 1
        row: list[str] = []
        while True:
            start = pos
            if text[pos] == "'":
                pos += 1
                while True:
                    j = text.index("'", pos)
                    if j + 1 < n and text[j + 1] == "'":
                        pos = j + 2
                        continue
                    pos = j + 1
                    break
            else:
                while text[pos] not in ",)":
                    pos += 1
            row.append(text[start:pos])
            while text[pos] == " ":
                pos += 1
            if text[pos] == ",":
                pos += 1
                while text[pos] == " ":
                    pos += 1
                continue
            assert text[pos] == ")", text[pos:pos + 40]
            pos += 1
            break
        rows.append(row)
        if text[pos] == ";":
            return rows, pos + 1
        assert text[pos] == ",", text[pos:pos + 40]
        pos += 1


def read_plain(data: bytes) -> list[Block]:
    """Split pg_dump plain output into text, COPY blocks and INSERT statements (not using veil's code)."""
    text = data.decode("utf-8", "surrogateescape")
    lines = [ln + "\n" for ln in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    if not lines[-1]:
        lines.pop()
    blocks: list[Block] = []
    pending: list[str] = []
    i = 0

    def flush_text() -> None:
        if pending:
            blocks.append(Block("text", "".join(pending)))
            pending.clear()

    while i < len(lines):
        line = lines[i]
        m = _COPY.match(line)
        if m:
            flush_text()
            rows, raw = [], []
            i += 1
            while lines[i] != "\\.\n":
                raw.append(lines[i])
                rows.append(lines[i].rstrip("\n").split("\t"))
                i += 1
            raw.append(lines[i])
            blocks.append(Block("copy", line, _name(m.group("table")), _idents(m.group("cols")), rows, "".join(raw)))
            i += 1
            continue
        m = _INSERT.match(line)
        if m:
            flush_text()
            rest = "".join(lines[i:i + 200])  # a statement never spans more lines in these tests
            rows, end = _literals(rest, m.end())
            stmt = rest[:end]
            assert rest[end] == "\n"
            used = stmt.count("\n") + 1
            cols = _idents(m.group("cols")) if m.group("cols") else []
            blocks.append(Block("insert", rest[:m.end()], _name(m.group("table")), cols, rows, stmt + "\n"))
            i += used
            continue
        pending.append(line)
        i += 1
    flush_text()
    return blocks


def skeleton(blocks: list[Block]) -> list[str]:
    """Everything but the data values: verbatim text and the data statement heads."""
    return [b.text for b in blocks]
