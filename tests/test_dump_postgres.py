"""PostgreSQL dumps, end to end: a real schema dumped by the real pg_dump, anonymized by
`veil run`, restored by psql into a fresh database (ON_ERROR_STOP), then compared
with the source database and with the input dump field by field.

Needs a PostgreSQL server (VEIL_PG_* as in tests/vault_fixtures.py) and pg_dump,
pg_restore and psql on PATH: skipped otherwise, failed instead when
VEIL_REQUIRE_DB=1. The bad-input tests need no database.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from . import dump_fixtures
from .dump_fixtures import (
    CUSTOMERS,
    KUNDEN,
    ORDERS,
    PERSONAL_VALUES,
    PII_MARKER,
    PRODUCTS,
    ROW_COUNTS,
    TABLE_COLUMNS,
    TRANSFERS,
    TRANSFORMED,
    Block,
    PgServer,
    count,
    pg_dump,
    pg_restore_text,
    populate,
    profile_text,
    psql_file,
    read_plain,
    skeleton,
    table_rows,
)

pg, pg_tools = dump_fixtures.pg, dump_fixtures.pg_tools

# -- helpers --------------------------------------------------------------------------------

FORMS = {
    # name: (pg_dump flags, gzip the plain output)
    "copy": ([], False),
    "inserts": (["--inserts"], False),
    "column-inserts": (["--column-inserts"], False),
    "rows-per-insert": (["--rows-per-insert=3"], False),
    "data-only": (["--data-only"], False),
    "gzip": ([], True),
    "custom": (["-Fc"], False),
}
# veil options per round trip: tiny batches (and a worker pool) cut COPY blocks and INSERT runs
BATCHED = ("--batch-size", "2", "--workers", "2")
ROUND_TRIPS = [(f, ()) for f in FORMS] + [("copy", BATCHED), ("rows-per-insert", BATCHED)]

FK_ORPHANS = {
    "accounts -> customers":
        "SELECT count(*) FROM accounts a LEFT JOIN customers c ON c.customer_id = a.customer_id "
        "WHERE c.customer_id IS NULL",
    "transfers -> accounts (composite)":
        "SELECT count(*) FROM transfers t LEFT JOIN accounts a "
        "ON (a.customer_id, a.account_no) = (t.customer_id, t.account_no) WHERE a.customer_id IS NULL",
    "orders -> customers (id)":
        "SELECT count(*) FROM orders o LEFT JOIN customers c ON c.customer_id = o.customer_id "
        "WHERE c.customer_id IS NULL",
    "orders -> customers (email)":
        "SELECT count(*) FROM orders o LEFT JOIN customers c ON c.email = o.customer_email WHERE c.email IS NULL",
    "Kunden -> customers":
        'SELECT count(*) FROM "Kunden" k LEFT JOIN customers c ON c.customer_id = k."Kunden-Nr" '
        "WHERE c.customer_id IS NULL",
}

NULLS = {"copy": "\\N", "insert": "NULL"}
_RESTRICT = re.compile(r"^\\(un)?restrict \S+$", re.M)


def write_profile(tmp_path: Path, text: str, name: str = "profile.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def veil_run(cli, dump: Path, profile: Path, keyring: Path, out: Path, *extra: str):
    return cli("run", dump, "--profile", profile, "--keyring", keyring, "--out", out, "--workers", "1", "-q",
               *extra)


def plain_bytes(path: Path) -> bytes:
    """A dump file's SQL text: gunzipped, or through pg_restore for a custom archive."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:5] == b"PGDMP":
        return pg_restore_text(path)
    return data


def constraints(server: PgServer, db: str) -> list[tuple]:
    with server.connect(db) as conn:
        return conn.execute(
            "SELECT conrelid::regclass::text, conname, contype, convalidated FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2").fetchall()


