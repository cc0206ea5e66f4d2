"""Malformed profiles, Parquet files and operator inputs end in a clean error, never a crash (issue 14.7).

Each case used to exit 1 (internal error) or spin; each now gives a VeilError with the right exit
code, a message naming the place (file:line, table.column, row) and never a value.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from veil.dataset import Dataset, Table
from veil.errors import ProfileError, VeilError
from veil.keys import Keyring
from veil.ops.arrays import is_binary, is_text
from veil.pipeline import transform_batch
from veil.plan import compile_plan
from veil.profile import load_yaml, parse_profile

from .conftest import SAMPLES_CSV

KEYS = Keyring.for_testing(bytes(range(32)))
SPARK_KEY = "org.apache.spark.sql.parquet.row.metadata"

# -- profiles ---------------------------------------------------------------------------


def _billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join(["*" + prev] * 9) + "]")
    return "version: 1\ntables: {}\n" + "\n".join(lines) + "\n"


def _validate(path, *extra) -> subprocess.CompletedProcess:
    # a subprocess with a timeout: the unbounded cases used to spin for minutes
    env = dict(os.environ)
    env.pop("VEIL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "veil", "validate", str(path), *map(str, extra)],
                          capture_output=True, text=True, timeout=60, env=env)


def _clean(res, code: int = 3) -> str:
    assert res.returncode == code, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert "internal error" not in res.stderr
    return res.stderr


def test_yaml_aliases_are_refused_before_expanding(tmp_path):
    prof = tmp_path / "laughs.yaml"
    prof.write_text(_billion_laughs())
    err = _clean(_validate(prof))
    assert f"{prof}:3:" in err and "aliases" in err


def test_a_single_alias_is_refused_with_its_line(tmp_path, cli):
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n      a: &rule {op: redact}\n      b: *rule\n")
    res = cli("validate", prof)
    assert res.exit_code == 3
    assert f"{prof}:5:" in res.stderr


def test_deep_nesting_is_refused(tmp_path):
    prof = tmp_path / "deep.yaml"
    prof.write_text("version: 1\ntables:\n  t: " + "[" * 5000 + "]" * 5000 + "\n")
    err = _clean(_validate(prof))
    assert "nested more than" in err and f"{prof}:3:" in err
    prof.write_text("version: 1\ntables:\n  t: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n")
    assert "nested more than" in _clean(_validate(prof))


@pytest.mark.parametrize("kind", ["dir", "fifo", "device", "latin1", "empty", "blank", "nul", "missing"])
def test_profile_path_that_is_no_yaml_file(kind, tmp_path, cli):
    prof = tmp_path / "p.yaml"
    if kind == "dir":
        prof.mkdir()
    elif kind == "fifo":
        os.mkfifo(prof)  # reading it would block forever
    elif kind == "device":
        prof = "/dev/zero"  # reading it would never end
    elif kind == "latin1":
        prof.write_bytes("version: 1\ntables: {t: {columns: {caf\xe9: keep}}}\n".encode("latin-1"))
    elif kind == "empty":
        prof.write_bytes(b"")
    elif kind == "blank":
        prof.write_text("  \n# nothing\n")
    elif kind == "nul":
        prof.write_bytes(b"version: 1\x00\n")
    res = cli("validate", prof)
    assert res.exit_code == 3, res.stderr
    assert str(prof) in res.stderr and "internal error" not in res.stderr
    out = tmp_path / "out"
    res = cli("run", SAMPLES_CSV, "--profile", prof, "--out", out)
    assert res.exit_code == 3 and not out.exists()


def test_unreadable_profile(tmp_path, cli, monkeypatch):
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables: {}\n")
    real_open = os.open

    def denied(path, *a, **k):  # tests run as root, where chmod 000 does not stop a read
        if str(path) == str(prof):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", denied)
    res = cli("validate", prof)
    assert res.exit_code == 3 and "permission denied" in res.stderr


@pytest.mark.parametrize("text, where", [
    ("version: 1\ntables:\n  t:\n    columns:\n      a: !!python/object:os.system {}\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    columns:\n      a: {op: redact, value: !!python/name:os.system ''}\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    columns:\n      a: {op: redact, value: !foo bar}\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    columns:\n      a: {op: redact, value: !!binary '%%'}\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    columns:\n      a: {op: redact, value: 2020-02-30}\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    columns:\n      ? [a, b]\n      : keep\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    columns:\n      a: {op: [redact]}\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    unique: 5\n", ":4:"),
    ("version: 1\ntables:\n  t:\n    foreign_keys: {columns: [a]}\n", ":4:"),
    ("version: 1\ntables: !!set {a, b}\n", ":2:"),
    ("version: 1\n---\nversion: 1\n", ":2:"),
    ("version: true\ntables: {}\n", ":1:"),
])
def test_odd_yaml_is_a_profile_problem(text, where, tmp_path, cli):
    prof = tmp_path / "p.yaml"
    prof.write_text(text)
    res = cli("validate", prof)
    assert res.exit_code == 3, res.stderr
    assert f"{prof}{where}" in res.stderr


# -- every operator on every Arrow type ---------------------------------------------------

MARK = "Zq0001vEiLmArK"  # the marker seeded into text and binary values
D = decimal.Decimal


def _f16() -> pa.Array:
    return pa.array(np.array([1.5, -65504, 65504, np.nan, np.inf, 0], dtype=np.float16))


TYPES = {
    "int8": lambda: pa.array([-128, 127, 0, None, 99, -5], pa.int8()),
    "int16": lambda: pa.array([-32768, 32767, 0, None], pa.int16()),
    "int32": lambda: pa.array([-2**31, 2**31 - 1, 7, None], pa.int32()),
    "int64": lambda: pa.array([-2**63, 2**63 - 1, 7, None, 9_999_999_999_999_999], pa.int64()),
    "uint8": lambda: pa.array([0, 255, None, 99], pa.uint8()),
    "uint16": lambda: pa.array([0, 65535, None], pa.uint16()),
    "uint32": lambda: pa.array([0, 2**32 - 1, None], pa.uint32()),
    "uint64": lambda: pa.array([0, 2**64 - 1, None, 12345], pa.uint64()),
    "float16": _f16,
    "float32": lambda: pa.array([1.5, -3.4e38, 3.4e38, float("nan"), float("inf"), None], pa.float32()),
    "float64": lambda: pa.array([1.5, -1.7e308, 1.7e308, float("nan"), float("-inf"), None, 9.3e18]),
    "decimal128(3,1)": lambda: pa.array([D("99.9"), D("-99.9"), D("0.0"), None], pa.decimal128(3, 1)),
    "decimal256(5,2)": lambda: pa.array([D("999.99"), D("-999.99"), None], pa.decimal256(5, 2)),
    "decimal128(38,0)": lambda: pa.array([D(10**37), D(-(10**37)), None], pa.decimal128(38, 0)),
    "date32": lambda: pa.array([dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2020, 2, 29), None], pa.date32()),
    "date64": lambda: pa.array([dt.date(1, 1, 1), dt.date(9999, 12, 31), None], pa.date64()),
    "timestamp[s]": lambda: pa.array([dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23), None], pa.timestamp("s")),
    "timestamp[ns]": lambda: pa.array([dt.datetime(1677, 9, 22), dt.datetime(2262, 4, 11), None], pa.timestamp("ns")),
    "timestamp[us,tz]": lambda: pa.array([dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30), None],
                                         pa.timestamp("us", tz="Europe/Paris")),
    "time32": lambda: pa.array([dt.time(0, 0), dt.time(23, 59, 59), None], pa.time32("s")),
    "time64": lambda: pa.array([dt.time(12, 0), None], pa.time64("us")),
    "duration": lambda: pa.array([5, -5, None], pa.duration("s")),
    "binary": lambda: pa.array([b"\xff\xfe" + MARK.encode(), MARK.encode(), b"", None], pa.binary()),
    "large_binary": lambda: pa.array([b"\xff\x00" + MARK.encode(), None], pa.large_binary()),
    "fixed_size_binary": lambda: pa.array([b"\xff" * 14, MARK.encode(), None], pa.binary(14)),
    "string": lambda: pa.array([MARK, "2020-02-30", "nan", "9.3e18", "-1e400", "", None, "Jürgen"]),
    "large_string": lambda: pa.array([MARK, "1e308", None], pa.large_string()),
    "dictionary": lambda: pa.array([MARK, MARK, "x", None]).dictionary_encode(),
    "bool": lambda: pa.array([True, False, None]),
    "null": lambda: pa.array([None, None], pa.null()),
}

OPS = [
    "keep", "drop", "nullify", "redact", "mask", "{op: mask, keep_first: 2, keep_last: 2}",
    "{op: pseudonymize}", "{op: pseudonymize, format: email}", "{op: pseudonymize, format: digits}",
    "{op: pseudonymize, format: int}", "{op: pseudonymize, format: int, bits: 63}",
    "{op: fake, kind: first_name}", "{op: fake, kind: date_of_birth}", "{op: fake, kind: credit_card}",
    "{op: generalize, to: year}", "{op: generalize, to: month}", "{op: generalize, bucket: 10}",
    "{op: generalize, bucket: 2.5}", "{op: generalize, bucket: 1000}", "{op: generalize, bucket: 1.0e-300}",
    "{op: generalize, prefix: 2}", "{op: date_shift, subject: sid}",
    "{op: date_shift, subject: sid, max_days: 36500}", "{op: scrub, nlp_model: none}",
]
# operators whose output may hold (part of) the input on purpose
KEEPS_TEXT = ("keep", "scrub")


def _through_parquet(arr: pa.Array) -> pa.RecordBatch:
    """A batch as the Parquet reader gives it (types as stored), with a subject column."""
    batch = pa.record_batch([arr, pa.array([i % 3 for i in range(len(arr))], pa.int64())], names=["c", "sid"])
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_batches([batch]), buf)
    return pq.read_table(pa.BufferReader(buf.getvalue())).to_batches()[0]


def run_cell(rule: str, arr: pa.Array):
    """Compile a one-column profile for the batch and transform it, like `veil run` does.
    Returns ("refused", ProfileError) | ("error", VeilError) | ("ok", output column)."""
    batch = _through_parquet(arr)
    table = Table("t", Path("t.parquet"), "parquet", batch.schema, lambda size: iter([batch]), len(batch))
    text = f"version: 1\ntables:\n  t:\n    columns:\n      c: {rule}\n      sid: keep\n"
    try:
        plan = compile_plan(parse_profile(*load_yaml(text, "p.yaml"), "p.yaml"),
                            Dataset(Path("."), True, [table]), KEYS.active_version)
    except ProfileError as err:
        return "refused", err
    tplan = plan.tables["t"]
    try:
        res = transform_batch(tplan, batch, KEYS, 0)
    except VeilError as err:
        return "error", err
    out = res.batch
    assert out.schema == tplan.out_schema
    pq.write_table(pa.Table.from_batches([out]), io.BytesIO())  # the sink accepts it
    return "ok", out.column("c") if "c" in out.schema.names else None


@pytest.mark.parametrize("rule", OPS)
def test_every_operator_on_every_arrow_type(rule):
    """Each cell gives a valid output of the declared type, or a clean error: exit 3 at compile
    time, exit 5 at run time, naming table.column, never quoting a value. Never a crash."""
    for tname, make in TYPES.items():
        kind, res = run_cell(rule, make())
        where = f"{rule} on {tname}"
        if kind == "refused":
            assert res.exit_code == 3, where
            continue
        if kind == "error":
            assert res.exit_code == 5 and res.table == "t" and res.column == "c", where
            assert MARK not in str(res) and "9.3e18" not in str(res), where
            continue
        if res is not None and kind_of(rule) not in KEEPS_TEXT and (is_text(res.type) or is_binary(res.type)):
            assert MARK not in str(res.to_pylist()), where


@pytest.mark.parametrize("rule", ["{op: generalize, to: year}", "{op: generalize, to: month}",
                                  "{op: date_shift, subject: sid, max_days: 400}"])
@pytest.mark.parametrize("tname", ["date32", "date64", "timestamp[s]", "timestamp[ns]", "timestamp[us,tz]"])
def test_temporal_operators_never_wrap(rule, tname):
    """At the edges of a type's range a date operator clamps instead of wrapping around
    (floor to 1677-01-01 in ns, or a shift past 2262, used to land at the other end)."""
    arr = _through_parquet(TYPES[tname]()).column("c")
    kind, out = run_cell(rule, arr)
    assert kind == "ok"
    storage = pa.int32() if pa.types.is_date32(arr.type) else pa.int64()
    per_day = 1 if pa.types.is_date32(arr.type) else 86_400_000 if pa.types.is_date64(arr.type) else \
        {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}[arr.type.unit]
    for before, after in zip(arr.view(storage).to_pylist(), out.view(storage).to_pylist(), strict=True):
        if before is None:
            continue
        if "generalize" in rule:
            assert before - 366 * per_day <= after <= before
        else:
            assert abs(after - before) <= 400 * per_day


def kind_of(rule: str) -> str:
    return rule.split(",")[0].removeprefix("{op: ").rstrip("}")


# -- the cases of the issue, one by one ---------------------------------------------------

def _apply(rule: str, arr: pa.Array) -> pa.Array:
    kind, out = run_cell(rule, arr)
    assert kind == "ok", out
    return out


def test_mask_and_prefix_on_binary_that_is_not_utf8():
    arr = pa.array([b"\xff\xfe" + MARK.encode(), "Jürgen".encode(), b"", None, b"\xc3"], pa.binary())
    assert _apply("{op: mask, keep_first: 1, keep_last: 1}", arr).to_pylist() == \
        ["*" * 16, "J****n", "", None, "*"]  # not UTF-8: masked whole, one * per byte
    assert _apply("{op: generalize, prefix: 2}", arr).to_pylist() == ["*" * 16, "Jü****", "", None, "*"]


@pytest.mark.parametrize("tname", ["int8", "int16", "int32", "int64", "uint8", "uint64"])
def test_digits_stay_within_the_integer_type(tname):
    arr = TYPES[tname]()
    info = np.iinfo(arr.type.to_pandas_dtype())
    out = _apply("{op: pseudonymize, format: digits}", arr)
    assert out.type == arr.type
    assert all(info.min <= v <= info.max for v in out.to_pylist() if v is not None)
    assert out.to_pylist() == _apply("{op: pseudonymize, format: digits}", arr).to_pylist()  # deterministic
    # every value that fits keeps its number of digits and its sign
    src = [str(v) for v in arr.to_pylist() if v is not None]
    got = [str(v) for v in out.to_pylist() if v is not None]
    assert all((a[0] == "-") == (b[0] == "-") for a, b in zip(src, got, strict=True))


def test_digits_on_int8_no_longer_crashes(tmp_path, keyring, cli):
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"n": pa.array(list(range(-128, 128)), pa.int8())}), src / "t.parquet")
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n      n: {op: pseudonymize, format: digits}\n")
    out = tmp_path / "out"
    res = cli("run", src, "--profile", prof, "--keyring", keyring, "--out", out)
    assert res.exit_code == 0, res.stderr
    assert pq.read_table(out / "t.parquet").schema.field("n").type == pa.int8()


def test_bucket_on_text_numbers_that_are_not_finite(tmp_path, keyring, cli):
    arr = pa.array(["nan", "inf", "-inf", "1e308", "-1e400", "9.3e18", "-9.3e18", "12", None])
    assert _apply("{op: generalize, bucket: 10}", arr).to_pylist() == \
        [None, None, None, str(int(1e308)), None, "9300000000000000000", "-9300000000000000000", "10", None]
    assert _apply("{op: generalize, bucket: 2.5}", arr).to_pylist()[:3] == [None, None, None]
    # the whole run, on CSV
    src = tmp_path / "in"
    src.mkdir()
    (src / "t.csv").write_text("id,v\n1,nan\n2,inf\n3,1e308\n4,-1e400\n5,9.3e18\n6,42\n")
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n      id: keep\n      v: {op: generalize, bucket: 10}\n")
    out = tmp_path / "out"
    res = cli("run", src, "--profile", prof, "--keyring", keyring, "--out", out)
    assert res.exit_code == 0, res.stderr
    assert (out / "t.csv").read_text().splitlines()[-1].endswith(',"40"')


@pytest.mark.parametrize("tname, rule, expect", [
    ("int8", "{op: generalize, bucket: 10}", [-128, 120, 0, None, 90, -10]),  # -130 does not fit int8
    ("int64", "{op: generalize, bucket: 1000}", [-(2**63), 2**63 - 808, 0, None, 9_999_999_999_999_000]),
    ("float16", "{op: generalize, bucket: 1000}", [0.0, -65504.0, 64992.0, None, None, 0.0]),
    ("decimal128(3,1)", "{op: generalize, bucket: 10}", [D("90.0"), D("-99.9"), D("0.0"), None]),
    ("float64", "{op: generalize, bucket: 1.0e-300}", [1.5, -1.7e308, 1.7e308, None, None, None, 9.3e18]),
])
def test_bucket_stays_within_the_type(tname, rule, expect):
    out = _apply(rule, TYPES[tname]())
    got = out.to_pylist()
    if tname == "float64":
        assert got[3:6] == [None, None, None] and all(abs(g - e) <= abs(e) * 1e-12
                                                      for g, e in zip(got, expect, strict=True) if e is not None)
    else:
        assert got == expect


@pytest.mark.parametrize("params", [
    "bucket: .inf", "bucket: -.inf", "bucket: .nan", "bucket: 0", "bucket: -5", "bucket: 1.0e+19",
    "prefix: -1", "prefix: 100000000000000000000",
])
def test_generalize_params_are_bounded(params, tmp_path, cli):
    prof = tmp_path / "p.yaml"
    prof.write_text(f"version: 1\ntables:\n  t:\n    columns:\n      v: {{op: generalize, {params}}}\n")
    res = cli("validate", prof)
    assert res.exit_code == 3, res.stderr
    assert f"{prof}:5:" in res.stderr


@pytest.mark.parametrize("params", ["keep_first: 100000000000000000000", "keep_last: -1", "keep_first: 1000001"])
def test_mask_params_are_bounded(params, tmp_path, cli):
    prof = tmp_path / "p.yaml"
    prof.write_text(f"version: 1\ntables:\n  t:\n    columns:\n      v: {{op: mask, {params}}}\n")
    assert cli("validate", prof).exit_code == 3


def test_fractional_bucket_on_an_integer_column_is_refused_at_compile_time():
    kind, err = run_cell("{op: generalize, bucket: 2.5}", TYPES["int8"]())
    assert kind == "refused" and "whole number" in str(err)


# -- Parquet: duplicate names, metadata of transformed columns -------------------------------

def test_parquet_with_duplicate_column_names(tmp_path, keyring, cli):
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.Table.from_arrays([pa.array([MARK]), pa.array(["b"])], names=["x", "x"]), src / "dup.parquet")
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ndefaults: {unknown_columns: nullify}\ntables:\n  dup: {}\n")
    out = tmp_path / "out"
    res = cli("run", src, "--profile", prof, "--keyring", keyring, "--out", out)
    assert res.exit_code == 5, res.stderr
    assert "dup.parquet" in res.stderr and "dup.x" in res.stderr and "same name" in res.stderr
    assert MARK not in res.stderr and not out.exists()
    assert cli("validate", prof, src).exit_code == 5


def _meta_input(tmp_path, with_drop=False):
    marks = [f"Zq000{i}vEiLmArK" for i in range(2, 7)]
    pandas = {"index_columns": [{"kind": "range", "name": None, "start": 0, "stop": 2, "step": 1}],
              "column_indexes": [], "attrs": {"note": marks[0]}, "creator": {"library": "pyarrow"},
              "columns": [{"name": "email", "field_name": "email", "pandas_type": "unicode", "numpy_type": "object",
                           "metadata": {"sample": marks[1]}},
                          {"name": "city", "field_name": "city", "pandas_type": "unicode", "numpy_type": "object",
                           "metadata": {"kept": "yes"}}],
              "pandas_version": "2.2.0"}
    spark = {"type": "struct", "fields": [
        {"name": "email", "type": "string", "nullable": True, "metadata": {"comment": marks[2]}},
        {"name": "city", "type": "string", "nullable": True, "metadata": {"comment": "town"}}]}
    schema = pa.schema([pa.field("email", pa.string()).with_metadata({"stats": marks[3]}),
                        pa.field("city", pa.string()).with_metadata({"comment": "town of residence"})],
                       metadata={"pandas": json.dumps(pandas), SPARK_KEY: json.dumps(spark), "owner": "data team"})
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"email": [MARK + "@x.org", marks[4]], "city": ["Paris", "Lyon"]}, schema=schema),
                   src / "people.parquet")
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  people:\n    columns:\n      email: {op: pseudonymize, format: email}\n"
                    f"      city: {'drop' if with_drop else 'keep'}\n")
    return src, prof, [MARK, *marks]


@pytest.mark.parametrize("with_drop", [False, True])
def test_parquet_metadata_of_transformed_columns_is_not_copied(with_drop, tmp_path, keyring, cli):
    src, prof, marks = _meta_input(tmp_path, with_drop)
    out = tmp_path / "out"
    res = cli("run", src, "--profile", prof, "--keyring", keyring, "--out", out)
    assert res.exit_code == 0, res.stderr
    data = (out / "people.parquet").read_bytes()
    assert not [m for m in marks if m.encode() in data]  # not in the values, nor any metadata
    schema = pq.read_schema(out / "people.parquet")
    assert schema.field("email").metadata is None
    assert schema.metadata[b"owner"] == b"data team"  # unrelated keys stay
    if with_drop:
        assert b"pandas" not in schema.metadata and SPARK_KEY.encode() not in schema.metadata
        return
    assert schema.field("city").metadata == {b"comment": b"town of residence"}  # a kept column keeps it
    pandas = json.loads(schema.metadata[b"pandas"])
    assert "attrs" not in pandas and pandas["columns"][1]["metadata"] == {"kept": "yes"}
    assert pandas["columns"][0]["metadata"] is None and pandas["index_columns"][0]["stop"] == 2
    spark = json.loads(schema.metadata[SPARK_KEY.encode()])
    assert spark["fields"][0]["metadata"] == {} and spark["fields"][1]["metadata"] == {"comment": "town"}


def test_parquet_metadata_is_kept_when_nothing_is_transformed(tmp_path, keyring, cli):
    src, prof, _ = _meta_input(tmp_path)
    prof.write_text("version: 1\ntables:\n  people:\n    columns:\n      email: keep\n      city: keep\n")
    out = tmp_path / "out"
    assert cli("run", src, "--profile", prof, "--keyring", keyring, "--out", out).exit_code == 0
    assert pq.read_schema(out / "people.parquet").metadata == pq.read_schema(src / "people.parquet").metadata


def test_run_with_an_invalid_table_policy_is_a_profile_error(tmp_path, keyring, cli):
    # found by the adversarial suite: `veil run` (which collects problems instead of stopping at the
    # first) went on with the bad policy and crashed in the plan (KeyError, exit 1)
    prof = tmp_path / "p.yaml"
    prof.write_text("tables:\n  customers:\n    unknown_columns: true\nversion: 1\n")
    out = tmp_path / "out"
    res = cli("run", SAMPLES_CSV, "--profile", prof, "--keyring", keyring, "--out", out)
    assert res.exit_code == 3 and f"{prof}:3:" in res.stderr and not out.exists()
