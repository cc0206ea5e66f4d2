"""Subsetting (veil.subset): where predicates, the closure on random FK graphs (hypothesis), and
`veil run` with a subset on the samples (CSV and Parquet) and on real pg_dump and mysqldump dumps."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SAMPLES_CSV, SAMPLES_PARQUET, SHOP_PROFILE, run_module
from veil.keys import load_keyring
from veil.subset.closure import PURPOSE, Link, compute, keyed_hash, positions_in
from veil.subset.predicate import PredicateError, compile_where
from veil.subset.spec import Subset, Target

from .schemas.harness import MySQL, Postgres, run_dump, scratch_databases

# -- where ---------------------------------------------------------------------------------------

T = pa.table({"country": ["DE", "FR", None, "DE"], "age": ["20", "40", "25", None], "name": ["Ada", "Bob", "Al", "x"],
              "d": [dt.date(2019, 1, 1), dt.date(2021, 1, 1), None, dt.date(2020, 1, 1)], "n": [1, 2, 3, None]})


@pytest.mark.parametrize("where, rows", [
    ("country = 'DE'", [0, 3]),
    ("country <> 'DE'", [1]),  # a null country is unknown, not selected
    ("NOT country = 'DE'", [1]),
    ("age BETWEEN 18 AND 30", [0, 2]),  # text compared with numbers: cast
    ("name LIKE 'A%'", [0, 2]),
    ("name NOT LIKE 'A%'", [1, 3]),
    ("n IN (1, 3)", [0, 2]),
    ("n NOT IN (1, 3)", [1]),
    ("country IS NULL", [2]),
    ("country IS NOT NULL AND n >= 2", [1]),
    ("d < DATE '2020-06-01'", [0, 3]),
    ("2 < n OR country = 'FR'", [1, 2]),
    ("(n = 1 OR n = 2) AND NOT (country = 'FR')", [0]),
])
def test_where_selects_like_sql(where, rows):
    assert np.flatnonzero(compile_where(where).mask(T, "t")).tolist() == rows


@pytest.mark.parametrize("where", ["country = (SELECT 1)", "f(x) = 1", "t.c = 1", "x = 1; DROP TABLE t",
                                   "n IS 3", "a +", "country = 'DE' UNION SELECT 1"])
def test_where_refuses_what_it_does_not_hold(where):
    with pytest.raises(PredicateError):
        compile_where(where)


def test_positions_in():
    kept = np.array([0, 3, 4, 9, 12], np.int64)
    assert positions_in(kept, 3, 7).tolist() == [True, True, False, False, False, False, True]
    assert positions_in(kept, 13, 5).tolist() == [False] * 5


# -- the closure on random graphs ----------------------------------------------------------------

class MemReader:
    def __init__(self, tables: dict[str, pa.Table], batch: int = 7):
        self.tables, self.batch, self.reads = tables, batch, 0

    def read(self, columns):
        for name, cols in columns.items():
            self.reads += 1
            t = self.tables[name].select(cols)
            for i in range(0, max(t.num_rows, 1), self.batch):
                if t.num_rows:
                    yield name, i, t.slice(i, self.batch)


@st.composite
def graphs(draw):
    n_tables = draw(st.integers(1, 5))
    names = [f"t{i}" for i in range(n_tables)]
    sizes = {t: draw(st.integers(0, 30)) for t in names}
    links, data = [], {}
    for t in names:
        cols = {"id": list(range(1, sizes[t] + 1))}
        for j in range(draw(st.integers(0, 3))):  # FKs to any table, itself included (cycles)
            parent = draw(st.sampled_from(names))
            col = f"fk{j}"
            cols[col] = [draw(st.one_of(st.none(), st.integers(1, max(sizes[parent], 1)))) if sizes[parent] else None
                         for _ in range(sizes[t])]
            links.append(Link(t, (col,), parent, ("id",)))
        data[t] = pa.table({k: pa.array(v, pa.int64()) for k, v in cols.items()})
    targets = [Target(t, fraction=draw(st.sampled_from([0.1, 0.3, 0.7, 1.0]))) for t in names if draw(st.booleans())]
    children = [t for t in names if draw(st.booleans())]
    return names, data, links, targets or [Target(names[0], fraction=0.5)], children


def _kept_rows(data, positions):
    return {t: {int(v) for v in data[t].column("id").to_numpy()[positions[t]]} for t in data}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.booleans())
def test_the_closure_is_closed_holds_its_targets_and_is_minimal(g, with_children):
    names, data, links, targets, children = g
    subset = Subset(targets, children if with_children else [])
    key = secrets.token_bytes(32)
    res = compute(subset, {t: ("id",) for t in names}, links, MemReader(data), lambda t: key)
    kept = _kept_rows(data, res.positions)
    # closed: every foreign key of a kept row resolves to a kept row
    for lk in links:
        fk = data[lk.child].column(lk.columns[0]).to_pylist()
        for p in res.positions[lk.child]:
            if fk[p] is not None and fk[p] <= data[lk.parent].num_rows:
                assert fk[p] in kept[lk.parent]
    # every chosen target row is there (a second computation with the same key chooses the same)
    again = compute(subset, {t: ("id",) for t in names}, links, MemReader(data, batch=5), lambda t: key)
    assert all(np.array_equal(res.positions[t], again.positions[t]) for t in names)
    # minimal: exactly the targets' rows, with include_children the rows of included tables that
    # reference a target or such a child row (to a fixpoint; rows kept only as parents bring no
    # children), and transitively every row those reference
    chosen = {t: {int(i) + 1 for i in res.positions[t]} for t in names}
    down: dict[str, set[int]] = {t: set() for t in names}
    for tg in targets:
        ids = data[tg.table].column("id").to_pylist()
        h = keyed_hash(key, pa.array([str(i) for i in ids], pa.string()))
        thr = min(int(tg.fraction * 2.0 ** 64), 2 ** 64 - 1)
        down[tg.table] |= {i for i, x in zip(ids, h, strict=True) if tg.fraction >= 1 or int(x) < thr}
    grew = with_children
    while grew:
        grew = False
        for lk in links:
            if lk.child in children:
                fk = data[lk.child].column(lk.columns[0]).to_pylist()
                for i, v in enumerate(fk, 1):
                    if v in down[lk.parent] and i not in down[lk.child]:
                        down[lk.child].add(i)
                        grew = True
    want = {t: set(v) for t, v in down.items()}
    stack = [(t, i) for t in names for i in want[t]]
    while stack:
        t, i = stack.pop()
        for lk in links:
            if lk.child == t:
                v = data[t].column(lk.columns[0])[i - 1].as_py()
                if v is not None and v <= data[lk.parent].num_rows and v not in want[lk.parent]:
                    want[lk.parent].add(v)
                    stack.append((lk.parent, v))
    assert chosen == want


def test_a_limit_target_settles_in_few_rounds():
    # the limit's rows are known after the first pass: kept on the second, their parents on the
    # third; a parent read in the round its keys were asked for is not read again for nothing
    data = {"o": pa.table({"id": list(range(1, 51)), "c": [1 + i % 5 for i in range(50)]}),
            "c": pa.table({"id": [1, 2, 3, 4, 5]})}
    reader = MemReader(data)
    res = compute(Subset([Target("o", limit=3)], []), {"o": ("id",), "c": ("id",)},
                  [Link("o", ("c",), "c", ("id",))], reader, lambda t: b"k" * 32)
    assert len(res.positions["o"]) == 3 and 1 <= len(res.positions["c"]) <= 3
    assert res.report["rounds"] <= 3 and reader.reads <= 4


# -- veil run with a subset ----------------------------------------------------------------------

SUBSET = """
subset:
  targets:
    - {table: customers, fraction: 0.1}
  include_children: [orders, payments, support_tickets, addresses]
