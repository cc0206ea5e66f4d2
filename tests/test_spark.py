"""The Spark engine (veil.spark): the local engine's values, per value, on the samples and a generated
multi-table set; the plan compiled on the driver; only derived subkeys shipped to executors."""

from __future__ import annotations

import datetime as dt
import json
import pickle
import random
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import veil
from veil.errors import EXIT_INPUT, EXIT_PROFILE, IntegrityError, KeyringError, ProfileError
from veil.keys import Keyring

from . import vault_fixtures
from .conftest import SAMPLES_PARQUET, SHOP_PROFILE, run_module
from .vault_fixtures import make_vault_profile

pytest.importorskip("pyspark", reason="the [spark] extra (pyspark) is not installed")

from veil.spark import anonymize as spark_anonymize  # noqa: E402
from veil.spark import batch_function, prepare  # noqa: E402
from veil.spark.keys import SubkeyProvider  # noqa: E402
from veil.spark.records import STAGING_CONF  # noqa: E402

KEY = bytes(range(1, 33))
pg_url = vault_fixtures.pg_url  # a fresh PostgreSQL database per test (skipped, named, without the server)


def _same_values(local: pa.Table, spark_out: pa.Table, key: str, where: str) -> None:
    """Per column, the same values row for row (matched on ``key``); Spark keeps timestamps in
    microseconds, so a millisecond column is compared as the same instants."""
    local, spark_out = local.sort_by(key), spark_out.sort_by(key).select(local.column_names)
    for col in local.column_names:
        a, b = local.column(col).combine_chunks(), spark_out.column(col).combine_chunks()
        if pa.types.is_timestamp(a.type) and a.type != b.type:
            a = a.cast(b.type)
        assert a.equals(b), f"{where}.{col}"


def _counts(report_path) -> dict:
    """A run report without what differs between two runs (timings, paths, the engine)."""
    doc = json.loads(report_path.read_text())
    for t in doc["tables"].values():
        t.pop("seconds")
    return {k: v for k, v in doc.items() if k not in ("seconds", "started", "output", "engine")}


def test_cli_engine_spark_matches_the_local_engine(cli, keyfile, tmp_path, spark):
    local = tmp_path / "local"
    res = cli("run", SAMPLES_PARQUET, "-p", SHOP_PROFILE, "--keyring", keyfile, "--out", local, "--workers", "1",
              "--report", tmp_path / "local.json")
    assert res.exit_code == 0, res.output
    out = tmp_path / "spark"
    spark_report = tmp_path / "spark.json"
    res_spark = cli("run", SAMPLES_PARQUET, "-p", SHOP_PROFILE, "--keyring", keyfile, "--out", out, "--engine", "spark",
                    "--report", spark_report)
    assert res_spark.exit_code == 0, res_spark.output
    assert (out / ".veil-output").exists()  # written by veil, atomically (veil.output.AtomicOutput)
    for path in local.glob("*.parquet"):
        want = pq.read_table(path)
        _same_values(want, pq.read_table(out / path.stem), want.column_names[0], path.stem)
    # the run report: the local engine's document, counts per table and column statistics included
    assert json.loads(spark_report.read_text())["engine"] == "spark"
    assert _counts(spark_report) == _counts(tmp_path / "local.json")
    assert json.loads(spark_report.read_text())["tables"]["customers"]["columns"]["email"]["transformed"] > 0
    # and the local engine's summary on stderr, but for the timing and the output's path
    drop_run = re.compile(r"\d+\.\d+s|" + re.escape(str(tmp_path)) + r"/\w+")
    assert drop_run.sub("", res_spark.stderr.split("veil: wrote")[-1]) == drop_run.sub("", res.stderr.split(
        "veil: wrote")[-1])
    assert "  customers: 200 rows in, 200 out, 8 of 10 columns transformed" in res_spark.stderr


def test_spark_run_report_holds_no_input_value(cli, keyfile, tmp_path, spark):
    res = cli("run", SAMPLES_PARQUET, "-p", SHOP_PROFILE, "--keyring", keyfile, "--out", tmp_path / "o", "--engine",
              "spark", "--report", "-", "-q")
    assert res.exit_code == 0 and res.stderr == "", res.output  # -q: no summary
    text = res.stdout  # --report -: the JSON document alone on stdout
    assert json.loads(text)["totals"]["rows_in"] == 1834
    values = {str(v) for path in SAMPLES_PARQUET.glob("*.parquet") for col in pq.read_table(path).columns
              for v in col.to_pylist() if v is not None and len(str(v)) >= 6}
    assert len(values) > 1000 and not [v for v in values if v in text]
    # a --report path that is an input is refused before anything is read or written
    res = cli("run", SAMPLES_PARQUET, "-p", SHOP_PROFILE, "--keyring", keyfile, "--out", tmp_path / "o2",
              "--engine", "spark", "--report", SAMPLES_PARQUET / "orders.parquet")
    assert res.exit_code == 2 and "--report must not be the input" in res.output, res.output
    assert not (tmp_path / "o2").exists()


