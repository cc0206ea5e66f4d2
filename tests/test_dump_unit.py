"""SQL dumps without a server: forget cascades across workers, --format with drop, binary values."""

from __future__ import annotations

import pyarrow.parquet as pq

PG_DUMP = """--
-- PostgreSQL database dump
--
SET standard_conforming_strings = on;
CREATE TABLE public.customers (
    id integer NOT NULL,
    email text NOT NULL,
    note text
);
CREATE TABLE public.orders (
    id integer NOT NULL,
    customer_id integer
);
COPY public.customers (id, email, note) FROM stdin;
{customers}\\.
COPY public.orders (id, customer_id) FROM stdin;
{orders}\\.
ALTER TABLE ONLY public.customers
    ADD CONSTRAINT customers_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customers(id);
"""

PROFILE = """version: 1
defaults: {reversible: true}
tables:
  customers:
    subject: {column: email, domain: email}
    columns:
      id: {op: pseudonymize, format: int}
      email: {op: pseudonymize, format: email, domain: email}
      note: %s
  orders:
    columns:
      id: keep
"""


def _dump(tmp_path, n=400):
    customers = "".join(f"{i}\tuser{i}@corp.example\tnote {i}\n" for i in range(1, n + 1))
    orders = "".join(f"{i}\t{(i % n) + 1}\n" for i in range(1, 2 * n + 1))
    path = tmp_path / "shop.sql"
    path.write_text(PG_DUMP.format(customers=customers, orders=orders))
    return path


def test_forget_cascades_in_a_dump_with_workers(tmp_path, keyring, cli):
    dump = _dump(tmp_path)
    prof = tmp_path / "p.yaml"
    prof.write_text(PROFILE % "keep")
    vault = tmp_path / "vaultdir" / "v.db"
    common = ("-p", prof, "--keyring", keyring, "--vault", vault, "--workers", "2", "--batch-size", "16")
    assert cli("run", dump, "--out", tmp_path / "o1.sql", *common, "-q").exit_code == 0
    assert cli("vault", "forget", "--domain", "email", "user7@corp.example", "--keyring", keyring,
               "--vault", vault).exit_code == 0
    rep = tmp_path / "r.json"
    res = cli("run", dump, "--out", tmp_path / "o2.sql", *common, "--report", rep, "-q")
    assert res.exit_code == 0, res.output
    import json

    tables = json.loads(rep.read_text())["tables"]
    assert tables["public.customers"]["rows_dropped"]["forgotten_subject"] == 1
    assert tables["public.orders"]["rows_dropped"]["by_reference"] == 2  # orders 6 and 406 point at customer 7
    text = (tmp_path / "o2.sql").read_text()
    assert "user7@corp.example" not in text and text.count("\n") == (tmp_path / "o1.sql").read_text().count("\n") - 3


def test_drop_with_format_parquet_on_a_dump(tmp_path, keyring, cli):
    dump = _dump(tmp_path, n=20)
    prof = tmp_path / "p.yaml"
    prof.write_text(PROFILE % "drop")
    res = cli("run", dump, "-p", prof, "--keyring", keyring, "--out", tmp_path / "o.sql", "-q")
    assert res.exit_code == 5 and "drop would change the tables" in res.stderr
    res = cli("run", dump, "-p", prof, "--keyring", keyring, "--out", tmp_path / "tables", "--format", "parquet",
              "-q")
    assert res.exit_code == 0, res.output
    t = pq.read_table(tmp_path / "tables" / "public.customers.parquet")
    assert t.column_names == ["id", "email"] and t.num_rows == 20


def test_nullify_and_redact_binary_mysql_values(tmp_path, keyring, cli):
    blob = bytes(range(256)).replace(b"\\", b"\\\\").replace(b"'", b"\\'").replace(b"\n", b"\\n") \
        .replace(b"\r", b"\\r").replace(b"\0", b"\\0").replace(b"\x1a", b"\\Z")
    dump = (b"-- MySQL dump 10.19\n/*!40101 SET NAMES utf8mb4 */;\n"
            b"CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `a` blob,\n  `b` blob,\n  PRIMARY KEY (`id`)\n);\n"
            b"INSERT INTO `t` VALUES (1,'" + blob + b"','" + blob + b"'),(2,NULL,NULL);\n")
    path = tmp_path / "m.sql"
    path.write_bytes(dump)
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n      id: keep\n      a: nullify\n      b: redact\n")
    out = tmp_path / "o.sql"
    res = cli("run", path, "-p", prof, "--keyring", keyring, "--out", out, "-q")
    assert res.exit_code == 0, res.output
    assert out.read_bytes().endswith(b"INSERT INTO `t` VALUES (1,NULL,'[REDACTED]'),(2,NULL,NULL);\n")


def test_a_quote_closed_first_thing_on_the_next_line():
    """A string that spans lines and closes at the very start of a line (a value ending in a line
    break): the statement ends there, and the next one is read on its own."""
    from veil.formats.dump.lexer import Scanner, Statement

    for dialect in ("postgresql", "mysql"):
        lines = ["INSERT INTO t VALUES ('x\n", "');\n", "CREATE TABLE u (a int);\n"]
        items = [i for i in Scanner(iter(lines), dialect, "f.sql").items() if isinstance(i, Statement)]
        assert [(i.kind, i.line) for i in items] == [("insert", 1), ("create_table", 3)], dialect
