"""veil.anonymize / veil.scan: the Python API on in-memory tables gives the CLI's values for the same key."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import veil
from veil.errors import ProfileError, UsageError, VeilError
from veil.keys import Keyring

from .conftest import SAMPLES_CSV, SAMPLES_PARQUET, SHOP_PROFILE

pd = pytest.importorskip("pandas")  # the [dev] extra installs it; the Arrow tests below do not need it

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def keys() -> Keyring:
    return Keyring.for_testing(KEY)


def _tables(root) -> dict[str, pa.Table]:
    """The input tables as veil's own readers read them (CSV: text; Parquet: typed)."""
    ds = veil.open_dataset(root)
    return {t.name: pa.Table.from_batches(list(t.batches()), schema=t.schema) for t in ds.tables}


def _cli(cli, src, keyfile, out, *extra):
    res = cli("run", src, "--profile", SHOP_PROFILE, "--keyring", keyfile, "--out", out, "--workers", "1", "-q", *extra)
    assert res.exit_code == 0, res.output
    return {p.stem: pq.read_table(p) for p in out.glob("*.parquet")}


def test_same_values_as_the_cli_on_parquet_samples(cli, keyfile, tmp_path):
    want = _cli(cli, SAMPLES_PARQUET, keyfile, tmp_path / "out")
    got = veil.anonymize(_tables(SAMPLES_PARQUET), SHOP_PROFILE, veil.load_keyring(keyfile))
    assert set(got) == set(want)
    for name, table in want.items():
        assert got[name].schema.equals(table.schema), name
        for col in table.column_names:
            assert got[name].column(col).equals(table.column(col)), f"{name}.{col}"


def test_same_values_as_the_cli_on_csv_samples(cli, keyfile, tmp_path):
    """samples/shop (CSV) through `veil run --format parquet` and through the API: per column, the
    same values (the CLI types its Parquet output; the API gives the text it was given)."""
    want = _cli(cli, SAMPLES_CSV, keyfile, tmp_path / "out", "--format", "parquet")
    got = veil.anonymize(_tables(SAMPLES_CSV), str(SHOP_PROFILE), str(keyfile))
    for name, table in want.items():
        for col in table.column_names:
            w = [None if v is None else str(v) for v in table.column(col).to_pylist()]
            assert got[name].column(col).to_pylist() == w, f"{name}.{col}"


def test_one_table_with_foreign_keys_matches_the_whole_run(keys):
    tables = _tables(SAMPLES_PARQUET)
    whole = veil.anonymize(tables, SHOP_PROFILE, keys)
    for name in ("orders", "payments", "customers"):
        assert veil.anonymize(tables[name], SHOP_PROFILE, keys, table=name).equals(whole[name]), name


def test_same_type_back(keys):
    table = _tables(SAMPLES_PARQUET)["customers"]
    want = veil.anonymize(table, SHOP_PROFILE, keys, table="customers")
    batch = veil.anonymize(table.combine_chunks().to_batches()[0], SHOP_PROFILE, keys, table="customers")
    assert isinstance(batch, pa.RecordBatch) and pa.Table.from_batches([batch]).equals(want)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=30))
    out = veil.anonymize(reader, SHOP_PROFILE, keys, table="customers")
    assert isinstance(out, pa.RecordBatchReader)
    assert out.read_all().equals(want)
    df = table.to_pandas()
    df.index = pd.RangeIndex(100, 100 + len(df))
    got = veil.anonymize(df, SHOP_PROFILE, keys, table="customers")
    assert isinstance(got, pd.DataFrame) and list(got.index) == list(df.index)
    assert got["email"].tolist() == want.column("email").to_pylist()
    assert got["customer_id"].tolist() == want.column("customer_id").to_pylist()


def test_a_reader_is_read_lazily(keys):
    table = _tables(SAMPLES_PARQUET)["customers"]
    pulled = []

    def batches():
        for b in table.to_batches(max_chunksize=50):
            pulled.append(b.num_rows)
            yield b

    out = veil.anonymize(pa.RecordBatchReader.from_batches(table.schema, batches()), SHOP_PROFILE, keys,
                         table="customers")
    assert pulled == []
    out.read_next_batch()
    assert len(pulled) == 1


