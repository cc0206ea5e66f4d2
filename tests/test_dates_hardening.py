"""Dates (issue 14.8): invalid days are input errors, shifts stay within the type's range, max_days is bounded."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from veil.keys import Keyring
from veil.ops import OPERATORS, OpContext
from veil.ops.dates import MAX_SHIFT_DAYS

KEYS = Keyring.for_testing(bytes(range(32)))
SUBJECTS = list(range(40))  # enough subjects for offsets of both signs


def shift(values, typ, max_days=365, op="date_shift", params=None):
    arr = pa.array(values, typ)
    batch = pa.record_batch([arr, pa.array(SUBJECTS[: len(values)], pa.int64())], names=["d", "sid"])
    p = OPERATORS[op].with_defaults(params or {"subject": "sid", "max_days": max_days})
    ctx = OpContext(KEYS, "", p, table="t", column="d", batch=batch, key_version=None)
    return OPERATORS[op].apply(arr, ctx)


def offsets(n=None, max_days=365):
    """Each subject's offset in days, read off a date in the middle of the range."""
    n = len(SUBJECTS) if n is None else n
    mid = dt.date(2000, 1, 1)
    return [(d - mid).days for d in shift([mid] * n, pa.date32(), max_days).to_pylist()]


def test_offsets_have_both_signs():
    offs = offsets()
    assert any(o > 0 for o in offs) and any(o < 0 for o in offs)
    assert all(0 < abs(o) <= 365 for o in offs)


def ticks(arr: pa.Array) -> list[int]:
    return arr.view(pa.int32() if pa.types.is_date32(arr.type) else pa.int64()).to_pylist()


@pytest.mark.parametrize("typ, top, bottom", [
    (pa.date32(), dt.date(9999, 12, 31), dt.date(1, 1, 1)),
    (pa.date64(), dt.date(9999, 12, 31), dt.date(1, 1, 1)),
    (pa.timestamp("s"), dt.datetime(9999, 12, 31, 12), dt.datetime(1, 1, 1, 12)),
    (pa.timestamp("us"), dt.datetime(9999, 12, 31, 12), dt.datetime(1, 1, 1, 12)),
    (pa.timestamp("ns"), dt.datetime(2262, 4, 11), dt.datetime(1677, 9, 22)),
    (pa.timestamp("ms", tz="UTC"), dt.datetime(9999, 12, 31, 12, tzinfo=dt.UTC),
     dt.datetime(1, 1, 1, 12, tzinfo=dt.UTC)),
])
def test_typed_shift_is_clamped_to_the_type_range(typ, top, bottom):
    n = len(SUBJECTS)
    offs = offsets()
    for edge in (top, bottom):
        out = shift([edge] * n, typ)
        edge_ticks = ticks(pa.array([edge], typ))[0]
        day = ticks(pa.array([dt.date(1970, 1, 2)], pa.date32()).cast(typ))[0]
        for o, v in zip(offs, ticks(out), strict=True):
            if (o < 0) == (edge is top):  # toward the inside: moved as usual
                assert v == edge_ticks + o * day
            else:  # past the edge: clamped to the type's last instant (no wrap, no year 10000)
                assert 0 <= (v - edge_ticks if edge is top else edge_ticks - v) < day
        # every value converts back (a year 10000 or a wrapped ns timestamp would not, or be far off)
        vals = out.to_pylist()
        assert all(dt.date(1, 1, 1) <= (v.date() if isinstance(v, dt.datetime) else v) <= dt.date(9999, 12, 31)
                   for v in vals)


def test_ns_timestamps_do_not_wrap():
    n = len(SUBJECTS)
    big = dt.datetime(2262, 4, 11, 23, 47, 16)  # within a second of int64's end in ns
    vals = shift([big] * n, pa.timestamp("ns")).cast(pa.int64()).to_pylist()
    assert all(v > 0 for v in vals)  # a wrap would give a date in 1677