"""


def _run(tmp_path: Path, src: Path, keyring: Path, name: str, extra: str = SUBSET, *args: str) -> tuple[Path, dict]:
    prof = tmp_path / f"{name}.yaml"
    prof.write_text(SHOP_PROFILE.read_text() + extra)
    out, rep = tmp_path / name, tmp_path / f"{name}.json"
    res = run_module("run", src, "-p", prof, "--keyring", keyring, "-o", out, "--report", rep, "-q", *args)
    assert res.returncode == 0, res.stderr
    return out, json.loads(rep.read_text())


def test_a_subset_of_the_samples_is_closed_and_stable(tmp_path, keyring):
    out_pq, rep = _run(tmp_path, SAMPLES_PARQUET, keyring, "pq")
    out_csv, rep_csv = _run(tmp_path, SAMPLES_CSV, keyring, "csv", SUBSET, "--format", "parquet")
    tables = {t: pq.read_table(out_pq / f"{t}.parquet") for t in ("customers", "orders", "payments", "addresses")}
    # the 10% are the customers whose keyed hash is below 0.1 * 2**64, exactly; how many is
    # Binomial(200, 0.1) under a random key: 0 with probability 7e-10, 60 or more with 4e-15
    # (the old bound, 40, failed with 1.7e-5)
    src_ids = pq.read_table(SAMPLES_PARQUET / "customers.parquet").column("customer_id").cast(pa.string())
    key = load_keyring(str(keyring)).subkey(PURPOSE, "customers")
    chosen = int((keyed_hash(key, src_ids) < np.uint64(int(0.1 * 2.0 ** 64))).sum())
    assert 0 < tables["customers"].num_rows == chosen < 200 * 0.3
    assert rep["tables"]["customers"]["subset"]["target"] == tables["customers"].num_rows
    assert rep["tables"]["customers"]["rows_dropped"]["outside_subset"] == 200 - tables["customers"].num_rows
    ids = set(tables["customers"].column("customer_id").to_pylist())
    assert set(tables["orders"].column("customer_id").to_pylist()) <= ids
    assert set(tables["addresses"].column("customer_id").to_pylist()) <= ids
    order_ids = set(tables["orders"].column("order_id").to_pylist())
    assert set(tables["payments"].column("order_id").to_pylist()) <= order_ids
    # every order of a kept customer is there (include_children), and only those
    src_orders = pq.read_table(SAMPLES_PARQUET / "orders.parquet")
    assert tables["orders"].num_rows == rep["tables"]["orders"]["subset"]["child"]
    assert rep["tables"]["orders"]["rows_in"] == src_orders.num_rows
    # CSV and Parquet inputs choose the same customers; a second run the same rows
    assert pq.read_table(out_csv / "customers.parquet").column("customer_id").to_pylist() == \
        tables["customers"].column("customer_id").to_pylist()
    out2, _ = _run(tmp_path, SAMPLES_PARQUET, keyring, "pq2")
    assert pq.read_table(out2 / "orders.parquet").equals(tables["orders"])
    res = run_module("verify", SAMPLES_PARQUET, out_pq, "-p", tmp_path / "pq.yaml", "--json", "-", "-q")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["integrity"]["summary"]["fk_lost"] == 0


def test_where_limit_and_upstream_only(tmp_path, keyring):
    extra = """
