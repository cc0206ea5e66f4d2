"""Partitioned Parquet tables in the local engine: a directory of part files and Hive key=value folders
read as one table each, written back with the same partitioning; rules on partition columns refused."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

import veil
from veil.errors import EXIT_PROFILE

from .conftest import SAMPLES_PARQUET, SHOP_PROFILE


def _lake(root):
    """customers/part-{0,1,2}.parquet and orders/year=YYYY/*.parquet from the Parquet samples."""
    orders = pq.read_table(SAMPLES_PARQUET / "orders.parquet")
    years = pa.array([d.year for d in orders.column("order_date").to_pylist()], pa.int32())
    pq.write_to_dataset(orders.append_column("year", years), root / "orders", partition_cols=["year"])
    (root / "customers").mkdir()
    for i, batch in enumerate(pq.read_table(SAMPLES_PARQUET / "customers.parquet").to_batches(max_chunksize=80)):
        pq.write_table(pa.Table.from_batches([batch]), root / "customers" / f"part-{i}.parquet")
    (root / "customers" / "_SUCCESS").write_text("")  # what Spark leaves: not a part file
    return sorted(set(years.to_pylist()))


def _profile(tmp_path, year_rule):
    doc = yaml.safe_load(SHOP_PROFILE.read_text())
    doc["tables"] = {k: v for k, v in doc["tables"].items() if k in ("customers", "orders")}
    doc["tables"]["orders"]["columns"]["year"] = year_rule
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_part_files_and_hive_folders_are_one_table_each(tmp_path):
    _lake(tmp_path / "lake")
    ds = veil.open_dataset(tmp_path / "lake")
    by = {t.name: t for t in ds.tables}
    assert set(by) == {"customers", "orders"}
    assert by["customers"].num_rows == 200 and by["customers"].options["partitioning"] == ()
    assert by["orders"].num_rows == 600 and by["orders"].options["partitioning"] == ("year",)
    assert by["orders"].schema.names[-1] == "year"


def test_run_keeps_the_partitioning_and_the_values(cli, keyring, tmp_path):
    years = _lake(tmp_path / "lake")
    prof = _profile(tmp_path, "keep")
    out = tmp_path / "out"
    res = cli("run", tmp_path / "lake", "-p", prof, "--keyring", keyring, "--out", out, "--workers", "2", "-q")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (out / "orders").iterdir()) == [f"year={y}" for y in years]
    assert [p.name for p in (out / "customers").iterdir()] == ["part-0.parquet"]
    whole = veil.anonymize({"customers": pq.read_table(SAMPLES_PARQUET / "customers.parquet"),
                            "orders": pq.read_table(SAMPLES_PARQUET / "orders.parquet")},
                           SHOP_PROFILE, veil.load_keyring(keyring))
    got = pq.read_table(out / "orders").sort_by("order_id")
    assert got.drop_columns(["year"]).select(whole["orders"].column_names).equals(whole["orders"].sort_by("order_id"))
    assert pq.read_table(out / "customers").equals(whole["customers"])


def test_a_rule_on_a_partition_column_is_refused_before_writing(cli, keyring, tmp_path):
    _lake(tmp_path / "lake")
    prof = _profile(tmp_path, {"op": "pseudonymize", "format": "int"})
    out = tmp_path / "out"
    res = cli("run", tmp_path / "lake", "-p", prof, "--keyring", keyring, "--out", out, "--workers", "1")
    assert res.exit_code == EXIT_PROFILE
    assert "orders.year is a partition column" in res.output
    assert not out.exists()


def test_scan_reads_a_partitioned_table(cli, tmp_path):
    _lake(tmp_path / "lake")
    res = cli("scan", tmp_path / "lake", "--no-ner")
    assert res.exit_code == 0, res.output
    assert "orders (600 rows)" in res.output and "customers (200 rows)" in res.output