def _generated(root, n: int = 3000) -> None:
    """Three tables linked by foreign keys: ints, text, emails, dates, timestamps, nulls, blanks."""
    rnd = random.Random(7)
    users = pa.table({
        "user_id": pa.array(range(10_000, 10_000 + n), pa.int64()),
        "email": [None if i % 17 == 0 else f"user{i}@corp{i % 5}.example" for i in range(n)],
        "name": [rnd.choice(["Ann", "Bo", "Chen", "Dara", "", " "]) for _ in range(n)],
        "born": pa.array([dt.date(1950 + i % 50, 1 + i % 12, 1 + i % 28) for i in range(n)], pa.date32()),
        "score": [rnd.random() for _ in range(n)],
    })
    orders = pa.table({
        "order_id": [f"o-{i:06d}" for i in range(3 * n)],
        "user_id": pa.array([10_000 + rnd.randrange(n) for _ in range(3 * n)], pa.int64()),
        "placed": pa.array([dt.datetime(2024, 1, 1) + dt.timedelta(minutes=37 * i) for i in range(3 * n)],
                           pa.timestamp("us")),
        "note": [None if i % 3 else f"call me on +44 20 7946 {i % 10000:04d}" for i in range(3 * n)],
    })
    events = pa.table({
        "event_id": pa.array(range(2 * n), pa.int64()),
        "order_id": [f"o-{rnd.randrange(3 * n):06d}" for _ in range(2 * n)],
        "ip": [f"10.{i % 256}.{(i // 256) % 256}.{i % 7}" for i in range(2 * n)],
    })
    root.mkdir()
    for name, t in (("users", users), ("orders", orders), ("events", events)):
        pq.write_table(t, root / f"{name}.parquet", row_group_size=1000)


GENERATED_PROFILE = """\
version: 1
tables:
  users:
    primary_key: [user_id]
    columns:
      user_id: {op: pseudonymize, format: int, domain: user}
      email: {op: pseudonymize, format: email, domain: email}
      name: {op: fake, kind: first_name}
      born: {op: generalize, to: year}
      score: keep
  orders:
    primary_key: [order_id]
    foreign_keys:
      - columns: [user_id]
        references: {table: users, columns: [user_id]}
    columns:
      order_id: {op: pseudonymize, domain: order}
      placed: {op: date_shift, subject: user_id, max_days: 20, domain: user_shift}
      note: {op: redact}
  events:
    primary_key: [event_id]
    foreign_keys:
      - columns: [order_id]
        references: {table: orders, columns: [order_id]}
    columns:
      event_id: keep
      ip: {op: mask, keep_first: 3}
"""


def test_generated_multi_table_set_matches_the_local_engine(cli, keyfile, tmp_path, spark):
    src = tmp_path / "gen"
    _generated(src)
    prof = tmp_path / "gen.yaml"
    prof.write_text(GENERATED_PROFILE)
    local = tmp_path / "local"
    res = cli("run", src, "-p", prof, "--keyring", keyfile, "--out", local, "--workers", "1", "-q")
    assert res.exit_code == 0, res.output
    keys = veil.load_keyring(keyfile)
    for name, pk in (("users", "user_id"), ("orders", "order_id"), ("events", "event_id")):
        df = spark.read.parquet(str(src / f"{name}.parquet")).repartition(3)  # several tasks, batches
        out = spark_anonymize(df, str(prof), keys, table=name).toArrow()
        _same_values(pq.read_table(local / f"{name}.parquet"), out, pk, name)


def test_unknown_column_fails_on_the_driver_before_any_job(spark, tmp_path):
    secret = "very.secret@example.org"
    df = spark.createDataFrame([(1, secret, secret)], "customer_id long, email string, shoe_size string")
    sc = spark.sparkContext
    sc.setJobGroup("veil-unknown-column", "no job may start")
    try:
        with pytest.raises(ProfileError) as err:
            spark_anonymize(df, SHOP_PROFILE, Keyring.for_testing(KEY), table="customers")
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    assert "customers.shoe_size is not classified" in "".join(p.message for p in err.value.problems)
    assert secret not in str(err.value)
    assert list(sc.statusTracker().getJobIdsForGroup("veil-unknown-column")) == []


def test_executors_get_subkeys_not_the_root_key(spark):
    keyring = Keyring.for_testing(KEY)
    df = spark.read.parquet(str(SAMPLES_PARQUET / "customers.parquet"))
    st = prepare(df, SHOP_PROFILE, keyring, table="customers")
    shipped = st.keys
    assert isinstance(shipped, SubkeyProvider)
    assert ("domain", "email") in shipped.domains and ("domain", "customer_id") in shipped.domains
    fn = batch_function(st.plan, shipped, pa.schema([]), pa.schema([]))
    from pyspark import cloudpickle

    payload = cloudpickle.dumps(fn)
    secrets = [KEY, keyring._index_secret, keyring.vault_key(keyring.active_version)]
    assert not any(s in payload for s in secrets)
    assert keyring.subkey("domain", "email") in payload  # the run's subkeys travel, nothing more
    assert "SubkeyProvider" in repr(shipped) and KEY.hex() not in repr(shipped)
    with pytest.raises(KeyringError, match="did not ship"):
        shipped.subkey("domain", "some_other_domain")
    with pytest.raises(KeyringError):
        shipped.vault_key(keyring.active_version)
    pickle.loads(pickle.dumps(shipped))  # Spark pickles it into the task


def test_dataframe_api_matches_veil_anonymize(spark):
    keyring = Keyring.for_testing(KEY)
    table = pq.read_table(SAMPLES_PARQUET / "orders.parquet")
    want = veil.anonymize(table, SHOP_PROFILE, keyring, table="orders")
    got = spark_anonymize(spark.read.parquet(str(SAMPLES_PARQUET / "orders.parquet")), SHOP_PROFILE, keyring,
                          table="orders").toArrow()
    _same_values(want, got, "order_id", "orders")


