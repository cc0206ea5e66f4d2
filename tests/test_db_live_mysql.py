"""Live MariaDB/MySQL as source and target of `veil run` / `veil scan` (veil.db, issue 21), against the real
server: the same draft, rows and pseudonyms as a run on mysqldump's file; a live target replaced atomically
(by one RENAME TABLE); one consistent snapshot for the run."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from .schemas.harness import MY_HOST, MY_PORT, MY_USER, MySQL, scratch_databases
from .test_db_live import check_live_scan, kill_mid_load, veil

pytest.importorskip("pymysql")

SCHEMA = r"""
CREATE TABLE customers (id int AUTO_INCREMENT PRIMARY KEY, email varchar(100) UNIQUE NOT NULL, name varchar(50),
  born date, score decimal(6,2), ratio double, created timestamp DEFAULT CURRENT_TIMESTAMP, note text,
  flags tinyint(1), data varbinary(20), js json, b bit(5), f float, y year);
CREATE TABLE orders (id bigint AUTO_INCREMENT PRIMARY KEY, customer_id int, amount decimal(10,2), placed datetime,
  FOREIGN KEY (customer_id) REFERENCES customers(id));
CREATE TABLE pairs (x int, y int, v varchar(20), PRIMARY KEY (x, y));
CREATE TABLE pair_notes (x int, y int, note varchar(20), FOREIGN KEY (x, y) REFERENCES pairs(x, y));
CREATE TABLE a (id int PRIMARY KEY, b_id int, label varchar(10));
CREATE TABLE b (id int PRIMARY KEY, a_id int, label varchar(10), FOREIGN KEY (a_id) REFERENCES a(id));
ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b(id);
"""


def _data() -> str:
    rows = []
    for g in range(1, 301):
        note = "NULL" if g % 3 == 0 else f"'line\\ttab\\nnew \\\\ {g} it''s'"
        rows.append(f"('user{g}@example.com','Name {g}','1980-01-{1 + g % 28:02d}',{g * 1.5},{g / 3.0},"
                    f"'2021-03-04 05:06:07',{note},{g % 2},UNHEX('00ff{g:04x}'),'{{\"k\": {g}}}',b'{g % 32:05b}',"
                    f"{g / 7},{1990 + g % 30})")
    return (
        "INSERT INTO customers (email,name,born,score,ratio,created,note,flags,data,js,b,f,y) VALUES "
        + ",".join(rows) + ";\n"
        + "INSERT INTO orders (customer_id, amount, placed) VALUES "
        + ",".join(f"({1 + g % 300},{g * 0.25},'2021-01-01 {g % 24:02d}:00:00')" for g in range(1, 1001)) + ";\n"
        + "INSERT INTO pairs VALUES " + ",".join(f"({g // 10},{g % 10},'p{g}')" for g in range(1, 101)) + ";\n"
        + "INSERT INTO pair_notes VALUES " + ",".join(f"({g // 10},{g % 10},'n{g}')" for g in range(1, 101, 7))
        + ";\nSET FOREIGN_KEY_CHECKS=0; INSERT INTO a VALUES (1,1,'a1'),(2,2,'a2');"
        " INSERT INTO b VALUES (1,1,'b1'),(2,2,'b2'); SET FOREIGN_KEY_CHECKS=1;\n")


def url(db: str) -> str:
    return f"mysql://{MY_USER}@{MY_HOST}:{MY_PORT}/{db}"


@pytest.fixture(scope="module")
def my():
    yield from scratch_databases(MySQL, "veil_live")


@pytest.fixture(scope="module")
def source(my, tmp_path_factory):
    db = my.new()
    my.client(SCHEMA + _data(), db)
    work = tmp_path_factory.mktemp("mylive")
    dump = work / "src.sql"
    res = subprocess.run([my.dump_bin, *my.conn_args(), db], capture_output=True, env=my.env(), check=True)
    dump.write_bytes(res.stdout)
    veil("scan", str(dump), "-o", str(work / "draft.yaml"), "--no-ner", "-q")
    profile = work / "profile.yaml"
    profile.write_text((work / "draft.yaml").read_text().replace("row_order: shuffle", "row_order: keep"))
    from veil.keys import init_keyring

    keys = tmp_path_factory.mktemp("keys") / "k.json"
    init_keyring(keys)
    return {"db": db, "dump": dump, "profile": profile, "keys": keys, "work": work}


def test_scan_of_live_mariadb_gives_the_dumps_draft(source):
    check_live_scan(source, url(source["db"]))


def test_live_mariadb_run_equals_run_on_mysqldump(source, tmp_path):
    common = ["-p", str(source["profile"]), "--keyring", str(source["keys"]), "--format", "parquet", "-q"]
    veil("run", str(source["dump"]), "--out", str(tmp_path / "file"), *common)
    veil("run", url(source["db"]), "--out", str(tmp_path / "live"), *common)
    names = sorted(p.name for p in (tmp_path / "file").glob("*.parquet"))
    assert names == ["a.parquet", "b.parquet", "customers.parquet", "orders.parquet", "pair_notes.parquet",
                     "pairs.parquet"]
    for name in names:
        a, b = pq.read_table(tmp_path / "file" / name), pq.read_table(tmp_path / "live" / name)
        assert a.num_rows > 0 and a.equals(b), name
    # as a dump: numbers unquoted, as mysqldump writes them
    raw = subprocess.run([sys.executable, "-m", "veil", "run", url(source["db"]), "--out", "-", *common[:4], "-q"],
                         capture_output=True, check=True).stdout
    assert re.search(rb"^INSERT INTO `orders` VALUES \(\d+,\d+,\d+\.\d\d,'2021-", raw, re.M)


def test_live_mariadb_to_live_round_trip(my, source, tmp_path):
    target, restored = f"{source['db']}_copy", my.new()
    common = ["-p", str(source["profile"]), "--keyring", str(source["keys"]), "-q"]
    try:
        veil("run", url(source["db"]), "--out", url(target), *common)
        veil("run", str(source["dump"]), "--out", str(tmp_path / "safe.sql"), *common)
        subprocess.run([my.client_bin, *my.conn_args(), restored], input=(tmp_path / "safe.sql").read_bytes(),
                       env=my.env(), check=True, capture_output=True)
        for t, key in [("a", "id"), ("b", "id"), ("customers", "id"), ("orders", "id"), ("pairs", "x, y"),
                       ("pair_notes", "x, y, note")]:
            q = f"SELECT * FROM {t} ORDER BY {key}"
            assert my.client(q, target).stdout == my.client(q, restored).stdout, t
        fks = ("SELECT table_name, constraint_type, COUNT(*) FROM information_schema.table_constraints "
               "WHERE table_schema = DATABASE() GROUP BY 1, 2 ORDER BY 1, 2")
        assert my.client(fks, target).stdout == my.client(fks, source["db"]).stdout
        my.client("INSERT INTO orders (customer_id, amount) SELECT MIN(id), 1 FROM customers", target)
        again = veil("run", url(source["db"]), "--out", url(target), *common, check=False)
        assert again.returncode == 2 and "--if-exists replace" in again.stderr
        veil("run", url(source["db"]), "--out", url(target), "--if-exists", "replace", *common)
        assert my.client("SELECT COUNT(*) FROM orders", target).stdout.strip() == b"1000"
        same = veil("run", url(source["db"]), "--out", url(source["db"]), "--if-exists", "replace", *common,
                    check=False)
        assert same.returncode == 2 and "is the source" in same.stderr
    finally:
        my.drop(target)
    left = my.client("SHOW DATABASES LIKE 'veil\\_tmp\\_%'").stdout.decode()
    assert source["db"][:20] not in left


def test_kill_9_mid_load_leaves_the_mariadb_target_unchanged(my, tmp_path):
    src, target = my.new(), my.new()
    my.client("CREATE TABLE big (id int PRIMARY KEY, email varchar(64));"
              "INSERT INTO big SELECT seq, CONCAT('u', seq, '@example.com') FROM seq_1_to_300000;", src)
    my.client("CREATE TABLE before_ (x int); INSERT INTO before_ VALUES (42);", target)
    loading = f"SHOW DATABASES LIKE 'veil\\_tmp\\_{target[:24]}%'"
    profile = kill_mid_load(url(src), url(target), "big", tmp_path, lambda: my.client(loading).stdout)
    assert my.client("SELECT x FROM before_", target).stdout.strip() == b"42"
    assert my.client("SHOW TABLES", target).stdout.split() == [b"before_"]
    veil("run", url(src), "-p", str(profile), "--keyring", str(tmp_path / "k.json"), "--out", url(target),
         "--if-exists", "replace", "-q")
    assert my.client("SELECT COUNT(*) FROM big", target).stdout.strip() == b"300000"
    assert my.client("SHOW TABLES", target).stdout.split() == [b"big"]
    time.sleep(0.5)
    assert not my.client(loading).stdout


def test_a_change_after_the_mariadb_snapshot_is_not_in_the_copy(my, tmp_path):
    from veil.db.url import parse_url
    from veil.formats import open_dataset
    from veil.keys import init_keyring, load_keyring
    from veil.pipeline import run_plan
    from veil.plan import compile_plan
    from veil.profile import load_profile

    src = my.new()
    my.client("CREATE TABLE t (id int AUTO_INCREMENT PRIMARY KEY, name varchar(10)) ENGINE=InnoDB;"
              "INSERT INTO t (name) SELECT CONCAT('n', seq) FROM seq_1_to_100;", src)
    profile = tmp_path / "p.yaml"
    profile.write_text("version: 1\ntables:\n  t:\n    columns:\n      id: keep\n      name: keep\n")
    init_keyring(tmp_path / "k.json")
    keys = load_keyring(str(tmp_path / "k.json"))
    dataset = open_dataset(parse_url(url(src)))
    my.client("INSERT INTO t (name) SELECT 'late' FROM seq_1_to_50; DELETE FROM t WHERE id <= 10;", src)
    plan = compile_plan(load_profile(profile), dataset, keys.active_version)
    run_plan(plan, dataset, tmp_path / "out", keys, fmt="parquet", workers=1)
    dataset.dump.close()
    assert pq.read_table(tmp_path / "out" / "t.parquet").column("id").to_pylist() == list(range(1, 101))
