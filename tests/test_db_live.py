"""Live PostgreSQL as source and target of `veil run` / `veil scan` (veil.db, issue 21), against the real
server: the same draft and the same rows and pseudonyms as a run on pg_dump's file of the same database;
a live target replaced atomically (a kill -9 mid-load leaves it as it was); one snapshot for the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .schemas.harness import PG_ADMIN_DB, PG_HOST, PG_PORT, PG_USER, Postgres, scratch_databases

SCHEMA = r"""
CREATE TABLE customers (id serial PRIMARY KEY, email text UNIQUE NOT NULL, name text, born date,
  score numeric(6,2), ratio double precision, created timestamptz DEFAULT now(), note text, flags boolean,
  data bytea, tags text[], js jsonb, spot point);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers(id), amount numeric(10,2),
  placed timestamp);
CREATE TABLE events (id int, at date NOT NULL, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2020 PARTITION OF events FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE events_2021 PARTITION OF events FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
CREATE TABLE a (id int PRIMARY KEY, b_id int, label text);
CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a(id), label text);
ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b(id) DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE pairs (x int, y int, v text, PRIMARY KEY (x, y));
CREATE TABLE pair_notes (x int, y int, note text, FOREIGN KEY (x, y) REFERENCES pairs(x, y));
INSERT INTO customers (email, name, born, score, ratio, note, flags, data, tags, js, spot)
SELECT 'user'||g||'@example.com', 'Name '||g, date '1980-01-01' + g, g*1.5, g/3.0,
  CASE WHEN g%3=0 THEN NULL ELSE E'line\ttab\nnew \\ '||g END, g%2=0, decode('00ff'||lpad(to_hex(g),4,'0'),'hex'),
  ARRAY['a','b'||g], jsonb_build_object('k', g), point(g, -g)
