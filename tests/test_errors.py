"""Bad input gets one clear error, a non-zero exit, no traceback, no output, and never a value.

Inputs are seeded with marker strings; every stream and file veil writes,
except the anonymized data itself, is searched for them.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import veil
from veil.errors import IntegrityError, VeilError

from .conftest import SAMPLES_CSV, SHOP_PROFILE, run_module

MARK = "ZQXMARK"

PROFILE = """\
version: 1
tables:
  people:
    primary_key: [id]
    columns:
      id: {op: pseudonymize, format: int}
      name: {op: fake, kind: name}
      email: {op: pseudonymize, format: email}
      born: {op: generalize, to: year}
      score: {op: generalize, bucket: 10}
      visit: {op: date_shift, subject: id, max_days: 10}
"""

GOOD_ROWS = [
    f'1,{MARK}_name1,{MARK}_1@example.org,1980-01-02,17,2020-05-05',
    f'2,"{MARK}_name2, jr",{MARK}_2@example.org,1990-03-04,23,2020-06-06',
]


def write(tmp_path: Path, rows: list[str], header: str = "id,name,email,born,score,visit") -> Path:
    d = tmp_path / "in"
    d.mkdir(exist_ok=True)
    (d / "people.csv").write_bytes(("\n".join([header, *rows]) + "\n").encode("utf-8", "surrogateescape"))
    return d


BAD_CASES = {
    "int_key_not_a_number": (GOOD_ROWS + [f"{MARK}9,x,y@z.org,1980-01-01,1,2020-01-01"], 5, "row 3",
                             "people.id"),
    "int_key_negative": (GOOD_ROWS + ["-4,x,y@z.org,1980-01-01,1,2020-01-01"], 5, "row 3", "people.id"),
    "bad_date": (GOOD_ROWS + [f"3,x,y@z.org,{MARK}-13-45,1,2020-01-01"], 5, "row 3", "people.born"),
    "bad_shift_date": (GOOD_ROWS + [f"3,x,y@z.org,1980-01-01,1,{MARK}-01-01"], 5, "row 3", "people.visit"),
    "bad_number": (GOOD_ROWS + [f"3,x,y@z.org,1980-01-01,{MARK},2020-01-01"], 5, "row 3", "people.score"),
    "extra_field": (GOOD_ROWS + [f"3,x,y@z.org,1980-01-01,1,2020-01-01,{MARK}"], 5, "people.csv:4",
                    "expected 6 fields, found 7"),
    "unterminated_quote": (GOOD_ROWS + [f'3,"{MARK},y@z.org,1980-01-01,1,2020-01-01'], 5, "people.csv:4",
                           "malformed"),
    "bad_utf8": (GOOD_ROWS + ["3,\udcff" + MARK + ",y@z.org,1980-01-01,1,2020-01-01"], 5, "people.csv:4",
                 "not UTF-8"),
}


def all_text_written(tmp_path: Path, res, exclude: Path | None = None) -> str:
    """stdout, stderr and every file under tmp_path except the input and the anonymized data."""
    parts = [res.stdout, res.stderr]
    for p in tmp_path.rglob("*"):
        if p.is_file() and "in" not in p.relative_to(tmp_path).parts[:1] and \
                (exclude is None or exclude not in p.parents):
            parts.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_clear_error_no_value_no_output(case, tmp_path, keyring, cli):
    rows, code, where, what = BAD_CASES[case]
    data = write(tmp_path, rows)
    prof = tmp_path / "p.yaml"
    prof.write_text(PROFILE)
    out, rep = tmp_path / "out", tmp_path / "report.json"
    res = cli("run", data, "-p", prof, "--keyring", keyring, "--out", out, "--report", rep)
    assert res.exit_code == code, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("veil: error: "), res.stderr
    assert where in lines[0] and what in lines[0] and "people.csv" in lines[0]
    assert "hint:" in lines[0]
    assert "Traceback" not in res.output
    assert not out.exists() and not rep.exists()
    assert list(tmp_path.glob(".veil-tmp-*")) == []
    assert MARK not in all_text_written(tmp_path, res)


@pytest.mark.parametrize("case", ["int_key_not_a_number", "bad_date", "extra_field"])
def test_exceptions_carry_no_value(case, tmp_path, keyring):
    """The library's exception objects (message, repr, formatted traceback) hold no value."""
    data = write(tmp_path, BAD_CASES[case][0])
    prof = tmp_path / "p.yaml"
    prof.write_text(PROFILE)
    ds = veil.open_dataset(data)
    keys = veil.load_keyring(keyring)
    plan = veil.compile_plan(veil.load_profile(prof), ds, keys.active_version)
    with pytest.raises(VeilError) as ei:
        veil.run_plan(plan, ds, tmp_path / "out", keys)
    err = ei.value
    text = (str(err) + repr(err) + "".join(traceback.format_exception(err))
            + json.dumps(err.__dict__, default=str))
    assert MARK not in text
    assert err.file and err.file.endswith("people.csv")


