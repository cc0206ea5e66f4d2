"""UtilityCheck and IntegrityCheck (veil verify): hand-computed KS, Wasserstein, TVD and top-k on
small columns; an identical copy scores 1 (typed or read back as text, cut into other batches);
shifted dates, nullified and pseudonymized columns; foreign keys resolving before and after, join
cardinality, broken unique keys; integrity's missing tables and columns, dropped columns, row
counts; and no value of the data in either section."""

from __future__ import annotations

import datetime
import itertools
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.formats import open_dataset
from veil.keys import Keyring
from veil.ops import OPERATORS
from veil.pipeline.transform import transform_batch
from veil.plan import ColumnPlan, TablePlan
from veil.profile import ForeignKey, load_profile
from veil.verify import distributions
from veil.verify import keys as verify_keys
from veil.verify.base import TableInfo, VerifyContext
from veil.verify.distributions import ks, ks_counts, top_k_overlap, tvd, tvd_rank, wasserstein
from veil.verify.integrity import IntegrityCheck
from veil.verify.keys import FingerprintCounts, column_fingerprints, number_fingerprints, row_fingerprints
from veil.verify.runner import verify_paths
from veil.verify.utility import UtilityCheck

from . import dump_fixtures
from .conftest import SHOP_PROFILE

KEYS = Keyring.for_testing(bytes(range(32)))
MARKER = "ZZMARKERZZ"
pg, pg_tools = dump_fixtures.pg, dump_fixtures.pg_tools


def fk(columns, table, ref_columns) -> ForeignKey:
    return ForeignKey(list(columns), table, list(ref_columns), "test", None)


def info(name: str, original: pa.Table, rules: dict | None = None, copy_schema=..., **kw) -> TableInfo:
    """A TableInfo whose plan gives each column its rule (op, params); other columns are kept."""
    cols = []
    for f in original.schema:
        op, params = (rules or {}).get(f.name, ("keep", {}))
        full = OPERATORS[op].with_defaults(params)
        cols.append(ColumnPlan(f.name, op, full, f.name if OPERATORS[op].keyed else None, "rule",
                               f.type, OPERATORS[op].output_type(f.type, full), key_version="k-test"))
    plan = TablePlan(name, cols)
    schema = plan.out_schema if copy_schema is ... else copy_schema
    return TableInfo(name, original.schema, schema, plan, **kw)


def run_copy(ti: TableInfo, original: pa.Table) -> pa.Table:
    """What veil run writes: the plan applied batch by batch under the test keyring."""
    batches = [transform_batch(ti.plan, b, KEYS, 0).batch for b in original.to_batches()]
    return pa.Table.from_batches(batches, schema=ti.plan.out_schema)


def verify(infos: list[TableInfo], originals: dict, copies: dict, chunk: int | None = None,
           copy_chunk: int | None = None) -> tuple[dict, dict]:
    """Phase 1 then phase 2 into both checks; their sections after a JSON round trip."""
    ctx = VerifyContext({i.name: i for i in infos}, None)
    checks = [UtilityCheck(ctx), IntegrityCheck(ctx)]
    for name, t in originals.items():
        for b in t.to_batches(max_chunksize=chunk):
            for c in checks:
                c.original(name, b)
    for name, t in copies.items():
        for b in t.to_batches(max_chunksize=copy_chunk or chunk):
            for c in checks:
                c.copy(name, b, None)
    return tuple(json.loads(json.dumps(c.finish())) for c in checks)


def as_text(t: pa.Table) -> pa.Table:
    """The table as CSV reads it: every column text (dates ISO, numbers as printed)."""
    cols = []
    for col in t.columns:
        if pa.types.is_timestamp(col.type):
            cols.append(pc.strftime(col, format="%Y-%m-%d %H:%M:%S"))
        else:
            cols.append(pc.cast(col, pa.string()))
    return pa.table(cols, names=t.column_names)


CTX = VerifyContext({}, None)  # one fingerprint key for the hand-computed cases


def counts(values: list) -> FingerprintCounts:
    out = FingerprintCounts()
    out.add(column_fingerprints(CTX, pa.array(values))[0])
    return out