def assert_data_blocks(inp: list[Block], out: list[Block]) -> None:
    """Same statements in the same order; in every row only the transformed columns differ."""
    assert skeleton(inp) == skeleton(out), "text outside the data values changed"
    for a, b in zip(inp, out, strict=True):
        if a.kind == "text":
            continue
        assert (a.kind, a.table, a.columns) == (b.kind, b.table, b.columns)
        assert len(a.rows) == len(b.rows), f"{a.table}: row count changed"
        cols = a.columns or TABLE_COLUMNS[a.table]
        transformed = TRANSFORMED[a.table]
        null = NULLS[a.kind]
        for ra, rb in zip(a.rows, b.rows, strict=True):
            assert len(ra) == len(cols) == len(rb), f"{a.table}: field count changed"
            for c, va, vb in zip(cols, ra, rb, strict=True):
                if c not in transformed:
                    assert va == vb, f"{a.table}.{c}: a kept value changed"
                elif va == null:
                    assert vb == null, f"{a.table}.{c}: NULL became a value"
                else:
                    assert vb != va and vb != null, f"{a.table}.{c}: a personal value was not transformed"
        if not transformed:
            assert a.raw == b.raw, f"{a.table}: the untouched table's data is not byte for byte the input's"


def assert_no_personal_data(out: bytes) -> None:
    found = PII_MARKER.findall(out)
    assert not found, f"personal values left in the output (markers {sorted(set(found))[:5]})"
    for v in PERSONAL_VALUES:
        forms = {v, v.replace("'", "''"), v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                 .replace("\r", "\\r")}
        for f in forms:
            assert f.encode() not in out, "a personal value is left in the output"


def restore(server: PgServer, tmp_path: Path, out_sql: bytes, schema_from: str | None = None) -> str:
    """A fresh veil_dst_* database with veil's output restored (after a schema-only dump if given)."""
    dst = server.create("veil_dst")
    if schema_from is not None:
        schema = pg_dump(schema_from, tmp_path / "schema-only.sql", "--schema-only")
        res = psql_file(dst, schema)
        assert res.returncode == 0, res.stderr
    sql = tmp_path / "restore.sql"
    sql.write_bytes(out_sql)
    res = psql_file(dst, sql)
    assert res.returncode == 0, f"psql could not restore veil's output:\n{res.stderr}"
    return dst


def dump_and_run(server: PgServer, cli, keyring: Path, tmp_path: Path, form: str,
                 profile: str | None = None, extra: tuple[str, ...] = ()) -> tuple[str, Path, Path, object]:
    flags, gz = FORMS[form]
    src = server.create("veil_src")
    populate(server, src)
    name = {"gzip": "src.sql.gz", "custom": "src.dump"}.get(form, "src.sql")
    dump = pg_dump(src, tmp_path / name, *flags, gzip_it=gz)
    prof = write_profile(tmp_path, profile or profile_text(data_only=form == "data-only"))
    out = tmp_path / ("anon.sql.gz" if gz else "anon.sql")
    res = veil_run(cli, dump, prof, keyring, out, *extra)
    return src, dump, out, res


# -- 1-3: round trips through the real tools ---------------------------------------------------

@pytest.mark.parametrize(("form", "extra"), ROUND_TRIPS,
                         ids=[f + ("-batched" if e else "") for f, e in ROUND_TRIPS])
