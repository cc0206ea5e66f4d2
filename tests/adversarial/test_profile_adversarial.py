"""Adversarial profiles: generated hostile YAML through `veil validate` and `veil run`.

Hypothesis builds YAML text from pieces a careless or hostile author could write: random nesting
(flow and block), values of the wrong type in every place, unknown keys, duplicate keys, anchors
and aliases (defined or not), huge integers, NaN and infinities, keys that are numbers, null,
booleans or lists, tags (``!!python/object``, ``!foo``, ``!!binary``, ``!!set``), impossible
dates, deep nesting; and raw bytes (invalid UTF-8, NUL). Each profile goes through
``veil validate PROFILE``, ``veil validate PROFILE INPUT`` and ``veil run`` on a small CSV input
whose values carry markers. Every outcome must be clean: exit 0, or 3 (profile), 4
(unclassified), 5 (input) — never 1 —, no traceback, no marker in stdout/stderr, no output
left by a failed run, and each call within a time bound. ``hypothesis.event`` tags each example
with its category and exit code (``pytest --hypothesis-show-statistics`` shows the counts).
Budget: VEIL_FUZZ_EXAMPLES (see harness.FUZZ).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from veil.keys import init_keyring
from veil.ops import OPERATORS

from .harness import FUZZ, assert_clean_failure, assert_no_marker, invoke, marker

pytestmark = pytest.mark.adversarial

MARKERS = [marker(i) for i in range(400, 406)]
TIME_LIMIT = 20.0  # seconds for one in-process call; a billion-laughs profile used to spin for minutes

NAMES = ["version", "defaults", "tables", "columns", "op", "domain", "reversible", "unknown_columns",
         "primary_key", "unique", "foreign_keys", "references", "table", "subject", "column", "format",
         "kind", "bucket", "prefix", "to", "max_days", "keep_first", "keep_last", "char", "length",
         "bits", "value", "locale", "entities", "nlp_model", "min_score", "placeholder",
         "t", "id", "email", "d", "note", "x", *OPERATORS]
SCALARS = ["~", "null", "true", "no", "0", "-1", "1", "7", "3.5", "1" + "0" * 40, "-" + "9" * 40,
           "1.0e+400", "-1.0e+400", ".nan", ".inf", "-.inf", "1e400", "0x1F", "0o17", "2020-02-30",
           "2020-01-01", "''", '"\\0"', '"\\t\\x7f"', "year", "month", "email", "token", "digits", "int",
           "fail", "keep", "drop", "nullify", "name", "t.email",
           "!!python/object:os.system {}", "!!python/name:os.system ''", "!foo bar", "!!binary '%%'",
           "!!set {a, b}", "!!omap [a: 1]", "!!int x", "!!float y", "!!str 5", "!!timestamp 2020-13-01",
           "*a", "*undefined", "&a x", "&a {op: keep}", "&b [1, 2]"]
KEYS = st.one_of(st.sampled_from(NAMES), st.sampled_from(["1", "~", "true", "2020-01-01", "[a, b]", "{a: 1}",
                                                           "!!python/name:os.system ''", "*a", "&a k", "<<"]))


def _flow(children):
    mapping = st.lists(st.tuples(KEYS, children), max_size=4).map(
        lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}")
    sequence = st.lists(children, max_size=4).map(lambda vs: "[" + ", ".join(vs) + "]")
    return st.one_of(mapping, sequence)


FRAGMENT = st.one_of(_flow(st.recursive(st.sampled_from(SCALARS), _flow, max_leaves=12)), st.sampled_from(SCALARS))
DEEP = st.tuples(st.integers(1, 400), st.sampled_from(["[", "{a: "])).map(
    lambda nb: nb[1] * nb[0] + "1" + ("]" if nb[1] == "[" else "}") * nb[0])
TREE = st.recursive(  # Python trees dumped as block YAML: odd keys and numbers in every place
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
              st.floats(), st.sampled_from(NAMES), st.text(max_size=6)),
    lambda ch: st.one_of(st.lists(ch, max_size=4),
                         st.dictionaries(st.one_of(st.sampled_from(NAMES), st.integers(), st.booleans(), st.none()),
                                         ch, max_size=4)),
    max_leaves=20)


def _place(frag: str, where: str, op: str, param: str) -> str:
    """Put a fragment somewhere in an otherwise plausible profile (flow style, one line each)."""
    if where == "document":
        return frag + "\n"
    if where == "table":
        return f"version: 1\ntables:\n  t: {frag}\n"
    if where == "columns":
        return f"version: 1\ntables:\n  t:\n    columns: {frag}\n"
    if where == "column":
        return f"version: 1\ntables:\n  t:\n    columns:\n      email: {frag}\n      id: keep\n"
    if where == "param":
        return (f"version: 1\ntables:\n  t:\n    columns:\n      email: {{op: {op}, {param}: {frag}}}\n"
                "      id: keep\n      d: keep\n      note: keep\n")
    if where == "alias pair":  # a rule written once and reused: refused, with the line
        return f"version: 1\ntables:\n  t:\n    columns:\n      email: &r {frag}\n      id: *r\n"
    if where == "defaults":
        return f"version: 1\ndefaults: {frag}\ntables:\n  t: {{columns: {{id: keep}}}}\n"
    return f"version: {frag}\ntables: {{t: {{columns: {{id: keep}}}}}}\n"


def _category(text: str) -> str:
    if text.startswith("version: 1\ntables:\n  t:\n    columns:\n      id: keep\n      email: {op:"):
        return "odd parameters"
    for needle, cat in (("*", "alias"), ("&", "anchor"), ("!", "tag"), ("[[[", "deep"), ("{a: {a: {a:", "deep"),
                        (".nan", "nan/inf"), (".inf", "nan/inf"), ("e+400", "nan/inf"), ("0000000000", "huge number")):
        if needle in text:
            return cat
    return "other"


# Valid-looking rules whose parameters take odd values of every type: these reach `veil run`.
VALUES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**25), max_value=10**25),
                   st.sampled_from([0, 1, -1, 2**31, 2**63, 2**64, 36_500, 36_501]),
                   st.floats(), st.sampled_from(["", "x", "**", "year", "token", "email", "id", "d", "email_x"]),
                   st.text(max_size=4))


def _rule(op: str, params: dict) -> str:
    if op == "date_shift":
        params.setdefault("subject", "id")
    return yaml.safe_dump({"op": op, **params}, default_flow_style=True, width=10**6).strip()


RULES = st.sampled_from(sorted(OPERATORS)).flatmap(
    lambda op: st.dictionaries(st.sampled_from([p.name for p in OPERATORS[op].params] + ["domain", "reversible"]),
                               VALUES, max_size=3).map(lambda params, op=op: _rule(op, params)))
VALID_SHAPE = st.tuples(RULES, RULES, RULES).map(
    lambda r: f"version: 1\ntables:\n  t:\n    columns:\n      id: keep\n      email: {r[0]}\n"
              f"      d: {r[1]}\n      note: {r[2]}\n")

PROFILES = st.one_of(
    VALID_SHAPE, VALID_SHAPE,
    st.tuples(FRAGMENT, st.sampled_from(["document", "table", "columns", "column", "param", "defaults", "version",
                               "alias pair"]),
              st.sampled_from(sorted(OPERATORS)), st.sampled_from(NAMES)).map(lambda a: _place(*a)),
    DEEP.map(lambda frag: _place(frag, "column", "", "")),
    TREE.map(lambda tree: yaml.safe_dump({"version": 1, "tables": {"t": tree}}, allow_unicode=True)),
    TREE.map(lambda tree: yaml.safe_dump(tree, allow_unicode=True)),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A CSV input whose values are markers, and a keyring."""
    root = tmp_path_factory.mktemp("profile-adv")
    src = root / "in"
    src.mkdir()
    m = MARKERS
    (src / "t.csv").write_text(
        "id,email,d,note\n"
        f"1,{m[0]}@x.org,2020-01-02,{m[1]}\n"
        f"2,{m[2]}@x.org,{m[3]},{m[4]} 2020\n"
        f"3,{m[5]},2021-03-04,\n", encoding="utf-8")
    keyring = root / "keyring.json"
    init_keyring(keyring)
    return src, keyring


