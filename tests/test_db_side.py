"""Live PostgreSQL -> PostgreSQL with the untransformed tables copied beside the run (veil.db.pg_side):
the same target as without it, and as restoring the file run's dump; keys, indexes, partitions, a
self-reference and sequences intact; the report's row counts; a failure leaves the target unchanged."""

from __future__ import annotations

import json
import subprocess

import pytest

from veil.db import pg_side

from .schemas.harness import PG_ADMIN_DB, PG_HOST, PG_PORT, PG_USER, Postgres, scratch_databases
from .test_db_live import psql, url

SCHEMA = r"""
CREATE TABLE people (id serial PRIMARY KEY, email text UNIQUE NOT NULL, name text);
CREATE TABLE visits (id bigserial PRIMARY KEY, person_id int NOT NULL REFERENCES people(id), at timestamp,
  page text, UNIQUE (page, id));
CREATE INDEX visits_person ON visits (person_id);
CREATE TABLE log (id int, at date NOT NULL, msg text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE log_2020 PARTITION OF log FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE log_2021 PARTITION OF log FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
CREATE TABLE tree (id int PRIMARY KEY, parent int REFERENCES tree(id), label text);
CREATE TABLE "Odd Name" (id int PRIMARY KEY, v text);
INSERT INTO people (email, name) SELECT 'p' || g || '@example.com', 'Person ' || g FROM generate_series(1, 300) g;
INSERT INTO visits (person_id, at, page) SELECT 1 + g % 300, timestamp '2021-01-01' + g * interval '1 minute',
  E'/page\t' || g % 17 FROM generate_series(1, 3000) g;
INSERT INTO log SELECT g, date '2020-07-01' + g, 'm' || g FROM generate_series(1, 400) g;
INSERT INTO tree VALUES (1, NULL, 'root');
INSERT INTO tree SELECT g, g / 2, 'n' || g FROM generate_series(2, 200) g;
INSERT INTO "Odd Name" SELECT g, 'v' || g FROM generate_series(1, 50) g;
"""
PROFILE = """version: 1
tables:
  public.people:
    columns:
      id: keep
      email: {op: pseudonymize, format: email, domain: email}
      name: {op: fake, kind: name}
  public.visits: {columns: {id: keep, person_id: keep, at: keep, page: keep}}
  public.log: {columns: {id: keep, at: keep, msg: keep}}
  public.tree: {columns: {id: keep, parent: keep, label: keep}}
  public.Odd Name: {columns: {id: keep, v: keep}}
"""
TABLES = {"people": "id", "visits": "id", "log": "id, at", "tree": "id", '"Odd Name"': "id"}


@pytest.fixture(scope="module")
def pg():
    yield from scratch_databases(Postgres, "veil_side")


@pytest.fixture(scope="module")
def setup(pg, tmp_path_factory):
    from veil.keys import init_keyring

    db = pg.new()
    with pg.connect(db) as conn:
        conn.execute(SCHEMA)
    work = tmp_path_factory.mktemp("side")
    (work / "p.yaml").write_text(PROFILE)
    init_keyring(work / "k.json")
    return {"db": db, "work": work, "opts": ["-p", str(work / "p.yaml"), "--keyring", str(work / "k.json"), "-q"]}


def _dump(db: str) -> dict[str, str]:
    return {t: psql(db, f"SELECT * FROM {t} ORDER BY {key}") for t, key in TABLES.items()}