def test_hive_partitions_kept_and_partition_rules_refused(cli, keyfile, tmp_path, spark):
    src = tmp_path / "lake"
    orders = pq.read_table(SAMPLES_PARQUET / "orders.parquet")
    years = pa.array([d.year for d in orders.column("order_date").to_pylist()], pa.int32())
    part = orders.append_column("year", years)
    pq.write_to_dataset(part, src / "orders", partition_cols=["year"])
    for i, t in enumerate(pq.read_table(SAMPLES_PARQUET / "customers.parquet").to_batches(max_chunksize=80)):
        (src / "customers").mkdir(exist_ok=True)
        pq.write_table(pa.Table.from_batches([t]), src / "customers" / f"part-{i}.parquet")
    prof = tmp_path / "p.yaml"
    prof.write_text(SHOP_PROFILE.read_text().replace("      total: keep\n", "      total: keep\n      year: keep\n"))
    out = tmp_path / "out"
    res = cli("run", src, "-p", prof, "--keyring", keyfile, "--out", out, "--engine", "spark")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (out / "orders").iterdir() if p.name.startswith("year=")) == \
        sorted(f"year={y}" for y in set(years.to_pylist()))
    keys = veil.load_keyring(keyfile)
    whole = veil.anonymize({"customers": pq.read_table(SAMPLES_PARQUET / "customers.parquet"), "orders": orders},
                           SHOP_PROFILE, keys)
    got = pq.read_table(out / "orders")
    _same_values(whole["orders"], got.drop_columns(["year"]), "order_id", "orders")
    _same_values(whole["customers"], pq.read_table(out / "customers"), "customer_id", "customers")
    bad = tmp_path / "bad.yaml"
    bad.write_text(SHOP_PROFILE.read_text().replace(
        "      total: keep\n", "      total: keep\n      year: {op: pseudonymize, format: int}\n"))
    res = cli("run", src, "-p", bad, "--keyring", keyfile, "--out", tmp_path / "out2", "--engine", "spark")
    assert res.exit_code == EXIT_PROFILE
    assert "partition column" in res.output and not (tmp_path / "out2").exists()


def _vault_content(vault_path, keyfile) -> dict:
    """Every record of a vault, decrypted: (domain, version) -> {"pseudonym\\0context": original}."""
    from veil.vault import open_vault

    v = open_vault(vault_path, veil.load_keyring(keyfile))
    try:
        domains = [r[0] for r in v.db.query("SELECT DISTINCT domain FROM veil_segments", [])]
        return {(d, ver): v.load_map(d, ver)[0] for d in domains for ver in v.versions_of(d)}
    finally:
        v.close()


@pytest.fixture
def staging(spark, tmp_path):
    """The run's staging directories go under a directory of the test's (to see them removed)."""
    path = tmp_path / "staging"
    spark.conf.set(STAGING_CONF, str(path))
    yield path
    spark.conf.unset(STAGING_CONF)


def test_vault_records_as_in_a_local_run_and_audited(cli, keyfile, tmp_path, spark, staging):
    prof = make_vault_profile(tmp_path)
    local, spark_vault = tmp_path / "local.db", tmp_path / "spark.db"
    res = cli("run", SAMPLES_PARQUET, "-p", prof, "--keyring", keyfile, "--vault", local, "--out", tmp_path / "l",
              "--workers", "1", "-q", "--report", tmp_path / "l.json")
    assert res.exit_code == 0, res.output
    res = cli("run", SAMPLES_PARQUET, "-p", prof, "--keyring", keyfile, "--vault", spark_vault, "--out",
              tmp_path / "s", "--engine", "spark", "-q", "--report", tmp_path / "s.json")
    assert res.exit_code == 0, res.output
    want, got = _vault_content(local, keyfile), _vault_content(spark_vault, keyfile)
    assert len(want) == 7 and sum(map(len, want.values())) > 1500
    assert got == want
    # the report's vault_records_written, per table and in total, as the local run's
    assert _counts(tmp_path / "s.json") == _counts(tmp_path / "l.json")
    assert json.loads((tmp_path / "s.json").read_text())["totals"]["vault_records_written"] == sum(
        map(len, want.values()))
    # `veil vault reveal` of every email pseudonym of the Spark output: the local vault's answers
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(pq.read_table(tmp_path / "s" / "customers").column("email").to_pylist()) + "\n")
    reveal = ["vault", "reveal", "--domain", "email", "--purpose", "test", "--keyring", keyfile,
              "--from-file", tokens, "--vault"]
    a, b = cli(*reveal, local), cli(*reveal, spark_vault)
    assert a.exit_code == b.exit_code == 0 and a.stdout.count("\n") == 200 and a.stdout == b.stdout
    audit = cli("vault", "audit", "--keyring", keyfile, "--vault", spark_vault)
    runs = [line for line in audit.stdout.splitlines() if " run " in line]
    assert len(runs) == 1 and "count=1800" in runs[0] and f"run {SAMPLES_PARQUET}" in runs[0], audit.stdout
    assert cli("vault", "audit", "--verify", "--keyring", keyfile, "--vault", spark_vault).exit_code == 0
    assert list(staging.iterdir()) == []  # the staging directory is removed