def test_round_trip(form, extra, pg, cli, keyring, tmp_path):
    src, dump, out, res = dump_and_run(pg, cli, keyring, tmp_path, form, extra=extra)
    assert res.exit_code == 0, res.output
    if form == "gzip":
        assert out.read_bytes()[:2] == b"\x1f\x8b", "a .sql.gz dump must give a .sql.gz output"
    out_sql = plain_bytes(out)
    assert out_sql.startswith(b"--"), "veil writes plain SQL"
    in_sql = plain_bytes(dump)
    if form == "custom":  # pg_restore writes a fresh \restrict key on every run
        in_sql = _RESTRICT.sub(r"\\\1restrict KEY", in_sql.decode()).encode()
        out_sql_cmp = _RESTRICT.sub(r"\\\1restrict KEY", out_sql.decode()).encode()
    else:
        out_sql_cmp = out_sql

    # no original personal value anywhere in the output bytes
    assert_no_personal_data(out_sql)
    if form == "gzip":
        assert_no_personal_data(out.read_bytes())

    # every byte outside the transformed values is unchanged
    inp, outp = read_plain(in_sql), read_plain(out_sql_cmp)
    kinds = {b.kind for b in inp} - {"text"}
    assert kinds == ({"insert"} if "insert" in form else {"copy"})
    empty = {"newsletter"} if kinds == {"insert"} else set()  # an empty table has a COPY block, but no INSERT
    assert {b.table for b in inp if b.kind != "text"} == set(TABLE_COLUMNS) - empty, "the reader missed data"
    assert_data_blocks(inp, outp)
    if kinds == {"copy"}:
        lines = non_copy_data_lines(in_sql)
        assert len(lines) > 50 and lines == non_copy_data_lines(out_sql_cmp), "a line outside COPY data changed"
        cat_in = next(b for b in inp if b.table == "product_catalog")
        block = (cat_in.text + cat_in.raw).encode("utf-8", "surrogateescape")
        assert block in in_sql and block in out_sql_cmp, "the untouched table's COPY block changed"

    # the output restores with every constraint, and the data is whole
    dst = restore(pg, tmp_path, out_sql, schema_from=src if form == "data-only" else None)
    assert constraints(pg, dst) == constraints(pg, src)
    for table, n in ROW_COUNTS.items():
        q = f'SELECT count(*) FROM "{table}"'
        assert count(pg, src, q) == n
        assert count(pg, dst, q) == n, f"{table}: row count changed"
    for what, sql in FK_ORPHANS.items():
        assert count(pg, dst, sql) == 0, f"foreign key {what} does not resolve"
    assert table_rows(pg, dst, "product_catalog", "id") == table_rows(pg, src, "product_catalog", "id")
    assert count(pg, dst, "SELECT count(*) FROM customers WHERE email NOT LIKE '%@example.com'") == 0


def non_copy_data_lines(data: bytes) -> list[bytes]:
    """Every line of a plain dump except the rows of its COPY blocks (COPY heads and \\. included)."""
    out, in_copy = [], False
    for line in data.split(b"\n"):
        if in_copy and line != b"\\.":
            continue
        in_copy = not in_copy and line.startswith(b"COPY ") and line.endswith(b" FROM stdin;")
        out.append(line)
    return out


# -- 4: consistency ------------------------------------------------------------------------------

def test_same_values_get_same_pseudonyms_and_joins_survive(pg, cli, keyring, tmp_path):
    src, _, out, res = dump_and_run(pg, cli, keyring, tmp_path, "copy")
    assert res.exit_code == 0, res.output
    dst = restore(pg, tmp_path, out.read_bytes())

    # the same email in customers, "Kunden" and orders gets one pseudonym
    same_email = ('SELECT count(*) FROM "Kunden" k JOIN customers c ON c.customer_id = k."Kunden-Nr" '
                  'WHERE k."E-Mail" = c.email')
    assert count(pg, src, same_email) == count(pg, dst, same_email) == len(KUNDEN)
    order_email = "SELECT count(*) FROM orders o JOIN customers c USING (customer_id) WHERE o.customer_email = c.email"
    assert count(pg, src, order_email) == count(pg, dst, order_email) == len(ORDERS)
    distinct = ('SELECT count(DISTINCT e) FROM (SELECT email AS e FROM customers UNION ALL '
                'SELECT "E-Mail" FROM "Kunden" UNION ALL SELECT customer_email FROM orders) x')
    assert count(pg, dst, distinct) == count(pg, src, distinct) == len(CUSTOMERS)
    with pg.connect(dst) as conn:
        emails = [r[0] for r in conn.execute("SELECT email FROM customers")]
    assert all(re.fullmatch(r"[a-z2-7]{16}@example\.com", e) for e in emails)

    # FK columns still join, composite key included: the per-customer picture is the same
    per_customer = ("SELECT count(t.transfer_id), sum(t.amount), count(DISTINCT t.account_no) FROM customers c "
                    "JOIN accounts a USING (customer_id) JOIN transfers t USING (customer_id, account_no) "
                    "GROUP BY c.customer_id ORDER BY 1, 2, 3")
    with pg.connect(src) as s, pg.connect(dst) as d:
        assert s.execute(per_customer).fetchall() == d.execute(per_customer).fetchall()
        joined = "SELECT count(*) FROM transfers JOIN accounts USING (customer_id, account_no) JOIN customers " \
                 "USING (customer_id)"
        assert s.execute(joined).fetchone()[0] == d.execute(joined).fetchone()[0] == len(TRANSFERS)
        # one customer's dates move together (shared date_shift domain keyed by customer_id)
        gaps = "SELECT o.placed_at - c.signup_at FROM orders o JOIN customers c USING (customer_id) ORDER BY 1"
        assert s.execute(gaps).fetchall() == d.execute(gaps).fetchall()
        ids = "SELECT customer_id FROM customers ORDER BY 1"
        assert s.execute(ids).fetchall() != d.execute(ids).fetchall()


