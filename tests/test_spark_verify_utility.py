"""veil.spark.verify's utility section: equal to the local ``veil verify`` report's on the same Parquet
files (the shop sample through veil run; a generated set split in part files, with a numeric column
of more values than the sample, dates, numbers and dates as text, categories kept and transformed,
text with nulls and blanks, a foreign key), the same utility summary and gates."""

from __future__ import annotations

import datetime as dt
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import veil
from veil.verify.gates import evaluate, parse_gates

from .conftest import SAMPLES_PARQUET, SHOP_PROFILE

pytest.importorskip("pyspark", reason="the [spark] extra (pyspark) is not installed")

from veil.spark.verify import NOT_COMPUTED  # noqa: E402
from veil.spark.verify import verify as spark_verify  # noqa: E402

#: r6-rounded figures Spark sums in another order (the mean and spread's sums, a category's TVD): they
#: may differ in their last (sixth) decimal when the exact value sits on a rounding boundary
SUMMED = ("mean", "std", "std_days", "tvd", "value_distance", "distance", "score", "utility")


def assert_same(local, spark, where="utility", differ=None) -> None:
    """``spark`` equals ``local``, floats of SUMMED keys within a last-decimal rounding step (each such
    difference noted in ``differ``)."""
    if isinstance(local, dict):
        assert isinstance(spark, dict) and list(spark) == list(local), where
        for k in local:
            assert_same(local[k], spark[k], f"{where}.{k}", differ)
    elif isinstance(local, list):
        assert isinstance(spark, list) and len(spark) == len(local), where
        for i, (a, b) in enumerate(zip(local, spark, strict=True)):
            assert_same(a, b, f"{where}[{i}]", differ)
    elif isinstance(local, float) and isinstance(spark, float) and local != spark:
        assert where.rsplit(".", 1)[-1] in SUMMED and abs(local - spark) <= 1.01e-6, (where, local, spark)
        if differ is not None:
            differ.append(where)
    else:
        assert local == spark, (where, local, spark)


def assert_same_utility(local: dict, got: dict) -> list[str]:
    assert "utility" not in got["not_computed"] and got["not_computed"] == NOT_COMPUTED
    differ: list[str] = []
    assert_same(local["utility"], got["utility"], differ=differ)
    gates = [g for g in local["gates"] if g["metric"] == "utility"]
    assert [g for g in got["gates"] if g["metric"] == "utility"] == gates
    asked = parse_gates("utility<0.99,utility<0.2")
    assert [(g["value"], g["failed"], g["measured"]) for g in evaluate(got, asked)] == \
        [(g["value"], g["failed"], g["measured"]) for g in evaluate(local, asked)]
    return differ


# -- a generated set in part files -------------------------------------------------------------------

N = 60_000  # events: more numbers than the 50,000-value sample
PROFILE = {
    "version": 1,
    "tables": {
        "customers": {"primary_key": ["customer_id"],
                      "columns": {"customer_id": {"op": "pseudonymize", "format": "int", "domain": "customer"},
                                  "name": {"op": "fake", "kind": "first_name"}, "city": "keep"}},
        "events": {"primary_key": ["event_id"],
                   "foreign_keys": [{"columns": ["customer_id"],
                                     "references": {"table": "customers", "columns": ["customer_id"]}}],
                   "columns": {"event_id": "keep", "amount": "keep", "day": "keep", "amount_text": "keep",
                               "when_text": "keep", "status": "keep",
                               "region": {"op": "generalize", "prefix": 1}, "note": "keep", "score": "keep",
                               "secret": {"op": "generalize", "prefix": 2}}},
    },
}


def _events(rng: random.Random, n: int, copy: bool) -> pa.Table:
    day0 = dt.date(2020, 1, 1)
    statuses = ["st-new", "st-paid", "st-sent", "st-back", "st-lost"]
    amount, day, amount_text, when_text, status, region, note, score, secret = ([] for _ in range(9))
    for i in range(n):
        a = round(rng.lognormvariate(3, 1), 2)
        amount.append(None if i % 37 == 0 else (a * 1.05 if copy and i % 3 == 0 else a))
        day.append(day0 + dt.timedelta(days=rng.randrange(700) + (5 if copy and i % 4 == 0 else 0)))
        t = rng.choice(["", None, f"{rng.randrange(10000) / 100}", f"{rng.randrange(-50, 50)}"])
        amount_text.append(t)
        when_text.append(None if i % 11 == 0 else f"2021-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}")
        status.append(rng.choices(statuses, [50, 20, 15, 10, 5])[0] if not (copy and i % 10 == 0) else "st-new")
        region.append(rng.choice(["north-a", "north-b", "south-a", "east-c"]) if i % 13 else "")
        note.append(None if i % 7 == 0 else "" if i % 7 == 1 else f"nt{rng.randrange(10 ** 5)} " * rng.randrange(1, 40))
        score.append(rng.randrange(100) if i % 5 else None)
        secret.append(f"s{rng.randrange(10 ** 6):06d}")
    if copy:
        region = [r[:1] if r else r for r in region]
        secret = [s[:2] for s in secret]
    return pa.table({"event_id": pa.array(range(n), pa.int64()),
                     "customer_id": pa.array([rng.randrange(1, 2100) if i % 17 else None for i in range(n)],
                                             pa.int64()),
                     "amount": pa.array(amount, pa.float64()), "day": pa.array(day, pa.date32()),
                     "amount_text": amount_text, "when_text": when_text, "status": status, "region": region,
                     "note": note, "score": pa.array(score, pa.int32()), "secret": secret})