def test_vault_records_into_the_postgresql_backend(cli, keyfile, tmp_path, spark, staging, pg_url):
    prof = make_vault_profile(tmp_path)
    local = tmp_path / "local.db"
    res = cli("run", SAMPLES_PARQUET, "-p", prof, "--keyring", keyfile, "--vault", local, "--out", tmp_path / "l",
              "--workers", "1", "-q")
    assert res.exit_code == 0, res.output
    res = cli("run", SAMPLES_PARQUET, "-p", prof, "--keyring", keyfile, "--vault", pg_url, "--out", tmp_path / "s",
              "--engine", "spark", "-q")
    assert res.exit_code == 0, res.output
    assert _vault_content(pg_url, keyfile) == _vault_content(local, keyfile)
    assert list(staging.iterdir()) == []


def test_forgotten_subjects_dropped_as_in_a_local_run(cli, keyfile, tmp_path, spark, staging):
    prof = make_vault_profile(tmp_path)
    email = pq.read_table(SAMPLES_PARQUET / "customers.parquet").column("email")[3].as_py()
    outs = {}
    for engine in ("local", "spark"):
        vault = tmp_path / f"{engine}.db"
        res = cli("run", SAMPLES_PARQUET, "-p", prof, "--keyring", keyfile, "--vault", vault, "--out",
                  tmp_path / f"{engine}1", "--engine", engine, "-q")
        assert res.exit_code == 0, res.output
        res = cli("vault", "forget", "--domain", "email", "--keyring", keyfile, "--vault", vault, email)
        # the Spark run linked the subject's records as the local run did: the same records go
        assert res.exit_code == 0 and "5 vault record(s) deleted" in res.stdout, res.output
        res = cli("run", SAMPLES_PARQUET, "-p", prof, "--keyring", keyfile, "--vault", vault, "--out",
                  tmp_path / engine, "--engine", engine, "-q", "--report", tmp_path / f"{engine}.json")
        assert res.exit_code == 0, res.output
        outs[engine] = tmp_path / engine
    # the report counts the rows dropped (forgotten subject, by reference) as the local run's
    assert _counts(tmp_path / "spark.json") == _counts(tmp_path / "local.json")
    dropped = [t["rows_dropped"] for t in json.loads((tmp_path / "spark.json").read_text())["tables"].values()]
    assert sum(d["forgotten_subject"] for d in dropped) > 0 and sum(d["by_reference"] for d in dropped) > 0
    for path in outs["local"].glob("*.parquet"):
        want, got = pq.read_table(path), pq.read_table(outs["spark"] / path.stem)
        assert got.num_rows == want.num_rows < pq.read_metadata(SAMPLES_PARQUET / path.name).num_rows, path.stem
        _same_values(want, got, want.column_names[0], path.stem)
    assert email not in str(pq.read_table(outs["spark"] / "customers").to_pylist())


def test_a_failed_vault_run_commits_nothing_and_removes_its_staging(cli, keyfile, tmp_path, spark, staging,
                                                                     monkeypatch):
    from veil.spark import run as spark_run

    prof = make_vault_profile(tmp_path)
    vault = tmp_path / "v.db"
    real = spark_run.store_staged
    calls = []

    def fail_late(*args):  # the records of the first table were staged and read: then a failure
        calls.append(real(*args))
        raise IntegrityError("stand-in failure after the first table's records", hint="test")

    monkeypatch.setattr(spark_run, "store_staged", fail_late)
    out = tmp_path / "out"
    res = cli("run", SAMPLES_PARQUET, "-p", prof, "--keyring", keyfile, "--vault", vault, "--out", out,
              "--engine", "spark")
    assert res.exit_code == IntegrityError.exit_code and calls and calls[0] > 0, res.output
    assert not out.exists() and list(staging.iterdir()) == []
    assert _vault_content(vault, keyfile) == {}
    audit = cli("vault", "audit", "--keyring", keyfile, "--vault", vault)
    assert " run " not in audit.stdout


def test_staged_records_are_encrypted_and_executors_hold_no_vault_key(spark, tmp_path):
    from pyspark import cloudpickle

    from veil.api import compile_for
    from veil.pipeline.transform import RunContext
    from veil.spark import plan_table
    from veil.spark.records import Staging

    keyring = Keyring.for_testing(KEY)
    df = spark.read.parquet(str(SAMPLES_PARQUET / "customers.parquet")).repartition(2)
    plan = compile_for(veil.load_profile(make_vault_profile(tmp_path)), keyring,
                       {"customers": veil.spark.arrow_schema(df)}, engine="Spark engine")
    staging = Staging(tmp_path / "staging")
    writer = staging.writer("customers")
    st = plan_table(plan.tables["customers"], df, keyring, context=RunContext(keyring, vault=True), stage=writer)
    assert st.result.count() == 200  # the job: each task stages its batches' records
    files = list(staging.path.rglob("*.rec"))
    emails = [e for e in pq.read_table(SAMPLES_PARQUET / "customers.parquet").column("email").to_pylist() if e]
    blob = b"".join(f.read_bytes() for f in files)
    assert len(files) >= 2 and not any(e.encode() in blob for e in emails)  # sealed under the run's key
    assert st.result.count() == 200 and sorted(staging.path.rglob("*.rec")) == sorted(files)  # a task run again
    # (a retry) writes the same files again, not more of them
    staged = {(d, o) for d, _, b in staging.batches("customers") for o in b.column("original").to_pylist()}
    assert {("email", e.encode()) for e in emails} <= staged
    fn = batch_function(st.plan, st.keys, pa.schema([]), pa.schema([]), {}, writer)
    payload = cloudpickle.dumps(fn)
    assert not any(s in payload for s in (KEY, keyring._index_secret, keyring.vault_key(keyring.active_version)))
    assert "key" not in repr(writer).lower()
    staging.close()
    assert not staging.path.exists()