subset:
  targets:
    - {table: orders, where: "status = 'delivered' AND total > 100", limit: 20}
"""
    out, rep = _run(tmp_path, SAMPLES_PARQUET, keyring, "w", extra)
    orders = pq.read_table(out / "orders.parquet")
    assert orders.num_rows == 20 and set(orders.column("status").to_pylist()) == {"delivered"}
    # upstream: the customers of those orders, nothing else; no payments (not asked for)
    assert pq.read_table(out / "customers.parquet").num_rows == rep["tables"]["customers"]["subset"]["parent"] > 0
    assert pq.read_table(out / "payments.parquet").num_rows == 0
    assert rep["subset"]["unresolved_references"] == {}


def test_a_subset_profile_problem_is_clean(tmp_path, keyring):
    prof = tmp_path / "p.yaml"
    prof.write_text(SHOP_PROFILE.read_text() + "subset:\n  targets:\n    - {table: custmers, fraction: 2}\n"
                    "    - {table: orders, where: \"f(x) = 1\"}\n")
    res = run_module("validate", prof, SAMPLES_PARQUET)
    assert res.returncode == 3
    assert "fraction must be a number in (0, 1]" in res.stdout + res.stderr
    assert "'Anonymous' is not supported in where" in res.stdout + res.stderr


# -- real dumps ----------------------------------------------------------------------------------

PG = """
CREATE TABLE region (code text PRIMARY KEY, name text);
CREATE TABLE customer (id int PRIMARY KEY, name text, region text REFERENCES region(code),
                       referrer int REFERENCES customer(id));
CREATE TABLE orders (id int, shop int, customer int NOT NULL REFERENCES customer(id), placed date NOT NULL,
                     PRIMARY KEY (id, shop, placed)) PARTITION BY RANGE (placed);
CREATE TABLE orders_2023 PARTITION OF orders FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE orders_2024 PARTITION OF orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE line (order_id int, shop int, placed date, n int, sku text,
                   PRIMARY KEY (order_id, shop, n));