def _write_parts(t: pa.Table, folder, cuts: list[int]) -> None:
    folder.mkdir()
    start = 0
    for i, end in enumerate([*cuts, t.num_rows]):
        pq.write_table(t.slice(start, end - start), folder / f"part-{i}.parquet", row_group_size=7000)
        start = end


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("sparkutility")
    for side, copy in (("original", False), ("copy", True)):
        rng = random.Random(11)
        (root / side).mkdir()
        events = _events(rng, N if not copy else N - 1000, copy)
        # the copy's files are cut elsewhere: a row's place in the table, not in its file, draws it
        _write_parts(events, root / side / "events", [25_000, 41_000] if not copy else [10_000, 30_000, 50_000])
        ids = list(range(1, 2001))
        customers = pa.table({"customer_id": pa.array(ids if not copy else [i * 7 + 3 for i in ids], pa.int64()),
                              "name": [f"nm{i % 300}" for i in ids],
                              "city": [rng.choice(["ct-a", "ct-b", "ct-c", None]) for _ in ids]})
        pq.write_table(customers, root / side / "customers.parquet")
    (root / "profile.yaml").write_text(json.dumps(PROFILE))
    return root


@pytest.fixture
def small_splits(spark):
    """Spark reads a file in several partitions (its row groups): the sides merge across them."""
    conf = {"spark.sql.files.maxPartitionBytes": "262144", "spark.sql.files.openCostInBytes": "1024"}
    before = {k: spark.conf.get(k) for k in conf}
    for k, v in conf.items():
        spark.conf.set(k, v)
    yield
    for k, v in before.items():
        spark.conf.set(k, v)


def test_generated_set_in_part_files(spark, generated, small_splits):
    profile = veil.load_profile(generated / "profile.yaml")
    assert spark.read.parquet(str(generated / "original" / "events")).rdd.getNumPartitions() > 6
    local = veil.verify(generated / "original", generated / "copy", profile)
    got = spark_verify(generated / "original", generated / "copy", profile, spark=spark)
    differ = assert_same_utility(local, got)
    assert len(differ) <= 2, differ
    # what the set was built to show
    cols = got["utility"]["tables"]["events"]["columns"]
    assert cols["amount"]["kind"] == "number" and cols["amount"]["before"]["count"] > 50_000
    assert cols["amount"]["histogram"]["of"] == "sample" and cols["amount"]["distance"] > 0
    assert cols["day"]["kind"] == "date" and cols["when_text"]["kind"] == "date"
    assert cols["amount_text"]["kind"] == "number" and cols["amount_text"]["before"]["unparsed"] == 0
    assert cols["note"]["kind"] == "text" and cols["note"]["before"]["length"]["blank"] > 0
    assert cols["status"]["kind"] == "category" and cols["status"]["distance_name"] == "tvd"
    assert cols["region"]["role"] == "transformed" and cols["region"]["distance_name"] == "tvd_rank"
    assert cols["secret"]["role"] == "transformed" and cols["secret"]["kind"] == "text"
    assert cols["customer_id"]["role"] == "identifier" and cols["event_id"]["role"] == "kept"
    fk = got["utility"]["tables"]["events"]["foreign_keys"][0]
    assert fk["distance"] is not None and fk["resolved_after"] < fk["resolved_before"]
    assert got["utility"]["tables"]["customers"]["unique_keys"][0]["duplicates_before"] == 0


def test_dataframes_not_read_from_files(spark, tmp_path):
    """DataFrames that are no file scan (made from Arrow tables, in several partitions): a row's
    ordinal is its place in the partitions' order, here the tables' order: the same report as the
    local one of the tables written as files; a table without rows."""
    frames: dict[str, dict] = {}
    for side, copy in (("original", False), ("copy", True)):
        rng = random.Random(5)
        tables = {"customers": pa.table({"customer_id": pa.array(range(1, 301), pa.int64()),
                                         "name": [f"nm{i % 40}" for i in range(300)],
                                         "city": [rng.choice(["ct-a", "ct-b", None]) for _ in range(300)]}),
                  "empty": pa.table({"id": pa.array([], pa.int64()), "label": pa.array([], pa.string())}),
                  "events": _events(rng, 4000 if not copy else 3900, copy)}
        (tmp_path / side).mkdir()
        for name, t in tables.items():
            pq.write_table(t, tmp_path / side / f"{name}.parquet")
        frames[side] = {name: spark.createDataFrame(t)
                        for name, t in tables.items()}
    assert frames["original"]["events"].rdd.getNumPartitions() > 1
    profile = veil.load_profile(_profile_file(tmp_path))
    local = veil.verify(tmp_path / "original", tmp_path / "copy", profile)
    got = spark_verify(frames["original"], frames["copy"], profile, spark=spark)
    assert_same_utility(local, got)


def _profile_file(root):
    profile = json.loads(json.dumps(PROFILE))
    profile["tables"]["empty"] = {"primary_key": ["id"], "columns": {"id": "keep", "label": "keep"}}
    (root / "profile.yaml").write_text(json.dumps(profile))
    return root / "profile.yaml"


def test_shop_sample_through_veil_run(spark, keyfile, tmp_path):
    from click.testing import CliRunner

    from veil.cli import main

    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(SAMPLES_PARQUET), "-p", str(SHOP_PROFILE), "--keyring", str(keyfile),
                                    "--out", str(out), "--workers", "1"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    profile = yaml.safe_load(SHOP_PROFILE.read_text())
    local = veil.verify(SAMPLES_PARQUET, out, profile)
    got = spark_verify(SAMPLES_PARQUET, out, profile, spark=spark)
    differ = assert_same_utility(local, got)
    assert len(differ) <= 2, differ
    assert got["utility"]["summary"]["utility"] is not None
    assert sum(len(t["columns"]) for t in got["utility"]["tables"].values()) > 20
