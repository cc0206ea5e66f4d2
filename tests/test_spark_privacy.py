"""Privacy k/l on the Spark engine (veil.spark.privacy) and in the Python API: the local engine's
choice, output and report, its first pass counted by Spark aggregations over several partitions."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import veil
from veil.errors import EXIT_PROFILE, ProfileError, UsageError

from .spark_session import local_spark
from .test_privacy_subjects import PROFILE as SUBJECTS_PROFILE
from .test_privacy_subjects import _write as write_subjects

pytest.importorskip("pyspark", reason="the [spark] extra (pyspark) is not installed")

from veil.spark import anonymize as spark_anonymize  # noqa: E402

CITIES = ["Leeds", "York", "Hull", "Bath", "Ely", "Wells", "Ripon", "Truro", "Derby", "Perth"]

PROFILE = """version: 1
tables:
  people:
    primary_key: [id]
    columns:
      id: keep
      name: {op: fake, kind: name}
      zip: ZIP_RULE
      birth_date: keep
      gender: keep
      city: keep
      visited: keep
      diagnosis: keep
    privacy: {quasi_identifiers: [QIS], sensitive: [diagnosis], k: 5, l: 2, max_suppression: 0.05}
"""


@pytest.fixture(scope="module")
def spark():
    yield from local_spark("veil-tests-privacy", 3)


def people(n: int = 3000, seed: int = 11, not_null: bool = True) -> pa.Table:
    """Quasi-identifiers that need generalizing and suppressing: 5-digit codes, dates, a skewed
    category, a timestamp; ``gender`` a NOT NULL field (its suppressed values take a placeholder)."""
    rng = np.random.default_rng(seed)
    born = (np.datetime64("1940-01-01") + rng.integers(0, 365 * 60, n)).astype(object)
    t = pa.table({
        "id": pa.array(np.arange(n), pa.int64()),
        "name": [f"person{i:05d}x" for i in range(n)],
        "zip": [f"{z:05d}" for z in rng.integers(10000, 10600, n)],
        "birth_date": pa.array(born, pa.date32()),
        "gender": rng.choice(["F", "M"], n).tolist(),
        "city": [CITIES[min(int(x), 9)] for x in rng.exponential(2.0, n)],
        "visited": pa.array([dt.datetime(2024, 1, 1) + dt.timedelta(minutes=int(m))
                             for m in rng.integers(0, 500_000, n)], pa.timestamp("us")),
        "diagnosis": rng.choice(["flu", "cold", "asthma"], n).tolist(),
    })
    if not_null:
        t = t.cast(t.schema.set(4, pa.field("gender", pa.string(), nullable=False)))
    return t


def profile(tmp_path, qis: str = "zip, birth_date, gender, city", zip_rule: str = "keep"):
    path = tmp_path / "p.yaml"
    path.write_text(PROFILE.replace("QIS", qis).replace("ZIP_RULE", zip_rule))
    return path


def _same(local: pa.Table, got: pa.Table, key: str) -> None:
    local, got = local.sort_by(key), got.sort_by(key).select(local.column_names)
    for col in local.column_names:
        a, b = local.column(col).combine_chunks(), got.column(col).combine_chunks()
        if pa.types.is_timestamp(a.type) and a.type != b.type:  # Spark keeps microseconds
            a = a.cast(b.type)
        if pa.types.is_floating(a.type) and a.type == b.type:  # by the bits (-0.0 is not 0.0), but
            # Spark's Parquet writer writes every NaN as the canonical one (so does a plain Spark copy)
            a, b = (pc.if_else(pc.is_nan(x), pa.scalar(float("nan"), x.type), x) for x in (a, b))
            a, b = (x.view(pa.int64() if x.type.bit_width == 64 else pa.int32()) for x in (a, b))
        assert a.equals(b), col


def _counts(path) -> dict:
    """A run report without what differs between two runs (timings, paths, the engine)."""
    doc = json.loads(path.read_text())
    for t in doc["tables"].values():
        t.pop("seconds")
    return {k: v for k, v in doc.items() if k not in ("seconds", "started", "output", "engine")}


def _both(cli, keyring, src, prof, tmp_path, tag: str = "") -> tuple[dict, dict]:
    reports = []
    for engine in ("local", "spark"):
        out, rep = tmp_path / f"{engine}{tag}", tmp_path / f"{engine}{tag}.json"
        args = ["--engine", "spark"] if engine == "spark" else ["--workers", "1"]
        res = cli("run", src, "-p", prof, "--keyring", keyring, "--out", out, "--report", rep, "-q", *args)
        assert res.exit_code == 0, res.output
        reports.append(_counts(rep))
    return reports[0], reports[1]


@pytest.mark.parametrize("qis,zip_rule", [
    ("zip, birth_date, gender, city", "keep"),
    ("zip, visited, gender, city", "{op: generalize, prefix: 3}"),  # a coarsened QI; a timestamp
])
def test_cli_spark_enforces_k_and_l_as_the_local_engine(cli, keyring, tmp_path, spark, qis, zip_rule):
    src = tmp_path / "in"
    (src / "people").mkdir(parents=True)
    for i, b in enumerate(people().to_batches(max_chunksize=700)):  # part files: several Spark tasks
        pq.write_table(pa.Table.from_batches([b]), src / "people" / f"part-{i}.parquet")
    assert spark.read.parquet(str(src / "people")).rdd.getNumPartitions() >= 2
    local, remote = _both(cli, keyring, src, profile(tmp_path, qis, zip_rule), tmp_path)
    assert remote == local  # every count, and the privacy section: levels, classes, suppressed rows
    priv = local["tables"]["people"]["privacy"]
    assert priv["k"] >= 5 and 0 < priv["suppressed_rows"] <= 150 and priv["l_target"] == 2
    assert set(priv["levels"].values()) - {"value"}  # something generalized
    got = pq.read_table(tmp_path / "spark" / "people")
    _same(pq.read_table(tmp_path / "local" / "people"), got, "id")
    assert got.column("gender").null_count == 0  # NOT NULL in the files: the placeholder, as locally
    # the copy, counted: k rows and l diagnoses in every class
    q = [c.strip() for c in qis.split(",")]
    classes = got.group_by(q).aggregate([([], "count_all"), ("diagnosis", "count_distinct")])
    assert min(classes.column("count_all").to_pylist()) == priv["k"]
    assert min(classes.column("diagnosis_count_distinct").to_pylist()) >= 2


def test_cli_spark_counts_people_and_inherits_the_subject_tables_privacy(cli, keyring, tmp_path, spark):
    csvs = write_subjects(tmp_path)
    src = tmp_path / "pq"
    src.mkdir()
    for name in ("customers", "history"):
        pq.write_table(pacsv.read_csv(csvs / f"{name}.csv"), src / f"{name}.parquet", row_group_size=300)
    prof = tmp_path / "s.yaml"
    prof.write_text(SUBJECTS_PROFILE)
    local, remote = _both(cli, keyring, src, prof, tmp_path)
    assert remote == local
    hist = local["tables"]["history"]["privacy"]
    assert hist["unit"] == "subject" and hist["inherited_from"] == "customers" and hist["k"] >= 5
    for name, key in (("customers", "customer_id"), ("history", "history_id")):
        _same(pq.read_table(tmp_path / "local" / f"{name}.parquet"), pq.read_table(tmp_path / "spark" / name), key)


def test_api_and_spark_dataframe_give_the_clis_output(cli, keyring, tmp_path, spark):
    table = people(not_null=False)  # a DataFrame read from Parquet is nullable in Spark
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(table, src / "people.parquet")
    prof = profile(tmp_path)
    res = cli("run", src, "-p", prof, "--keyring", keyring, "--out", tmp_path / "out", "-q", "--workers", "1")
    assert res.exit_code == 0, res.output
    want = pq.read_table(tmp_path / "out" / "people.parquet")
    keys = veil.load_keyring(keyring)
    _same(want, veil.anonymize(table, prof, keys), "id")
    back = pa.Table.from_pandas(veil.anonymize(table.to_pandas(), prof, keys), schema=want.schema)
    _same(want, back, "id")
    df = spark.read.parquet(str(src / "people.parquet")).repartition(3)
    _same(want, spark_anonymize(df, prof, keys).toArrow(), "id")
    with pytest.raises(ProfileError) as err:  # 4 rows cannot reach k = 5, before any output
        spark_anonymize(df.limit(4), prof, keys)
    assert err.value.exit_code == EXIT_PROFILE and "fewer than k = 5" in str(err.value.problems)


def test_spark_dataframe_read_from_files_takes_their_not_null_columns(cli, keyring, tmp_path, spark):
    """Spark reads every Parquet column as nullable; veil.spark.anonymize reads the files' own
    schema (as the CLI's Spark run does), so a suppressed NOT NULL value gets the local engine's
    placeholder, not a null."""
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(people(), src / "people.parquet")  # gender: NOT NULL in the file
    prof = profile(tmp_path)
    res = cli("run", src, "-p", prof, "--keyring", keyring, "--out", tmp_path / "out", "-q", "--workers", "1")
    assert res.exit_code == 0, res.output
    want = pq.read_table(tmp_path / "out" / "people.parquet")
    got = spark_anonymize(spark.read.parquet(str(src / "people.parquet")), prof, veil.load_keyring(keyring))
    got = got.toArrow()
    assert got.column("gender").null_count == 0
    _same(want.cast(want.schema.set(4, want.schema.field("gender").with_nullable(True))), got, "id")


def test_what_cannot_be_enforced_is_refused_by_name(keyring, tmp_path, spark):
    keys = veil.load_keyring(keyring)
    table = people(300, not_null=False)
    with pytest.raises(UsageError, match="RecordBatchReader") as err:  # read once: no first pass
        veil.anonymize(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()), profile(tmp_path), keys)
    assert err.value.table == "people"
    # a table about subjects given without its subject table cannot take that table's privacy
    csvs = write_subjects(tmp_path)
    history = pacsv.read_csv(csvs / "history.csv")
    for run in (lambda: veil.anonymize(history, SUBJECTS_PROFILE, keys, table="history"),
                lambda: spark_anonymize(spark.createDataFrame(history.to_pandas()), SUBJECTS_PROFILE, keys,
                                        table="history")):
        with pytest.raises(UsageError, match="subject table customers") as err:
            run()
        assert err.value.table == "history" and "give both tables" in err.value.hint
    both = veil.anonymize({"customers": pacsv.read_csv(csvs / "customers.csv"), "history": history},
                          SUBJECTS_PROFILE, keys)
    assert both["history"].num_rows == history.num_rows


def test_float_quasi_identifiers_group_by_their_bits_as_locally(cli, keyring, tmp_path, spark):
    """Spark's groupBy puts -0.0 with 0.0 and every NaN together; the local engine (Arrow) tells
    them apart. The Spark pass groups a float quasi-identifier by its bits, so the classes, the
    choice and every value are the local engine's."""
    n = 600
    rng = np.random.default_rng(5)
    specials = np.array([0.0, -0.0, np.nan, -np.nan, 2.5, np.inf, -np.inf], np.float64)
    score = specials[rng.integers(0, len(specials), n)]
    score[rng.random(n) < 0.05] = np.nan
    t = pa.table({
        "id": pa.array(np.arange(n), pa.int64()),
        "score": pa.array(score, pa.float64()),
        "level": pa.array(score.astype(np.float32), pa.float32()),
        "gender": rng.choice(["F", "M", "X"], n).tolist(),
        "diagnosis": rng.choice(["flu", "cold", "asthma"], n).tolist(),
    })
    src = tmp_path / "in"
    (src / "people").mkdir(parents=True)
    for i, b in enumerate(t.to_batches(max_chunksize=150)):
        pq.write_table(pa.Table.from_batches([b]), src / "people" / f"part-{i}.parquet")
    prof = tmp_path / "f.yaml"
    prof.write_text("version: 1\ntables:\n  people:\n    primary_key: [id]\n    columns:\n      id: keep\n"
                    "      score: keep\n      level: keep\n      gender: keep\n      diagnosis: keep\n"
                    "    privacy: {quasi_identifiers: [score, level, gender], k: 40, max_suppression: 0.5}\n")
    local, remote = _both(cli, keyring, src, prof, tmp_path)
    assert remote == local  # grouped as Spark groups, the classes (and the report) differed
    _same(pq.read_table(tmp_path / "local" / "people"), pq.read_table(tmp_path / "spark" / "people"), "id")
