"""Subsets that leave parents out: ``null_references`` (nullable foreign keys nulled, not followed),
``others: all`` (whole tables lose the rows that point at rows left out) and ``others: omit``, on
random FK graphs, the samples, and real pg_dump / mysqldump dumps restored with errors fatal."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

from tests.conftest import SAMPLES_CSV, SAMPLES_PARQUET, SHOP_PROFILE, run_module
from veil.subset.closure import Link, compute
from veil.subset.dangling import null_rows, settle
from veil.subset.keyset import KeySet
from veil.subset.spec import Subset

from .schemas.harness import MySQL, Postgres, run_dump, scratch_databases
from .test_subset import MemReader, graphs

# -- on random graphs ----------------------------------------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_nulled_references_leave_parents_out_and_the_copy_closed(g):
    """Every link may be nulled: no row is kept as a parent, and every non-null reference left
    after nulling resolves to a kept row."""
    names, data, links, targets, _children = g
    links = [Link(lk.child, lk.columns, lk.parent, lk.ref, null=True) for lk in links]
    key = secrets.token_bytes(32)
    reader = MemReader(data)
    res = compute(Subset(targets, []), {t: ("id",) for t in names}, links, reader, lambda t: key)
    assert all(r["parent"] == 0 for r in res.report["tables"].values())
    kept = {t: res.positions[t] for t in names}
    settled = settle(links, set(names), kept, res, reader)
    out = {t: null_rows(data[t].combine_chunks().to_batches()[0], settled.nulled.get(t, []), 0)
           for t in names if data[t].num_rows}
    kept_ids = {t: {int(v) for v in data[t].column("id").to_numpy()[kept[t]]} for t in names}
    for lk in links:
        if lk.child not in out:
            continue
        fk = out[lk.child].column(lk.columns[0]).to_pylist()
        for p in kept[lk.child]:
            assert fk[p] is None or fk[p] in kept_ids[lk.parent]
    # nothing nulled that resolved: a reference to a kept row stays
    for lk in links:
        if lk.child not in out:
            continue
        before = data[lk.child].column(lk.columns[0]).to_pylist()
        after = out[lk.child].column(lk.columns[0]).to_pylist()
        for p in kept[lk.child]:
            if before[p] in kept_ids[lk.parent]:
                assert after[p] == before[p]


def test_a_whole_table_loses_the_rows_that_point_at_rows_left_out():
    # t0 (the subset's target) <- t1 (whole: others all) <- t2 (whole)
    data = {
        "t0": pa.table({"id": pa.array([1, 2, 3, 4], pa.int64())}),
        "t1": pa.table({"id": pa.array([1, 2, 3], pa.int64()), "p": pa.array([1, 2, None], pa.int64())}),
        "t2": pa.table({"id": pa.array([1, 2, 3], pa.int64()), "q": pa.array([1, 2, 3], pa.int64())}),
    }
    links = [Link("t1", ("p",), "t0", ("id",)), Link("t2", ("q",), "t1", ("id",))]
    kept = {"t0": np.array([0], np.int64)}  # the closure kept t0's row 1 only
    closure = compute(Subset([], []), {t: ("id",) for t in data}, [], MemReader({}), lambda t: b"")
    held = KeySet()
    held.add(pa.array(["1"]))
    closure.keys = {("t0", ("id",)): held}
    settled = settle(links, {"t0"}, kept, closure, MemReader(data))
    assert settled.dropped["t1"].tolist() == [1]  # t1 row 2 points at t0's id 2, left out; row 3 at nothing
    assert settled.dropped["t2"].tolist() == [1]  # t2 row 2 points at t1 row 2: it follows
    assert settled.passes == 2


# -- veil run ------------------------------------------------------------------------------------

NULLING = """
subset:
  targets:
    - {table: orders, fraction: 0.1}
  include_children: [payments]
  null_references: [orders.customer_id, orders.customer_email]
  others: omit
