"""veil verify's runner: both sides streamed whole, rows paired by position, gates read from the report."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from tests.conftest import SAMPLES_CSV, SAMPLES_PARQUET
from veil.errors import UsageError
from veil.formats import open_dataset
from veil.profile import load_profile
from veil.verify import runner
from veil.verify.gates import Gate, default_gates, evaluate, parse_gates


class Recorder:
    """A check that keeps what it was given: rows per table, and whether paired rows matched."""

    name = "recorder"

    def __init__(self, ctx):
        self.ctx = ctx
        self.original_rows: dict[str, int] = {}
        self.copy_rows: dict[str, int] = {}
        self.paired_rows: dict[str, int] = {}
        self.same_ids: dict[str, bool] = {}

    def original(self, table, batch):
        self.original_rows[table] = self.original_rows.get(table, 0) + batch.num_rows

    def copy(self, table, batch, original):
        self.copy_rows[table] = self.copy_rows.get(table, 0) + batch.num_rows
        if original is None:
            return
        assert original.num_rows == batch.num_rows
        self.paired_rows[table] = self.paired_rows.get(table, 0) + batch.num_rows
        col = original.schema.names[0]
        if col in batch.schema.names:  # a kept first column: the pairing must give the same values
            same = pa.array(original.column(col).cast(pa.string())).equals(
                pa.array(batch.column(col).cast(pa.string())))
            self.same_ids[table] = self.same_ids.get(table, True) and same

    def finish(self):
        return {"summary": {}, "tables": {}, "original_rows": self.original_rows, "copy_rows": self.copy_rows,
                "paired_rows": self.paired_rows, "same_ids": self.same_ids}


def _keep_all(tmp_path, dataset_path):
    """A profile keeping every column of every table (so the copy equals the original)."""
    ds = open_dataset(dataset_path)
    lines = ["version: 1", "tables:"]
    for t in ds.tables:
        lines.append(f"  {t.name}:")
        lines.append("    columns:")
        lines += [f"      {c}: keep" for c in t.schema.names]
    p = tmp_path / "keep.yaml"
    p.write_text("\n".join(lines) + "\n")
    return load_profile(p)


def test_every_row_of_both_sides_is_streamed_and_paired(tmp_path):
    profile = _keep_all(tmp_path, SAMPLES_CSV)
    report = runner.verify_paths(SAMPLES_CSV, SAMPLES_PARQUET, profile, [Recorder])
    rec = report["recorder"]
    expected = {t.name: sum(b.num_rows for b in t.batches()) for t in open_dataset(SAMPLES_CSV).tables}
    assert rec["original_rows"] == expected
    assert rec["copy_rows"] == expected
    assert rec["paired_rows"] == expected
    assert all(rec["same_ids"].values()) and rec["same_ids"]


def test_a_copy_with_fewer_rows_is_not_paired(tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in SAMPLES_CSV.glob("*.csv"):
        table = pacsv.read_csv(f)
        if f.stem == "customers":
            table = table.slice(1)  # one row less: positions no longer say which row is which
        pacsv.write_csv(table, copy / f.name)
    profile = _keep_all(tmp_path, SAMPLES_CSV)
    rec = runner.verify_paths(SAMPLES_CSV, copy, profile, [Recorder])["recorder"]
    assert "customers" not in rec["paired_rows"]
    assert rec["copy_rows"]["customers"] == rec["original_rows"]["customers"] - 1
    assert rec["paired_rows"]["orders"] == rec["original_rows"]["orders"]


def test_pairing_gives_up_when_the_orders_differ_too_much(monkeypatch):
    monkeypatch.setattr(runner, "PAIRING_BUFFER_ROWS", 10)
    a = pa.record_batch({"x": list(range(30))})
    b = pa.record_batch({"y": list(range(30))})
    pairing = runner.Pairing(iter([("a", a), ("b", b)]), {"a": 30, "b": 30}, {"a": 30, "b": 30})
    assert pairing.take("b", 30) is None  # 30 rows of a would have to wait: more than the buffer
    assert pairing.given_up
    pairing = runner.Pairing(iter([("a", a), ("b", b)]), {"a": 30, "b": 30}, {"a": 30, "b": 30})
    got = pairing.take("a", 20)
    assert got.column(0).to_pylist() == list(range(20))
    assert pairing.take("a", 10).column(0).to_pylist() == list(range(20, 30))
    assert pairing.take("b", 30).column(0).to_pylist() == list(range(30))


def test_gates_parse_and_fail_when_the_comparison_holds():
    gates = parse_gates("k<5, leaks>0,people.risk>0.2,public.people.utility<0.8")
    assert gates[0] == Gate("k", "<", 5.0)
    assert gates[2].table == "people" and gates[3].table == "public.people"
    report = {"risk": {"summary": {"k": 3, "risk": 0.5},
                       "tables": {"public.people": {"summary": {"risk": 0.1}}}},
              "leaks": {"summary": {"leaks": 0}}, "utility": {"summary": {}, "tables": {}}}
    results = {r["gate"]: r for r in evaluate(report, gates)}
    assert results["k<5"]["failed"] and results["k<5"]["value"] == 3
    assert not results["leaks>0"]["failed"]
    assert not results["people.risk>0.2"]["failed"]  # a bare name finds the qualified table
    assert results["public.people.utility<0.8"]["failed"] and not results["public.people.utility<0.8"]["measured"]


@pytest.mark.parametrize("bad", ["k<", "k<<5", "kk<5", "leaks>zero"])
def test_a_gate_that_cannot_be_read_is_a_usage_error(bad):
    with pytest.raises(UsageError) as err:
        parse_gates(bad)
    assert err.value.hint


def test_default_gates_come_from_the_privacy_sections(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("version: 1\ntables:\n  people:\n    privacy: {quasi_identifiers: [zip], sensitive: [diag], "
                 "k: 5, l: 2}\n    columns: {zip: keep, diag: keep}\n")
    gates = {str(g): g for g in default_gates(load_profile(p))}
    assert gates["people.k<5"].required and gates["people.l<2"].required
    assert not gates["leaks>0"].required
    # a default gate that was not measured is skipped; a privacy gate that was not measured fails
    results = {r["gate"]: r for r in evaluate({}, list(gates.values()))}
    assert not results["leaks>0"]["failed"] and results["people.k<5"]["failed"]



def test_privacy_columns_must_be_in_the_table(tmp_path, cli):
    data = tmp_path / "in"
    data.mkdir()
    (data / "people.csv").write_text("id,zip\n1,12345\n")
    p = tmp_path / "p.yaml"
    p.write_text("version: 1\ntables:\n  people:\n    privacy: {quasi_identifiers: [zipp]}\n"
                 "    columns: {id: keep, zip: keep}\n")
    res = cli("validate", p, data)
    assert res.exit_code == 3
    assert "quasi_identifiers column 'zipp' is not in table people" in res.output
    assert "did you mean 'zip'" in res.output
