"""Adversarial blanks (issue 16 point 4): generated columns mixing blank text (every kind of Unicode
whitespace, alone or repeated), near-blanks that are not blank (zero width space, BOM, a letter
between spaces) and marker values, through `veil run` (in-process) on CSV with a profile that
pseudonymizes, fakes and masks. Each blank must come back byte for byte; every other value must be
transformed (no marker anywhere in the output or the streams). ``hypothesis.event`` tags what each
example held; ``pytest --hypothesis-show-statistics`` shows the counts.
"""

from __future__ import annotations

import csv
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from veil.keys import init_keyring
from veil.ops.arrays import blank_mask

from .harness import FUZZ, assert_no_marker, invoke, marker

pytestmark = pytest.mark.adversarial

# every Unicode White_Space code point (str.isspace), and look-alikes that are not whitespace
WHITESPACE = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
NOT_WHITESPACE = ["\u200b", "\ufeff", "\u2060", "\u180e", "\u00ad"]

blank = st.lists(st.sampled_from(WHITESPACE), max_size=4).map("".join)  # "" included
near_blank = st.tuples(blank, st.sampled_from(NOT_WHITESPACE + ["x"]), blank).map("".join)
COLUMNS = {"email": {"op": "pseudonymize", "format": "email"}, "street": {"op": "fake", "kind": "street_address"},
           "code": {"op": "mask", "keep_last": 0}}


def test_blank_is_exactly_python_isspace_for_every_code_point():
    """Arrow's utf8_is_space (the pipeline's test) agrees with str.isspace (the documented rule) on
    every code point, so the docs' definition is the code's."""
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000]
    mask = blank_mask(pa.array(chars + [""]))
    assert mask is not None
    got = pc.fill_null(mask, False).to_pylist()
    assert got == [c.isspace() for c in chars] + [True]


@pytest.fixture(scope="module")
def ring(tmp_path_factory):
    path = tmp_path_factory.mktemp("blank-keys") / "keyring.json"
    init_keyring(path)
    return path


@settings(FUZZ, max_examples=max(10, FUZZ.max_examples // 3))
@given(cells=st.lists(st.tuples(st.one_of(blank, near_blank, st.integers(0, 9999)),
                                st.one_of(blank, near_blank, st.integers(0, 9999)),
                                st.one_of(blank, near_blank, st.integers(0, 9999))), min_size=1, max_size=12))
def test_blanks_pass_through_a_run_and_nothing_else_does(cells, ring, tmp_path_factory):
    base = tmp_path_factory.mktemp("blanks")
    src, out = base / "in", base / "out"
    src.mkdir()
    rows, markers = [], []
    for r, row in enumerate(cells):
        values = []
        for c, v in enumerate(row):
            if isinstance(v, int):  # a value that must be transformed: a marker
                v = marker(1000 * r + c) + ("@example.com" if c == 0 else "")
                markers.append(v.split("@")[0])
            values.append(v)
        rows.append(values)
    with (src / "t.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(list(COLUMNS))
        w.writerows(rows)
    profile = base / "p.yaml"
    profile.write_text(yaml.safe_dump({"version": 1, "tables": {"t": {"columns": COLUMNS}}}), encoding="utf-8")
    res = invoke("run", src, "--profile", profile, "--keyring", ring, "--out", out, "--workers", "1", "-q")
    assert res.exit_code == 0, res.stderr
    with (out / "t.csv").open(encoding="utf-8", newline="") as f:
        got = list(csv.reader(f))[1:]
    assert len(got) == len(rows)
    kinds = set()
    for before, after in zip(rows, got, strict=True):
        for v, w in zip(before, after, strict=True):
            if v == "" or v.isspace():
                kinds.add("blank")
                assert w == v  # byte for byte
            else:
                kinds.add("near-blank" if not v.startswith("Zq") else "marker")
                assert w != v
    for k in sorted(kinds):
        event(k)
    assert_no_marker(markers, out, res.stdout, res.stderr)
