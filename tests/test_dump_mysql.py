"""Round trips of mysqldump output through veil and back into a real MariaDB/MySQL server.

A source database with keys (PK, FK, a composite FK to a composite PK, UNIQUE,
CHECK), a trigger and awkward data is dumped with the real mysqldump under
several flag combinations; veil rewrites the dump; the output is restored with
the real client into a fresh database and compared with the source.

Server: VEIL_MYSQL_HOST (127.0.0.1), VEIL_MYSQL_PORT (3306), VEIL_MYSQL_USER
(root), VEIL_MYSQL_PASSWORD (empty). Unreachable server or missing client
tools: the tests are skipped, or fail when VEIL_REQUIRE_DB=1.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

HOST = os.environ.get("VEIL_MYSQL_HOST", "127.0.0.1")
PORT = os.environ.get("VEIL_MYSQL_PORT", "3306")
USER = os.environ.get("VEIL_MYSQL_USER", "root")
PASSWORD = os.environ.get("VEIL_MYSQL_PASSWORD", "")
REQUIRE_DB = os.environ.get("VEIL_REQUIRE_DB") == "1"

CLIENT = shutil.which("mariadb") or shutil.which("mysql")
DUMPER = shutil.which("mysqldump") or shutil.which("mariadb-dump")

MARKER = "VEIL-MARKER-5e1f0c"
BLOB = bytes(range(256))
AWKWARD = "quote ' dq \" back\\slash tab\t nl\n cr\r ctrlZ \x1a nul-free Zoë 李 ),(; -- # /* */ end;"

# -- the source database -----------------------------------------------------------------

SCHEMA = """
CREATE TABLE countries (
  code CHAR(2) PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  note TEXT NULL
);
CREATE TABLE customers (
  id INT PRIMARY KEY,
  email VARCHAR(200) NOT NULL,
  first_name VARCHAR(100),
  last_name VARCHAR(100),
  birth_date DATE,
  signup_at DATETIME,
  notes TEXT,
  balance DECIMAL(12,2) NOT NULL DEFAULT 0,
  country CHAR(2),
  prefs JSON,
  CONSTRAINT uq_email UNIQUE (email),
  CONSTRAINT email_shape CHECK (email LIKE '%_@_%'),
  CONSTRAINT born_after CHECK (birth_date >= '1900-01-01'),
  CONSTRAINT balance_nonneg CHECK (balance >= 0),
  CONSTRAINT fk_cust_country FOREIGN KEY (country) REFERENCES countries (code)
);
CREATE TABLE customer_addresses (
  customer_id INT NOT NULL,
  addr_no INT NOT NULL,
  street VARCHAR(200),
  city VARCHAR(100),
  PRIMARY KEY (customer_id, addr_no),
  CONSTRAINT fk_addr_cust FOREIGN KEY (customer_id) REFERENCES customers (id)
);
CREATE TABLE orders (
  order_id INT PRIMARY KEY,
  customer_id INT NOT NULL,
  contact_email VARCHAR(200),
  total DECIMAL(12,4) NOT NULL,
  placed_on DATE,
  detail TEXT,
  receipt BLOB,
  CONSTRAINT total_pos CHECK (total > 0),
  CONSTRAINT fk_order_cust FOREIGN KEY (customer_id) REFERENCES customers (id)
);
CREATE TABLE deliveries (
  delivery_id INT PRIMARY KEY,
  order_id INT NOT NULL,
  customer_id INT NOT NULL,
  addr_no INT NOT NULL,
  shipped_at DATETIME,
  CONSTRAINT fk_del_order FOREIGN KEY (order_id) REFERENCES orders (order_id),
  CONSTRAINT fk_del_addr FOREIGN KEY (customer_id, addr_no) REFERENCES customer_addresses (customer_id, addr_no)
);
DELIMITER ;;
CREATE TRIGGER orders_bu BEFORE UPDATE ON orders FOR EACH ROW
BEGIN
  IF NEW.total <= 0 THEN SET NEW.detail = 'total; must be positive'; END IF;
  SET NEW.detail = CONCAT(IFNULL(NEW.detail, ''), '');