# -- 5: --format parquet ----------------------------------------------------------------------------

def test_parquet_from_dump(pg, cli, keyring, tmp_path):
    src, dump, out, res = dump_and_run(pg, cli, keyring, tmp_path, "copy")
    assert res.exit_code == 0, res.output
    pq_dir = tmp_path / "tables"
    res = veil_run(cli, dump, tmp_path / "profile.yaml", keyring, pq_dir, "--format", "parquet")
    assert res.exit_code == 0, res.output
    names = {"customers", "accounts", "transfers", "orders", "Kunden", "product_catalog", "newsletter"}
    assert sorted(p.name for p in pq_dir.iterdir() if not p.name.startswith(".")) == \
        sorted(f"public.{n}.parquet" for n in names)
    tables = {n: pq.read_table(pq_dir / f"public.{n}.parquet") for n in names}
    for n, t in tables.items():
        assert t.num_rows == ROW_COUNTS[n], n

    # the same values as the SQL output written with the same key
    sql_rows = {b.table: b for b in read_plain(out.read_bytes()) if b.kind == "copy"}
    cust = tables["customers"].to_pylist()
    copy_cust = sql_rows["customers"].rows
    assert [r["email"] for r in cust] == [r[1] for r in copy_cust]
    assert [str(r["customer_id"]) for r in cust] == [r[0] for r in copy_cust]
    assert [r["full_name"] for r in cust] == [r[2] for r in copy_cust]
    assert all(r["birth_date"] is None or (r["birth_date"].month, r["birth_date"].day) == (1, 1) for r in cust)
    assert {r["notes"] for r in cust} == {"[REDACTED]", None}
    orders = tables["orders"].to_pylist()
    assert sorted(r["order_id"] for r in orders) == sorted(o[0] for o in ORDERS)
    leaf_rows = sql_rows["orders_low"].rows + sql_rows["orders_high"].rows
    assert sorted((str(r["order_id"]), r["customer_email"]) for r in orders) == sorted((r[0], r[2]) for r in leaf_rows)
    assert {r["customer_email"] for r in orders} <= {r["email"] for r in cust}
    assert {r["E-Mail"] for r in tables["Kunden"].to_pylist()} <= {r["email"] for r in cust}
    assert [r["sku"] for r in tables["product_catalog"].to_pylist()] == [p[0] for p in PRODUCTS]
    for n, t in tables.items():
        text = repr(t.to_pylist()).encode()
        assert not PII_MARKER.search(text), f"{n}: personal values left in the Parquet output"


# -- 6: bad input (no database) --------------------------------------------------------------------

MARKER = "SeCrEt-MaRkEr-4711"

GOOD_DUMP = f"""--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET standard_conforming_strings = on;

CREATE TABLE public.people (
    id integer NOT NULL,
    email text,
    note text
);

COPY public.people (id, email, note) FROM stdin;
1	one.{MARKER}@example.com	hello {MARKER}
2	two.{MARKER}@example.com	second\\t{MARKER}
\\.

INSERT INTO public.people VALUES (3, 'three.{MARKER}@example.com', 'it''s {MARKER}');

ALTER TABLE ONLY public.people
    ADD CONSTRAINT people_pkey PRIMARY KEY (id);

--
-- PostgreSQL database dump complete
--
"""

BAD_PROFILE = """\
version: 1
tables:
  people:
    columns:
      id: {op: pseudonymize, format: int}
      email: {op: pseudonymize, format: email}
      note: redact
"""