@pytest.mark.parametrize("fmt, top", [("%Y-%m-%d", "9999-12-31"), ("%Y-%m-%d %H:%M:%S", "9999-12-31 23:00:00"),
                                      ("%Y-%m-%dT%H:%M:%S", "0001-01-01T01:00:00")])
def test_text_shift_never_writes_year_10000_or_0(fmt, top):
    out = shift([top] * len(SUBJECTS), pa.string()).to_pylist()
    assert all(len(v) == len(top) and "0000" < v[:4] <= "9999" for v in out), out


def test_generalize_and_shift_refuse_invalid_days():
    from veil.errors import InputError
    for bad in ("2020-02-30", "2021-04-31", "1900-02-29", "2021-13-01", "2021-00-10"):
        values = ["2020-02-29", None, bad]
        for op, params in (("date_shift", None), ("generalize", {"to": "year"})):
            with pytest.raises(InputError) as exc:
                shift(values, pa.string(), op=op, params=params)
            assert exc.value.row == 3 and exc.value.column == "d"
            assert bad not in str(exc.value)
    with pytest.raises(InputError):
        shift(["2021-03-15 10:11:12", "2021-03-15 24:00:00"], pa.string())


def _csv(path, rows):
    pacsv.write_csv(pa.table({"id": pa.array([r[0] for r in rows], pa.string()),
                              "d": pa.array([r[1] for r in rows], pa.string())}), path,
                    pacsv.WriteOptions(quoting_style="needed"))


def test_cli_invalid_date_is_exit_5_with_row_and_no_value(tmp_path, keyring, cli):
    src = tmp_path / "in"
    src.mkdir()
    _csv(src / "t.csv", [("1", "2021-03-01"), ("2", "2021-02-29"), ("3", "2021-03-02")])
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n      id: keep\n"
                    "      d: {op: date_shift, subject: id}\n")
    out = tmp_path / "out"
    res = cli("run", src, "--profile", prof, "--keyring", keyring, "--out", out)
    assert res.exit_code == 5, res.stderr
    assert "row 2" in res.stderr and "t.d" in res.stderr
    assert "2021-02-29" not in res.stderr and not out.exists()


def test_cli_shift_near_9999_stays_in_range(tmp_path, keyring, cli):
    src = tmp_path / "in"
    src.mkdir()
    _csv(src / "t.csv", [(str(i), "9999-12-30") for i in range(40)] + [(str(i), "0001-01-02") for i in range(40)])
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n      id: keep\n"
                    "      d: {op: date_shift, subject: id, max_days: 30}\n")
    out = tmp_path / "out"
    res = cli("run", src, "--profile", prof, "--keyring", keyring, "--out", out)
    assert res.exit_code == 0, res.stderr
    dates = pacsv.read_csv(out / "t.csv", convert_options=pacsv.ConvertOptions(
        column_types={"d": pa.string()})).column("d").to_pylist()
    assert all(len(d) == 10 and "0001-01-01" <= d <= "9999-12-31" for d in dates), dates
    assert "9999-12-31" in dates and "0001-01-01" in dates  # some were clamped


@pytest.mark.parametrize("max_days", [0, -3, MAX_SHIFT_DAYS + 1, 100_000_000_000, 10**40])
def test_max_days_is_bounded(max_days, tmp_path, cli):
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n"
                    f"      d: {{op: date_shift, subject: id, max_days: {max_days}}}\n")
    res = cli("validate", prof)
    assert res.exit_code == 3 and "max_days" in res.stderr


def test_max_days_at_the_bound_is_accepted(tmp_path, cli):
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n"
                    f"      d: {{op: date_shift, subject: id, max_days: {MAX_SHIFT_DAYS}}}\n")
    assert cli("validate", prof).exit_code == 0
    out = shift([dt.date(5000, 1, 1)] * len(SUBJECTS), pa.date32(), MAX_SHIFT_DAYS).to_pylist()
    assert all(abs((v - dt.date(5000, 1, 1)).days) <= MAX_SHIFT_DAYS for v in out)