def test_a_key_not_shipped_fails_the_task_never_derived_there(spark):
    """An executor whose provider lacks a subkey fails (names only); it cannot derive one."""
    keyring = Keyring.for_testing(KEY)
    df = spark.read.parquet(str(SAMPLES_PARQUET / "customers.parquet"))
    st = prepare(df, SHOP_PROFILE, keyring, table="customers")
    empty = SubkeyProvider(keyring.active_version, {}, {})
    out_schema = st.result.schema
    from pyspark.sql.pandas.types import to_arrow_schema

    fn = batch_function(st.plan, empty, veil.spark.arrow_schema(df), to_arrow_schema(out_schema))
    with pytest.raises(Exception, match="did not ship") as err:
        df.mapInArrow(fn, out_schema).collect()
    emails = [e for e in pq.read_table(SAMPLES_PARQUET / "customers.parquet").column("email").to_pylist() if e]
    assert not any(e in str(err.value) for e in emails)  # names only, no value


def test_scope_gives_the_local_engine_values_of_that_scope(spark):
    keyring = Keyring.for_testing(KEY)
    table = pq.read_table(SAMPLES_PARQUET / "customers.parquet")
    want = veil.anonymize(table, SHOP_PROFILE, keyring, table="customers", scope="ml")
    got = spark_anonymize(spark.read.parquet(str(SAMPLES_PARQUET / "customers.parquet")), SHOP_PROFILE, keyring,
                          table="customers", scope="ml").toArrow()
    _same_values(want, got, "customer_id", "customers")
    plain = veil.anonymize(table, SHOP_PROFILE, keyring, table="customers")
    assert plain.column("email").to_pylist() != want.column("email").to_pylist()


def test_cli_a_failed_task_is_the_executors_veil_error_and_nothing_is_written(cli, keyfile, tmp_path, monkeypatch,
                                                                              spark, staging):
    from veil.spark import keys as spark_keys

    monkeypatch.setattr(spark_keys.RecordingKeys, "provider",
                        lambda self: SubkeyProvider(self.active_version, {}, {}))
    out, vault = tmp_path / "out", tmp_path / "v.db"
    res = cli("run", SAMPLES_PARQUET, "-p", make_vault_profile(tmp_path), "--keyring", keyfile, "--out", out,
              "--engine", "spark", "--vault", vault)
    assert res.exit_code == KeyringError.exit_code, res.output
    assert "a Spark task failed" in res.output and "did not ship" in res.output
    assert not out.exists() and list(staging.iterdir()) == []  # the staging directory is removed
    assert " run " not in cli("vault", "audit", "--keyring", keyfile, "--vault", vault).stdout


def test_k_anonymity_as_a_spark_aggregation(spark):
    table = pq.read_table(SAMPLES_PARQUET / "customers.parquet").select(["city", "country", "birth_date"])
    got = veil.spark.k_anonymity(spark.createDataFrame(table.to_pandas()), ["city", "country"], k=3)
    counts = table.group_by(["city", "country"]).aggregate([([], "count_all")]).column("count_all").to_pylist()
    assert got == {"classes": len(counts), "k": min(counts), "rows_below_k": sum(c for c in counts if c < 3)}


def test_input_counts_from_parquet_footers_equal_spark_counts(spark, tmp_path):
    """The run report's input counts come from the files' footers when they hold null counts, and
    from a Spark aggregation otherwise: both give the same figures."""
    from veil.spark.report import footer_stats, input_stats, local_files

    n = 5000
    table = pa.table({"customer_id": pa.array(range(n), pa.int64()),
                      "email": pa.array([None if i % 7 == 0 else f"u{i}@example.org" for i in range(n)]),
                      "name": pa.array([None if i % 3 == 0 else f"n{i}" for i in range(n)])})
    with_stats, without = tmp_path / "with", tmp_path / "without"
    for folder, stats in ((with_stats, True), (without, False)):
        folder.mkdir()
        pq.write_table(table.slice(0, 3000), folder / "part-0.parquet", row_group_size=1000, write_statistics=stats)
        pq.write_table(table.slice(3000), folder / "part-1.parquet", row_group_size=1000, write_statistics=stats)
    profile = {"version": 1, "tables": {"t": {"primary_key": ["customer_id"], "columns": {
        "customer_id": "keep", "email": {"op": "pseudonymize", "format": "email", "domain": "email"},
        "name": "keep"}}}}
    tplan = prepare(spark.read.parquet(str(with_stats)), profile, Keyring.for_testing(KEY), table="t").plan
    footers = footer_stats(tplan, local_files(spark.read.parquet(str(with_stats))))
    assert footers is not None and footers[0] == n
    assert footer_stats(tplan, local_files(spark.read.parquet(str(without)))) is None  # no null counts: Spark counts
    counted = input_stats(tplan, spark.read.parquet(str(without)))
    assert footers == counted
    assert counted[1]["email"].nulls == sum(1 for i in range(n) if i % 7 == 0)
    assert counted[1]["email"].transformed == n - counted[1]["email"].nulls
    assert counted[1]["name"].transformed == 0 and counted[1]["name"].nulls == sum(1 for i in range(n) if i % 3 == 0)