def test_successful_run_writes_no_value_outside_the_data(tmp_path, keyring, cli):
    data = write(tmp_path, GOOD_ROWS)
    prof = tmp_path / "p.yaml"
    prof.write_text(PROFILE)
    out, rep = tmp_path / "out", tmp_path / "report.json"
    res = cli("run", data, "-p", prof, "--keyring", keyring, "--out", out, "--report", rep)
    assert res.exit_code == 0, res.output
    assert MARK not in all_text_written(tmp_path, res, exclude=out)
    # and the anonymized data itself no longer holds the markers either
    assert MARK not in (out / "people.csv").read_text()


def test_debug_shows_traceback(tmp_path, keyring, cli):
    data = write(tmp_path, BAD_CASES["bad_date"][0])
    prof = tmp_path / "p.yaml"
    prof.write_text(PROFILE)
    res = cli("--debug", "run", data, "-p", prof, "--keyring", keyring, "--out", tmp_path / "o")
    assert res.exit_code == 5 and "Traceback" in res.stderr


def test_internal_errors_hide_their_text(tmp_path, keyring, monkeypatch, cli):
    """An unexpected exception (a bug) may quote data: only its type is shown."""
    from veil.ops import fake

    def boom(*a, **k):
        raise ValueError(f"{MARK} leaked by a bug")

    monkeypatch.setattr(fake, "generate", boom)
    data = write(tmp_path, GOOD_ROWS)
    prof = tmp_path / "p.yaml"
    prof.write_text(PROFILE)
    res = cli("run", data, "-p", prof, "--keyring", keyring, "--out", tmp_path / "o", "--workers", "1")
    assert res.exit_code == 1
    assert "internal error (ValueError)" in res.stderr and MARK not in res.output


def test_collision_in_key_column_fails_before_writing(tmp_path, keyring, monkeypatch, cli):
    """If two keys ever got one pseudonym the run fails loudly and writes nothing."""
    from veil.ops import pseudonymize as ps

    real = ps._tokens
    monkeypatch.setattr(ps, "_tokens", lambda d, n: real(d[:1].repeat(len(d), axis=0), n))
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    primary_key: [k]\n    columns:\n"
                    "      k: {op: pseudonymize}\n")
    d = tmp_path / "in"
    d.mkdir()
    pq.write_table(pa.table({"k": [f"{MARK}{i}" for i in range(10)]}), d / "t.parquet")
    out = tmp_path / "out"
    res = cli("run", d, "-p", prof, "--keyring", keyring, "--out", out, "--workers", "1")
    assert res.exit_code == IntegrityError.exit_code
    assert "t.k" in res.stderr and "same pseudonym" in res.stderr and MARK not in res.output
    assert not out.exists()


def test_missing_input_and_profile(tmp_path, keyring):
    proc = run_module("run", tmp_path / "nope", "-p", SHOP_PROFILE, "--keyring", keyring,
                      "--out", tmp_path / "o")
    assert proc.returncode == 5 and "input not found" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_module("run", SAMPLES_CSV, "-p", tmp_path / "nope.yaml", "--keyring", keyring,
                      "--out", tmp_path / "o")
    assert proc.returncode == 3 and "profile file not found" in proc.stderr


def test_output_must_not_be_inside_input(tmp_path, shop_csv, keyring, cli):
    res = cli("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", shop_csv / "anon")
    assert res.exit_code == 5 and "must not be the input" in res.stderr