def test_polars_if_installed(keys):
    pl = pytest.importorskip("polars")
    table = _tables(SAMPLES_PARQUET)["customers"]
    got = veil.anonymize(pl.from_arrow(table), SHOP_PROFILE, keys, table="customers")
    assert isinstance(got, pl.DataFrame)
    assert got["email"].to_list() == veil.anonymize(table, SHOP_PROFILE, keys, table="customers")["email"].to_pylist()


def test_profile_as_dict_and_text(keys):
    df = pd.DataFrame({"id": [1, 2, 3], "email": ["a@x.org", "b@y.org", None]})
    text = ("version: 1\ntables:\n  users:\n    columns:\n      id: keep\n"
            "      email: {op: pseudonymize, format: email}\n")
    as_dict = {"version": 1, "tables": {"users": {"columns": {"id": "keep",
                                                              "email": {"op": "pseudonymize", "format": "email"}}}}}
    a = veil.anonymize(df, text, keys)
    b = veil.anonymize(df, as_dict, keys, table="users")
    assert a.equals(b)
    assert a["id"].tolist() == [1, 2, 3] and pd.isna(a["email"].iloc[2])
    assert a["email"].iloc[0] != "a@x.org" and a["email"].iloc[0].endswith("@example.com")
    one_line = json.dumps(as_dict)  # JSON text on one line: text, not a file name
    assert veil.anonymize(df, one_line, keys).equals(a)
    for source in (text, as_dict, one_line, "  " + one_line):  # veil.load_profile takes each as well
        assert veil.anonymize(df, veil.load_profile(source), keys).equals(a)
    with pytest.raises(ProfileError, match="did you mean 'keep'"):  # strict, as for a file
        veil.load_profile({"version": 1, "tables": {"users": {"columns": {"id": "kep"}}}})
    with pytest.raises(ProfileError, match="profile file not found"):
        veil.load_profile("profiles/no-such-profile.yaml")


def test_unknown_columns_fail_closed_without_values(keys):
    secret = "anna.secret@example.org"
    df = pd.DataFrame({"customer_id": [1], "email": [secret], "shoe_size": [secret]})
    with pytest.raises(ProfileError) as err:
        veil.anonymize(df, SHOP_PROFILE, keys, table="customers")
    text = str(err.value) + "".join(p.message + str(p.hint) for p in err.value.problems)
    assert "customers.shoe_size is not classified" in text
    assert secret not in text
    with pytest.raises(ProfileError, match="not classified"):
        veil.anonymize(df, SHOP_PROFILE, keys, table="not_in_profile")


def test_usage_errors_are_veil_errors(keys):
    with pytest.raises(UsageError, match="several tables"):
        veil.anonymize(pa.table({"a": [1]}), SHOP_PROFILE, keys)
    with pytest.raises(VeilError, match="DataFrame"):
        veil.anonymize([{"a": 1}], SHOP_PROFILE, keys, table="customers")
    with pytest.raises(VeilError):
        veil.anonymize(pa.table({"a": [1]}), SHOP_PROFILE, "env:VEIL_NO_SUCH_VARIABLE_SET", table="customers")
    with pytest.raises(veil.errors.KeyringError, match="no keyring given, and customers.customer_id"):
        veil.anonymize(_tables(SAMPLES_PARQUET)["customers"], SHOP_PROFILE, None, table="customers")
    shuffled = "version: 1\nrow_order: shuffle\ntables:\n  t:\n    columns:\n      a: keep\n"
    with pytest.raises(UsageError, match="shuffle needs a keyring"):  # the order is keyed
        veil.anonymize(pa.table({"a": [1]}), shuffled, None)