CREATE TABLE unrelated (k int PRIMARY KEY, v text);
INSERT INTO region SELECT 'R' || g, 'region ' || g FROM generate_series(1, 5) g;
INSERT INTO customer SELECT g, 'person ' || g, 'R' || (1 + g % 5), CASE WHEN g > 3 THEN g / 3 END
  FROM generate_series(1, 400) g;
INSERT INTO orders SELECT g, 1 + g % 2, 1 + (g * 7) % 400, DATE '2023-01-01' + (g % 700)
  FROM generate_series(1, 1500) g;
INSERT INTO line SELECT o.id, o.shop, o.placed, k, 'sku' || k FROM orders o, generate_series(1, 2) k;
INSERT INTO unrelated SELECT g, 'v' FROM generate_series(1, 10) g;
"""

PG_FKS = """
ALTER TABLE line ADD FOREIGN KEY (order_id, shop, placed) REFERENCES orders(id, shop, placed);
"""

PG_PROFILE = """version: 1
defaults: {unknown_columns: keep}
tables:
  customer:
    primary_key: [id]
    columns: {name: {op: fake, kind: name, domain: person}}
  line:
    primary_key: [order_id, shop, n]
subset:
  targets:
    - {table: customer, fraction: 0.05}
    - {table: customer, where: "id = 100"}
  include_children: [orders, line]
