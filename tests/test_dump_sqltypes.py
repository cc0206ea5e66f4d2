"""Dump tables whose column types sqlglot cannot parse (MySQL ``point``/``polygon``/``linestring``,
PostgreSQL ``bit varying(n)``): the table is still read, the column typed as text (veil.sqltypes)
with its declared type kept, and a run through the real dump tools restores into the real servers.

Before: the whole CREATE TABLE was skipped, and the run failed with "the dump has no CREATE TABLE
for it" (INSERT without a column list) or lost the table's keys and types."""

from __future__ import annotations

import secrets

import pyarrow as pa
import pytest

from veil.formats import open_dataset
from veil.formats.dump.ddl import parse_create

from .dump_fixtures import pg, pg_dump, pg_tools, psql_bytes, psql_file  # noqa: F401
from .test_dump_mysql import client, mysqldump, restore, server  # noqa: F401

PROFILE = """\
version: 1
defaults:
  unknown_columns: fail
tables:
  {table}:
    columns:
      id: keep
      email: {{op: pseudonymize, format: email, domain: email}}
{keeps}
"""


def _profile(tmp_path, table: str, keep: list[str]):
    p = tmp_path / "profile.yaml"
    p.write_text(PROFILE.format(table=table, keeps="\n".join(f"      {c}: keep" for c in keep)))
    return p


@pytest.mark.parametrize(("dialect", "text", "odd"), [
    ("mysql", "CREATE TABLE `places` (\n  `id` int(11) NOT NULL,\n  `pos` point NOT NULL,\n"
              "  `area` polygon DEFAULT NULL,\n  `path` linestring,\n  PRIMARY KEY (`id`),\n"
              "  SPATIAL KEY `pos` (`pos`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;",
     {"pos": "point", "area": "polygon", "path": "linestring"}),
    ("postgresql", 'CREATE TABLE public.flags (\n    id integer NOT NULL,\n    bits bit varying(8) DEFAULT '
                   "B'1'::bit varying,\n    \"odd, name\" bit varying(3),\n"
                   "    CONSTRAINT flags_pk PRIMARY KEY (id)\n);",
     {"bits": "bit varying(8)", "odd, name": "bit varying(3)"}),
])
def test_unparseable_column_type_keeps_the_table(dialect, text, odd):
    td = parse_create(text, dialect)
    assert td is not None
    types = dict(td.columns)
    assert list(types)[0] == "id" and types["id"].startswith("int")
    for col, declared in odd.items():
        assert types[col] == declared
    assert td.primary_key == ["id"]


def test_mysql_point_table_round_trip(server, tmp_path, keyring, cli):  # noqa: F811
    db = f"veil_geo_{secrets.token_hex(4)}"
    dst = db + "_out"
    try:
        client(f"CREATE DATABASE `{db}`; CREATE DATABASE `{dst}`;")
        client("CREATE TABLE places (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, pos POINT NOT NULL, "
               "area POLYGON NULL, path LINESTRING NULL);"
               "INSERT INTO places VALUES (1, 'a@example.com', ST_GeomFromText('POINT(1 2)'), "
               "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), ST_GeomFromText('LINESTRING(0 0,3 4)')),"
               "(2, 'b@example.com', ST_GeomFromText('POINT(-3.5 7)'), NULL, NULL);", db)
        for flags in ([], ["--hex-blob"]):
            dump = mysqldump(db, flags, tmp_path / "in.sql")
            ds = open_dataset(dump)
            schema = ds.table("places").schema
            assert schema.field("pos").type == pa.string()
            assert schema.field("pos").metadata[b"veil.sql_type"] == b"point"
            out = tmp_path / f"out{len(flags)}.sql"
            res = cli("run", dump, "-p", _profile(tmp_path, "places", ["pos", "area", "path"]),
                      "--keyring", keyring, "-o", out, "-q")
            assert res.exit_code == 0, res.stderr
            data = out.read_bytes()
            assert b"'a@example.com'" not in data and b"'b@example.com'" not in data
            client("DROP TABLE IF EXISTS places;", dst)
            restore(out, dst)
            query = "SELECT id, ST_AsText(pos), ST_AsText(area), ST_AsText(path) FROM places ORDER BY id"
            assert client(query, dst).stdout == client(query, db).stdout
            assert client("SELECT COUNT(DISTINCT email) FROM places WHERE email LIKE '%@%'", dst).stdout.strip() == b"2"
    finally:
        client(f"DROP DATABASE IF EXISTS `{db}`; DROP DATABASE IF EXISTS `{dst}`;", check=False)


@pytest.mark.parametrize("form", ["plain", "inserts"])
def test_pg_bit_varying_table_round_trip(pg, tmp_path, keyring, cli, form):  # noqa: F811
    src, dst = pg.create("veil_src"), pg.create("veil_dst")
    res = psql_bytes(src, b"CREATE TABLE flags (id integer PRIMARY KEY, email text NOT NULL, "
                          b"bits bit varying(8) DEFAULT B'1', fixed bit(3));"
                          b"INSERT INTO flags VALUES (1, 'a@example.com', B'1011', B'101'), "
                          b"(2, 'b@example.com', NULL, B'000');")
    assert res.returncode == 0, res.stderr
    dump = pg_dump(src, tmp_path / "in.sql", *(["--inserts"] if form == "inserts" else []))
    ds = open_dataset(dump)
    schema = ds.table("public.flags").schema
    assert schema.field("bits").type == pa.string()
    assert schema.field("bits").metadata[b"veil.sql_type"] == b"bit varying(8)"
    out = tmp_path / "out.sql"
    res = cli("run", dump, "-p", _profile(tmp_path, "flags", ["bits", "fixed"]), "--keyring", keyring, "-o", out,
              "-q")
    assert res.exit_code == 0, res.stderr
    assert b"\ta@example.com\t" not in out.read_bytes() and b"'a@example.com'" not in out.read_bytes()
    restored = psql_file(dst, out)
    assert restored.returncode == 0, restored.stderr
    with pg.connect(src) as a, pg.connect(dst) as b:
        q = "SELECT id, bits::text, fixed::text FROM flags ORDER BY id"
        assert a.execute(q).fetchall() == b.execute(q).fetchall()
        assert b.execute("SELECT count(DISTINCT email) FROM flags WHERE email LIKE '%@%'").fetchone() == (2,)
