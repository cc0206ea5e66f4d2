"""Adversarial key ranges: hostile ``range`` rules and ids outside the declared range.

Two categories, each a hypothesis loop through the in-process CLI (``veil run`` on a small CSV):

- *rules*: ``range`` values of every wrong shape (one or three items, floats, booleans, strings,
  nulls, nested lists, huge and negative integers, lo >= hi, with ``bits``, on ``format: token``);
  each is a profile error (exit 3) or, when it is a valid range holding every id, a good run;
- *values*: a valid range and ids of which some lie outside it (below lo, above hi, far above,
  negative, at the 64-bit edges) at random rows: exit 5 naming ``t.id`` and the row, never the
  id (each out-of-range id is a distinctive number checked against stdout/stderr), no output,
  the previous good output untouched.

Text columns carry markers that must never show in a message. Budget: VEIL_FUZZ_EXAMPLES.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from veil.keys import init_keyring

from .harness import FUZZ, assert_clean_failure, invoke, marker, snapshot

pytestmark = pytest.mark.adversarial

MARKERS = [marker(i) for i in range(1600, 1604)]
IDS = list(range(1, 41))

_SCALARS = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.booleans(), st.none(),
                     st.text(max_size=5), st.sampled_from(["1e3", "0x10", "[1, 2]", "~", ".inf"]))
_RANGES = st.one_of(
    st.lists(_SCALARS, max_size=4),
    st.tuples(st.integers(-(2**65), 2**65), st.integers(-(2**65), 2**65)).map(list),
    st.lists(st.lists(st.integers(0, 9), max_size=2), min_size=2, max_size=2),
    _SCALARS,
)


def _yaml(value) -> str:
    import json

    return json.dumps(value)  # JSON is YAML: floats, nulls, nested lists written as such


def _setup(root: Path) -> tuple[Path, Path]:
    src = root / "in"
    src.mkdir()
    (src / "t.csv").write_text("id,note\n" + "".join(f"{i},{MARKERS[i % 4]}\n" for i in IDS))
    keys = root / "keys" / "keyring.json"
    keys.parent.mkdir()
    init_keyring(keys)
    return src, keys


def _profile(root: Path, rule: str) -> Path:
    p = root / "p.yaml"
    p.write_text(f"version: 1\ntables:\n  t:\n    primary_key: [id]\n    columns:\n      id: {rule}\n"
                 "      note: {op: pseudonymize}\n")
    return p


@FUZZ
@given(rng=_RANGES, extra=st.sampled_from(["", ", bits: 15", ", format: token"]))
def test_hostile_range_rules(rng, extra):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src, keys = _setup(root)
        rule = "{op: pseudonymize, format: int, range: " + _yaml(rng) + extra + "}"
        rule = rule.replace("format: int, range", "range") if extra == ", format: token" else rule
        out = root / "out"
        res = invoke("run", src, "-p", _profile(root, rule), "--keyring", keys, "-o", out, "-q")
        valid = rng is None or (extra == "" and isinstance(rng, list) and len(rng) == 2
                 and all(type(v) is int for v in rng) and rng[0] <= 1 and rng[1] >= 40
                 and -(2**63) <= rng[0] < rng[1] <= 2**64 - 1 and not (rng[0] < 0 and rng[1] >= 2**63))
        event(f"rules: exit {res.exit_code}")
        if valid:
            assert res.exit_code == 0, res.stderr
            return
        assert_clean_failure(res, codes=(3, 5), markers=MARKERS, out=out)


@FUZZ
@given(bad=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(
           [0, 101, 99999, 987654321123, -7, 2**63 - 1, -(2**63), 18446744073709551615, 10**30])),
       min_size=1, max_size=3))
def test_ids_outside_the_range(bad):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src, keys = _setup(root)
        prof = _profile(root, "{op: pseudonymize, format: int, range: [1, 100]}")
        out = root / "out"
        assert invoke("run", src, "-p", prof, "--keyring", keys, "-o", out, "-q").exit_code == 0
        before = {out: snapshot(out)}
        ids = list(IDS)
        for row, value in bad:
            ids[row] = value
        (src / "t.csv").write_text("id,note\n" + "".join(f"{v},{MARKERS[i % 4]}\n" for i, v in enumerate(ids)))
        res = invoke("run", src, "-p", prof, "--keyring", keys, "-o", out, "-q", "--force")
        event(f"values: exit {res.exit_code}")
        assert_clean_failure(res, codes=(5,), markers=MARKERS + [str(v) for _, v in bad if abs(v) > 1000],
                             unchanged=before, out=out)
        assert "t.id" in res.stderr and "row " in res.stderr