def test_side_copy_gives_the_same_target_as_the_run_and_the_file_path(pg, setup, cli, monkeypatch, tmp_path):
    started = []
    real = pg_side.SideCopy.__init__

    def spy(self, source, tables, target, scratch, early, post):
        started.append((sorted(tables), sorted(early)))
        real(self, source, tables, target, scratch, early, post)

    monkeypatch.setattr(pg_side.SideCopy, "__init__", spy)
    beside, through, restored = pg.new(), pg.new(), pg.new()
    src = setup["db"]
    monkeypatch.setenv("VEIL_SIDE_MIN_BYTES", "0")
    res = cli("run", url(src), "--out", url(beside), "--if-exists", "replace", "--report", tmp_path / "r.json",
              *setup["opts"])
    assert res.exit_code == 0, res.output
    # every untransformed table with a plain name went beside; the partitioned one without early indexes
    assert started == [(["public.log", "public.tree", "public.visits"], ["public.tree", "public.visits"])]
    monkeypatch.setenv("VEIL_SIDE_MIN_BYTES", str(1 << 60))
    res = cli("run", url(src), "--out", url(through), "--if-exists", "replace", *setup["opts"])
    assert res.exit_code == 0 and len(started) == 1
    dump = tmp_path / "src.sql"
    subprocess.run(["pg_dump", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-f", str(dump), src], check=True)
    assert cli("run", dump, "--out", tmp_path / "safe.sql", *setup["opts"]).exit_code == 0
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER,
                    "-d", restored, "-f", str(tmp_path / "safe.sql")], check=True, capture_output=True)
    assert _dump(beside) == _dump(through) == _dump(restored)
    assert _dump(beside)["people"] != _dump(src)["people"]  # the transformed table was transformed
    cons = "SELECT conrelid::regclass::text, conname, contype FROM pg_constraint WHERE connamespace = " \
           "'public'::regnamespace ORDER BY 1, 2"
    idx = "SELECT indexrelid::regclass::text, indisvalid FROM pg_index JOIN pg_class c ON c.oid = indrelid " \
          "WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1"
    parts = "SELECT inhrelid::regclass::text, inhparent::regclass::text FROM pg_inherits ORDER BY 1"
    for q in (cons, idx, parts):
        assert psql(beside, q) == psql(src, q)
    report = json.loads((tmp_path / "r.json").read_text())["tables"]
    assert {n: report[n]["rows_out"] for n in report} == {
        "public.people": 300, "public.visits": 3000, "public.log": 400, "public.tree": 200, "public.Odd Name": 50}
    # the application still works: sequences set, keys enforced
    assert psql(beside, "INSERT INTO visits (person_id, page) VALUES (1, 'x') RETURNING id") == "3001\n"
    bad = subprocess.run(["psql", "-X", "-q", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", beside, "-c",
                          "INSERT INTO tree VALUES (999, 12345, 'orphan')"], capture_output=True, text=True)
    assert bad.returncode != 0 and "foreign key" in bad.stderr


def test_a_failed_run_with_a_side_copy_leaves_the_target_and_no_scratch(pg, setup, cli, monkeypatch, tmp_path):
    """The transformed table breaks a CHECK of the target (pseudonyms where the source had 'p...'): the run
    fails cleanly while the side copy was loading; the target and nothing else remains."""
    src, target = pg.new(), pg.new()
    with pg.connect(src) as conn:
        conn.execute(SCHEMA.replace("email text UNIQUE NOT NULL", "email text UNIQUE NOT NULL CHECK (email LIKE 'p%')"))
    psql(target, "CREATE TABLE keepme (x int); INSERT INTO keepme VALUES (7)")
    monkeypatch.setenv("VEIL_SIDE_MIN_BYTES", "0")
    res = cli("run", url(src), "--out", url(target), "--if-exists", "replace", *setup["opts"])
    assert res.exit_code == 9, res.output
    assert "people_email_check" in res.output and "Traceback" not in res.output
    assert psql(target, "SELECT x FROM keepme") == "7\n"
    assert not psql(PG_ADMIN_DB, f"SELECT datname FROM pg_database WHERE datname LIKE 'veil\\_tmp\\_{target[:24]}%'")


def test_split_post_keeps_only_a_tables_own_keys_and_indexes_early():
    post = ("SET default_tablespace = '';\n\nALTER TABLE ONLY public.visits\n    ADD CONSTRAINT visits_pkey PRIMARY "
            "KEY (id);\n\nALTER TABLE ONLY public.visits_more\n    ADD CONSTRAINT vm_pkey PRIMARY KEY (id);\n\n"
            "CREATE INDEX visits_person ON public.visits USING btree (person_id);\n\nCREATE INDEX other ON "
            "public.people USING btree (name);\n\nALTER TABLE ONLY public.visits\n    ADD CONSTRAINT visits_fk "
            "FOREIGN KEY (person_id) REFERENCES public.people(id);\n")
    early, rest = pg_side.split_post(post, {"public.visits": [("public", "visits")]})
    assert early == {"public.visits": "SET default_tablespace = '';\nALTER TABLE ONLY public.visits\n    ADD "
                     "CONSTRAINT visits_pkey PRIMARY KEY (id);\nCREATE INDEX visits_person ON public.visits USING "
                     "btree (person_id);\n"}
    assert "visits_pkey" not in rest and "visits_person" not in rest
    assert "vm_pkey" in rest and "other ON" in rest and "visits_fk" in rest and rest.startswith("SET default")