def test_run_sets_the_arrow_batch_size_only_for_its_run(spark, tmp_path, keyfile):
    from veil.spark.run import BATCH_CONF, _batch_rows

    assert spark.conf.get(BATCH_CONF, None) is None
    with _batch_rows(spark):
        assert spark.conf.get(BATCH_CONF) == "65536"
    assert spark.conf.get(BATCH_CONF, None) is None
    spark.conf.set(BATCH_CONF, "500")  # the session's own size is kept
    try:
        with _batch_rows(spark):
            assert spark.conf.get(BATCH_CONF) == "500"
        assert spark.conf.get(BATCH_CONF) == "500"
    finally:
        spark.conf.unset(BATCH_CONF)


def test_large_inputs_split_into_whole_waves_of_tasks(spark, tmp_path, monkeypatch):
    """A table larger than a split per core is read as a multiple of the cores' tasks (Spark's own
    split size would leave a last task running alone); a session's own split size is kept."""
    from veil.spark import run

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"v": pa.array(range(200_000), pa.int64())}), path, row_group_size=2000)
    fifth = str(-(-path.stat().st_size // 5))
    monkeypatch.setattr(run, "SPLIT_BYTES", int(fifth))  # as if Spark's splits were 5 tasks on 2 cores
    cores = spark.sparkContext.defaultParallelism
    assert cores == 2
    with run._even_splits(spark, run.SparkInput("t", path)):
        assert spark.read.parquet(str(path)).rdd.getNumPartitions() == 6
    assert spark.conf.get(run.SPLIT_CONF, None) is None
    spark.conf.set(run.SPLIT_CONF, fifth)
    try:
        with run._even_splits(spark, run.SparkInput("t", path)):
            assert spark.conf.get(run.SPLIT_CONF) == fifth
            assert spark.read.parquet(str(path)).rdd.getNumPartitions() == 5
    finally:
        spark.conf.unset(run.SPLIT_CONF)


def test_probe_rows_read_on_the_driver_as_spark_hands_them(spark):
    """veil run --engine spark reads the key probe's rows with pyarrow (no Spark job): the same
    rows and Arrow types as Spark's first rows of the file."""
    from veil.spark import _to_arrow, arrow_schema
    from veil.spark.run import _first_rows

    for path in sorted(SAMPLES_PARQUET.glob("*.parquet")):
        df = spark.read.parquet(str(path))
        schema = arrow_schema(df)
        rows = _first_rows(df, 50, schema)
        assert rows is not None and rows.schema == schema, path.name
        assert rows.equals(_to_arrow(df.limit(50)).cast(schema)), path.name


def test_a_bad_value_names_its_input_file_and_row(cli, keyfile, tmp_path, spark):
    """An operator's error on an executor names the Parquet file and the row in it (found by one
    job over ``_metadata``), as the local engine names the row; the value never appears."""
    lake = tmp_path / "lake"
    (lake / "t").mkdir(parents=True)
    sizes = [700, 1200, 400]  # Spark orders its partitions by size, not by file name
    for i, n in enumerate(sizes):
        values = [i * 10_000 + j for j in range(n)]
        if i == 1:
            values[837] = -987_654_321  # row 838 of part-1: format int needs non-negative integers
        pq.write_table(pa.table({"n": pa.array(values, pa.int64()), "x": [str(v) for v in values]}),
                       lake / "t" / f"part-{i}.parquet", row_group_size=256)
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n      n: {op: pseudonymize, format: int}\n"
                    "      x: keep\n")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")  # several partitions per file
    try:
        res = cli("run", lake, "-p", prof, "--keyring", keyfile, "--out", tmp_path / "out", "--engine", "spark")
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert res.exit_code == EXIT_INPUT, res.output
    assert "lake/t/part-1.parquet, row 838, t.n:" in res.output, res.output
    assert "non-negative integers" in res.output and "987654321" not in res.output
    assert not (tmp_path / "out").exists()
    local = cli("run", lake, "-p", prof, "--keyring", keyfile, "--out", tmp_path / "out2")
    assert local.exit_code == EXIT_INPUT and "lake/t, row 1538, t.n:" in local.output  # 700 rows of part-0 first


def test_a_bad_value_in_a_dataframe_names_its_partition_and_row(spark, tmp_path):
    """veil.spark.anonymize on a DataFrame that is no file scan: the Spark partition and the row in it."""
    from veil.spark import locate

    df = spark.createDataFrame([(i if i != 1500 else -5,) for i in range(2000)], "n long").repartition(1)
    keyring = Keyring.for_testing(KEY)
    safe = spark_anonymize(df, {"version": 1, "tables": {"t": {"columns": {"n": {"op": "pseudonymize",
                                                                                   "format": "int"}}}}},
                           keyring, table="t")
    with pytest.raises(Exception) as info:
        safe.collect()
    assert re.search(r"Spark partition 0, row 1501, t\.n: .*non-negative", str(info.value)), str(info.value)
    assert locate(df, 0, 1501) is None  # not a file scan


def test_write_from_dataframes_with_a_vault_as_a_local_run(cli, keyfile, tmp_path, spark, staging):
    """veil.spark.write: DataFrames in a notebook (one of them built in memory, not read from a
    file) to Parquet with a vault: the output values, the vault's content and its audit entry are
    the local run's; the returned report is the CLI's."""
    from veil.spark import write as spark_write

    prof = make_vault_profile(tmp_path)
    res = cli("run", SAMPLES_PARQUET, "-p", prof, "--keyring", keyfile, "--vault", tmp_path / "local.db",
              "--out", tmp_path / "l", "--workers", "1", "-q", "--report", tmp_path / "l.json")
    assert res.exit_code == 0, res.output
    frames = {p.name.rsplit(".", 1)[0]: spark.read.parquet(str(p)) for p in sorted(SAMPLES_PARQUET.glob("*.parquet"))}
    frames["customers"] = spark.createDataFrame(pq.read_table(SAMPLES_PARQUET / "customers.parquet").to_pandas(),
                                                schema=frames["customers"].schema).repartition(3)
    report = spark_write(frames, prof, keyfile, tmp_path / "s", vault=tmp_path / "spark.db", purpose="notebook")
    assert report["engine"] == "spark" and report["totals"]["vault_records_written"] > 1500
    local_report = json.loads((tmp_path / "l.json").read_text())
    for name, t in local_report["tables"].items():
        assert report["tables"][name]["rows_out"] == t["rows_out"]
        assert report["tables"][name]["vault_records_written"] == t["vault_records_written"]
    assert _vault_content(tmp_path / "spark.db", keyfile) == _vault_content(tmp_path / "local.db", keyfile)
    for name in frames:
        want = pq.read_table(tmp_path / "l" / f"{name}.parquet")
        got = pq.read_table(tmp_path / "s" / name)
        key = want.column_names[0]
        _same_values(want, got, key, name)
    audit = cli("vault", "audit", "--keyring", keyfile, "--vault", tmp_path / "spark.db")
    assert any(" run " in line and "notebook" in line for line in audit.stdout.splitlines()), audit.stdout
    assert list(staging.iterdir()) == []
    with pytest.raises(veil.VeilError, match="plain name"):
        spark_write({"../x": frames["orders"]}, prof, keyfile, tmp_path / "bad")
    with pytest.raises(veil.VeilError, match="not empty and was not written by veil"):
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "notes.txt").write_text("keep me")
        spark_write({"orders": frames["orders"]}, prof, keyfile, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_timestamps_with_a_time_zone_as_the_local_engine(cli, keyfile, tmp_path, spark):
    """A timestamp with a time zone (Spark's TimestampType: pyspark >= 4 needs the session's zone to
    map it to Arrow; it crashed) is transformed in the files' zone, as locally: a month or a year
    near midnight of a month's end comes out the same, whatever the session's zone."""
    lake = tmp_path / "lake"
    lake.mkdir()
    base = dt.datetime(2020, 12, 31, 22, 30, tzinfo=dt.UTC)
    when = [base + dt.timedelta(minutes=37 * i) for i in range(400)]
    pq.write_table(pa.table({
        "id": pa.array(range(400), pa.int64()),
        "at": pa.array(when, pa.timestamp("us", tz="Europe/Berlin")),
        "seen": pa.array(when, pa.timestamp("ms", tz="UTC")),
        "email": [f"user{i}@corp.example" for i in range(400)],
    }), lake / "events.parquet")
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  events:\n    columns:\n      id: keep\n"
                    "      at: {op: generalize, to: month}\n      seen: {op: generalize, to: year}\n"
                    "      email: {op: pseudonymize, format: email, domain: email}\n")
    res = cli("run", lake, "-p", prof, "--keyring", keyfile, "--out", tmp_path / "l", "-q")
    assert res.exit_code == 0, res.output
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        res = cli("run", lake, "-p", prof, "--keyring", keyfile, "--out", tmp_path / "s", "--engine", "spark", "-q")
    finally:
        spark.conf.unset("spark.sql.session.timeZone")
    assert res.exit_code == 0, res.output
    want, got = pq.read_table(tmp_path / "l" / "events.parquet"), pq.read_table(tmp_path / "s" / "events")
    assert got.schema.field("at").type == pa.timestamp("us", tz="UTC")  # TIMESTAMP_MICROS, not Spark's INT96
    _same_values(want, got, "id", "events")
    starts = set(got.column("at").to_pylist())  # Berlin's month starts (UTC's would be 00:00 UTC)
    assert starts == {dt.datetime(2020, 11, 30, 23, tzinfo=dt.UTC), dt.datetime(2020, 12, 31, 23, tzinfo=dt.UTC)}