"""
# customer 100 is always a target: a 5% sample of 400 is empty with probability 0.95**400 = 1.2e-9,
# and with it its referrers 33, 11 and 3 are always there (parents, unless the sample took them too)
# and its order 357 is placed in 2023


@pytest.fixture
def pg():
    yield from scratch_databases(Postgres, "veil_sub")


@pytest.fixture
def my():
    yield from scratch_databases(MySQL, "veil_sub")


def test_a_pg_dump_subset_restores_with_every_constraint(tmp_path, keyring, pg):
    srv, src, dst = pg, pg.new(), pg.new()
    with srv.connect(src) as conn:
        conn.execute(PG)
        conn.execute(PG_FKS)
    out, report = run_dump(srv, src, tmp_path, keyring, PG_PROFILE)
    ok, err = srv.restore(out, dst)  # constraints (FKs, PKs) are added after the data: all must hold
    assert ok, err
    n = {t: int(srv.rows(dst, f"SELECT count(*) FROM {t}")[0][0])
         for t in ("region", "customer", "orders", "line", "unrelated")}
    assert 0 < n["customer"] < 400 and n["unrelated"] == 0
    assert n["customer"] == report["tables"]["customer"]["rows_out"]
    # the self-reference pulled in referrers: more customers than the 5% targets
    assert report["tables"]["customer"]["subset"]["parent"] > 0
    assert srv.rows(dst, "SELECT id FROM customer WHERE id IN (3, 11, 33, 100) ORDER BY id") == \
        [("3",), ("11",), ("33",), ("100",)]
    # include_children: every order of a kept customer, and every line of a kept order
    assert srv.rows(dst, "SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM customer c "
                         "WHERE c.id = o.customer)") == [("0",)]
    src_orders = int(srv.rows(src, "SELECT count(*) FROM orders")[0][0])
    assert report["tables"]["orders"]["rows_in"] == src_orders
    assert n["line"] == 2 * n["orders"]
    # partitions: rows stayed in their own partition (the restore checked it)
    assert int(srv.rows(dst, "SELECT count(*) FROM orders_2023")[0][0]) > 0
    # an app insert still works (setval untouched: ids kept)
    ok, err = srv.insert(dst, "INSERT INTO region VALUES ('NEW', 'x') RETURNING code")
    assert ok, err
    # exclude alone: region R1 goes, with its customers, the customers they referred (the
    # self-reference), their orders and lines; the rest is copied whole and restores
    out, again = run_dump(srv, src, tmp_path, keyring,
                          PG_PROFILE.split("subset:")[0] + "exclude:\n  - {table: region, where: \"code = 'R1'\"}\n")
    ex = {k.rsplit(".", 1)[-1]: v for k, v in again["subset"]["excluded"].items()}
    dst2 = srv.new()
    ok, err = srv.restore(out, dst2)
    assert ok, err
    direct = int(srv.rows(src, "SELECT count(*) FROM customer WHERE region = 'R1'")[0][0])
    assert ex["region"]["direct"] == 1 and ex["customer"]["cascade"] > direct  # referrals cascade
    assert int(srv.rows(dst2, "SELECT count(*) FROM customer")[0][0]) == 400 - ex["customer"]["cascade"]
    assert srv.rows(dst2, "SELECT count(*) FROM region WHERE code = 'R1'") == [("0",)]
    assert int(srv.rows(dst2, "SELECT count(*) FROM unrelated")[0][0]) == 10


def test_a_mysqldump_subset_keeps_every_reference(tmp_path, keyring, my):
    srv, src, dst = my, my.new(), my.new()
    srv.client("CREATE TABLE a (id int PRIMARY KEY, b_id int NULL);\n"
               "CREATE TABLE b (id int PRIMARY KEY, a_id int NOT NULL, FOREIGN KEY (a_id) REFERENCES a(id));\n"
               "INSERT INTO a SELECT seq, NULL FROM seq_1_to_500;\n"
               "INSERT INTO b SELECT seq, 1 + (seq % 250) FROM seq_1_to_500;\n"
               "UPDATE a SET b_id = id WHERE id % 2 = 0;\n"
               "ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b(id);\n", src)
    # a 2% sample of 500 rows is empty with probability 0.98**500 = 4.1e-5 (then nothing was checked):
    # row a 2 is always a target, so the cycle a 2 -> b 2 -> a 3 is always followed
    out, _ = run_dump(srv, src, tmp_path, keyring, "version: 1\ndefaults: {unknown_columns: keep}\ntables: {}\n"
                      "subset:\n  targets:\n    - {table: a, fraction: 0.02}\n"
                      "    - {table: a, where: \"id = 2\"}\n")
    ok, err = srv.restore(out, dst)
    assert ok, err
    na = int(srv.rows(dst, "SELECT count(*) FROM a")[0][0])
    assert 0 < na < 100
    assert srv.rows(dst, "SELECT id FROM a WHERE id IN (2, 3) ORDER BY id") == [("2",), ("3",)]
    assert srv.rows(dst, "SELECT id FROM b WHERE id = 2") == [("2",)]
    # the two-table cycle a -> b -> a is closed: every reference resolves
    assert srv.rows(dst, "SELECT count(*) FROM a LEFT JOIN b ON a.b_id = b.id WHERE a.b_id IS NOT NULL "
                         "AND b.id IS NULL") == [("0",)]
    assert srv.rows(dst, "SELECT count(*) FROM b LEFT JOIN a ON b.a_id = a.id WHERE a.id IS NULL") == [("0",)]


# -- exclude: retention and restriction ----------------------------------------------------------

def test_exclude_rules_cascade_like_forget(tmp_path, keyring):
    cust = pq.read_table(SAMPLES_PARQUET / "customers.parquet")
    restricted = cust.column("customer_id").to_pylist()[:3]
    (tmp_path / "restricted.txt").write_text("".join(f"{i}\n" for i in restricted))
    extra = """
exclude:
  - {table: customers, older_than: {column: signup_date, days: 1095}}
  - {table: customers, keys_file: restricted.txt}
"""
    out, rep = _run(tmp_path, SAMPLES_PARQUET, keyring, "ex", extra)
    signup = cust.column("signup_date").to_pylist()
    cutoff = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1095)
    gone = {i for i, d in zip(cust.column("customer_id").to_pylist(), signup, strict=True) if d < cutoff}
    gone |= set(restricted)
    assert 0 < len(gone) < cust.num_rows
    kept = set(pq.read_table(out / "customers.parquet").column("customer_id").to_pylist())
    assert len(kept) == cust.num_rows - len(gone)  # pseudonymized ids: counted, not compared
    ex = rep["subset"]["excluded"]
    assert ex["customers"]["direct"] == len(gone)
    src_orders = pq.read_table(SAMPLES_PARQUET / "orders.parquet")
    gone_orders = {o for o, c in zip(src_orders.column("order_id").to_pylist(),
                                     src_orders.column("customer_id").to_pylist(), strict=True) if c in gone}
    assert ex["orders"]["cascade"] == len(gone_orders) > 0
    assert pq.read_table(out / "orders.parquet").num_rows == src_orders.num_rows - len(gone_orders)
    src_pay = pq.read_table(SAMPLES_PARQUET / "payments.parquet")
    gone_pay = sum(o in gone_orders for o in src_pay.column("order_id").to_pylist())
    assert ex["payments"]["cascade"] == gone_pay  # two levels down
    assert pq.read_table(out / "payments.parquet").num_rows == src_pay.num_rows - gone_pay
    assert rep["tables"]["payments"]["rows_dropped"]["outside_subset"] == gone_pay
    res = run_module("verify", SAMPLES_PARQUET, out, "-p", tmp_path / "ex.yaml", "--json", "-", "-q")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["integrity"]["summary"]["fk_lost"] == 0


def test_an_excluded_row_is_never_chosen_by_a_subset(tmp_path, keyring):
    extra = SUBSET.replace("fraction: 0.1", "fraction: 1.0") + """
