"""SQL column types read through sqlglot (veil.sqltypes): known answers over the type names
pg_dump and mysqldump write, and a scan of a real pg_dump whose arrays, intervals and ranges
the old hand-written map got wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from veil.sqltypes import sql_arrow_type, sql_int_bits, sql_is_numeric, sql_type_category

from .dump_fixtures import pg, pg_dump, pg_tools, psql_bytes  # noqa: F401

PG = "postgresql"
MY = "mysql"

# (dialect, type as the dump writes it, category); the raw spellings of pg_dump/mysqldump and the
# forms veil's DDL reader gives back (sqlglot's, lower case) both
CATEGORIES = [
    (PG, "integer", "integer"), (PG, "int", "integer"), (PG, "bigint", "integer"), (PG, "smallint", "integer"),
    (PG, "serial", "integer"), (PG, "bigserial", "integer"), (PG, "int8", "integer"),
    (PG, "boolean", "boolean"), (PG, "numeric(10,2)", "decimal"), (PG, "decimal(10, 2)", "decimal"),
    (PG, "numeric", "decimal"), (PG, "money", "decimal"), (PG, "real", "float"), (PG, "double precision", "float"),
    (PG, "date", "date"), (PG, "timestamp without time zone", "timestamp"), (PG, "timestamp(3)", "timestamp"),
    # a zoned timestamp is text with an offset in a dump: date operators do not read it
    (PG, "timestamp with time zone", "string"), (PG, "timestamptz", "string"), (PG, "timestamptz(6)", "string"),
    (PG, "time without time zone", "time"), (PG, "timetz", "time"),
    (PG, "interval", "time"), (PG, "interval day to second", "time"),  # were "integer" ("int..." prefix)
    (PG, "bytea", "binary"), (PG, "uuid", "uuid"), (PG, "json", "json"), (PG, "jsonb", "json"),
    (PG, "text", "string"), (PG, "character varying(20)", "string"), (PG, "varchar(20)", "string"),
    (PG, "character(5)", "string"), (PG, "char(3)", "string"),
    # arrays: {a,b} text, searched like free text (were "integer" / "string")
    (PG, "integer[]", "nested"), (PG, "int[]", "nested"), (PG, "text[]", "nested"),
    (PG, "character varying(20)[]", "nested"), (PG, "int[][]", "nested"), (PG, "_int4", "nested"),
    (PG, "int4range", "string"), (PG, "daterange", "string"),  # int4range was "integer"
    (PG, "bit(3)", "string"), (PG, "varbit", "string"), (PG, "inet", "string"), (PG, "cidr", "string"),
    (PG, "macaddr", "string"), (PG, "xml", "string"), (PG, "tsvector", "string"), (PG, "hstore", "string"),
    (PG, "geometry", "string"), (PG, "geometry(point, 4326)", "string"), (PG, "point", "string"),
    (PG, "citext", "string"), (PG, "public.email_domain", "string"), (PG, "mood", "string"),  # domains, enums
    (PG, "oid", "string"), (PG, "", "string"), (PG, "not a type (", "string"),
    (MY, "int", "integer"), (MY, "int(11)", "integer"), (MY, "int(10) unsigned", "integer"),
    (MY, "tinyint(1)", "boolean"), (MY, "tinyint(1) unsigned", "boolean"), (MY, "tinyint(4)", "integer"),
    (MY, "tinyint", "integer"), (MY, "smallint(6)", "integer"), (MY, "mediumint(9)", "integer"),
    (MY, "bigint(20)", "integer"), (MY, "bigint(20) unsigned", "integer"), (MY, "boolean", "boolean"),
    (MY, "decimal(10,2)", "decimal"), (MY, "decimal(10, 2) unsigned", "decimal"), (MY, "float", "float"),
    (MY, "double", "float"), (MY, "float(7,4)", "float"), (MY, "date", "date"), (MY, "datetime", "timestamp"),
    (MY, "datetime(6)", "timestamp"),
    # MySQL's TIMESTAMP is written as a plain UTC date-time (sqlglot reads it as TIMESTAMPTZ)
    (MY, "timestamp", "timestamp"), (MY, "timestamp(3)", "timestamp"),
    (MY, "time", "time"), (MY, "time(3)", "time"), (MY, "year", "string"), (MY, "year(4)", "string"),
    (MY, "varchar(20)", "string"), (MY, "char(1)", "string"), (MY, "text", "string"), (MY, "longtext", "string"),
    (MY, "blob", "binary"), (MY, "tinyblob", "binary"), (MY, "mediumblob", "binary"), (MY, "longblob", "binary"),
    (MY, "binary(16)", "binary"), (MY, "varbinary(255)", "binary"), (MY, "json", "json"),
    (MY, "enum('a','b')", "string"), (MY, "set('x','y')", "string"), (MY, "bit(1)", "string"),
    (MY, "bit(8)", "string"), (MY, "geometry", "string"), (MY, "point", "string"),
]


@pytest.mark.parametrize(("dialect", "sql_type", "category"), CATEGORIES, ids=lambda v: str(v))
def test_category_known_answers(dialect, sql_type, category):
    assert sql_type_category(sql_type, dialect) == category


# (dialect, type, Arrow type the dump reader works with, written unquoted, int bits)
ARROW = [
    (PG, "integer", pa.int64(), True, 31), (PG, "bigint", pa.int64(), True, 63),
    (PG, "bigserial", pa.int64(), True, 63),
    (PG, "smallint", pa.int64(), True, 15), (PG, "serial", pa.int64(), True, 31),
    (PG, "numeric(10,2)", pa.string(), True, 31), (PG, "double precision", pa.string(), True, 31),
    (PG, "real", pa.string(), True, 31), (PG, "money", pa.string(), False, 31),
    (PG, "date", pa.date32(), False, 31), (PG, "timestamp", pa.timestamp("us"), False, 31),
    (PG, "timestamp without time zone", pa.timestamp("us"), False, 31),
    (PG, "timestamptz", pa.string(), False, 31), (PG, "interval", pa.string(), False, 31),
    (PG, "int4range", pa.string(), False, 31), (PG, "integer[]", pa.string(), False, 31),
    (PG, "boolean", pa.string(), False, 31), (PG, "uuid", pa.string(), False, 31),
    (PG, "bit(3)", pa.string(), False, 31),
    (PG, "public.some_domain", pa.string(), False, 31), (PG, "", pa.string(), False, 31),
    (MY, "int(11)", pa.int64(), True, 31), (MY, "int unsigned", pa.int64(), True, 31),
    (MY, "tinyint(1)", pa.int64(), True, 7), (MY, "bigint(20) unsigned", pa.int64(), True, 63),
    (MY, "decimal(10,2) unsigned", pa.string(), True, 31), (MY, "float(7,4)", pa.string(), True, 31),
    (MY, "datetime(6)", pa.timestamp("us"), False, 31), (MY, "timestamp", pa.timestamp("us"), False, 31),
    (MY, "tinyint unsigned", pa.int64(), True, 8), (MY, "smallint(6)", pa.int64(), True, 15),
    (MY, "smallint unsigned", pa.int64(), True, 16), (MY, "mediumint(9)", pa.int64(), True, 23),
    (MY, "mediumint unsigned", pa.int64(), True, 24), (PG, "smallserial", pa.int64(), True, 15),
    (MY, "year", pa.string(), False, 31), (MY, "bit(1)", pa.string(), False, 31),
    (MY, "enum('a','b')", pa.string(), False, 31), (MY, "varchar(20)", pa.string(), False, 31),
]


@pytest.mark.parametrize(("dialect", "sql_type", "arrow", "numeric", "bits"), ARROW, ids=lambda v: str(v))
def test_arrow_type_numeric_and_bits_known_answers(dialect, sql_type, arrow, numeric, bits):
    assert sql_arrow_type(sql_type, dialect) == arrow
    assert sql_is_numeric(sql_type, dialect) is numeric
    assert sql_int_bits(sql_type, dialect) == bits


def test_dialect_matters_only_where_it_should():
    # the same text, two meanings: TIMESTAMP is zoned in MySQL's reading, not in PostgreSQL's
    assert sql_type_category("timestamp", MY) == sql_type_category("timestamp", PG) == "timestamp"
    assert sql_type_category("timestamptz", PG) == "string"
    assert sql_type_category("integer", None) == "integer"


# -- a real pg_dump: what the old map got wrong ---------------------------------------------------

_DDL = b"""
CREATE TABLE customers (id serial PRIMARY KEY, tags text[], nums integer[], waited interval, span int4range,
                        note text);