def test_collision_check_runs_at_the_end_of_a_stream(keys, monkeypatch):
    """Two keys with one pseudonym (forced, as in test_errors): IntegrityError when the stream ends."""
    from veil.ops import pseudonymize as ps

    real = ps._tokens
    monkeypatch.setattr(ps, "_tokens", lambda d, n: real(d[:1].repeat(len(d), axis=0), n))
    profile = {"version": 1, "tables": {"t": {"primary_key": ["id"], "columns": {"id": {"op": "pseudonymize"}}}}}
    table = pa.table({"id": [f"user-{i}" for i in range(100)]})
    out = veil.anonymize(pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=10)),
                         profile, keys)
    with pytest.raises(veil.VeilError, match="same pseudonym") as err:
        out.read_all()
    assert "user-" not in str(err.value)


def test_arrow_input_needs_no_pandas(keys, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "pandas", None)
    out = veil.anonymize(pa.table({"id": [1, 2]}), {"version": 1, "tables": {"t": {"columns": {"id": "keep"}}}}, keys)
    assert out.column("id").to_pylist() == [1, 2]


def test_scan_finds_personal_data_as_a_dataframe():
    df = _tables(SAMPLES_PARQUET)["customers"].to_pandas()
    found = veil.scan(df, table="customers", use_ner=False)
    assert isinstance(found, pd.DataFrame)
    by_col = found.set_index("column")
    assert by_col.loc["email", "entity"] == "EMAIL" and by_col.loc["email", "class"] == "direct"
    assert by_col.loc["customer_id", "key"] == "primary"
    text = found.to_csv()
    assert not any(v in text for v in df["email"].dropna().tolist()[:50])


def test_draft_of_dataframes_is_the_cli_draft_and_runs_unchanged(cli, keyfile, tmp_path):
    """veil.draft on the samples as DataFrames: the rules of `veil scan -o draft.yaml` on the same
    tables as files; the draft runs unchanged on the frames, with the values of `veil run` (the same
    rows in the same order), and veil.verify judges the copy as `veil verify` judges the CLI's."""
    import yaml

    frames = {name: t.to_pandas() for name, t in _tables(SAMPLES_PARQUET).items()}
    text = veil.draft(frames, use_ner=False)
    res = cli("scan", SAMPLES_PARQUET, "-o", tmp_path / "draft.yaml", "--no-ner")
    assert res.exit_code == 0, res.output
    assert yaml.safe_load(text) == yaml.safe_load((tmp_path / "draft.yaml").read_text())
    assert not any(v in text for v in frames["customers"]["email"].dropna().tolist())
    safe = veil.anonymize(frames, text, str(keyfile))
    res = cli("run", SAMPLES_PARQUET, "-p", tmp_path / "draft.yaml", "--keyring", keyfile, "--out", tmp_path / "out")
    assert res.exit_code == 0, res.output
    for name, t in _tables(tmp_path / "out").items():
        assert pa.Table.from_pandas(safe[name], preserve_index=False).to_pylist() == t.to_pylist(), name
    assert set(safe["orders"]["customer_id"]) <= set(safe["customers"]["customer_id"])
    cli("verify", SAMPLES_PARQUET, tmp_path / "out", "-p", tmp_path / "draft.yaml", "--report", tmp_path / "v.json")
    want = json.loads((tmp_path / "v.json").read_text())
    got = veil.verify(frames, safe, text)
    assert [(g["gate"], g["value"]) for g in got["gates"]] == [(g["gate"], g["value"]) for g in want["gates"]]
    assert got["verdict"] == want["verdict"]


def test_docs_python_md_runs(monkeypatch):
    """Every python block of docs/python.md, in order, in one namespace, from the repository root."""
    import base64
    import re

    from .conftest import ROOT

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("VEIL_KEY", base64.b64encode(KEY).decode())
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "python.md").read_text(), re.S)
    assert len(blocks) >= 4
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/python.md", "exec"), namespace)
    assert namespace["safe"]["email"].str.endswith("@example.com").all()


def _without_timings(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "seconds"}


def test_verify_on_paths_is_the_cli_report(cli, keyfile, tmp_path):
    out = tmp_path / "out"
    _cli(cli, SAMPLES_PARQUET, keyfile, out)
    res = cli("verify", SAMPLES_PARQUET, out, "-p", SHOP_PROFILE, "--report", tmp_path / "r.json", "-q")
    assert res.exit_code == 0, res.output
    want = json.loads((tmp_path / "r.json").read_text())
    got = veil.verify(SAMPLES_PARQUET, out, SHOP_PROFILE)
    assert got["verdict"] == "pass" and _without_timings(got) == _without_timings(want)