def _call(*args):
    start = time.monotonic()
    res = invoke(*args)
    took = time.monotonic() - start
    assert took < TIME_LIMIT, f"{args[0]} took {took:.1f}s"
    return res


def _event(text: str) -> None:
    try:
        event(text)
    except InvalidArgument:  # outside a hypothesis test (the fixed cases)
        pass


def check_profile(world, text: bytes | str) -> None:
    src, keyring = world
    category = _category(text) if isinstance(text, str) else "stray bytes"
    with tempfile.TemporaryDirectory() as tmp:
        prof = Path(tmp) / "p.yaml"
        prof.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        res = _call("validate", prof)
        _event(f"{category}: validate exit {res.exit_code}")
        if res.exit_code != 0:
            assert_clean_failure(res, codes=(3,), markers=MARKERS)
        res = _call("validate", prof, src)
        _event(f"{category}: validate INPUT exit {res.exit_code}")
        if res.exit_code != 0:
            assert_clean_failure(res, codes=(3, 4, 5), markers=MARKERS)
        out = Path(tmp) / "out"
        res = _call("run", src, "--profile", prof, "--keyring", keyring, "--out", out, "--workers", "1", "-q")
        _event(f"{category}: run exit {res.exit_code}")
        if res.exit_code == 0:
            assert_no_marker(MARKERS, res.stdout, res.stderr)
            assert "Traceback" not in res.stderr
        else:
            assert_clean_failure(res, codes=(3, 4, 5), markers=MARKERS, out=out)