exclude:
  - {table: customers, where: "country = 'DE'"}
"""
    out, rep = _run(tmp_path, SAMPLES_CSV, keyring, "exs", extra, "--format", "parquet")
    cust = pq.read_table(out / "customers.parquet")
    assert "DE" not in set(cust.column("country").to_pylist()) and cust.num_rows > 0
    src = pq.read_table(SAMPLES_PARQUET / "customers.parquet")
    assert cust.num_rows == src.num_rows - src.column("country").to_pylist().count("DE")
    assert rep["subset"]["excluded"]["customers"]["direct"] == src.column("country").to_pylist().count("DE")
    assert rep["subset"]["excluded"]["orders"]["cascade"] > 0


@pytest.mark.parametrize("flags", [(), ("--inserts",)])
def test_a_subset_sets_sequences_from_what_it_wrote(tmp_path, keyring, flags, pg):
    srv, src, dst = pg, pg.new(), pg.new()
    with srv.connect(src) as conn:
        conn.execute("CREATE TABLE person (id serial PRIMARY KEY, name text);"
                     "INSERT INTO person (name) SELECT 'p' || g FROM generate_series(1, 1000) g;"
                     "CREATE TABLE note (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                     "person int REFERENCES person(id), body text);"
                     "INSERT INTO note (person, body) SELECT 1 + g % 1000, 'b' FROM generate_series(1, 3000) g;")
    out, _ = run_dump(srv, src, tmp_path, keyring, "version: 1\ndefaults: {unknown_columns: keep}\ntables: {}\n"
                      "subset:\n  targets:\n    - {table: person, fraction: 0.05}\n  include_children: [note]\n"
                      # the source's last ids stay out, so the source's sequence value is never the right one
                      "exclude:\n  - {table: person, where: \"id > 900\"}\n",
                      dump_flags=flags)
    assert "setval('public.person_id_seq', 1000, true)" not in out.read_text()  # the source's size
    ok, err = srv.restore(out, dst)
    assert ok, err
    top = int(srv.rows(dst, "SELECT max(id) FROM person")[0][0])
    assert top <= 900 and srv.rows(dst, "SELECT last_value FROM person_id_seq") == [(str(top),)]
    for _ in range(3):  # the application's inserts take the next ids
        ok, err = srv.insert(dst, "INSERT INTO person (name) VALUES ('new') RETURNING id")
        assert ok, err
        ok, err = srv.insert(dst, "INSERT INTO note (person, body) SELECT max(id), 'x' FROM person RETURNING id")
        assert ok, err


def test_a_mysql_subset_drops_the_source_auto_increment(tmp_path, keyring, my):
    srv, src, dst = my, my.new(), my.new()
    srv.client("CREATE TABLE person (id int PRIMARY KEY AUTO_INCREMENT, name varchar(20));\n"
               "INSERT INTO person (name) SELECT CONCAT('p', seq) FROM seq_1_to_400;", src)
    out, _ = run_dump(srv, src, tmp_path, keyring, "version: 1\ndefaults: {unknown_columns: keep}\ntables: {}\n"
                      "subset:\n  targets:\n    - {table: person, fraction: 0.1}\n")
    assert re.search(r"AUTO_INCREMENT=\d+", (tmp_path / f"{src}.sql").read_text())  # the source's next id: its size
    assert not re.search(r"AUTO_INCREMENT=\d+", out.read_text()) and "AUTO_INCREMENT" in out.read_text()
    ok, err = srv.restore(out, dst)
    assert ok, err
    ok, err = srv.insert(dst, "INSERT INTO person (name) VALUES ('new')")
    assert ok, err