def _line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def _bad_inputs() -> dict[str, tuple[str, str, int, str]]:
    """name: (file name, dump text, line the message must name, statement kind it must name)."""
    g = GOOD_DUMP
    copy_line = _line_of(g, "COPY public.people")
    insert_line = _line_of(g, "INSERT INTO")
    cut = g.index(f"two.{MARKER}") + 7
    return {
        "truncated-in-copy-row": ("cut.sql", g[:cut], copy_line, "COPY"),
        "truncated-after-copy-row": ("cut2.sql", g[:g.index("\\.\n")], copy_line, "COPY"),
        "unterminated-copy": ("unterminated.sql", g.replace("\\.\n", "", 1), copy_line, "COPY"),
        "insert-bad-value": ("badvalue.sql", g.replace(f"'it''s {MARKER}')", f"'it''s' '{MARKER}')"),
                             insert_line, "INSERT"),
        "insert-missing-paren": ("paren.sql", g.replace(f"'it''s {MARKER}');", f"'it''s {MARKER}';"),
                                 insert_line, "INSERT"),
        "insert-unterminated-string": ("quote.sql", g.replace(f"'it''s {MARKER}');", f"'it''s {MARKER});"),
                                       insert_line, "INSERT"),
        "insert-not-values": ("select.sql", g.replace(f"VALUES (3, 'three.{MARKER}@example.com', 'it''s {MARKER}')",
                                                       f"SELECT 3, '{MARKER}', 'x'"), insert_line, "INSERT"),
    }


@pytest.mark.parametrize("case", list(_bad_inputs()))
def test_bad_dump_is_refused_without_output(case, cli, keyring, tmp_path):
    fname, text, line, kind = _bad_inputs()[case]
    work = tmp_path / "work"
    work.mkdir()
    dump = work / fname
    dump.write_text(text, encoding="utf-8")
    prof = write_profile(tmp_path, BAD_PROFILE)
    out = work / "anon.sql"
    res = veil_run(cli, dump, prof, keyring, out)
    assert res.exit_code == 5, res.output
    msg = res.stderr
    assert f"{fname}:{line}:" in msg, f"the message must name line {line}: {msg!r}"
    assert kind in msg, f"the message must name the statement kind ({kind}): {msg!r}"
    assert MARKER.lower() not in res.output.lower(), "the message quotes a value from the dump"
    assert not out.exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".veil-tmp")]
    assert sorted(p.name for p in work.iterdir()) == [fname]


def test_good_bad_input_fixture_is_good(cli, keyring, tmp_path):
    """The dump the bad-input cases are cut from goes through (so they fail for their damage only)."""
    dump = tmp_path / "good.sql"
    dump.write_text(GOOD_DUMP, encoding="utf-8")
    out = tmp_path / "anon.sql"
    res = veil_run(cli, dump, write_profile(tmp_path, BAD_PROFILE), keyring, out)
    assert res.exit_code == 0, res.output
    assert MARKER not in out.read_text(encoding="utf-8")


def test_unknown_dialect_is_refused(cli, keyring, tmp_path):
    dump = tmp_path / "notes.sql"
    dump.write_text(f"Shopping list for {MARKER}\n- milk\n- bread, eggs\n\nnothing SQL in here\n", encoding="utf-8")
    out = tmp_path / "anon.sql"
    res = veil_run(cli, dump, write_profile(tmp_path, BAD_PROFILE), keyring, out)
    assert res.exit_code == 5, res.output
    assert "notes.sql:1:" in res.stderr and "dialect" in res.stderr, res.stderr
    assert MARKER.lower() not in res.output.lower()
    assert not out.exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".veil-tmp")]


# -- 7: table names -------------------------------------------------------------------------------

def test_bare_and_qualified_table_names(pg, cli, keyring, tmp_path):
    src, dump, bare_out, res = dump_and_run(pg, cli, keyring, tmp_path, "copy")
    assert res.exit_code == 0, res.output
    qualified = write_profile(tmp_path, profile_text("public.customers", "public.Kunden"), "qualified.yaml")
    q_out = tmp_path / "qualified.sql"
    res = veil_run(cli, dump, qualified, keyring, q_out)
    assert res.exit_code == 0, res.output
    assert q_out.read_bytes() == bare_out.read_bytes()
    assert_no_personal_data(q_out.read_bytes())

    both = write_profile(tmp_path, profile_text("customers") + "  public.customers:\n    unknown_columns: keep\n",
                         "both.yaml")
    res = veil_run(cli, dump, both, keyring, tmp_path / "both.sql")
    assert res.exit_code == 3 and "named twice" in res.stderr, res.output