FROM generate_series(1, 500) g;
INSERT INTO orders (customer_id, amount, placed)
SELECT 1+(g%500), g*0.25, timestamp '2021-01-01' + g*interval '1 hour' FROM generate_series(1, 2000) g;
INSERT INTO events SELECT g, date '2020-06-01' + g, 'ev'||g FROM generate_series(1, 400) g;
BEGIN; INSERT INTO a VALUES (1, NULL, 'a1'), (2, NULL, 'a2'); INSERT INTO b VALUES (1, 1, 'b1'), (2, 2, 'b2');
UPDATE a SET b_id = id; COMMIT;
INSERT INTO pairs SELECT g/10, g%10, 'p'||g FROM generate_series(1, 100) g;
INSERT INTO pair_notes SELECT g/10, g%10, 'n'||g FROM generate_series(1, 100, 7) g;
"""
TABLES = ["public.a", "public.b", "public.customers", "public.events", "public.orders", "public.pair_notes",
          "public.pairs"]


def url(db: str, password: str = "") -> str:
    return f"postgresql://{PG_USER}{':' + password if password else ''}@{PG_HOST}:{PG_PORT}/{db}"


def veil(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "veil", *args], capture_output=True, text=True, timeout=300, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"veil {args[0]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


def psql(db: str, sql: str) -> str:
    return subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", PG_HOST, "-p", PG_PORT, "-U",
                           PG_USER, "-d", db, "-c", sql], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def pg():
    yield from scratch_databases(Postgres, "veil_live")


@pytest.fixture(scope="module")
def source(pg, tmp_path_factory):
    """The source database, its pg_dump, a draft profile scanned from the dump, and a keyring."""
    db = pg.new()
    with pg.connect(db) as conn:
        conn.execute(SCHEMA)
    work = tmp_path_factory.mktemp("live")
    dump = work / "src.sql"
    subprocess.run(["pg_dump", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-f", str(dump), db], check=True)
    veil("scan", str(dump), "-o", str(work / "draft.yaml"), "--no-ner", "-q")
    profile = work / "profile.yaml"
    # the draft, with row_order keep (rows compared in place) and the unreadable point kept
    text = (work / "draft.yaml").read_text().replace("row_order: shuffle", "row_order: keep")
    profile.write_text(text)
    from veil.keys import init_keyring

    keys = tmp_path_factory.mktemp("keys") / "k.json"
    init_keyring(keys)
    return {"db": db, "dump": dump, "profile": profile, "keys": keys, "work": work}


def _tables(out: Path) -> dict:
    return {p.name: pq.read_table(p) for p in sorted(out.glob("*.parquet"))}


def test_scan_of_live_database_gives_the_dumps_draft(source):
    check_live_scan(source, url(source["db"]))


def check_live_scan(source: dict, live: str) -> None:
    """A scan of the live database writes the draft a scan of its dump writes (also with a LIMIT sample)."""
    work = source["work"]
    veil("scan", live, "-o", str(work / "live-draft.yaml"), "--no-ner", "-q")
    body = [ln for ln in (work / "live-draft.yaml").read_text().splitlines() if not ln.startswith("# ")]
    want = [ln for ln in (work / "draft.yaml").read_text().splitlines() if not ln.startswith("# ")]
    assert body == want
    # a bounded sample (LIMIT): the rows a scan of the dump reads, and the exact row counts
    veil("scan", live, "-o", str(work / "live-50.yaml"), "--no-ner", "-q", "--sample-rows", "50")
    veil("scan", str(source["dump"]), "-o", str(work / "dump-50.yaml"), "--no-ner", "-q", "--sample-rows", "50")
    live, dump = ((work / f).read_text().splitlines() for f in ("live-50.yaml", "dump-50.yaml"))
    assert live[2:] == dump[2:] and "of 50 sampled" in "\n".join(live)


def test_live_run_equals_run_on_pg_dump(source, tmp_path):
    common = ["-p", str(source["profile"]), "--keyring", str(source["keys"]), "--format", "parquet", "-q"]
    veil("run", str(source["dump"]), "--out", str(tmp_path / "file"), *common)
    veil("run", url(source["db"]), "--out", str(tmp_path / "live"), *common)
    a, b = _tables(tmp_path / "file"), _tables(tmp_path / "live")
    assert sorted(a) == [t + ".parquet" for t in TABLES]
    for name in a:
        assert a[name].num_rows > 0, name
        assert a[name].equals(b[name]), name
    assert a["public.events.parquet"].num_rows == 400  # the partitions' rows, each once
    ok = veil("validate", str(source["profile"]), url(source["db"]))
    assert "valid for postgresql://" in ok.stdout
    veil("run", url(source["db"]), "--out", str(tmp_path / "csv"), *common[:-3], "--format", "csv", "-q")
    assert len(list((tmp_path / "csv").glob("*.csv"))) == len(TABLES)
    # the pseudonymized key joins across the FK cycle and the composite key as in the file run
    emails = set(b["public.customers.parquet"].column("email").to_pylist())
    assert not emails & {f"user{g}@example.com" for g in range(1, 501)}


def test_live_to_live_round_trip(pg, source, tmp_path):
    """Live source -> live target equals restoring the file run's dump; constraints, partitions and
    sequences come along; --if-exists fail refuses an existing target; the source is never a target."""
    target = f"{source['db']}_copy"
    restored = pg.new()
    common = ["-p", str(source["profile"]), "--keyring", str(source["keys"]), "-q"]
    try:
        veil("run", url(source["db"]), "--out", url(target), *common)
        veil("run", str(source["dump"]), "--out", str(tmp_path / "safe.sql"), *common)
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER,
                        "-d", restored, "-f", str(tmp_path / "safe.sql")], check=True, capture_output=True)
        for t, key in [("a", "id"), ("b", "id"), ("customers", "id"), ("orders", "id"), ("events", "id, at"),
                       ("pairs", "x, y"), ("pair_notes", "x, y, note")]:
            q = f"SELECT * FROM {t} ORDER BY {key}"
            assert psql(target, q) == psql(restored, q), t
        cons = "SELECT conrelid::regclass::text, contype, count(*) FROM pg_constraint WHERE connamespace = " \
               "'public'::regnamespace GROUP BY 1, 2 ORDER BY 1, 2"
        assert psql(target, cons) == psql(source["db"], cons)
        parts = "SELECT inhrelid::regclass::text, inhparent::regclass::text FROM pg_inherits ORDER BY 1"
        assert psql(target, parts) == psql(source["db"], parts) and "events_2021" in psql(target, parts)
        psql(target, "INSERT INTO orders (customer_id, amount) SELECT min(id), 1 FROM customers")  # sequence set
        again = veil("run", url(source["db"]), "--out", url(target), *common, check=False)
        assert again.returncode == 2 and "--if-exists replace" in again.stderr
        veil("run", url(source["db"]), "--out", url(target), "--if-exists", "replace", *common)
        assert psql(target, "SELECT count(*) FROM orders") == "2000\n"
        same = veil("run", url(source["db"]), "--out", url(source["db"]), "--if-exists", "replace", *common,
                    check=False)
        assert same.returncode == 2 and "is the source" in same.stderr
    finally:
        pg.drop(target)
    assert not psql(PG_ADMIN_DB, "SELECT datname FROM pg_database WHERE datname LIKE 'veil\\_tmp\\_%' "
                                 f"AND datname LIKE '%{source['db'][:20]}%'")


def kill_mid_load(src: str, target: str, table: str, tmp_path: Path, loading) -> Path:
    """Start `veil run src --out target` (email faked), kill -9 it once ``loading()`` says rows flow
    into the scratch database; returns the profile (the keyring is tmp_path/k.json)."""
    from veil.keys import init_keyring

    profile = tmp_path / "p.yaml"
    profile.write_text(f"version: 1\ntables:\n  {table}:\n    columns:\n      id: keep\n"
                       "      email: {op: fake, kind: email}\n")
    init_keyring(tmp_path / "k.json")
    proc = subprocess.Popen([sys.executable, "-m", "veil", "run", src, "-p", str(profile), "--keyring",
                             str(tmp_path / "k.json"), "--out", target, "--if-exists", "replace", "-q",
                             "--workers", "1", "--batch-size", "5000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not loading() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # rows are flowing into the scratch database
    assert proc.poll() is None, "the run ended before it could be killed: make the table bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return profile


def test_kill_9_mid_load_leaves_the_target_unchanged(pg, tmp_path):
    src, target = pg.new(), pg.new()
    with pg.connect(src) as conn:
        conn.execute("CREATE TABLE big (id int PRIMARY KEY, email text)")
        conn.execute("INSERT INTO big SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 400000) g")
    psql(target, "CREATE TABLE before (x int); INSERT INTO before VALUES (42)")
    loading = f"SELECT datname FROM pg_database WHERE datname LIKE 'veil\\_tmp\\_{target[:24]}%'"
    profile = kill_mid_load(url(src), url(target), "public.big", tmp_path, lambda: psql(PG_ADMIN_DB, loading))
    time.sleep(0.5)
    assert psql(target, "SELECT x FROM before") == "42\n"
    assert psql(target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "1\n"
    # the next run drops the scratch database the killed run left, and replaces the target
    veil("run", url(src), "-p", str(profile), "--keyring", str(tmp_path / "k.json"), "--out", url(target),
         "--if-exists", "replace", "-q")
    assert psql(target, "SELECT count(*) FROM big") == "400000\n"
    assert not psql(PG_ADMIN_DB, loading)


def test_a_change_after_the_snapshot_is_not_in_the_copy(pg, tmp_path):
    from veil.db.url import parse_url
    from veil.formats import open_dataset
    from veil.keys import init_keyring, load_keyring
    from veil.pipeline import run_plan
    from veil.plan import compile_plan
    from veil.profile import load_profile

    src = pg.new()
    with pg.connect(src) as conn:
        conn.execute("CREATE TABLE t (id serial PRIMARY KEY, name text)")
        conn.execute("INSERT INTO t (name) SELECT 'n' || g FROM generate_series(1, 100) g")
    profile = tmp_path / "p.yaml"
    profile.write_text("version: 1\ntables:\n  public.t:\n    columns:\n      id: keep\n      name: keep\n")
    init_keyring(tmp_path / "k.json")
    keys = load_keyring(str(tmp_path / "k.json"))
    dataset = open_dataset(parse_url(url(src)))  # the snapshot begins here
    with pg.connect(src) as conn:  # another session changes the source while the run goes on
        conn.execute("INSERT INTO t (name) SELECT 'late' FROM generate_series(1, 50)")
        conn.execute("DELETE FROM t WHERE id <= 10")
    plan = compile_plan(load_profile(profile), dataset, keys.active_version)
    run_plan(plan, dataset, tmp_path / "out", keys, fmt="parquet", workers=1)
    dataset.dump.close()
    got = pq.read_table(tmp_path / "out" / "public.t.parquet")
    assert got.column("id").to_pylist() == list(range(1, 101))


def test_credentials_never_shown_and_errors_are_clean(source, tmp_path):
    secret = "s3cr3t-Pw-42"
    common = ["-p", str(source["profile"]), "--keyring", str(source["keys"])]
    ok = veil("run", url(source["db"], secret), "--out", str(tmp_path / "o"), "--format", "parquet",
              "--report", str(tmp_path / "r.json"), *common)
    assert secret not in ok.stderr + ok.stdout + (tmp_path / "r.json").read_text()
    assert json.loads((tmp_path / "r.json").read_text())["input"].startswith("postgresql://")
    env = dict(os.environ, VEIL_TEST_PW=secret)
    bad = veil("run", f"postgresql://{PG_USER}:env:VEIL_TEST_PW@{PG_HOST}:1/{source['db']}", "--out",
               str(tmp_path / "o2"), *common, check=False, env=env)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "cannot connect to the source database" in bad.stderr and secret not in bad.stderr
    missing = veil("run", url("veil_live_no_such_db"), "--out", str(tmp_path / "o3"), *common, check=False)
    assert "cannot connect" in missing.stderr and "Traceback" not in missing.stderr


def test_unsupported_use_of_a_type_is_reported_cleanly(source, tmp_path):
    """An integer pseudonym of a geometric column: the error names table.column, never a value."""
    profile = tmp_path / "p.yaml"
    text = source["profile"].read_text()
    import yaml

    doc = yaml.safe_load(text)
    doc["tables"]["public.customers"]["columns"]["spot"] = {"op": "pseudonymize", "format": "int"}
    profile.write_text(yaml.safe_dump(doc))
    bad = veil("run", url(source["db"]), "-p", str(profile), "--keyring", str(source["keys"]), "--format",
               "parquet", "--out", str(tmp_path / "o"), check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr, bad.stderr
    assert "public.customers.spot" in bad.stderr and f"postgresql://{PG_USER}@" in bad.stderr
    assert "(1," not in bad.stderr and "(-1" not in bad.stderr


def test_urls_and_server_errors_never_show_a_password_or_a_value(monkeypatch):
    from veil.db.server import redact
    from veil.db.url import is_db_url, parse_url

    monkeypatch.setenv("VEIL_TEST_PW", "pw-from-env")
    u = parse_url("postgresql://ro:env:VEIL_TEST_PW@db.example:6432/shop?sslmode=require")
    assert u.password == "pw-from-env" and str(u) == "postgresql://ro@db.example:6432/shop?sslmode=require"
    assert "pw-from-env" not in repr(u) and u.env()["PGPASSWORD"] == "pw-from-env"
    m = parse_url("mariadb://root:sec%40ret@127.0.0.1/shop")
    assert m.kind == "mysql" and m.password == "sec@ret" and "sec" not in str(m)
    monkeypatch.setenv("VEIL_TEST_URL", "postgresql://a:b@h/d")
    assert is_db_url("env:VEIL_TEST_URL") and str(parse_url("env:VEIL_TEST_URL")) == "postgresql://a@h/d"
    assert not is_db_url("shop.sql") and not is_db_url("env:NOT_SET_ANYWHERE")
    assert redact('ERROR:  duplicate key value violates unique constraint "c_email_key"\n'
                  "DETAIL:  Key (email)=(a@b.c) already exists.") == \
        'ERROR:  duplicate key value violates unique constraint "c_email_key"'
    assert "secret" not in redact('ERROR:  invalid input syntax for type integer: "secret"')
    assert "a@b" not in redact("ERROR 1062 (23000) at line 44: Duplicate entry 'a@b' for key 'email'")


def test_a_load_the_target_refuses_leaves_it_unchanged_and_names_no_value(pg, tmp_path):
    """A CHECK constraint the fakes break: psql stops, the scratch database goes, the target stays;
    the error names the constraint, never the failing row psql's DETAIL quotes."""
    src, target = pg.new(), pg.new()
    with pg.connect(src) as conn:
        conn.execute("CREATE TABLE chk (id int PRIMARY KEY, email text CHECK (email LIKE 'user%'))")
        conn.execute("INSERT INTO chk SELECT g, 'user' || g || '@corp.example' FROM generate_series(1, 50) g")
    psql(target, "CREATE TABLE keepme (x int); INSERT INTO keepme VALUES (7)")
    profile = tmp_path / "p.yaml"
    profile.write_text("version: 1\ntables:\n  public.chk:\n    columns:\n      id: keep\n"
                       "      email: {op: fake, kind: email}\n")
    from veil.keys import init_keyring

    init_keyring(tmp_path / "k.json")
    bad = veil("run", url(src), "-p", str(profile), "--keyring", str(tmp_path / "k.json"), "--out", url(target),
               "--if-exists", "replace", check=False)
    assert bad.returncode == 9 and "chk_email_check" in bad.stderr and "Traceback" not in bad.stderr
    assert "@" not in bad.stderr.replace(f"{PG_USER}@{PG_HOST}", "")
    assert psql(target, "SELECT x FROM keepme") == "7\n"
    assert not psql(PG_ADMIN_DB, f"SELECT datname FROM pg_database WHERE datname LIKE 'veil\\_tmp\\_{target[:24]}%'")


def test_a_subset_of_a_live_database_equals_the_subset_of_its_dump(source, tmp_path):
    """The subset's closure reads the live source (every pass in the one snapshot) as it reads the dump."""
    import yaml

    doc = yaml.safe_load(source["profile"].read_text())
    doc["subset"] = {"targets": [{"table": "public.customers", "fraction": 0.1}],
                     "include_children": ["public.orders"], "others": "all"}
    profile = tmp_path / "subset.yaml"
    profile.write_text(yaml.safe_dump(doc))
    common = ["-p", str(profile), "--keyring", str(source["keys"]), "--format", "parquet", "-q"]
    veil("run", str(source["dump"]), "--out", str(tmp_path / "file"), *common)
    veil("run", url(source["db"]), "--out", str(tmp_path / "live"), *common)
    a, b = _tables(tmp_path / "file"), _tables(tmp_path / "live")
    assert sorted(a) == sorted(b)
    assert 0 < a["public.customers.parquet"].num_rows < 500
    for name in a:
        assert a[name].equals(b[name]), name