"""


def _run(tmp_path: Path, src: Path, keyring: Path, extra: str, *args: str):
    prof = tmp_path / "p.yaml"
    prof.write_text(SHOP_PROFILE.read_text() + extra)
    out, rep = tmp_path / "out", tmp_path / "r.json"
    res = run_module("run", src, "-p", prof, "--keyring", keyring, "-o", out, "--report", rep, "-q", *args)
    return res, out, (json.loads(rep.read_text()) if rep.exists() else None), prof


def test_nulled_references_and_omitted_tables_on_the_samples(tmp_path, keyring):
    res, out, rep, prof = _run(tmp_path, SAMPLES_PARQUET, keyring, NULLING)
    assert res.returncode == 0, res.stderr
    # no customer pulled in: the orders' references are nulled; the tables nobody needs are not written
    assert sorted(p.name for p in out.glob("*.parquet")) == ["orders.parquet", "payments.parquet"]
    assert rep["subset"]["omitted"] == ["addresses", "customers", "support_tickets"]
    orders = pq.read_table(out / "orders.parquet")
    assert orders.num_rows == rep["tables"]["orders"]["subset"]["target"] > 0
    assert orders.column("customer_id").null_count == orders.num_rows
    assert rep["tables"]["orders"]["subset"]["nulled"] == 2 * orders.num_rows  # two foreign keys a row
    order_ids = set(orders.column("order_id").to_pylist())
    assert set(pq.read_table(out / "payments.parquet").column("order_id").to_pylist()) <= order_ids
    # verify: the omitted tables are not "missing", no reference is lost
    res = run_module("verify", SAMPLES_PARQUET, out, "-p", prof, "--json", "-", "-q")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)["integrity"]["summary"]
    assert summary["missing_tables"] == 0 and summary["fk_lost"] == 0


def test_null_references_must_name_a_foreign_key(tmp_path, keyring):
    res, *_ = _run(tmp_path, SAMPLES_CSV, keyring, NULLING.replace("orders.customer_email", "orders.total"))
    assert res.returncode == 3
    assert "null_references names orders.total, which is in no foreign key" in res.stderr


def test_others_all_drops_whole_rows_that_point_at_rows_left_out(tmp_path, keyring):
    extra = """
subset:
  targets:
    - {table: customers, fraction: 0.2}
  include_children: [orders]
  others: all
"""
    res, out, rep, _ = _run(tmp_path, SAMPLES_PARQUET, keyring, extra)
    assert res.returncode == 0, res.stderr
    ids = set(pq.read_table(out / "customers.parquet").column("customer_id").to_pylist())
    for t in ("addresses", "support_tickets"):  # whole tables, thinned to the rows whose customer is kept
        kept = pq.read_table(out / f"{t}.parquet").column("customer_id").to_pylist()
        assert set(kept) - {None} <= ids
        src = pq.read_table(SAMPLES_PARQUET / f"{t}.parquet").num_rows
        left_out = rep["tables"][t]["subset"]["left_out"]
        assert 0 < left_out < src and len(kept) == src - left_out
        # the rows of a kept customer all stay (customer_id is pseudonymized alike in both tables)
        assert len(kept) >= sum(1 for v in kept if v in ids) > 0
    payments = pq.read_table(out / "payments.parquet").column("order_id").to_pylist()
    assert set(payments) <= set(pq.read_table(out / "orders.parquet").column("order_id").to_pylist())


# -- real dumps ----------------------------------------------------------------------------------

PG = """
CREATE TABLE dept (id int PRIMARY KEY, name text, head int);
CREATE TABLE emp (id int PRIMARY KEY, name text NOT NULL, dept int NOT NULL REFERENCES dept(id),
                  manager int REFERENCES emp(id), mentor_a int, mentor_b int);
ALTER TABLE dept ADD FOREIGN KEY (head) REFERENCES emp(id) DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE pair (a int, b int, PRIMARY KEY (a, b));
ALTER TABLE emp ADD FOREIGN KEY (mentor_a, mentor_b) REFERENCES pair(a, b);
INSERT INTO pair SELECT g, g + 1 FROM generate_series(1, 50) g;
INSERT INTO dept SELECT g, 'dept ' || g, NULL FROM generate_series(1, 20) g;
INSERT INTO emp SELECT g, 'person ' || g, 1 + g % 20, CASE WHEN g > 1 THEN g - 1 END,
       CASE WHEN g % 3 = 0 THEN 1 + g % 50 END, CASE WHEN g % 3 = 0 THEN 2 + g % 50 END
  FROM generate_series(1, 600) g;
UPDATE dept SET head = id * 7;
"""

PG_PROFILE = """version: 1
defaults: {unknown_columns: keep}
tables:
  emp:
    columns: {name: {op: fake, kind: name, domain: person}}
subset:
  targets:
    - {table: emp, fraction: 0.05}
    - {table: emp, where: "id = 10"}
  null_references: all