END;;
DELIMITER ;
"""

COUNTRIES = [
    ("DE", "Deutschland", AWKWARD),
    ("FR", "France", None),
    ("XX", "),(;'", ""),
    ("ZZ", "NULL", " a;"),
    ("CH", "Schweiz\\", "\\N"),
]
CUSTOMERS = [
    (700001, "zoe.quentavius@corp-one.test", "Zoëlle", "Quentavius", "1985-07-23", "2021-03-04 05:06:07",
     "likes 'tea'; back\\slash\ttab\nnl\rcr 李 secretnote-a", "12.50", "DE", '{"a": [1, "x\\"y"], "b": null}'),
    (700002, "li.wei.unique@corp-two.test", "李小龙", "Wei-O'Brien", "1990-12-31", "2022-11-12 13:14:15", "",
     "0.00", "FR", None),
    (700003, "nobody.special@corp-three.test", None, "", None, None, None, "99999.99", None, "[]"),
    (700004, "marker.person@corp-five.test", "Zebulonix", "Markerson", "1971-05-06", "1999-12-31 23:59:59",
     f"{MARKER} secretnote-b", "1.00", "XX", "{}"),
]
ADDRESSES = [
    (700001, 1, "12 Quentavius Lane", "Berlin\tMitte"),
    (700001, 2, "Hinterhof 7\\b", "Köln"),
    (700002, 1, "李街 5", ""),
    (700003, 1, None, None),
    (700004, 1, "Markerweg 1", "Zürich"),
]
ORDERS = [
    (910001, 700001, "zoe.quentavius@corp-one.test", "10.5000", "2023-01-02", 'he said "hi"\n', BLOB),
    (910002, 700002, "li.wei.unique@corp-two.test", "0.0100", None, None, None),
    (910003, 700003, None, "123456.7890", "2024-02-29", "", b""),
    (910004, 700001, "other.person@corp-four.test", "1.0000", "2023-06-30", "x", b"\x00'\\\"\n\r\x1a\xff;"),
    (910005, 700004, "marker.person@corp-five.test", "2.0000", "2020-02-02", AWKWARD, BLOB[::-1]),
]
DELIVERIES = [
    (1, 910001, 700001, 2, "2023-01-03 10:00:00"),
    (2, 910002, 700002, 1, None),
    (3, 910003, 700003, 1, "2024-03-01 00:00:00"),
    (4, 910004, 700001, 1, "2023-07-01 23:59:59"),
    (5, 910005, 700004, 1, "2020-02-03 01:02:03"),
]
N_BULK = 30  # plain generated rows, so that --batch-size splits tables into several batches
for _i in range(N_BULK):
    _cid, _oid = 800000 + _i, 920000 + _i
    CUSTOMERS.append((_cid, f"bulk{_i}@bulk.test", f"First{_i}", f"Last{_i}", f"19{50 + _i}-0{1 + _i % 9}-1{_i % 10}",
                      f"2020-01-{1 + _i % 28:02d} 12:00:{_i:02d}", None if _i % 3 else f"note {_i}",
                      f"{_i}.{_i % 100:02d}", "FR" if _i % 2 else "DE", None))
    ADDRESSES.append((_cid, 1, f"{_i} Bulk Road", "Paris"))
    ORDERS.append((_oid, _cid, f"bulk{_i}@bulk.test" if _i % 2 else None, f"{_i + 1}.5000", None, None,
                   bytes([_i, 0, 255 - _i])))
    DELIVERIES.append((100 + _i, _oid, _cid, 1, None))

TABLES = {"countries": COUNTRIES, "customers": CUSTOMERS, "customer_addresses": ADDRESSES, "orders": ORDERS,
          "deliveries": DELIVERIES}

# values only the personal columns hold: none of them may survive into the output
PERSONAL = [
    "zoe.quentavius", "corp-one.test", "li.wei.unique", "corp-two.test", "nobody.special", "corp-three.test",
    "other.person", "corp-four.test", "marker.person", "corp-five.test", "bulk.test",
    "Zoëlle", "李小龙", "Quentavius", "Wei-O", "Zebulonix", "Markerson", "secretnote", MARKER,
    "1985-07-23", "1990-12-31", "1971-05-06",
    "2021-03-04 05:06:07", "2022-11-12 13:14:15", "1999-12-31 23:59:59",
    "700001", "700002", "700003", "700004", "Hinterhof", "李街", "Markerweg", "Bulk Road",
]

PROFILE = """\
version: 1
defaults:
  unknown_columns: fail