def test_a_live_subset_reads_only_the_key_columns_it_needs_and_equals_the_dump(pg, setup, cli, monkeypatch,
                                                                                tmp_path):
    """Pushdown: the closure's passes over a live source read only the tables and columns they use
    (COPY (SELECT cols ...) in the run's snapshot), in pg_dump's row order: the same subset as the dump's."""
    import pyarrow.parquet as pq
    import yaml

    from veil.db.pg_source import LivePgInfo

    asked = []
    real = LivePgInfo._narrow_section

    def spy(self, narrow):
        asked.append({t: sorted(c) if c is not None else None for t, c in narrow.items()})
        return real(self, narrow)

    monkeypatch.setattr(LivePgInfo, "_narrow_section", spy)
    doc = yaml.safe_load(PROFILE)
    doc["subset"] = {"targets": [{"table": "public.people", "fraction": 0.2}, {"table": "public.log",
                                                                            "where": "id < 50"}],
                     "include_children": ["public.visits"], "others": "all"}
    profile = tmp_path / "subset.yaml"
    profile.write_text(yaml.safe_dump(doc))
    dump = tmp_path / "src.sql"
    subprocess.run(["pg_dump", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-f", str(dump), setup["db"]], check=True)
    common = ["-p", profile, "--keyring", setup["work"] / "k.json", "--format", "parquet", "-q"]
    assert cli("run", dump, "--out", tmp_path / "file", *common).exit_code == 0
    assert cli("run", url(setup["db"]), "--out", tmp_path / "live", *common).exit_code == 0
    files = sorted(p.name for p in (tmp_path / "file").glob("*.parquet"))
    assert files == sorted(p.name for p in (tmp_path / "live").glob("*.parquet")) and len(files) == 5
    for name in files:
        assert pq.read_table(tmp_path / "file" / name).equals(pq.read_table(tmp_path / "live" / name)), name
    assert 0 < pq.read_table(tmp_path / "live" / "public.people.parquet").num_rows < 300
    assert pq.read_table(tmp_path / "live" / "public.log.parquet").num_rows == 49
    assert asked, "the closure read the live source without pushdown"
    for narrow in asked:  # never a text column the closure does not use
        assert not any(c in (cols or []) for cols in narrow.values() for c in ("email", "name", "page", "msg"))
        assert all(cols is not None for cols in narrow.values())


def test_a_narrowed_pass_reads_rows_in_the_heap_order_even_with_a_covering_index(pg, setup, cli, tmp_path):
    """Rows updated then vacuumed: the heap order is not the key order, and an index-only scan would
    give the narrowed pass another order than pg_dump's. The excluded row must be the one named."""
    import pyarrow.parquet as pq

    src = pg.new()
    with pg.connect(src) as conn:
        conn.execute("CREATE TABLE w (id int PRIMARY KEY, pad text)")
        conn.execute("INSERT INTO w SELECT g, repeat('x', 400) FROM generate_series(1, 20000) g")
        conn.execute("UPDATE w SET pad = 'y' WHERE id % 3 = 0")
    psql(src, "VACUUM ANALYZE w")
    assert "Index Only Scan" in psql(src, "EXPLAIN SELECT id FROM ONLY w")  # what a plain query would do
    profile = tmp_path / "p.yaml"
    profile.write_text("version: 1\ntables:\n  public.w: {columns: {id: keep, pad: keep}}\n"
                       "exclude:\n  - {table: public.w, where: \"id = 3\"}\n")
    res = cli("run", url(src), "--out", tmp_path / "o", "--format", "parquet", "-p", profile, "--keyring",
              setup["work"] / "k.json", "-q")
    assert res.exit_code == 0, res.output
    ids = pq.read_table(tmp_path / "o" / "public.w.parquet").column("id").to_pylist()
    assert len(ids) == 19999 and 3 not in ids and 4 in ids


def test_with_a_vault_no_table_with_a_foreign_key_is_copied_beside(setup, monkeypatch):
    """A forget list drops the rows referencing a forgotten subject: a child table must go through the run."""
    from veil.db.url import parse_url
    from veil.formats import open_dataset
    from veil.plan import compile_plan
    from veil.profile import load_profile

    dataset = open_dataset(parse_url(url(setup["db"])))
    try:
        plan = compile_plan(load_profile(setup["work"] / "p.yaml"), dataset, "1")
        monkeypatch.setenv("VEIL_SIDE_MIN_BYTES", "0")
        without = pg_side.side_tables(dataset.dump, plan, False, False)
        with_vault = pg_side.side_tables(dataset.dump, plan, True, False)
    finally:
        dataset.dump.close()
    assert sorted(without) == ["public.log", "public.tree", "public.visits"]
    assert sorted(with_vault) == ["public.log"]  # visits and tree have foreign keys