"""
# emp 10 is always a target (its manager 9 is nulled unless sampled): a 5% sample of MariaDB's 300
# employees is empty with probability 0.95**300 = 2.1e-7, and then nothing was checked


@pytest.fixture
def pg():
    yield from scratch_databases(Postgres, "veil_settle")


@pytest.fixture
def my():
    yield from scratch_databases(MySQL, "veil_settle")


def test_a_pg_dump_subset_nulls_the_self_reference_and_the_cycle(tmp_path, keyring, pg):
    src, dst = pg.new(), pg.new()
    with pg.connect(src) as conn:
        conn.execute(PG)
    out, report = run_dump(pg, src, tmp_path, keyring, PG_PROFILE)
    tables = report["tables"]
    ok, err = pg.restore(out, dst)  # every constraint holds
    assert ok, err
    n_emp = int(pg.rows(dst, "SELECT count(*) FROM emp")[0][0])
    # the managers' chain is not followed (nullable self-reference): only the targets, and the NOT
    # NULL dept pulls in their departments; a department's head left out is nulled (the cycle)
    assert n_emp == tables["emp"]["subset"]["target"] and 0 < n_emp < 80
    assert tables["emp"]["subset"]["parent"] == 0
    assert int(pg.rows(dst, "SELECT count(*) FROM dept")[0][0]) == tables["dept"]["subset"]["parent"] > 0
    assert pg.rows(dst, "SELECT count(*) FROM emp e WHERE manager IS NOT NULL AND NOT EXISTS "
                        "(SELECT 1 FROM emp m WHERE m.id = e.manager)") == [("0",)]
    kept_managers = int(pg.rows(dst, "SELECT count(*) FROM emp WHERE manager IS NOT NULL")[0][0])
    src_ids = {int(r[0]) for r in pg.rows(dst, "SELECT id FROM emp")}
    assert kept_managers == sum(1 for i in src_ids if i > 1 and i - 1 in src_ids)
    # the composite FK: nullable, so nulled (both columns) and no pair pulled in
    assert int(pg.rows(src, "SELECT count(*) FROM emp WHERE mentor_a IS NOT NULL")[0][0]) > 0
    assert pg.rows(dst, "SELECT count(*) FROM emp WHERE mentor_a IS NOT NULL OR mentor_b IS NOT NULL") == [("0",)]
    assert pg.rows(dst, "SELECT count(*) FROM pair") == [("0",)]
    # an application's insert into a department the copy holds: emp 10's (11), always a target's;
    # department 1 is there only when the sample draws an employee of it (one failure seen in CI)
    ok, err = pg.insert(dst, "INSERT INTO emp (id, name, dept) VALUES (100000, 'new', 11) RETURNING id")
    assert ok, err
    # others: omit has no place in a rewritten dump: a clean error, nothing written
    prof = tmp_path / "omit.yaml"
    prof.write_text(PG_PROFILE + "  others: omit\n")
    out2 = tmp_path / "out2.sql"
    res = run_module("run", tmp_path / f"{src}.sql", "-p", prof, "--keyring", keyring, "-o", out2, "-q")
    assert res.returncode != 0 and "others: omit" in res.stderr and "Traceback" not in res.stderr
    assert not out2.exists()


MY = """
CREATE TABLE dept (id int PRIMARY KEY, name varchar(40), head int);
CREATE TABLE emp (id int PRIMARY KEY, name varchar(40) NOT NULL, dept int NOT NULL,
                  manager int, FOREIGN KEY (dept) REFERENCES dept(id), FOREIGN KEY (manager) REFERENCES emp(id));
INSERT INTO dept SELECT seq, concat('d', seq), NULL FROM seq_1_to_10;
INSERT INTO emp SELECT seq, concat('p', seq), 1 + seq % 10, IF(seq = 1, NULL, seq - 1) FROM seq_1_to_300;
UPDATE dept SET head = id * 9;
ALTER TABLE dept ADD FOREIGN KEY (head) REFERENCES emp(id);
"""


def test_a_mysqldump_subset_nulls_references(tmp_path, keyring, my):
    src, dst = my.new(), my.new()
    my.client(MY, src)
    out, _ = run_dump(my, src, tmp_path, keyring, PG_PROFILE)
    ok, err = my.restore(out, dst)
    assert ok, err
    n_emp = int(my.rows(dst, "SELECT count(*) FROM emp")[0][0])
    assert 0 < n_emp < 60 and my.rows(dst, "SELECT count(*) FROM emp WHERE id = 10") == [("1",)]
    assert my.rows(dst, "SELECT count(*) FROM emp e LEFT JOIN emp m ON m.id = e.manager "
                        "WHERE e.manager IS NOT NULL AND m.id IS NULL") == [("0",)]
    assert my.rows(dst, "SELECT count(*) FROM dept d LEFT JOIN emp e ON e.id = d.head "
                        "WHERE d.head IS NOT NULL AND e.id IS NULL") == [("0",)]