tables:
  countries:
    columns: {code: keep, name: keep, note: keep}
  customers:
    columns:
      id: {op: pseudonymize, format: int}
      email: {op: pseudonymize, format: email, domain: email}
      first_name: {op: fake, kind: first_name}
      last_name: {op: fake, kind: last_name}
      birth_date: {op: generalize, to: year}
      signup_at: {op: date_shift, subject: id, max_days: 30}
      notes: redact
      balance: keep
      prefs: keep
      # country: a foreign key to countries.code, inherits keep
  customer_addresses:
    columns:
      # customer_id: a foreign key to customers.id, inherits pseudonymize int
      addr_no: keep
      street: {op: fake, kind: street_address}
      city: keep
  orders:
    columns:
      order_id: keep
      contact_email: {op: pseudonymize, format: email, domain: email}
      total: keep
      placed_on: keep
      detail: keep
      receipt: keep
  deliveries:
    columns:
      # order_id, (customer_id, addr_no): foreign keys, inherited
      delivery_id: keep
      shipped_at: keep
"""

# Without CREATE TABLE (mysqldump --no-create-info) the dump declares no keys: the profile must.
DECLARED_KEYS = {
    "countries": "    primary_key: [code]\n",
    "customers": "    primary_key: [id]\n    unique: [[email]]\n    foreign_keys:\n"
                 "      - {columns: [country], references: {table: countries, columns: [code]}}\n",
    "customer_addresses": "    primary_key: [customer_id, addr_no]\n    foreign_keys:\n"
                          "      - {columns: [customer_id], references: {table: customers, columns: [id]}}\n",
    "orders": "    primary_key: [order_id]\n    foreign_keys:\n"
              "      - {columns: [customer_id], references: {table: customers, columns: [id]}}\n",
    "deliveries": "    primary_key: [delivery_id]\n    foreign_keys:\n"
                  "      - {columns: [order_id], references: {table: orders, columns: [order_id]}}\n"
                  "      - {columns: [customer_id, addr_no], references: {table: customer_addresses, "
                  "columns: [customer_id, addr_no]}}\n",
}


def profile_text(declare_keys: bool) -> str:
    if not declare_keys:
        return PROFILE
    text = PROFILE
    for table, keys in DECLARED_KEYS.items():
        text = text.replace(f"\n  {table}:\n", f"\n  {table}:\n{keys}")
    return text


FOREIGN_KEYS = [  # (child, child columns, parent, parent columns)
    ("customers", ["country"], "countries", ["code"]),
    ("customer_addresses", ["customer_id"], "customers", ["id"]),
    ("orders", ["customer_id"], "customers", ["id"]),
    ("deliveries", ["order_id"], "orders", ["order_id"]),
    ("deliveries", ["customer_id", "addr_no"], "customer_addresses", ["customer_id", "addr_no"]),
]


def lit(v) -> str:
    """A MySQL literal for a Python value."""
    if v is None:
        return "NULL"
    if isinstance(v, bytes):
        return f"X'{v.hex()}'"
    if isinstance(v, int):
        return str(v)
    esc = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z", "\0": "\\0"}
    return "'" + "".join(esc.get(c, c) for c in v) + "'"


def populate_sql() -> str:
    parts = [SCHEMA]
    for table, rows in TABLES.items():
        values = ",\n".join("(" + ",".join(lit(v) for v in row) + ")" for row in rows)
        parts.append(f"INSERT INTO {table} VALUES\n{values};\n")
    return "".join(parts)


# -- talking to the server -----------------------------------------------------------------

def _env() -> dict:
    env = dict(os.environ)
    if PASSWORD:
        env["MYSQL_PWD"] = PASSWORD  # never on the command line
    return env


def _conn_args() -> list[str]:
    return ["-h", HOST, "-P", str(PORT), "-u", USER, "--protocol=TCP", "--default-character-set=utf8mb4"]


def client(sql: str | bytes, db: str | None = None, *, check: bool = True, extra=()) -> subprocess.CompletedProcess:
    """Run SQL through the mariadb/mysql client; any error is fatal when check is set."""
    data = sql.encode("utf-8") if isinstance(sql, str) else sql
    args = [CLIENT, *_conn_args(), "--batch", "--skip-column-names", *extra] + ([db] if db else [])
    proc = subprocess.run(args, input=data, capture_output=True, env=_env(), timeout=60)
    if check and proc.returncode != 0:
        pytest.fail(f"{Path(CLIENT).name} failed (exit {proc.returncode}): "
                    f"{proc.stderr.decode('utf-8', 'replace')[:2000]}")
    return proc


def scalar(db: str, query: str) -> int:
    return int(client(query, db).stdout.decode().strip())


def table_rows(db: str, table: str, cols: list[str], order: str) -> list[tuple[bytes | None, ...]]:
    """Rows as exact bytes (NULL -> None): every value travels as hex of its text/binary form."""
    exprs = ", ".join(f"IFNULL(HEX(CAST(`{c}` AS BINARY)), '-')" for c in cols)
    out = client(f"SELECT {exprs} FROM `{table}` ORDER BY {order}", db).stdout.decode()
    return [tuple(None if f == "-" else bytes.fromhex(f) for f in line.split("\t"))
            for line in out.splitlines()]


def restore(path: Path, db: str) -> None:
    """Load a dump with the real client; foreign key checks off as mysqldump itself does (--compact omits it)."""
    proc = subprocess.run([CLIENT, *_conn_args(), "--init-command=SET FOREIGN_KEY_CHECKS=0", db],
                          stdin=open(path, "rb"), capture_output=True, env=_env(), timeout=60)
    if proc.returncode != 0:
        pytest.fail(f"restoring {path.name} failed (exit {proc.returncode}): "
                    f"{proc.stderr.decode('utf-8', 'replace')[:2000]}")


def mysqldump(db: str, flags: list[str], out: Path) -> Path:
    with open(out, "wb") as fh:
        proc = subprocess.run([DUMPER, *_conn_args(), "--triggers", *flags, db], stdout=fh,
                              stderr=subprocess.PIPE, env=_env(), timeout=60)
    if proc.returncode != 0:
        pytest.fail(f"mysqldump failed: {proc.stderr.decode('utf-8', 'replace')[:2000]}")
    return out


@pytest.fixture(scope="module")
def server() -> None:
    def unavailable(reason: str):
        if REQUIRE_DB:
            pytest.fail(f"{reason} (VEIL_REQUIRE_DB=1)")
        pytest.skip(reason)

    if CLIENT is None or DUMPER is None:
        unavailable("the mariadb/mysql client or mysqldump is not on PATH")
    try:
        proc = subprocess.run([CLIENT, *_conn_args(), "--connect-timeout=5", "-e", "SELECT 1"],
                              capture_output=True, env=_env(), timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        unavailable(f"MySQL/MariaDB server at {HOST}:{PORT} is unreachable ({type(exc).__name__})")
    if proc.returncode != 0:
        unavailable(f"MySQL/MariaDB server at {HOST}:{PORT} is unreachable: "
                    f"{proc.stderr.decode('utf-8', 'replace').strip()[:300]}")


@pytest.fixture
def dbs(server):
    """A fresh populated source database and an empty destination database, both dropped afterwards."""
    tag = secrets.token_hex(4)
    src, dst = f"veil_src_{tag}", f"veil_dst_{tag}"
    try:
        client(f"CREATE DATABASE `{src}` CHARACTER SET utf8mb4; CREATE DATABASE `{dst}` CHARACTER SET utf8mb4;")
        client(populate_sql(), src)
        yield src, dst
    finally:
        client(f"DROP DATABASE IF EXISTS `{src}`; DROP DATABASE IF EXISTS `{dst}`;", check=False)


@pytest.fixture
def profile(tmp_path) -> Path:
    p = tmp_path / "profile.yaml"
    p.write_text(profile_text(declare_keys=False))
    return p


# -- reading dumps ---------------------------------------------------------------------------

def insert_statements(data: bytes, table: str) -> list[bytes]:
    """Every INSERT INTO `table` statement of a mysqldump file, with its line endings."""
    prefix = f"INSERT INTO `{table}`".encode()
    out, cur = [], None
    for line in data.splitlines(keepends=True):
        if cur is None and line.startswith(prefix):
            cur = []
        if cur is not None:
            cur.append(line)
            if line.rstrip().endswith(b";"):
                out.append(b"".join(cur))
                cur = None
    assert cur is None, f"unterminated INSERT into {table}"
    return out


def without_inserts(data: bytes) -> bytes:
    """The dump minus its INSERT statements: everything veil must copy byte for byte."""
    keep, inside = [], False
    for line in data.splitlines(keepends=True):
        if not inside and line.startswith(b"INSERT INTO "):
            inside = True
        if inside:
            if line.rstrip().endswith(b";"):
                inside = False
            continue
        keep.append(line)
    return b"".join(keep)


def line_of(data: bytes, needle: bytes) -> int:
    """1-based line number of the line where needle first occurs."""
    pos = data.index(needle)
    return data.count(b"\n", 0, pos) + 1


def veil_run(cli, dump: Path, profile: Path, keyring: Path, out: Path, *extra: str):
    return cli("run", dump, "--profile", profile, "--keyring", keyring, "--out", out, "--quiet", *extra)


# -- the round trip ---------------------------------------------------------------------------

VARIANTS = {
    "extended": ([], {}),
    "skip-extended-insert": (["--skip-extended-insert"], {}),
    "complete-insert": (["--complete-insert"], {}),
    "hex-blob": (["--hex-blob"], {}),
    "data-only-complete-insert": (["--no-create-info", "--complete-insert"], {"data_only": True}),
    "compact": (["--compact"], {}),
    "crlf": ([], {"crlf": True}),
    "one-row-inserts-hex-columns": (["--skip-extended-insert", "--complete-insert", "--hex-blob"], {}),
    # several batches per table (one row per INSERT), transformed in worker processes, written in order
    "batches-workers": (["--skip-extended-insert"], {"veil_args": ["--batch-size", "7", "--workers", "2"]}),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_round_trip(variant, dbs, tmp_path, profile, keyring, cli):
    flags, opts = VARIANTS[variant]
    src, dst = dbs
    dump = mysqldump(src, flags, tmp_path / "in.sql")
    if opts.get("crlf"):
        raw = dump.read_bytes()
        assert b"\r\n" not in raw
        dump.write_bytes(raw.replace(b"\n", b"\r\n"))
    data_in = dump.read_bytes()
    out = tmp_path / "out" / "anon.sql"
    out.parent.mkdir()
    veil_args = opts.get("veil_args", ["--workers", "1"])
    if opts.get("data_only"):
        profile.write_text(profile_text(declare_keys=True))
    result = veil_run(cli, dump, profile, keyring, out, *veil_args)
    assert result.exit_code == 0, result.output
    data_out = out.read_bytes()
    assert sorted(p.name for p in out.parent.iterdir()) == ["anon.sql"]

    # the dump's shape: everything but the INSERTs is byte-identical; the untouched table's INSERTs too
    assert without_inserts(data_out) == without_inserts(data_in)
    if not opts.get("data_only"):
        assert b"CREATE TABLE `customers`" in data_out
    if "--compact" not in flags:
        assert b"LOCK TABLES `orders` WRITE;" in data_out and b"DELIMITER ;;" in data_out
    countries_in = insert_statements(data_in, "countries")
    assert countries_in and insert_statements(data_out, "countries") == countries_in
    if "--skip-extended-insert" in flags:
        assert len(insert_statements(data_in, "customers")) == len(CUSTOMERS)
    if "--complete-insert" in flags:
        assert all(b"(`id`, `email`" in s for s in insert_statements(data_out, "customers"))
    if "--hex-blob" in flags:
        assert f"0x{BLOB.hex().upper()}".encode() in data_out
    if opts.get("crlf"):
        assert data_out.count(b"\n") == data_out.count(b"\r\n") == data_in.count(b"\r\n")
        # CRLF changes nothing else: the same as veil's output for the LF dump
        lf_dump = tmp_path / "lf.sql"
        lf_dump.write_bytes(data_in.replace(b"\r\n", b"\n"))
        lf_out = tmp_path / "lf-out.sql"
        result = veil_run(cli, lf_dump, profile, keyring, lf_out, "--workers", "1")
        assert result.exit_code == 0, result.output
        assert data_out.replace(b"\r\n", b"\n") == lf_out.read_bytes()

    # no personal value survives (and each was in the input, so the check means something)
    for value in PERSONAL:
        forms = {value.encode(), lit(value)[1:-1].encode()}
        assert any(f in data_in for f in forms), value
        assert not any(f in data_out for f in forms), f"personal value {value!r} is still in the output"

    # restore into the fresh database with the real client
    if opts.get("data_only"):
        schema = mysqldump(src, ["--no-data", "--skip-triggers"], tmp_path / "schema.sql")
        restore(schema, dst)
    restore(out, dst)
    check_restored(src, dst)


def check_restored(src: str, dst: str) -> None:
    for table, rows in TABLES.items():
        assert scalar(src, f"SELECT COUNT(*) FROM `{table}`") == len(rows)
        assert scalar(dst, f"SELECT COUNT(*) FROM `{table}`") == len(rows), table
    for child, ccols, parent, pcols in FOREIGN_KEYS:
        on = " AND ".join(f"p.`{p}` = c.`{c}`" for c, p in zip(ccols, pcols, strict=True))
        notnull = " AND ".join(f"c.`{c}` IS NOT NULL" for c in ccols)
        q = f"SELECT COUNT(*) FROM `{child}` c LEFT JOIN `{parent}` p ON {on} " \
            f"WHERE p.`{pcols[0]}` IS NULL AND {notnull}"
        assert scalar(dst, q) == 0, f"orphans in {child}({', '.join(ccols)}) -> {parent}"
        assert scalar(dst, f"SELECT COUNT(*) FROM `{child}` c JOIN `{parent}` p ON {on}") == \
            scalar(src, f"SELECT COUNT(*) FROM `{child}` c JOIN `{parent}` p ON {on}")

    # the untouched table, whole
    cols = ["code", "name", "note"]
    assert table_rows(dst, "countries", cols, "code") == table_rows(src, "countries", cols, "code")
    # kept columns of transformed tables, by their kept keys (the BLOB among them)
    cols = ["order_id", "total", "placed_on", "detail", "receipt"]
    src_orders = table_rows(src, "orders", cols, "order_id")
    assert table_rows(dst, "orders", cols, "order_id") == src_orders
    assert (str(910001).encode(), b"10.5000", b"2023-01-02", b'he said "hi"\n', BLOB) in src_orders
    cols = ["delivery_id", "order_id", "addr_no", "shipped_at"]
    assert table_rows(dst, "deliveries", cols, "delivery_id") == table_rows(src, "deliveries", cols, "delivery_id")

    # customer ids: a permutation into INT, the same in every table that refers to them
    def by_order(db):
        return {int(o): int(c) for o, c in table_rows(db, "orders", ["order_id", "customer_id"], "order_id")}

    src_o, dst_o = by_order(src), by_order(dst)
    mapping = {}
    for oid, cid in src_o.items():
        assert mapping.setdefault(cid, dst_o[oid]) == dst_o[oid]
    assert len(set(mapping.values())) == len(mapping) == len(CUSTOMERS)
    assert all(0 <= v < 2 ** 31 and v != k for k, v in mapping.items())
    dels = table_rows(dst, "deliveries", ["order_id", "customer_id"], "delivery_id")
    assert all(dst_o[int(o)] == int(c) for o, c in dels)  # composite FK and order FK agree
    addr_src = table_rows(src, "customer_addresses", ["customer_id", "addr_no", "city", "street"], "1, 2")
    addr_dst = {(int(c), int(a)): (city, street) for c, a, city, street in
                table_rows(dst, "customer_addresses", ["customer_id", "addr_no", "city", "street"], "1, 2")}
    assert len(addr_dst) == len(addr_src)
    for c, a, city, street in addr_src:
        got_city, got_street = addr_dst[(mapping[int(c)], int(a))]
        assert got_city == city and (got_street is None) == (street is None)
        assert street is None or got_street != street

    # customers, row by row through the mapping
    cols = ["id", "email", "first_name", "last_name", "birth_date", "signup_at", "notes", "balance", "country",
            "prefs"]
    src_c = {int(r[0]): r for r in table_rows(src, "customers", cols, "id")}
    dst_c = {int(r[0]): r for r in table_rows(dst, "customers", cols, "id")}
    emails = {}
    for cid, s in src_c.items():
        d = dst_c[mapping[cid]]
        assert d[7:] == s[7:], "kept columns (balance, country, prefs) must not change"
        assert d[1].endswith(b"@example.com") and d[1] != s[1]
        emails[s[1]] = d[1]
        for i in (2, 3, 6):  # fake, fake, redact: NULL stays NULL
            assert (d[i] is None) == (s[i] is None)
        assert d[6] in (None, b"[REDACTED]")
        if s[4] is None:
            assert d[4] is None
        else:
            assert d[4] == s[4][:4] + b"-01-01"
        if s[5] is None:
            assert d[5] is None
        else:
            shift = datetime.fromisoformat(d[5].decode()) - datetime.fromisoformat(s[5].decode())
            assert shift.seconds == 0 and 1 <= abs(shift.days) <= 30
    assert len(set(emails.values())) == len(emails)
    # the same email in two tables: the same pseudonym
    contact = table_rows(dst, "orders", ["order_id", "contact_email"], "order_id")
    src_contact = {int(o): e for o, e in table_rows(src, "orders", ["order_id", "contact_email"], "order_id")}
    for oid, e in contact:
        orig = src_contact[int(oid)]
        if orig is None:
            assert e is None
        elif orig in emails:
            assert e == emails[orig]
        else:
            assert e.endswith(b"@example.com") and e not in emails.values()
    assert scalar(dst, "SELECT COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
                       "WHERE o.contact_email = c.email") == \
        scalar(src, "SELECT COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
                    "WHERE o.contact_email = c.email") > 0
    # the trigger came through the DELIMITER block
    assert scalar(dst, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() "
                       "AND TRIGGER_NAME = 'orders_bu'") == 1


# -- bad input ---------------------------------------------------------------------------------

def assert_failed_cleanly(result, out: Path, line: int, kind: str, *absent: str) -> None:
    text = result.stdout + result.stderr
    assert result.exit_code != 0, text
    assert result.exit_code != 1, f"an internal error instead of an input error: {text}"
    assert re.search(rf"\.sql:{line}\b", text), f"the message does not name line {line}: {text}"
    assert kind in text, text
    for value in absent:
        assert value not in text
    assert not out.exists()
    assert list(out.parent.iterdir()) == [], "something was left behind"


def _customers_dump(dbs, tmp_path, flags=()) -> tuple[Path, bytes]:
    src, _ = dbs
    dump = mysqldump(src, list(flags), tmp_path / "in.sql")
    return dump, dump.read_bytes()


@pytest.fixture
def outdir(tmp_path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


TRUNCATIONS = {  # (mysqldump flags, cut just after this text, table of the cut INSERT)
    "extended-after-marker": ([], MARKER, "customers"),
    "one-row-after-marker": (["--skip-extended-insert"], MARKER, "customers"),
    # the cut line ends with ';' inside a string, so it looks like the end of the statement
    # (in the last table: a cut earlier would first be reported as tables missing from the dump)
    "extended-semicolon-in-string": ([], "end;", "orders"),
}


@pytest.mark.parametrize("case", list(TRUNCATIONS))
def test_truncated_inside_insert(case, dbs, tmp_path, outdir, profile, keyring, cli):
    flags, needle, table = TRUNCATIONS[case]
    dump, data = _customers_dump(dbs, tmp_path, flags)
    cut = data.rindex(needle.encode()) + len(needle)
    line = data.count(b"\n", 0, cut) + 1 if flags else line_of(data, f"INSERT INTO `{table}`".encode())
    dump.write_bytes(data[:cut])
    result = veil_run(cli, dump, profile, keyring, outdir / "anon.sql", "--workers", "1")
    assert_failed_cleanly(result, outdir / "anon.sql", line, "INSERT", MARKER, "secretnote", "Deutschland")


@pytest.mark.parametrize("table", ["customers", "countries"])
def test_malformed_insert(table, dbs, tmp_path, outdir, profile, keyring, cli):
    """A row without its closing parenthesis, in a transformed table and in an untouched one."""
    dump, data = _customers_dump(dbs, tmp_path)
    bad = f"BAD-{MARKER}".encode()
    stmt = insert_statements(data, table)[0]
    rows = stmt.split(b"),\n(")
    assert len(rows) > 2
    rows[1] = rows[1] + b",'" + bad + b"'"  # the second row gains a value and loses its ')'
    broken = rows[0] + b"),\n(" + rows[1] + b",\n(" + b"),\n(".join(rows[2:])
    assert broken.count(b"(") > broken.count(b")")
    data = data.replace(stmt, broken)
    dump.write_bytes(data)
    line = line_of(data, f"INSERT INTO `{table}`".encode())
    result = veil_run(cli, dump, profile, keyring, outdir / "anon.sql", "--workers", "1")
    assert_failed_cleanly(result, outdir / "anon.sql", line, "INSERT", bad.decode(), "secretnote", "Deutschland")


def test_data_only_positional_inserts_fail(dbs, tmp_path, outdir, profile, keyring, cli):
    """--no-create-info without --complete-insert: rows cannot be mapped to columns."""
    dump, data = _customers_dump(dbs, tmp_path, ["--no-create-info"])
    assert b"CREATE TABLE" not in data
    line = line_of(data, b"INSERT INTO ")
    result = veil_run(cli, dump, profile, keyring, outdir / "anon.sql", "--workers", "1")
    assert_failed_cleanly(result, outdir / "anon.sql", line, "INSERT", MARKER, "Deutschland")
    assert "--complete-insert" in result.stderr
