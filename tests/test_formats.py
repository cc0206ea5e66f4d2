"""Format fidelity: Parquet schema and metadata, CSV edge cases, CSV/Parquet agreement."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def _profile(tmp_path, body: str):
    p = tmp_path / "p.yaml"
    p.write_text("version: 1\ntables:\n" + body)
    return p


def test_parquet_schema_metadata_and_not_null_kept(tmp_path, keyring, cli):
    d = tmp_path / "in"
    d.mkdir()
    schema = pa.schema([
        pa.field("id", pa.int64(), nullable=False, metadata={b"comment": b"primary key"}),
        pa.field("email", pa.string(), nullable=False, metadata={b"pii": b"yes"}),
        pa.field("tags", pa.list_(pa.string())),
    ], metadata={b"source": b"crm-export"})
    pq.write_table(pa.table({"id": [1, 2], "email": ["a@x.org", "b@x.org"], "tags": [["x"], None]},
                            schema=schema), d / "t.parquet")
    prof = _profile(tmp_path, "  t:\n    primary_key: [id]\n    columns:\n      id: keep\n"
                    "      email: {op: pseudonymize, format: email}\n      tags: keep\n")
    out = tmp_path / "out"
    res = cli("run", d, "-p", prof, "--keyring", keyring, "--out", out, "-q")
    assert res.exit_code == 0, res.output
    got = pq.read_schema(out / "t.parquet")
    assert got.metadata == {b"source": b"crm-export"}
    assert got.field("id").nullable is False and got.field("id").metadata == {b"comment": b"primary key"}
    assert got.field("email").metadata is None  # a transformed column's metadata may describe its values
    assert got.field("email").nullable is True  # a transformed column may hold nulls
    assert got.field("tags").type == pa.list_(pa.string())
    assert pq.read_table(out / "t.parquet")["tags"].to_pylist() == [["x"], None]


def test_nested_column_needs_keep_drop_or_nullify(tmp_path, keyring, cli):
    d = tmp_path / "in"
    d.mkdir()
    pq.write_table(pa.table({"id": [1], "tags": [["x"]]}), d / "t.parquet")
    prof = _profile(tmp_path, "  t:\n    columns:\n      id: keep\n      tags: {op: mask, keep_first: 1}\n")
    res = cli("validate", prof, d)
    assert res.exit_code == 3 and "does not support nested columns" in res.stderr


def test_every_column_dropped_is_refused(tmp_path, keyring, cli):
    d = tmp_path / "in"
    d.mkdir()
    pq.write_table(pa.table({"a": [1], "b": ["x"]}), d / "t.parquet")
    prof = _profile(tmp_path, "  t:\n    unknown_columns: drop\n")
    res = cli("validate", prof, d)
    assert res.exit_code == 3 and "every column of table t would be dropped" in res.stderr


def test_single_column_csv_keeps_null_rows(tmp_path, keyring, cli):
    d = tmp_path / "in"
    d.mkdir()
    (d / "t.csv").write_text('email\na@x.org\n\n""\nb@x.org\n')
    prof = _profile(tmp_path, "  t:\n    columns:\n      email: {op: pseudonymize}\n")
    out = tmp_path / "out"
    assert cli("run", d, "-p", prof, "--keyring", keyring, "--out", out, "-q").exit_code == 0
    # reading veil's own output back (itself a one-column CSV) gives the same four rows
    again = tmp_path / "again"
    assert cli("run", out, "-p", _profile(tmp_path, "  t:\n    columns:\n      email: keep\n"),
               "--keyring", keyring, "--out", again, "-q").exit_code == 0
    for path in (out / "t.csv", again / "t.csv"):
        t = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
                           convert_options=pacsv.ConvertOptions(strings_can_be_null=True,
                                                                quoted_strings_can_be_null=False))
        vals = t["email"].to_pylist()
        # the empty string is a value (it gets a pseudonym), the blank line is a null
        assert len(vals) == 4 and vals[1] is None and None not in (vals[0], vals[2], vals[3])
        assert len(set(vals)) == 4


def test_timestamps_hash_alike_in_csv_and_parquet(tmp_path, keyring, cli):
    stamps = [dt.datetime(2020, 1, 23, 14, 39, 36), None, dt.datetime(2021, 5, 1, 0, 0, 0)]
    pq_dir, csv_dir = tmp_path / "pq", tmp_path / "csv"
    pq_dir.mkdir()
    csv_dir.mkdir()
    pq.write_table(pa.table({"at": pa.array(stamps, pa.timestamp("ms"))}), pq_dir / "t.parquet")
    (csv_dir / "t.csv").write_text('at\n"2020-01-23 14:39:36"\n\n"2021-05-01 00:00:00"\n')
    prof = _profile(tmp_path, "  t:\n    columns:\n      at: {op: pseudonymize}\n")
    outs = {}
    for src, name in [(pq_dir, "parquet"), (csv_dir, "csv")]:
        out = tmp_path / f"out-{name}"
        assert cli("run", src, "-p", prof, "--keyring", keyring, "--out", out, "-q").exit_code == 0
        path = out / f"t.{name}"
        outs[name] = (pq.read_table(path) if name == "parquet" else pacsv.read_csv(
            path, parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True)))["at"].to_pylist()
    assert outs["parquet"] == outs["csv"]
    # and a Parquet -> CSV conversion writes whole-second timestamps as CSV extracts do
    conv = tmp_path / "conv"
    keep = _profile(tmp_path, "  t:\n    columns:\n      at: keep\n")
    assert cli("run", pq_dir, "-p", keep, "--keyring", keyring, "--out", conv, "--format", "csv", "-q").exit_code == 0
    assert (conv / "t.csv").read_text() == '"at"\n"2020-01-23 14:39:36"\n\n"2021-05-01 00:00:00"\n'


def test_date_shift_domain_in_report(tmp_path, keyring, cli):
    d = tmp_path / "in"
    d.mkdir()
    (d / "t.csv").write_text('id,day\n"1","2020-01-01"\n')
    prof = _profile(tmp_path, "  t:\n    columns:\n      id: keep\n      day: {op: date_shift, subject: id}\n")
    rep = tmp_path / "r.json"
    res = cli("run", d, "-p", prof, "--keyring", keyring, "--out", tmp_path / "o", "--report", rep, "-q")
    assert res.exit_code == 0
    col = json.loads(rep.read_text())["tables"]["t"]["columns"]["day"]
    assert col["domain"] == "date_shift" and col["key_version"]


def test_a_timestamp_hashes_alike_whatever_else_is_in_its_batch(tmp_path, keyring, cli):
    whole, frac = dt.datetime(2020, 1, 23, 14, 39, 36), dt.datetime(2020, 1, 23, 14, 39, 36, 500000)
    prof = _profile(tmp_path, "  t:\n    columns:\n      at: {op: pseudonymize}\n")
    got = []
    for i, values in enumerate(([whole], [whole, frac])):
        d = tmp_path / f"in{i}"
        d.mkdir()
        pq.write_table(pa.table({"at": pa.array(values, pa.timestamp("us"))}), d / "t.parquet")
        out = tmp_path / f"out{i}"
        assert cli("run", d, "-p", prof, "--keyring", keyring, "--out", out, "-q").exit_code == 0
        got.append(pq.read_table(out / "t.parquet")["at"].to_pylist())
    assert got[0][0] == got[1][0] and got[1][0] != got[1][1]


def test_dataset_imports_no_format_and_no_function_local_imports():
    """veil.dataset holds the model and protocol types only (open_dataset lives in veil.formats, a
    dump is a DumpDataset): no import of veil.formats there, and no function-local import dodging a
    cycle in it or in detect's sampling and relations."""
    import ast
    import dataclasses
    from pathlib import Path

    import veil.formats
    from veil.dataset import Dataset
    from veil.formats.dump import DumpDataset

    src = Path(veil.formats.__file__).resolve().parent.parent
    for rel in ("dataset.py", "detect/sampling.py", "detect/relations.py"):
        tree = ast.parse((src / rel).read_text())
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            local = [n for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))]
            assert not local, f"{rel}: function-local import in {fn.name}"
        if rel == "dataset.py":
            mods = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
            assert not [m for m in mods if "formats" in m], mods
    assert "dump" not in {f.name for f in dataclasses.fields(Dataset)}
    assert {f.name: f.type for f in dataclasses.fields(DumpDataset)}["dump"] == "DumpInfo"
    assert veil.open_dataset is veil.formats.open_dataset