@FUZZ
@given(PROFILES)
def test_generated_profiles_fail_cleanly(world, text):
    check_profile(world, text)


VALID = (b"version: 1\ntables:\n  t:\n    columns:\n      id: keep\n      email: {op: pseudonymize}\n"
         b"      d: {op: generalize, to: year}\n      note: redact\n")


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(VALID)), st.binary(min_size=1, max_size=4)), min_size=1, max_size=3))
def test_profiles_with_stray_bytes_fail_cleanly(world, edits):
    """Bytes spliced into a valid profile: invalid UTF-8, NUL, control characters, BOMs."""
    data = bytearray(VALID)
    for pos, chunk in sorted(edits, reverse=True):
        data[pos:pos] = chunk
    check_profile(world, bytes(data))


@pytest.mark.parametrize("text", [
    # billion laughs: nine levels of nine aliases (about 387 million leaves once expanded)
    "version: 1\ntables: {}\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
    "version: 1\ntables:\n  t: " + "[" * 5000 + "]" * 5000 + "\n",
    "version: 1\ntables:\n  t:\n    columns:\n      email: {op: generalize, bucket: .inf}\n      id: keep\n",
    "version: 1\ntables:\n  t:\n    columns:\n      email: {op: date_shift, subject: id, max_days: 100000000000}\n",
    "version: 1\ntables:\n  t:\n    columns:\n      email: {op: mask, keep_first: 100000000000000000000}\n",
    "version: 1\ntables:\n  t:\n    columns:\n      email: {op: [pseudonymize]}\n",
    "version: 1\ntables:\n  t:\n    columns: !!python/object/apply:os.system [echo pwned]\n",
    "tables:\n  t:\n    unknown_columns: true\nversion: 1\n",  # found by the fuzzer: exit 1 in run
])
def test_known_hostile_profiles(world, text):
    check_profile(world, text)
