"""Issue 14, SQL dumps: odd quoted identifiers, every data-carrying statement rewritten or refused,
distinct per-table output files, sequences that do not leak the original ids.

The statement tests need no database; the round trips use the real pg_dump and psql
(tests/dump_fixtures.py: skipped without a server, failed with VEIL_REQUIRE_DB=1).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from . import dump_fixtures
from .dump_fixtures import count, pg_dump, psql_file
from .test_dump_mysql import client, mysqldump, restore, scalar, server  # noqa: F401 - server is a fixture

pg, pg_tools = dump_fixtures.pg, dump_fixtures.pg_tools

MARK = "zqxmark"
PG_HEAD = "--\n-- PostgreSQL database dump\n--\nSET standard_conforming_strings = on;\n"
MY_HEAD = "-- MySQL dump 10.19\n/*!40101 SET NAMES utf8mb4 */;\n"


def _profile(tables: dict[str, dict[str, object]]) -> str:
    """A profile (JSON is YAML) naming tables and columns exactly, whatever their characters."""
    return json.dumps({"version": 1, "tables": {t: {"columns": cols} for t, cols in tables.items()}},
                      ensure_ascii=False)


def _run(tmp_path: Path, cli, keyring: Path, dump: str | bytes, profile: str, *extra: str, name: str = "d.sql",
         out: str = "out.sql"):
    src = tmp_path / name
    src.write_bytes(dump.encode() if isinstance(dump, str) else dump)
    prof = tmp_path / "p.yaml"
    prof.write_text(profile)
    target = tmp_path / out
    res = cli("run", src, "-p", prof, "--keyring", keyring, "--out", target, "-q", "--workers", "1", *extra)
    return res, target


EMAIL = {"op": "pseudonymize", "format": "email"}
PG_T = PG_HEAD + "CREATE TABLE public.t (\n    id integer,\n    email text\n);\n"
MY_T = MY_HEAD + "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `email` varchar(99),\n  PRIMARY KEY (`id`)\n);\n"
T_PROFILE = _profile({"t": {"id": "keep", "email": EMAIL}})


# -- 1. a ';' (or anything) inside a quoted identifier ------------------------------------------

ODD_NAMES = ['x;y', 'a"b', "c(d)", "e FROM stdin;", "f'g", "h\\i", "j$$k", "l--m", "n/*o", "ü;ß"]


def _pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.mark.parametrize("where", ["table", "column", "schema"])
@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_identifier_in_a_copy_header_is_read(where, name, tmp_path, cli, keyring):
    """A COPY header with an odd quoted name is read as COPY: every row rewritten, none copied through."""
    schema, table, col = "public", "t", "email"
    if where == "table":
        table = name
    elif where == "column":
        col = name
    else:
        schema = name
    qt = f"{_pg_ident(schema)}.{_pg_ident(table)}"
    dump = (PG_HEAD + f"CREATE TABLE {qt} (\n    id integer,\n    {_pg_ident(col)} text\n);\n"
            f"COPY {qt} (id, {_pg_ident(col)}) FROM stdin;\n1\t{MARK}1@x.org\n2\t{MARK}2@x.org\n\\.\n"
            "CREATE TABLE public.after (\n    id integer,\n    email text\n);\n"
            f"COPY public.after (id, email) FROM stdin;\n3\t{MARK}3@x.org\n\\.\n")
    prof = _profile({f"{schema}.{table}": {"id": "keep", col: EMAIL}, "public.after": {"id": "keep", "email": EMAIL}})
    res, out = _run(tmp_path, cli, keyring, dump, prof, "--report", tmp_path / "r.json")
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert MARK not in text and text.count("@example.com") == 3
    report = json.loads((tmp_path / "r.json").read_text())
    rows = {n: t["rows_in"] for n, t in report["tables"].items()}
    assert rows == {f"{schema}.{table}": 2, "public.after": 1}, rows


def test_odd_identifiers_in_insert_column_lists(tmp_path, cli, keyring):
    dump = (PG_HEAD + 'CREATE TABLE public."t;1" (\n    "a)b" integer,\n    "e,;" text\n);\n'
            f'INSERT INTO public."t;1" ("a)b", "e,;") VALUES (1, \'{MARK}@x.org\');\n')
    res, out = _run(tmp_path, cli, keyring, dump, _profile({"public.t;1": {"a)b": "keep", "e,;": EMAIL}}))
    assert res.exit_code == 0, res.output
    assert MARK not in out.read_text() and "@example.com" in out.read_text()


def test_odd_identifiers_round_trip_through_real_pg_dump(pg, cli, keyring, tmp_path):
    """pg_dump of a schema whose names hold ; quotes parentheses and newlines, in COPY and --inserts:
    every row rewritten (report counts them), psql restores it, --format csv has every row."""
    db = pg.create("veil_src")
    names = ["x;y", 'q"uote', "p(a)r", "FROM stdin;", "new\nline"]
    cols = ", ".join(f"{_pg_ident(n)} text" for n in names)
    vals = ", ".join(f"'{MARK}{i}@x.org'" for i in range(len(names)))
    with pg.connect(db) as conn:
        conn.execute('CREATE SCHEMA "s;1"')
        conn.execute(f'CREATE TABLE "s;1"."t;(x) FROM stdin;" (id integer PRIMARY KEY, {cols})')
        for i in range(5):
            conn.execute(f'INSERT INTO "s;1"."t;(x) FROM stdin;" VALUES ({i}, {vals})')
        conn.execute("CREATE TABLE plain (id integer, email text)")
        conn.execute(f"INSERT INTO plain VALUES (1, '{MARK}p@x.org')")
    table = "s;1.t;(x) FROM stdin;"
    prof = _profile({table: {"id": "keep", **{n: EMAIL for n in names}},
                     "public.plain": {"id": "keep", "email": EMAIL}})
    for flags in ([], ["--inserts"]):
        dump = pg_dump(db, tmp_path / "in.sql", *flags)
        res, out = _run(tmp_path, cli, keyring, dump.read_bytes(), prof, "--report", tmp_path / "r.json")
        assert res.exit_code == 0, res.output
        text = out.read_text()
        assert MARK not in text
        rows = {n: t["rows_in"] for n, t in json.loads((tmp_path / "r.json").read_text())["tables"].items()}
        assert rows == {table: 5, "public.plain": 1}, rows
        dst = pg.create("veil_dst")
        restored = psql_file(dst, out)
        assert restored.returncode == 0, restored.stderr
        assert count(pg, dst, 'SELECT count(*) FROM "s;1"."t;(x) FROM stdin;"') == 5
        out.unlink()
        res, csv_dir = _run(tmp_path, cli, keyring, dump.read_bytes(), prof, "--format", "csv", out="csv")
        assert res.exit_code == 0, res.output
        files = sorted(p for p in csv_dir.iterdir() if p.suffix == ".csv")
        lines = {p.name: len(list(csv.reader(p.open(newline="")))) - 1 for p in files}
        assert sorted(lines.values()) == [1, 5], lines
        assert not any(MARK in p.read_text() for p in files)
        shutil.rmtree(csv_dir)


# -- 2. every statement that can carry row data: rewritten or refused --------------------------

REFUSED_PG = {
    "update": f"UPDATE public.t SET email = '{MARK}@x.org' WHERE id = 1;\n",
    "update-only": f"UPDATE ONLY public.t SET email = E'{MARK}@x.org';\n",
    "merge": f"MERGE INTO public.t USING (SELECT 1) s ON true WHEN MATCHED THEN UPDATE SET email = '{MARK}';\n",
    "insert-select": f"INSERT INTO public.t (id, email) SELECT 1, '{MARK}@x.org';\n",
    "on-conflict-update": (f"INSERT INTO public.t (id, email) VALUES (1, 'a@x.org') ON CONFLICT (id) DO UPDATE "
                           f"SET email = '{MARK}';\n"),
    "copy-csv": f"COPY public.t (id, email) FROM stdin WITH (FORMAT csv);\n1,{MARK}@x.org\n\\.\n",
    "copy-csv-old": f"COPY public.t (id, email) FROM stdin CSV;\n1,{MARK}@x.org\n\\.\n",
    "copy-binary": f"COPY public.t FROM stdin BINARY;\n1\t{MARK}@x.org\n\\.\n",
    "copy-newlines": f"COPY\npublic.t\n(id,\nemail)\nFROM STDIN\nWITH (FORMAT text, DELIMITER ',');\n1,{MARK}\n\\.\n",
    "do-block": f"DO $$ BEGIN INSERT INTO public.t VALUES (1, '{MARK}@x.org'); END $$;\n",
    "ctas": f"CREATE TABLE public.u AS SELECT 1 AS id, '{MARK}@x.org' AS email;\n",
    "with-insert": f"WITH x AS (SELECT 1) INSERT INTO public.t VALUES (1, '{MARK}@x.org');\n",
    "lowrite": f"SELECT pg_catalog.lowrite(0, '\\x{MARK.encode().hex()}');\n",
    "select-fn": f"SELECT public.add_customer('{MARK}@x.org');\n",
    "call": f"CALL public.add_customer('{MARK}@x.org');\n",
    "prepare": f"PREPARE p AS INSERT INTO public.t VALUES ($1, $2);\nEXECUTE p(1, '{MARK}@x.org');\n",
    "after-comment-same-line": f"SET a.b = 1; /* c */\nUPDATE public.t SET email = '{MARK}';\n",
    "nested-comment": f"SET a.b = 1 /* /* */ ' */; UPDATE public.t SET email='{MARK}'; -- '\n",
    "dollar-in-word": f"CREATE TABLE public.foo$x$ (a int);\nUPDATE public.t SET email = '{MARK}';\n-- $x$;\n",
    "copy-terminator-alone": f"SELECT 1\n;\n2\t{MARK}\n\\.\n",
    "psql-copy": f"\\copy public.t (id, email) from stdin\n1\t{MARK}@x.org\n\\.\n",
    "conforming-strings-off": f"SET standard_conforming_strings = off;\nINSERT INTO public.t VALUES (1, '{MARK}');\n",
}


NEXT_LINE = {"after-comment-same-line": 1, "dollar-in-word": 1}  # the data statement is on the line after


@pytest.mark.parametrize("case", list(REFUSED_PG))
def test_pg_data_statement_is_refused(case, tmp_path, cli, keyring):
    stmt = REFUSED_PG[case]
    dump = PG_T + f"COPY public.t (id, email) FROM stdin;\n9\t{MARK}9@x.org\n\\.\n" + stmt
    line = PG_T.count("\n") + 4 + NEXT_LINE.get(case, 0)
    res, out = _run(tmp_path, cli, keyring, dump, T_PROFILE)
    assert res.exit_code == 5, (case, res.output)
    assert f"d.sql:{line}:" in res.stderr, res.stderr
    assert MARK not in res.output and "Traceback" not in res.output
    assert not out.exists()


REFUSED_MY = {
    "update": f"UPDATE `t` SET `email` = '{MARK}@x.org' WHERE `id` = 1;\n",
    "update-low": f"UPDATE LOW_PRIORITY `t` SET `email` = \"{MARK}\";\n",
    "cond-insert": f"/*!40000 INSERT INTO `t` VALUES (1,'{MARK}@x.org') */;\n",
    "cond-mariadb-insert": f"/*M!100101 INSERT INTO `t` VALUES (1,'{MARK}@x.org') */;\n",
    "cond-split": f"/*!40000 SET @a=1; INSERT INTO `t` VALUES (1,'{MARK}@x.org') */;\n",
    "cond-update": f"/*!40000 UPDATE `t` SET `email`='{MARK}' */;\n",
    "replace-select": f"REPLACE INTO `t` SELECT 1, '{MARK}@x.org';\n",
    "insert-set": f"INSERT INTO `t` SET `id`=1, `email`='{MARK}@x.org';\n",
    "on-duplicate": f"INSERT INTO `t` VALUES (1,'a@x.org') ON DUPLICATE KEY UPDATE `email`='{MARK}';\n",
    "load-data": f"LOAD DATA LOCAL INFILE '/tmp/{MARK}.csv' INTO TABLE `t`;\n",
    "ctas": f"CREATE TABLE `u` SELECT 1 AS id, '{MARK}' AS email;\n",
    "no-backslash-escapes": f"/*!40101 SET SQL_MODE='NO_BACKSLASH_ESCAPES' */;\nINSERT INTO `t` VALUES (1,'{MARK}');\n",
    "handler": f"PREPARE s FROM 'INSERT INTO t VALUES (1, \"{MARK}\")';\n",
}


@pytest.mark.parametrize("case", list(REFUSED_MY))
def test_mysql_data_statement_is_refused(case, tmp_path, cli, keyring):
    dump = MY_T + f"INSERT INTO `t` VALUES (9,'{MARK}9@x.org');\n" + REFUSED_MY[case]
    line = MY_T.count("\n") + 2
    res, out = _run(tmp_path, cli, keyring, dump, T_PROFILE)
    assert res.exit_code == 5, (case, res.output)
    assert f"d.sql:{line}:" in res.stderr, res.stderr
    assert MARK not in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_refusal_names_the_statement_kind_and_table(tmp_path, cli, keyring):
    res, _ = _run(tmp_path, cli, keyring, PG_T + REFUSED_PG["update"], T_PROFILE)
    assert "UPDATE (table public.t)" in res.stderr and "hint:" in res.stderr


KEPT_PG = [
    "COMMENT ON COLUMN public.t.email IS 'the customer''s e-mail; e.g. someone@example.org';\n",
    "CREATE FUNCTION public.f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  INSERT INTO public.log "
    "VALUES ('x');\n  UPDATE public.t SET email = 'y';\n  RETURN NEW;\nEND;\n$$;\n",
    "CREATE VIEW public.v AS\n SELECT t.id, 'literal'::text AS label FROM public.t;\n",
    "ALTER TABLE ONLY public.t ALTER COLUMN email SET DEFAULT 'nobody@example.org'::text;\n",
    "ALTER TABLE public.t ADD CONSTRAINT c CHECK ((email <> 'x'::text));\n",
    "CREATE TRIGGER tr BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();\n",
    "SELECT pg_catalog.set_config('search_path', '', false);\n",
    "CREATE TABLE public.p1 PARTITION OF public.t FOR VALUES IN ('a');\n",
    "CREATE MATERIALIZED VIEW public.mv AS\n SELECT 1 AS one\n  WITH NO DATA;\nREFRESH MATERIALIZED VIEW public.mv;\n",
    "GRANT SELECT ON TABLE public.t TO PUBLIC;\n",
    "SET search_path = public; /* done */\n",
]


@pytest.mark.parametrize("stmt", KEPT_PG)
def test_pg_schema_statements_pass_through(stmt, tmp_path, cli, keyring):
    dump = PG_T + f"COPY public.t (id, email) FROM stdin;\n1\t{MARK}@x.org\n\\.\n" + stmt
    res, out = _run(tmp_path, cli, keyring, dump, T_PROFILE)
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert MARK not in text and text.endswith(stmt)


KEPT_MY = [
    "/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n",
    "/*!40101 SET @saved_cs_client     = @@character_set_client */;\n",
    "/*M!999999\\- enable the sandbox mode */ \n",
    "LOCK TABLES `t` WRITE;\nUNLOCK TABLES;\n",
    "DELIMITER ;;\n/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER tr BEFORE INSERT ON t "
    "FOR EACH ROW BEGIN\n  INSERT INTO log VALUES ('x');\nEND */;;\nDELIMITER ;\n",
    "/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */\n"
    "/*!50001 VIEW `v` AS select 'a' AS `x` */;\n",
]


@pytest.mark.parametrize("stmt", KEPT_MY)
def test_mysql_schema_statements_pass_through(stmt, tmp_path, cli, keyring):
    dump = MY_T + f"INSERT INTO `t` VALUES (1,'{MARK}@x.org');\n" + stmt
    res, out = _run(tmp_path, cli, keyring, dump, T_PROFILE)
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert MARK not in text and text.endswith(stmt)


# -- 3. two dump tables, one output file -------------------------------------------------------

def _tag(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:8]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_tables_with_clashing_file_names_get_distinct_files(fmt, pg, cli, keyring, tmp_path):
    """a/b and a_b (and A and a) were all one file: one table silently lost."""
    db = pg.create("veil_src")
    tables = {"a/b": 1, "a_b": 2, "A": 3, "a": 4}
    with pg.connect(db) as conn:
        for name, n in tables.items():
            conn.execute(f"CREATE TABLE {_pg_ident(name)} (id integer, email text)")
            for i in range(n):
                conn.execute(f"INSERT INTO {_pg_ident(name)} VALUES ({i}, '{MARK}{i}@x.org')")
    dump = pg_dump(db, tmp_path / "in.sql")
    prof = _profile({f"public.{t}": {"id": "keep", "email": EMAIL} for t in tables})
    res, out = _run(tmp_path, cli, keyring, dump.read_bytes(), prof, "--format", fmt, out="tables")
    assert res.exit_code == 0, res.output
    expected = {"public.a_b": 2, f"public.a_b-{_tag('public.a/b')}": 1, f"public.A-{_tag('public.A')}": 3,
                f"public.a-{_tag('public.a')}": 4}
    files = {p.name: p for p in out.iterdir() if not p.name.startswith(".")}
    assert sorted(files) == sorted(f"{n}.{fmt}" for n in expected)
    for stem, n in expected.items():
        path = files[f"{stem}.{fmt}"]
        if fmt == "parquet":
            table = pq.read_table(path)
            rows, text = table.num_rows, str(table.to_pydict())
        else:
            rows, text = len(path.read_text().splitlines()) - 1, path.read_text()
        assert rows == n, stem
        assert MARK not in text
    # stable: the same names on a second run, whatever else the dump holds
    shutil.rmtree(out)
    res, out = _run(tmp_path, cli, keyring, dump.read_bytes(), prof, "--format", fmt, out="tables")
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(files)


def test_tables_whose_names_differ_only_in_quoted_dots_are_refused(pg, cli, keyring, tmp_path):
    """schema "x.y" table t and schema x table "y.t" are both x.y.t to veil: refuse, do not merge."""
    db = pg.create("veil_src")
    with pg.connect(db) as conn:
        conn.execute('CREATE SCHEMA "x.y"; CREATE SCHEMA x')
        conn.execute('CREATE TABLE "x.y".t (id integer, email text)')
        conn.execute('CREATE TABLE x."y.t" (id integer, email text)')
        conn.execute(f"INSERT INTO \"x.y\".t VALUES (1, '{MARK}1@x.org')")
        conn.execute(f"INSERT INTO x.\"y.t\" VALUES (2, '{MARK}2@x.org')")
    dump = pg_dump(db, tmp_path / "in.sql")
    res, out = _run(tmp_path, cli, keyring, dump.read_bytes(), _profile({"x.y.t": {"id": "keep", "email": EMAIL}}),
                    "--format", "csv", out="tables")
    assert res.exit_code == 5, res.output
    assert "same name x.y.t" in res.stderr and MARK not in res.output and not out.exists()


# -- 4. sequences and auto-increment counters tell no original id ------------------------------

SEQ_SCHEMA = """
CREATE TABLE c (id serial PRIMARY KEY, email text);
CREATE TABLE o (oid integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text);
CREATE TABLE k (id bigserial PRIMARY KEY, v text);
CREATE TABLE e (id serial PRIMARY KEY, v text);
CREATE SEQUENCE standalone START 500;
SELECT nextval('standalone');
INSERT INTO c (email) SELECT 'zqxmark' || g || '@x.org' FROM generate_series(1, 123) g;
INSERT INTO o (note) SELECT 'n' FROM generate_series(1, 51) g;
INSERT INTO k (v) SELECT 'v' FROM generate_series(1, 7) g;
INSERT INTO e (v) VALUES ('gone'); DELETE FROM e;
"""
SEQ_PROFILE = _profile({"c": {"id": {"op": "pseudonymize", "format": "int"}, "email": EMAIL},
                        "o": {"oid": {"op": "pseudonymize", "format": "int"}, "note": "keep"},
                        "k": {"id": "keep", "v": "keep"},
                        "e": {"id": {"op": "pseudonymize", "format": "int"}, "v": "keep"}})


def _setvals(text: str) -> dict[str, tuple[int, str]]:
    return {m[0]: (int(m[1]), m[2]) for m in
            re.findall(r"SELECT pg_catalog\.setval\('public\.(\w+)', (\d+), (true|false)\);", text)}


@pytest.mark.parametrize("flags", [[], ["--inserts"], ["--data-only"]])
def test_setval_is_rewritten_from_the_output_and_inserts_still_work(flags, pg, cli, keyring, tmp_path):
    """pg_dump's setval told the original max id (123, 51): now the max pseudonym, and an INSERT
    using the sequence default after a psql restore does not hit a duplicate key."""
    src = pg.create("veil_src")
    with pg.connect(src) as conn:
        conn.execute(SEQ_SCHEMA)
    dump = pg_dump(src, tmp_path / "in.sql", *flags)
    assert _setvals(dump.read_text())["c_id_seq"] == (123, "true")
    data = dump.read_bytes()
    if "--data-only" in flags:
        # no DDL: a serial's sequence is found by its name (c_id_seq); "standalone" cannot be placed
        res, out = _run(tmp_path, cli, keyring, data, SEQ_PROFILE)
        assert res.exit_code == 5 and "public.standalone" in res.stderr and not out.exists()
        data = re.sub(rb"SELECT pg_catalog.setval\('public.standalone'.*\n", b"", data)
    res, out = _run(tmp_path, cli, keyring, data, SEQ_PROFILE)
    assert res.exit_code == 0, res.output
    text = out.read_text()
    got = _setvals(text)
    ids = {int(line.split("\t")[0]) for line in text.split("COPY public.c (id, email) FROM stdin;\n")[1]
           .split("\\.\n")[0].splitlines()} if not flags else None
    if ids is not None:
        assert got["c_id_seq"] == (max(ids), "true")
    assert got["c_id_seq"][0] != 123 and got["o_oid_seq"][0] != 51
    assert got["k_id_seq"] == (7, "true")  # a kept column: as it was
    if "--data-only" not in flags:
        assert got["standalone"] == (500, "true")  # feeds no column: as it was
    assert got["e_id_seq"] == (1, "false")  # no rows left: back to its start, not the old max
    dst = pg.create("veil_dst")
    if "--data-only" in flags:
        with pg.connect(dst) as conn:
            conn.execute(SEQ_SCHEMA.split("SELECT nextval")[0])
    restored = psql_file(dst, out)
    assert restored.returncode == 0, restored.stderr
    with pg.connect(dst) as conn:
        new_c = conn.execute("INSERT INTO c (email) VALUES ('new') RETURNING id").fetchone()[0]
        new_o = conn.execute("INSERT INTO o (note) VALUES ('new') RETURNING oid").fetchone()[0]
        conn.execute("INSERT INTO e (v) VALUES ('new')")
        assert new_c == got["c_id_seq"][0] + 1 and new_o == got["o_oid_seq"][0] + 1
        assert conn.execute("SELECT count(*) FROM c").fetchone()[0] == 124


SEQ_DUMP = PG_HEAD + ("CREATE TABLE public.t (\n    id integer NOT NULL,\n    email text\n);\n"
                      "CREATE SEQUENCE public.t_id_seq\n    AS integer\n    START WITH 1\n    INCREMENT BY 1\n"
                      "    CACHE 1;\n"
                      "ALTER SEQUENCE public.t_id_seq OWNED BY public.t.id;\n")
SEQ_P = _profile({"t": {"id": {"op": "pseudonymize", "format": "int"}, "email": EMAIL}})


@pytest.mark.parametrize(("case", "dump", "profile", "line"), [
    ("unplaceable", PG_HEAD + "COPY public.t (id, email) FROM stdin;\n1\ta@x.org\n\\.\n"
     "SELECT pg_catalog.setval('public.ids', 987654, true);\n", SEQ_P, 8),
    ("data-after-setval", SEQ_DUMP + "SELECT pg_catalog.setval('public.t_id_seq', 987654, true);\n"
     "COPY public.t (id, email) FROM stdin;\n1\ta@x.org\n\\.\n", SEQ_P, 16),
    ("not-integers", SEQ_DUMP + "COPY public.t (id, email) FROM stdin;\n1\ta@x.org\n\\.\n"
     "SELECT pg_catalog.setval('public.t_id_seq', 987654, true);\n",
     _profile({"t": {"id": {"op": "pseudonymize"}, "email": EMAIL}}), 18),
    ("odd-setval", SEQ_DUMP + "COPY public.t (id, email) FROM stdin;\n1\ta@x.org\n\\.\n"
     "SELECT pg_catalog.setval('public.t_id_seq', 987654, true), 1;\n", SEQ_P, 18),
])
def test_setval_veil_cannot_set_is_refused(case, dump, profile, line, tmp_path, cli, keyring):
    res, out = _run(tmp_path, cli, keyring, dump, profile)
    assert res.exit_code == 5, (case, res.output)
    assert f"d.sql:{line}:" in res.stderr and "987654" not in res.output and not out.exists()


@pytest.mark.usefixtures("server")
def test_mysql_auto_increment_option_is_removed_when_its_column_is_transformed(tmp_path, cli, keyring):
    tag = hashlib.sha256(str(tmp_path).encode()).hexdigest()[:8]
    src, dst = f"veil_src_{tag}", f"veil_dst_{tag}"
    try:
        client(f"CREATE DATABASE `{src}`; CREATE DATABASE `{dst}`;")
        client("CREATE TABLE c (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, email varchar(99));"
               "CREATE TABLE k (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, v varchar(9));"
               + "".join(f"INSERT INTO c (email) VALUES ('{MARK}{i}@x.org');" for i in range(123))
               + "INSERT INTO k (v) VALUES ('a'),('b');", src)
        dump = mysqldump(src, [], tmp_path / "in.sql")
        assert "AUTO_INCREMENT=124" in dump.read_text()
        prof = _profile({"c": {"id": {"op": "pseudonymize", "format": "int"}, "email": EMAIL},
                         "k": {"id": "keep", "v": "keep"}})
        res, out = _run(tmp_path, cli, keyring, dump.read_bytes(), prof)
        assert res.exit_code == 0, res.output
        text = out.read_text()
        assert "AUTO_INCREMENT=124" not in text and "AUTO_INCREMENT=3" in text and MARK not in text
        restore(out, dst)
        top = scalar(dst, "SELECT max(id) FROM c")
        client("INSERT INTO c (email) VALUES ('new')", dst)
        assert scalar(dst, "SELECT max(id) FROM c") == top + 1
    finally:
        client(f"DROP DATABASE IF EXISTS `{src}`; DROP DATABASE IF EXISTS `{dst}`;", check=False)


def test_setval_of_a_sequence_found_by_name_only_is_set_from_the_output(cli, keyring, tmp_path):
    """The table's DDL but no CREATE SEQUENCE: the setval's sequence is found by its name (t_id_seq)
    when the setval is met, after the rows; the pseudonymized ids were counted all the same."""
    dump = tmp_path / "in.sql"
    dump.write_text("CREATE TABLE public.t (id integer NOT NULL, v text);\nCOPY public.t (id, v) FROM stdin;\n"
                    "1\ta\n2\tb\n3\tc\n\\.\nSELECT pg_catalog.setval('public.t_id_seq', 3, true);\n")
    profile = tmp_path / "p.yaml"
    profile.write_text("version: 1\ntables:\n  public.t:\n    columns:\n      id: {op: pseudonymize, format: int}\n"
                       "      v: keep\n")
    out = tmp_path / "out.sql"
    res = cli("run", dump, "-p", profile, "--keyring", keyring, "--out", out)
    assert res.exit_code == 0, res.output
    text = out.read_text()
    ids = [int(line.split("\t")[0]) for line in text.split("FROM stdin;\n")[1].split("\\.\n")[0].splitlines()]
    assert _setvals(text)["t_id_seq"] == (max(ids), "true") and max(ids) != 3