def _ids_in_order(path) -> list[int]:
    """A written table's ids in the order a reader of its directory meets them (files by name)."""
    import pyarrow.dataset as ds

    return ds.dataset(path, format="parquet", partitioning="hive", ignore_prefixes=[".", "_"]).to_table(
        columns=["id"]).column("id").to_pylist()


def test_row_order_shuffle_writes_a_keyed_order_on_spark(cli, keyfile, tmp_path, spark):
    """row_order: shuffle (what veil scan drafts) runs on Spark: the local engine's rows and values,
    in a keyed order unrelated to the input's; the same files and key give the same order whatever
    the splits; another key another order; --row-order keep overrides the profile."""
    n = 3000
    lake = tmp_path / "lake"
    (lake / "t").mkdir(parents=True)
    ids = np.arange(n)
    for i, part in enumerate(np.array_split(ids, 3)):
        pq.write_table(pa.table({"id": pa.array(part, pa.int64()), "email": [f"u{j}@corp.example" for j in part],
                                 "region": [f"r{j % 4}" for j in part]}), lake / "t" / f"part-{i}.parquet")
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\nrow_order: shuffle\ntables:\n  t:\n    columns:\n      id: keep\n"
                    "      email: {op: pseudonymize, format: email, domain: email}\n      region: keep\n")

    def run(out, *extra, keyring=keyfile):
        res = cli("run", lake, "-p", prof, "--keyring", keyring, "--out", tmp_path / out, "-q", *extra)
        assert res.exit_code == 0, res.output
        return _ids_in_order(tmp_path / out / "t")

    local = run("l")
    first = run("s", "--engine", "spark")
    _same_values(pq.read_table(tmp_path / "l" / "t"), pq.read_table(tmp_path / "s" / "t"), "id", "t")
    assert sorted(first) == list(range(n)) and first != list(range(n))
    assert abs(np.corrcoef(first, np.arange(n))[0, 1]) < 0.1  # position no longer tells the input's
    assert sum(b == a + 1 for a, b in zip(first[:-1], first[1:], strict=True)) < 20  # no runs of input order left
    spark.conf.set("spark.sql.files.maxPartitionBytes", "2048")  # other input splits, more tasks
    try:
        assert run("s2", "--engine", "spark") == first
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    other = tmp_path / "other.json"
    veil.init_keyring(other)
    assert run("s3", "--engine", "spark", keyring=other) != first
    kept = run("s4", "--engine", "spark", "--row-order", "keep")  # each file's rows in order (Spark
    assert sorted(kept) == list(range(n))  # orders its tasks by size, not by file name)
    assert sum(b != a + 1 for a, b in zip(kept[:-1], kept[1:], strict=True)) <= 2
    assert sorted(local) == sorted(first)
    # veil.spark.anonymize (lazy) on the same files: the same order as the CLI's Spark run
    keys = veil.load_keyring(keyfile)
    lazy = spark_anonymize(spark.read.parquet(str(lake / "t")), prof, keys, table="t")
    assert lazy.toArrow().column("id").to_pylist() == first