INSERT INTO customers (tags, nums, waited, span, note)
SELECT ARRAY['vip', 'client' || g || '@example.com'], ARRAY[g, g + 1], (g || ' minutes')::interval,
       int4range(g, g + 5), 'ok'
FROM generate_series(1, 120) g;
CREATE TABLE shops (id smallint PRIMARY KEY, label text);
INSERT INTO shops SELECT g, 'shop ' || g FROM generate_series(1, 300) g;
"""


def test_pg_arrays_intervals_ranges_from_a_real_dump(pg, tmp_path, keyring):  # noqa: F811
    """An email array was NONE/keep (text[] read as plain text): it leaked into the output. An
    integer[] / interval / int4range column was "integer" (a draft could propose format: int).
    A SMALLINT key got 31-bit pseudonyms, which PostgreSQL refused to restore ("out of range")."""
    db = pg.create("veil_src")
    res = psql_bytes(db, _DDL)
    assert res.returncode == 0, res.stderr
    dump = pg_dump(db, tmp_path / "shop.sql")
    draft, js = tmp_path / "draft.yaml", tmp_path / "findings.json"
    res = subprocess.run([sys.executable, "-m", "veil", "scan", str(dump), "-o", str(draft), "--json", str(js),
                          "-q", "--no-ner"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    cols = {c["column"]: c for c in json.loads(js.read_text())["columns"]}
    assert {c: cols[c]["type"] for c in ("tags", "nums", "waited", "span")} == \
        {"tags": "nested", "nums": "nested", "waited": "time", "span": "string"}
    assert cols["tags"]["entity"] == "FREE_TEXT"
    assert "tags: nullify" in draft.read_text()
    assert "id: {op: pseudonymize, format: int, domain: public.shops.id, range: [1, 1000]}" in draft.read_text()
    out = tmp_path / "out.sql"
    res = subprocess.run([sys.executable, "-m", "veil", "run", str(dump), "-p", str(draft), "--keyring", str(keyring),
                          "-o", str(out), "-q"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    assert "@example.com" not in text
    dst = pg.create("veil_dst")
    res = psql_bytes(dst, out.read_bytes())
    assert res.returncode == 0, res.stderr


def test_sqltypes_is_neutral():
    """Detection and the dump reader both use it: it imports neither."""
    src = (Path(__file__).resolve().parents[1] / "src/veil/sqltypes.py").read_text()
    assert "from ." not in src and "import veil" not in src


def test_draft_key_rule_follows_the_integer_width():
    from veil.detect.draft import suggest
    from veil.detect.findings import Finding

    def rule(bits):
        f = Finding("t", "id", "integer", "NONE", "none", 1.0, {"int_bits": bits, "plain_ints": True}, "primary")
        return suggest(f, "t", {})

    assert rule(31) == {"op": "pseudonymize", "format": "int", "domain": "t.id"}
    assert rule(63)["bits"] == 63 and rule(15)["bits"] == 15 and rule(8)["bits"] == 8
    assert rule(7) == {"op": "keep"}  # TINYINT: no keyed permutation that narrow