def test_verify_on_dataframes_and_a_failing_gate(keys, tmp_path):
    tables = _tables(SAMPLES_PARQUET)
    safe = veil.anonymize(tables, SHOP_PROFILE, keys)
    frames = {n: t.to_pandas() for n, t in tables.items()}
    report = veil.verify(frames, {n: t.to_pandas() for n, t in safe.items()}, SHOP_PROFILE)
    assert report["verdict"] == "pass" and report["leaks"]["summary"]["leaks"] == 0
    assert sorted(report["tables"]) == sorted(tables)
    # a table whose foreign keys point at tables not given: its key columns still count as transformed
    orders = veil.verify(tables["orders"], safe["orders"], SHOP_PROFILE, table="orders")
    assert orders["verdict"] == "pass" and list(orders["tables"]) == ["orders"]
    leaky = veil.verify(tables["orders"], tables["orders"], SHOP_PROFILE, table="orders")
    assert leaky["verdict"] == "fail" and leaky["leaks"]["summary"]["leaks"] > 0
    # one table, named by table=: its emails copied unchanged are leaks, and the gate fails (not raised)
    customers = safe["customers"].set_column(safe["customers"].schema.get_field_index("email"), "email",
                                             tables["customers"].column("email"))
    one = veil.verify(tables["customers"], customers, SHOP_PROFILE, table="customers", fail_on="leaks>0")
    assert one["verdict"] == "fail" and [g["gate"] for g in one["gates"] if g["failed"]] == ["leaks>0"]
    text = json.dumps(one)
    assert not any(e in text for e in tables["customers"].column("email").to_pylist() if e)
    with pytest.raises(VeilError):
        veil.verify(SAMPLES_PARQUET, SAMPLES_PARQUET, SHOP_PROFILE)  # the same path twice


def test_row_order_shuffle_gives_veil_runs_order(cli, keyfile, tmp_path):
    """row_order: shuffle (what veil scan drafts; the API refused it): every table in the order
    `veil run` writes it, row for row; a pandas DataFrame's index is reset (kept, it would give
    each row another row's label, or its input position); a reader is refused."""
    want = _cli(cli, SAMPLES_PARQUET, keyfile, tmp_path / "out", "--row-order", "shuffle")
    keep = _cli(cli, SAMPLES_PARQUET, keyfile, tmp_path / "kept", "--row-order", "keep")
    prof = veil.load_profile(SHOP_PROFILE)
    prof.row_order = "shuffle"
    keys = veil.load_keyring(keyfile)
    got = veil.anonymize(_tables(SAMPLES_PARQUET), prof, keys)
    for name, table in want.items():
        assert got[name].equals(table), name  # the same rows in the same order
        assert table.num_rows < 3 or not table.equals(keep[name]), name
    customers = pq.read_table(SAMPLES_PARQUET / "customers.parquet").to_pandas()
    customers.index = customers.index + 1000
    df = veil.anonymize(customers, prof, keys, table="customers")
    assert list(df.index) == list(range(len(customers)))
    assert pa.Table.from_pandas(df, preserve_index=False).equals(
        want["customers"].cast(pa.Table.from_pandas(df, preserve_index=False).schema))
    with pytest.raises(UsageError, match="RecordBatchReader is read once") as err:
        veil.anonymize(pq.read_table(SAMPLES_PARQUET / "orders.parquet").to_reader(), prof, keys, table="orders")
    assert err.value.table == "orders"