ARCHIVE = """
CREATE SCHEMA archive;
CREATE TABLE archive.customers (
    customer_id integer PRIMARY KEY,
    email text NOT NULL UNIQUE,
    full_name text
);
CREATE TABLE archive.visits (
    visit_id integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES archive.customers (customer_id)
);
INSERT INTO archive.customers VALUES (1, 'old.pii90@example.org', 'Old Zoë pii91'), (42, 'x.pii92@example.org', NULL);
INSERT INTO archive.visits VALUES (1, 1), (2, 42), (3, 1);
"""

ARCHIVE_PROFILE = """\
  archive.customers:
    columns:
      customer_id: {op: pseudonymize, format: int, domain: archive_id}
      email: {op: pseudonymize, format: email, domain: email}
      full_name: {op: fake, kind: name}
  visits:
    columns:
      visit_id: keep
"""


def test_ambiguous_bare_table_name(pg, cli, keyring, tmp_path):
    src = pg.create("veil_src")
    populate(pg, src)
    with pg.connect(src) as conn:
        conn.execute(ARCHIVE)
    dump = pg_dump(src, tmp_path / "two-schemas.sql")

    bare = write_profile(tmp_path, profile_text() + ARCHIVE_PROFILE, "bare.yaml")
    out = tmp_path / "anon.sql"
    res = veil_run(cli, dump, bare, keyring, out)
    assert res.exit_code == 3, res.output
    assert "'customers' is ambiguous" in res.stderr, res.stderr
    assert "public.customers" in res.stderr and "archive.customers" in res.stderr
    assert not out.exists()

    qualified = write_profile(tmp_path, profile_text("public.customers") + ARCHIVE_PROFILE, "qualified.yaml")
    res = veil_run(cli, dump, qualified, keyring, out)
    assert res.exit_code == 0, res.output
    data = out.read_bytes()
    assert_no_personal_data(data)
    dst = restore(pg, tmp_path, data)
    orphans = ("SELECT count(*) FROM archive.visits v LEFT JOIN archive.customers c USING (customer_id) "
               "WHERE c.customer_id IS NULL")
    assert count(pg, dst, orphans) == 0
    assert count(pg, dst, "SELECT count(*) FROM archive.visits") == 3
    for what, sql in FK_ORPHANS.items():
        assert count(pg, dst, sql) == 0, what
    # the archive's emails share the email domain with public.customers, ids have their own domain
    with pg.connect(dst) as conn:
        assert conn.execute("SELECT count(*) FROM archive.customers WHERE email LIKE '%@example.com'"
                            ).fetchone()[0] == 2


# -- pg_dump --inserts of a GENERATED ALWAYS identity column -------------------------------------------

IDENTITY = """
CREATE TABLE members (
    member_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE
);
INSERT INTO members (email) VALUES ('a.pii50@example.org'), ('b.pii51@example.org');
"""


@pytest.mark.parametrize("flag", ["--inserts", "--column-inserts"])
def test_identity_column_inserts(flag, pg, cli, keyring, tmp_path):
    """pg_dump writes INSERT INTO t OVERRIDING SYSTEM VALUE VALUES (...) for GENERATED ALWAYS identity
    columns; such a dump must go through like any other --inserts dump."""
    src = pg.create("veil_src")
    with pg.connect(src) as conn:
        conn.execute(IDENTITY)
    dump = pg_dump(src, tmp_path / "members.sql", flag)
    assert b"OVERRIDING SYSTEM VALUE" in dump.read_bytes()
    prof = write_profile(tmp_path, "version: 1\ntables:\n  members:\n    columns:\n      member_id: keep\n"
                                   "      email: {op: pseudonymize, format: email}\n")
    out = tmp_path / "anon.sql"
    res = veil_run(cli, dump, prof, keyring, out)
    assert res.exit_code == 0, res.output
    assert not PII_MARKER.search(out.read_bytes())
    dst = restore(pg, tmp_path, out.read_bytes())
    assert count(pg, dst, "SELECT count(*) FROM members") == 2