def people(n: int = 600, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    cities = np.array(["Lyon", "Köln", "Malmö", "Łódź", "Paris", MARKER])
    days = rng.integers(0, 20000, n)
    return pa.table({
        "id": pa.array(np.arange(1, n + 1), pa.int64()),
        "amount": pa.array(np.round(rng.gamma(2.0, 30.0, n), 2)),
        "born": pa.array(days.astype("int32"), pa.date32()),
        "seen": pa.array((days.astype(np.int64) * 86400 + rng.integers(0, 86400, n)), pa.timestamp("s")),
        "city": pa.array(cities[rng.integers(0, len(cities), n)]),
        "note": pa.array([f"{MARKER} free text {i} " + "x" * int(rng.integers(0, 40)) for i in range(n)]),
    })


# -- distances, hand-computed -------------------------------------------------------------


def test_ks_and_wasserstein_by_hand():
    a, b = np.array([1.0, 2, 3, 4]), np.array([3.0, 4, 5, 6])
    # ECDFs: at 2, F_a = 0.5 and F_b = 0; at 3: 0.75 / 0.25; at 4: 1 / 0.5 -> 0.5
    assert ks(a, b) == pytest.approx(0.5)
    assert wasserstein(a, b) == pytest.approx(2.0)  # every value moved by 2
    assert ks(a, a) == 0 and wasserstein(a, a) == 0
    assert ks(np.array([1.0, 2]), np.array([10.0, 20])) == 1.0
    assert ks(a, np.empty(0)) is None
    # histogram KS: lengths 1,1,2 against 2,2,2 -> F(1) = 2/3 vs 0
    assert ks_counts(np.array([0, 2, 1]), np.array([0, 0, 3])) == pytest.approx(2 / 3)


def test_ks_matches_scipy():
    scipy_stats = pytest.importorskip("scipy.stats", reason="scipy cross-check")
    rng = np.random.default_rng(1)
    a, b = np.sort(rng.normal(0, 1, 700)), np.sort(rng.normal(0.3, 1.2, 400))
    assert ks(a, b) == pytest.approx(scipy_stats.ks_2samp(a, b).statistic)
    assert wasserstein(a, b) == pytest.approx(scipy_stats.wasserstein_distance(a, b))


def test_tvd_and_top_k_by_hand():
    before = counts(["a", "a", "a", "b", "b", "c"])  # a 1/2, b 1/3, c 1/6
    after = counts(["a", "a", "d", "d", "d", "b"])  # a 1/3, d 1/2, b 1/6
    # 0.5 * (|1/2-1/3| + |1/3-1/6| + |1/6-0| + |0-1/2|) = 0.5 * (1/6 + 1/6 + 1/6 + 1/2) = 1/2
    assert tvd(before, after) == pytest.approx(0.5)
    assert tvd_rank(before, after) == pytest.approx(0.0)  # same frequency profile, other labels
    assert top_k_overlap(before, after, k=2) == 0.5  # {a, b} against {d, a}
    assert top_k_overlap(before, after, k=1) == 0.0  # a against d
    assert top_k_overlap(before, before, k=10) == 1.0
    assert tvd(before, before) == 0.0


def test_composite_fingerprints_keep_column_order():
    ctx = VerifyContext({}, None)
    batch = pa.record_batch({"x": ["1", "2", None], "y": ["2", "1", "3"]})
    fps, rows = row_fingerprints(ctx, batch, ["x", "y"])
    assert list(rows) == [0, 1]  # a null in the key: no key
    assert fps[0] != fps[1]  # (1, 2) and (2, 1) differ
    swapped, _ = row_fingerprints(ctx, pa.record_batch({"x": ["2"], "y": ["1"]}), ["x", "y"])
    assert swapped[0] == fps[1]
    assert row_fingerprints(ctx, batch, ["x", "z"]) is None


# -- utility of whole copies -------------------------------------------------------------------


def test_identical_copy_scores_one():
    t = people()
    ti = info("people", t, primary_key=["id"])
    util, integ = verify([ti], {"people": t}, {"people": t}, chunk=128, copy_chunk=250)
    table = util["tables"]["people"]
    assert table["score"] == 1.0 and util["summary"]["utility"] == 1.0
    kinds = {c: v["kind"] for c, v in table["columns"].items()}
    assert kinds == {"id": "number", "amount": "number", "born": "date", "seen": "date",
                     "city": "category", "note": "text"}
    for c, v in table["columns"].items():
        assert v["distance"] == 0.0, c
        assert v["before"] == v["after"], c
    assert table["columns"]["city"]["top_k_overlap"] == 1.0
    assert len(table["columns"]["born"]["before"]["quantiles"]["p50"]) == 10  # an ISO date
    assert len(table["columns"]["seen"]["before"]["quantiles"]["p50"]) == 19  # and a time
    assert table["unique_keys"] == [{"columns": ["id"], "unique_before": True, "unique_after": True,
                                     "duplicates_before": 0, "duplicates_after": 0}]
    assert integ["summary"] == {"fk": None, "fk_lost": None, "missing_tables": 0, "missing_columns": 0,
                                "row_count_changes": 0}


def test_a_copy_read_back_as_text_is_the_same(monkeypatch):
    """CSV gives '42' where Parquet gave 42: the distances still compare values, not types; and the
    sample (shrunk below the row count) draws the same rows whatever the batches."""
    monkeypatch.setattr(distributions, "SAMPLE", 100)
    t = people()
    text = as_text(t)
    util, _ = verify([info("people", t)], {"people": t}, {"people": text}, chunk=64, copy_chunk=500)
    table = util["tables"]["people"]
    assert {c: v["distance"] for c, v in table["columns"].items()} == dict.fromkeys(t.column_names, 0.0)
    assert table["columns"]["amount"]["after"]["type"] == "string"
    assert table["columns"]["amount"]["before"]["quantiles"] == table["columns"]["amount"]["after"]["quantiles"]
    assert util["method"]["sample"] == 100


def test_text_original_kinds_are_strict():
    """A text column is a number (date) only when every non-blank value reads as one."""
    t = pa.table({"n": ["1", "2", "", "3.5"] * 300, "d": ["2020-01-02", "2021-02-03", "", None] * 300,
                  "mixed": ["1", "2", "x", "3"] * 300})
    util, _ = verify([info("t", t)], {"t": t}, {"t": t}, chunk=100)
    cols = util["tables"]["t"]["columns"]
    assert (cols["n"]["kind"], cols["d"]["kind"], cols["mixed"]["kind"]) == ("number", "date", "category")
    assert cols["n"]["before"]["count"] == 900 and cols["n"]["before"]["length"]["blank"] == 300


def test_shifted_dates_and_changed_numbers_are_seen():
    t = people(2000)
    ti = info("people", t, {"born": ("date_shift", {"max_days": 365, "subject": "id"})})
    copy = run_copy(ti, t)
    moved = copy.set_column(1, "amount", pc.multiply(t["amount"], 2.0))
    util, _ = verify([ti], {"people": t}, {"people": moved})
    cols = util["tables"]["people"]["columns"]
    assert cols["born"]["role"] == "transformed" and cols["born"]["distance_name"] == "ks"
    assert 0 < cols["born"]["distance"] < 0.2  # shifted by up to a year over 55 years
    assert cols["born"]["histogram"]["before"] != cols["born"]["histogram"]["after"]
    assert cols["amount"]["distance"] > 0.3 and cols["amount"]["wasserstein_normalized"] > 0.5
    assert cols["amount"]["after"]["mean"] == pytest.approx(2 * cols["amount"]["before"]["mean"], rel=1e-4)
    score = util["tables"]["people"]["score"]
    assert score == pytest.approx(1 - (cols["born"]["distance"] + cols["amount"]["distance"]) / 6, abs=1e-5)


def test_nullified_dropped_and_pseudonymized_columns():
    t = people(500).set_column(1, "amount", pa.array([None if i % 4 == 0 else float(i) for i in range(500)]))
    ti = info("people", t, {"amount": ("nullify", {}), "note": ("drop", {}),
                            "id": ("pseudonymize", {"format": "token"}),
                            "city": ("pseudonymize", {"format": "token"})}, primary_key=["id"])
    copy = run_copy(ti, t)
    util, integ = verify([ti], {"people": t}, {"people": copy})
    cols = util["tables"]["people"]["columns"]
    assert cols["amount"]["distance"] == pytest.approx(0.75)  # the non-null share it lost
    assert cols["note"]["role"] == "dropped" and cols["note"]["after"] is None and not cols["note"]["scored"]
    assert cols["id"]["role"] == "identifier" and cols["id"]["distance_name"] == "distinct_ratio"
    assert cols["id"]["distance"] == 0.0 and cols["id"]["after"]["distinct"] == 500
    # a pseudonymized category keeps its frequency profile: tvd_rank 0, but no label in common
    assert cols["city"]["role"] == "identifier"  # keyed and injective: judged by distinct count
    assert cols["city"]["distance"] == 0.0
    assert util["tables"]["people"]["columns_scored"] == 5
    assert integ["tables"]["people"]["dropped_by_profile"] == ["note"]
    assert integ["tables"]["people"]["missing_columns"] == [] and integ["summary"]["missing_columns"] == 0


def test_transformed_category_is_judged_by_its_profile():
    t = pa.table({"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})
    ti = info("t", t, {"c": ("mask", {})})
    copy = pa.table({"c": ["x"] * 50 + ["y"] * 30 + ["z"] * 20})
    util, _ = verify([ti], {"t": t}, {"t": copy})
    col = util["tables"]["t"]["columns"]["c"]
    assert (col["role"], col["kind"], col["distance_name"]) == ("transformed", "category", "tvd_rank")
    assert col["distance"] == 0.0 and col["top_k_overlap"] == 0.0
    merged = pa.table({"c": ["x"] * 80 + ["z"] * 20})
    util, _ = verify([ti], {"t": t}, {"t": merged})
    assert util["tables"]["t"]["columns"]["c"]["distance"] == pytest.approx(0.3)  # (.5,.3,.2) vs (.8,.2)
    assert util["tables"]["t"]["columns"]["c"]["histogram"]["after"] == [0.8, 0.2]


def test_kept_category_and_null_share_changes():
    t = pa.table({"c": ["a"] * 60 + ["b"] * 30 + ["c"] * 10, "n": pa.array([1.0, 2.0] * 50)})
    copy = pa.table({"c": ["a"] * 60 + ["b"] * 10 + ["d"] * 30,  # 20 of b and the 10 c became d
                     "n": pa.array([1.0, None, 2.0, None] * 25)})  # half the values nulled, same shape
    util, _ = verify([info("t", t)], {"t": t}, {"t": copy})
    c, n = util["tables"]["t"]["columns"]["c"], util["tables"]["t"]["columns"]["n"]
    assert (c["distance_name"], c["distance"]) == ("tvd", pytest.approx(0.3))  # 0.5*(.2+.1+.3)
    assert c["top_k_overlap"] == pytest.approx(2 / 3)  # a, b of a, b, c
    assert n["value_distance"] == 0.0 and n["distance"] == pytest.approx(0.5)
    assert n["after"]["null_share"] == 0.5 and n["after"]["distinct"] == 2
    assert util["tables"]["t"]["score"] == pytest.approx(1 - (0.3 + 0.5) / 2)


# -- keys ------------------------------------------------------------------------------------


def shop(children: list, parents: list = (1, 2, 3, 4, 5)) -> tuple[pa.Table, pa.Table]:
    return (pa.table({"id": pa.array(list(parents), pa.int64())}),
            pa.table({"oid": pa.array(range(len(children)), pa.int64()),
                      "customer_id": pa.array(children, pa.int64())}))


def shop_infos(customers, orders, **kw) -> list[TableInfo]:
    return [info("customers", customers, primary_key=["id"]),
            info("orders", orders, primary_key=["oid"],
                 foreign_keys=[fk(["customer_id"], "customers", ["id"])], **kw)]


def test_foreign_key_resolution_before_and_after():
    customers, orders = shop([1, 1, 2, 3, 4, 5, None])
    # the copy as text (CSV): "3" joins 3; one reference planted that resolves nowhere
    _, dangling = shop([1, 1, 2, 3, 4, 99, None])
    copy = {"customers": as_text(customers), "orders": as_text(dangling)}
    util, integ = verify(shop_infos(customers, orders), {"customers": customers, "orders": orders}, copy)
    f = util["tables"]["orders"]["foreign_keys"][0]
    assert f["references"] == "customers(id)" and f["columns"] == ["customer_id"]
    assert f["resolved_before"] == 1.0 and f["unresolved_before"] == 0
    assert f["resolved_after"] == pytest.approx(5 / 6) and f["unresolved_after"] == 1  # the null is no reference
    i = integ["tables"]["orders"]["foreign_keys"][0]
    assert (i["references_checked"], i["unresolved"], i["resolved_share"]) == (6, 1, pytest.approx(5 / 6))
    assert integ["summary"]["fk"] == pytest.approx(5 / 6)
    assert integ["tables"]["orders"]["summary"]["fk"] == pytest.approx(5 / 6)


def test_child_tables_before_their_parent_and_composite_keys():
    """A dump may give the child first; composite keys resolve as tuples."""
    parent = pa.table({"a": [1, 1, 2], "b": ["x", "y", "x"]})
    child = pa.table({"pa": [1, 2, 1, None], "pb": ["x", "x", "y", "y"]})
    bad = pa.table({"pa": [1, 2, 2, None], "pb": ["x", "x", "y", "y"]})  # (2, y) is no parent
    infos = [info("child", child, foreign_keys=[fk(["pa", "pb"], "parent", ["a", "b"])]),
             info("parent", parent, primary_key=["a", "b"])]
    util, integ = verify(infos, {"child": child, "parent": parent}, {"child": bad, "parent": parent})
    f = util["tables"]["child"]["foreign_keys"][0]
    assert (f["resolved_before"], f["resolved_after"]) == (1.0, pytest.approx(2 / 3))
    assert f["references"] == "parent(a, b)"
    assert integ["tables"]["child"]["foreign_keys"][0]["unresolved"] == 1


def test_children_per_parent_change_is_detected():
    customers, orders = shop([1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    _, lumped = shop([1, 1, 1, 1, 1, 1, 2, 3, 4, 5])
    util, integ = verify(shop_infos(customers, orders), {"customers": customers, "orders": orders},
                         {"customers": customers, "orders": lumped})
    f = util["tables"]["orders"]["foreign_keys"][0]
    assert f["children_per_parent"]["edges"] == [0, 1, 2, 3, 5, 10, 20, 50, 100, "+"]
    assert f["children_per_parent"]["before"] == [0, 0, 5, 0, 0, 0, 0, 0, 0]
    assert f["children_per_parent"]["after"] == [0, 4, 0, 0, 1, 0, 0, 0, 0]
    assert f["distance"] == pytest.approx(0.8)  # 4 of 5 parents went from 2 children to 1
    assert f["resolved_after"] == 1.0 and integ["summary"]["fk"] == 1.0
    assert util["tables"]["orders"]["score"] < 1.0
    same, _ = verify(shop_infos(customers, orders), {"customers": customers, "orders": orders},
                     {"customers": customers, "orders": orders})
    assert same["tables"]["orders"]["foreign_keys"][0]["distance"] == 0.0


def test_broken_unique_key_is_detected():
    customers, orders = shop([1, 2, 3])
    dup = pa.table({"id": pa.array([1, 2, 2, 4, 4], pa.int64())})
    util, _ = verify(shop_infos(customers, orders), {"customers": customers, "orders": orders},
                     {"customers": dup, "orders": orders})
    uk = util["tables"]["customers"]["unique_keys"]
    assert uk == [{"columns": ["id"], "unique_before": True, "unique_after": False,
                   "duplicates_before": 0, "duplicates_after": 2}]


# -- integrity ---------------------------------------------------------------------------------


def test_integrity_tables_columns_and_rows():
    customers, orders = shop([1, 2, 3, 3])
    t = people(50)
    infos = [info("customers", customers, copy_schema=None),  # the copy lacks the table
             info("orders", orders, foreign_keys=[fk(["customer_id"], "customers", ["id"])],
                  copy_schema=pa.schema([("oid", pa.int64()), ("extra", pa.string())])),
             info("people", t, {"note": ("drop", {})})]
    copy_orders = pa.table({"oid": pa.array([0, 1, 2], pa.int64()), "extra": ["e", "e", "e"]})
    util, integ = verify(infos, {"customers": customers, "orders": orders, "people": t},
                         {"orders": copy_orders, "people": run_copy(infos[2], t).slice(0, 40)})
    tables = integ["tables"]
    assert tables["customers"]["in_copy"] is False and tables["customers"]["rows_copy"] is None
    o = tables["orders"]
    assert (o["rows_original"], o["rows_copy"]) == (4, 3)
    assert o["missing_columns"] == ["customer_id"] and o["extra_columns"] == ["extra"]
    assert o["foreign_keys"][0]["checked"] is False  # the copy lacks the referencing column
    assert o["type_changes"] == []
    p = tables["people"]
    assert p["dropped_by_profile"] == ["note"] and p["missing_columns"] == [] and p["not_dropped"] == []
    assert (p["rows_original"], p["rows_copy"]) == (50, 40)
    assert integ["summary"] == {"fk": None, "fk_lost": None, "missing_tables": 1, "missing_columns": 1,
                                "row_count_changes": 2}
    assert util["tables"]["customers"]["score"] is None  # no copy: integrity's to judge
    assert util["tables"]["orders"]["columns"]["customer_id"]["distance_name"] == "missing"


def test_a_column_the_profile_drops_but_the_copy_has():
    t = pa.table({"a": [1, 2], "b": ["x", "y"]})
    ti = info("t", t, {"b": ("drop", {})}, copy_schema=t.schema)
    _, integ = verify([ti], {"t": t}, {"t": t})
    assert integ["tables"]["t"]["not_dropped"] == ["b"]


def test_type_changes_are_listed():
    t = pa.table({"a": pa.array([1, 2], pa.int64()), "b": ["x", "y"]})
    copy = pa.table({"a": ["1", "2"], "b": ["x", "y"]})
    ti = info("t", t, copy_schema=copy.schema)
    util, integ = verify([ti], {"t": t}, {"t": copy})
    assert integ["tables"]["t"]["type_changes"] == [{"column": "a", "original": "int64", "copy": "string"}]
    assert util["tables"]["t"]["columns"]["a"]["distance"] == 0.0  # the same numbers


# -- privacy -------------------------------------------------------------------------------------


def test_no_value_of_the_data_in_either_section():
    t = people(400)
    ti = info("people", t, {"note": ("fake", {"kind": "first_name"})}, primary_key=["id"])
    cat = pa.table({"code": [MARKER] * 30 + ["Q" + MARKER] * 10,
                    "ref": pa.array([1] * 40, pa.int64())})
    infos = [ti, info("cat", cat, foreign_keys=[fk(["ref"], "people", ["id"])], unique=[["code"]])]
    util, integ = verify(infos, {"people": t, "cat": cat}, {"people": run_copy(ti, t), "cat": cat})
    text = json.dumps(util) + json.dumps(integ)
    assert MARKER not in text and "Lyon" not in text and "free text" not in text
    assert util["tables"]["cat"]["columns"]["code"]["kind"] == "category"
    assert util["tables"]["people"]["columns"]["note"]["distance_name"] == "ks_length"
    assert util["tables"]["cat"]["unique_keys"][0]["duplicates_before"] == 38


def test_dates_as_timestamps_with_zones_and_empty_tables():
    ts = [datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(hours=i)
          for i in range(100)]
    t = pa.table({"at": pa.array(ts, pa.timestamp("us", tz="UTC"))})
    empty = t.slice(0, 0)
    util, integ = verify([info("t", t)], {"t": t}, {"t": empty})
    col = util["tables"]["t"]["columns"]["at"]
    assert col["kind"] == "date" and col["before"]["quantiles"]["p01"].startswith("2020-01-01")
    assert col["after"]["rows"] == 0 and col["distance"] == 1.0
    assert integ["tables"]["t"]["rows_copy"] == 0 and integ["summary"]["row_count_changes"] == 1


def test_fingerprints_short_long_sliced_and_typed():
    """Short values (AES block) and long ones (HMAC) alike: the same value the same fingerprint,
    whatever the slice, the type ('42' and 42) or the batch; distinct values distinct."""
    values = ["a", "a\0", "", "x" * 15, "x" * 16, "é" * 7, "é" * 8, MARKER * 3, None, "a"]
    fps, pos = column_fingerprints(CTX, pa.array(values))
    assert list(pos) == [0, 1, 2, 3, 4, 5, 6, 7, 9]
    assert len(set(fps[:-1].tolist())) == 8 and fps[0] == fps[-1]
    sliced, _ = column_fingerprints(CTX, pa.array(values).slice(3, 5))
    assert list(sliced) == list(fps[3:8])
    ints, _ = column_fingerprints(CTX, pa.array([42, 7, 10**17], pa.int64()))
    text, _ = column_fingerprints(CTX, pa.array(["42", "7", str(10**17)]))
    assert list(ints) == list(text)
    other = VerifyContext({}, None)  # another verification: another key
    assert column_fingerprints(other, pa.array(["a"]))[0][0] != fps[0]


def test_number_fingerprints_count_distinct_values():
    arr = pa.array([3, 1, 3, None, 2], pa.int64())
    fps, pos = number_fingerprints(CTX, arr)
    assert list(pos) == [0, 1, 2, 4] and len(set(fps.tolist())) == 3 and fps[0] == fps[2]
    days, _ = number_fingerprints(CTX, pa.array([1, 1, 2], pa.date32()))
    assert days[0] == days[1] != days[2]
    assert number_fingerprints(CTX, pa.array(["1"])) is None


def test_fingerprint_counts_merge(monkeypatch):
    """Counts merged batch by batch (compacted often) equal one count of everything."""
    monkeypatch.setattr(verify_keys, "_COMPACT", 5)  # a module: veil.verify is also the API function
    rng = np.random.default_rng(3)
    parts = [rng.integers(0, 50, int(rng.integers(1, 30))).astype(np.uint64) for _ in range(40)]
    merged = FingerprintCounts()
    for p in parts:
        merged.add(p)
        merged.fps  # noqa: B018 - compact now
    fps, n = np.unique(np.concatenate(parts), return_counts=True)
    assert list(merged.fps) == list(fps) and list(merged.counts) == list(n)
    assert merged.total == sum(len(p) for p in parts) and merged.duplicates == merged.total - len(fps)


# -- end to end: what veil run writes, read back by the runner ----------------------------------


def _verify_paths(original, copy, profile, **kw):
    report = verify_paths(original, copy, load_profile(profile), [UtilityCheck, IntegrityCheck], **kw)
    return json.loads(json.dumps(report["utility"])), json.loads(json.dumps(report["integrity"]))


def test_the_csv_samples_through_veil_run(tmp_path, cli, keyring, shop_csv):
    out = tmp_path / "out"
    assert cli("run", shop_csv, "--profile", SHOP_PROFILE, "--keyring", keyring, "--out", out, "-q").exit_code == 0
    util, integ = _verify_paths(shop_csv, out, SHOP_PROFILE)
    assert integ["summary"]["missing_tables"] == 0 and integ["summary"]["missing_columns"] == 0
    assert integ["summary"]["fk"] == 1.0 and integ["summary"]["row_count_changes"] == 0
    fks = [f for t in util["tables"].values() for f in t["foreign_keys"]]
    assert fks and all(f["resolved_before"] == f["resolved_after"] == 1.0 for f in fks)
    assert all(f["distance"] == 0.0 for f in fks)  # pseudonymized keys keep every join
    customers = util["tables"]["customers"]["columns"]
    assert customers["customer_id"]["role"] == "identifier" and customers["customer_id"]["distance"] == 0.0
    assert customers["city"]["role"] == "kept" and customers["city"]["distance"] == 0.0
    assert customers["birth_date"]["kind"] == "date" and 0 < customers["birth_date"]["distance"] < 0.2
    assert customers["birth_date"]["after"]["unparsed"] == 0  # 'YYYY' text read as the year's first day
    assert all(u["unique_after"] for t in util["tables"].values() for u in t["unique_keys"])
    assert 0 < util["summary"]["utility"] < 1
    text = (json.dumps(util) + json.dumps(integ)).lower()
    for t in open_dataset_tables(shop_csv):  # no value of a transformed or kept text column
        for col in ("email", "first_name", "last_name", "city"):
            if col in t.column_names:
                assert not any(len(v) > 3 and v.lower() in text for v in t[col].drop_null().to_pylist()[:50])


def open_dataset_tables(path):
    return [pa.Table.from_batches(list(t.batches()), schema=t.schema) for t in open_dataset(path).tables]


def test_a_postgres_dump_through_veil_run(tmp_path, cli, keyring, pg):
    """A real pg_dump (composite and partitioned foreign keys, numeric, dates, arrays, bytea)."""
    db = pg.create("veil_h6_utility")
    dump_fixtures.populate(pg, db)
    dump = dump_fixtures.pg_dump(db, tmp_path / "in.sql")
    profile = tmp_path / "profile.yaml"
    profile.write_text(dump_fixtures.profile_text())
    out = tmp_path / "out.sql"
    assert cli("run", dump, "--profile", profile, "--keyring", keyring, "--out", out, "-q").exit_code == 0
    util, integ = _verify_paths(dump, out, profile)
    assert integ["summary"]["fk"] == 1.0 and integ["summary"]["missing_tables"] == 0
    assert integ["summary"]["row_count_changes"] == 0
    refs = {(t, f["references"]): f for t, v in util["tables"].items() for f in v["foreign_keys"]}
    composite = [f for (t, r), f in refs.items() if r.endswith("(customer_id, account_no)")]
    assert composite and composite[0]["resolved_before"] == composite[0]["resolved_after"] == 1.0
    assert all(f["resolved_after"] == f["resolved_before"] for f in refs.values())
    text = json.dumps(util) + json.dumps(integ)
    assert not dump_fixtures.PII_MARKER.search(text.encode())


def test_nested_binary_bool_and_decimal_columns():
    """Every Arrow type is taken: lists, structs and maps by their JSON text, bytes as they are."""
    n = 200
    t = pa.table({"l": pa.array([[i % 3, 1] if i % 5 else None for i in range(n)]),
                  "s": pa.array([{"a": i % 4} for i in range(n)]),
                  "mp": pa.array([[("k", i % 2)] for i in range(n)], pa.map_(pa.string(), pa.int64())),
                  "b": pa.array([bytes([i % 7, 255]) for i in range(n)]),
                  "flag": pa.array([i % 3 == 0 for i in range(n)]),
                  "dec": pa.array([i for i in range(n)], pa.decimal128(9, 2))})
    copy = t.set_column(0, "l", pa.array([[i % 3, 2] if i % 5 else None for i in range(n)]))
    util, _ = verify([info("t", t)], {"t": t}, {"t": copy})
    cols = util["tables"]["t"]["columns"]
    assert cols["l"]["before"]["distinct"] == 3 and cols["s"]["before"]["distinct"] == 4
    assert cols["mp"]["before"]["distinct"] == 2 and cols["b"]["before"]["distinct"] == 7
    assert cols["flag"]["kind"] == "category" and cols["dec"]["kind"] == "number"
    assert cols["l"]["distance_name"] == "tvd" and cols["l"]["value_distance"] == 1.0  # every list changed
    assert cols["l"]["distance"] == pytest.approx(0.8)  # ... in the 80% of rows that have one
    assert all(cols[c]["distance"] == 0.0 for c in ("s", "mp", "b", "flag", "dec"))


def test_fingerprints_of_values_that_hardly_repeat():
    """A long batch of distinct values skips dictionary encoding: the same fingerprints."""
    values = pa.array([None if i % 97 == 0 else f"v{i}-{MARKER}" if i % 2 else str(i) for i in range(20000)])
    whole, pos = column_fingerprints(CTX, values)
    parts = [column_fingerprints(CTX, values.slice(o, 1000)) for o in range(0, 20000, 1000)]
    assert list(whole) == [f for p in parts for f in p[0]]
    assert list(pos) == [o + q for o, p in zip(range(0, 20000, 1000), parts, strict=True) for q in p[1]]


@settings(max_examples=60, deadline=None)
@given(parents=st.lists(st.one_of(st.none(), st.integers(0, 20)), max_size=30),
       children=st.lists(st.one_of(st.none(), st.integers(0, 25)), max_size=60),
       chunk=st.integers(1, 9), as_text_copy=st.booleans())
def test_resolution_and_cardinality_match_a_plain_count(parents, children, chunk, as_text_copy):
    p = pa.table({"id": pa.array(parents, pa.int64())})
    c = pa.table({"ref": pa.array(children, pa.int64())})
    infos = [info("p", p), info("c", c, foreign_keys=[fk(["ref"], "p", ["id"])])]
    copy = {"p": as_text(p) if as_text_copy else p, "c": c}
    util, integ = verify(infos, {"c": c, "p": p}, copy, chunk=chunk)
    keys = {v for v in parents if v is not None}
    refs = [v for v in children if v is not None]
    resolved = sum(v in keys for v in refs)
    f = util["tables"]["c"]["foreign_keys"][0]
    share = resolved / len(refs) if refs else None
    assert f["resolved_before"] == f["resolved_after"] == (None if share is None else round(share, 6))
    assert f["unresolved_after"] == len(refs) - resolved
    per_parent = [refs.count(k) for k in keys]
    edges = [0, 1, 2, 3, 5, 10, 20, 50, 100, float("inf")]
    expected = [sum(lo <= n < hi for n in per_parent) for lo, hi in itertools.pairwise(edges)]
    assert f["children_per_parent"]["before"] == f["children_per_parent"]["after"] == expected
    i = integ["tables"]["c"]["foreign_keys"][0]
    assert (i["references_checked"], i["unresolved"]) == (len(refs), len(refs) - resolved)