def test_row_order_shuffle_keeps_hive_folders_and_needs_files(cli, keyfile, tmp_path, spark):
    lake = tmp_path / "lake"
    n = 1200
    for y in (2023, 2024):
        (lake / "t" / f"year={y}").mkdir(parents=True)
        part = np.arange(n) + (y - 2023) * n
        pq.write_table(pa.table({"id": pa.array(part, pa.int64()), "email": [f"u{j}@x.example" for j in part]}),
                       lake / "t" / f"year={y}" / "part-0.parquet")
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\nrow_order: shuffle\ntables:\n  t:\n    columns:\n      id: keep\n"
                    "      email: {op: pseudonymize, format: email, domain: email}\n      year: keep\n")
    for out, extra in (("l", ()), ("s", ("--engine", "spark"))):
        res = cli("run", lake, "-p", prof, "--keyring", keyfile, "--out", tmp_path / out, "-q", *extra)
        assert res.exit_code == 0, res.output
    for y in (2023, 2024):
        folder = tmp_path / "s" / "t" / f"year={y}"
        got = _ids_in_order(folder)
        assert sorted(got) == sorted(_ids_in_order(tmp_path / "l" / "t" / f"year={y}")) and got != sorted(got)
    from veil.spark import write as spark_write

    memory = spark.createDataFrame([(1, "a@x.example", 2024)], "id long, email string, year long")
    with pytest.raises(veil.VeilError, match="needs a table read from Parquet files") as err:
        spark_write({"t": memory}, prof, keyfile, tmp_path / "w")
    assert err.value.table == "t" and not (tmp_path / "w").exists()


def test_quiet_spark_commands_print_nothing(keyfile, tmp_path):
    """`veil run --engine spark -q` and `veil verify --engine spark -q`, each in a process of its
    own (a new Spark driver): nothing on stderr (Spark's start-up warnings and the JVM's lines went
    there); without -q, veil's summary and none of Spark's WARN lines."""
    run = ["run", SAMPLES_PARQUET, "-p", SHOP_PROFILE, "--keyring", keyfile, "--engine", "spark", "--workers", "1"]
    quiet = run_module(*run, "--out", tmp_path / "q", "-q")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    verify = run_module("verify", SAMPLES_PARQUET, tmp_path / "q", "-p", SHOP_PROFILE, "--engine", "spark", "-q",
                        "--report", tmp_path / "v.json")
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr
    loud = run_module(*run, "--out", tmp_path / "l")
    assert loud.returncode == 0 and "veil: wrote" in loud.stderr and " WARN " not in loud.stderr, loud.stderr


def test_spark_without_java_is_one_message(keyfile, tmp_path):
    """No Java for Spark (JAVA_HOME points nowhere): a usage error naming it, exit 2, nothing
    written; with -q one line, without it Java's message above veil's (was an internal error)."""
    run = ["run", SAMPLES_PARQUET, "-p", SHOP_PROFILE, "--keyring", keyfile, "--engine", "spark",
           "--out", tmp_path / "out"]
    for flags in (["-q"], []):
        res = run_module(*run, *flags, env={"JAVA_HOME": str(tmp_path / "no-java")})
        assert res.returncode == 2 and not (tmp_path / "out").exists(), res.stderr
        assert "veil: error: Spark could not start its Java process" in res.stderr
        assert "Traceback" not in res.stderr and "internal error" not in res.stderr
        if flags:
            assert len(res.stderr.strip().splitlines()) == 1, res.stderr