def test_pandas_float_ids_get_a_hint(keys):
    """An integer column with a missing value is float64 in pandas: format int refuses it with a
    hint that says why and what to do; convert_dtypes() then gives the CLI's values."""
    df = pd.DataFrame({"id": [1, 2, 3], "boss": [None, 1, 1]})
    prof = {"version": 1, "tables": {"t": {"primary_key": ["id"], "columns": {
        "id": {"op": "pseudonymize", "format": "int", "domain": "staff"},
        "boss": {"op": "pseudonymize", "format": "int", "domain": "staff"}}}}}
    with pytest.raises(ProfileError, match="not double") as err:
        veil.anonymize(df, prof, keys, table="t")
    assert "convert_dtypes()" in str(err.value) and err.value.exit_code == ProfileError([]).exit_code
    safe = veil.anonymize(df.convert_dtypes(), prof, keys, table="t")
    want = veil.anonymize(pa.table({"id": [1, 2, 3], "boss": pa.array([None, 1, 1], pa.int64())}), prof, keys)
    assert safe["boss"].tolist()[1:] == want.column("boss").to_pylist()[1:] and pd.isna(safe["boss"].tolist()[0])


def test_verify_from_a_plain_script_needs_no_main_guard(tmp_path):
    """veil.verify in a script without `if __name__ == "__main__"` (its checks ran in child
    processes, which import the main module again: BrokenProcessPool); now in one process."""
    import subprocess
    import sys

    from .conftest import ROOT

    script = tmp_path / "check.py"
    script.write_text(
        "import pyarrow.parquet as pq, veil\n"
        f"keys = veil.keys.Keyring.for_testing(bytes(range(32)))\n"
        f"t = pq.read_table({str(SAMPLES_PARQUET / 'customers.parquet')!r})\n"
        f"safe = veil.anonymize(t, {str(SHOP_PROFILE)!r}, keys, table='customers')\n"
        f"report = veil.verify(t, safe, {str(SHOP_PROFILE)!r}, table='customers')\n"
        "print('VERDICT', report['verdict'], report['leaks']['summary']['leaks'])\n")
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "VERDICT pass 0" in res.stdout


@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow"])
def test_pandas_nullable_and_arrow_dtypes_come_back_as_given(keys, backend):
    """A DataFrame with pandas' nullable dtypes (convert_dtypes()) or Arrow dtypes gets the same
    kind of dtypes back (an integer key with a missing value stays an integer, not float64)."""
    prof = {"version": 1, "tables": {"t": {"columns": {
        "id": {"op": "pseudonymize", "format": "int", "domain": "d"}, "name": "keep", "ok": "keep"}}}}
    df = pd.DataFrame({"id": [1, None, 3], "name": ["a", None, "c"], "ok": [True, None, False]})
    df = df.convert_dtypes(dtype_backend=backend)
    out = veil.anonymize(df, prof, keys, table="t")
    assert [str(d) for d in out.dtypes] == [str(d) for d in df.dtypes]
    want = veil.anonymize(pa.table({"id": pa.array([1, None, 3], pa.int64())}),
                          {"version": 1, "tables": {"t": {"columns": {"id": prof["tables"]["t"]["columns"]["id"]}}}},
                          keys)
    assert out["id"].tolist()[0] == want.column("id")[0].as_py() and pd.isna(out["id"].tolist()[1])


def test_each_pandas_column_keeps_its_own_kind_of_dtype(keys):
    """A frame mixing kinds (a nullable Int64 key beside numpy float64, default strings and an Arrow
    column) gets each column's kind back, not the first extension dtype's kind for every column."""
    prof = {"version": 1, "tables": {"t": {"columns": {
        "id": {"op": "pseudonymize", "format": "int", "domain": "d"}, "score": "keep", "name": "keep",
        "tag": "keep", "when": "keep"}}}}
    df = pd.DataFrame({"id": pd.array([1, None, 3], dtype="Int64"), "score": [0.5, float("nan"), 2.0],
                       "name": ["a", None, "c"], "tag": pd.array(["x", "y", None], dtype=pd.ArrowDtype(pa.string())),
                       "when": pd.date_range("2024-03-01", periods=3, freq="D", tz="Europe/Berlin")})
    out = veil.anonymize(df, prof, keys, table="t")
    assert [str(d) for d in out.dtypes] == [str(d) for d in df.dtypes]
    assert out["score"].tolist()[0] == 0.5 and pd.isna(out["score"].tolist()[1])
    assert out[["name", "tag", "when"]].equals(df[["name", "tag", "when"]])
