"""Adversarial inputs as they come (issue 16 point 7): damaged SQL dumps fed on standard input
(`veil run -`, plain and gzip), and CSV files with any of the sniffed delimiters through `veil run`.

Each example either succeeds with no marker value anywhere in the output, or fails cleanly (exit
3, 4 or 5, no traceback, no marker in any stream, no output file, no spool or temporary file left).
``hypothesis.event`` tags each outcome (``pytest --hypothesis-show-statistics``).
"""

from __future__ import annotations

import csv
import gzip
import io

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from veil.keys import init_keyring

from .harness import FUZZ, assert_clean_failure, assert_no_marker, invoke, invoke_input, marker

pytestmark = pytest.mark.adversarial

N = 6
MARKS = [marker(900 + i) for i in range(N)]
DUMP = ("--\n-- PostgreSQL database dump\n--\n\nSET standard_conforming_strings = on;\n\n"
        "CREATE TABLE public.people (\n    id integer NOT NULL,\n    email text,\n    note text\n);\n\n"
        "ALTER TABLE ONLY public.people\n    ADD CONSTRAINT people_pkey PRIMARY KEY (id);\n\n"
        "COPY public.people (id, email, note) FROM stdin;\n"
        + "".join(f"{i}\t{MARKS[i]}@example.org\tn {MARKS[i]}\n" for i in range(N))
        + "\\.\n\n").encode()
PROFILE = ("version: 1\ntables:\n  people:\n    columns:\n      id: {op: pseudonymize, format: int, domain: pid}\n"
           "      email: {op: pseudonymize, format: email, domain: email}\n      note: {op: redact}\n")

edits = st.lists(st.tuples(st.integers(0, len(DUMP)), st.integers(0, 8),
                           st.sampled_from([b"", b"\t", b"\n", b"\\.\n", b"'", b";", b"\\", b"\xff", b"\x1f\x8b",
                                            b"PGDMP", b"COPY x FROM stdin;\n", b"INSERT INTO people VALUES ("])),
                 max_size=3)


def damage(data: bytes, changes) -> bytes:
    for pos, cut, insert in changes:
        pos %= len(data) + 1
        data = data[:pos] + insert + data[pos + cut:]
    return data


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("stdin")
    keyring = root / "keys" / "k.json"
    keyring.parent.mkdir()
    init_keyring(keyring)
    profile = root / "p.yaml"
    profile.write_text(PROFILE)
    return root, keyring, profile


def test_the_undamaged_dump_runs(setup):
    root, keyring, profile = setup
    out = root / "ok.sql"
    res = invoke_input("run", "-", "-p", profile, "--keyring", keyring, "-o", out, "-q", "--workers", "1",
                       input=DUMP)
    assert res.exit_code == 0, res.stderr
    assert_no_marker(MARKS, out)
    assert out.read_bytes().count(b"@example.com") == N


@FUZZ
@given(edits, st.booleans(), st.booleans())
def test_damaged_dump_on_stdin(setup, changes, gz, to_stdout):
    root, keyring, profile = setup
    data = damage(DUMP, changes)
    if gz:
        data = gzip.compress(data)
    out = root / "out" / "anon.sql"
    out.parent.mkdir(exist_ok=True)
    out.unlink(missing_ok=True)
    target = "-" if to_stdout else out
    res = invoke_input("run", "-", "-p", profile, "--keyring", keyring, "-o", target, "-q", "--workers", "1",
                       input=data)
    if res.exit_code == 0:
        event("ran")
        assert_no_marker(MARKS, res.stdout, res.stderr, *([] if to_stdout else [out]))
    else:
        event(f"refused exit {res.exit_code}")
        # with --out - a failure may leave a partial stream: still never a marker in it
        assert_clean_failure(res, codes=(3, 4, 5), markers=MARKS, out=None if to_stdout else out)
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".veil-")]


cell = st.one_of(st.none(), st.lists(st.sampled_from([",", ";", "\t", "|", '"', " ", "a", "é", "\n"]),
                                     max_size=4).map("".join))


@FUZZ
@given(st.sampled_from([",", ";", "\t", "|"]), st.integers(2, 4), st.data())
def test_csv_with_any_delimiter_runs(setup, delim, ncols, data):
    root, keyring, _ = setup
    rows = data.draw(st.lists(st.lists(cell, min_size=ncols - 1, max_size=ncols - 1), min_size=1, max_size=6))
    names = [f"c{j}" for j in range(ncols)]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(names)
    marks = []
    for i, r in enumerate(rows):
        m = marker(i)
        marks.append(m)
        w.writerow([f"{m}@example.org"] + ["" if v is None else v for v in r])
    src = root / "csv" / "t.csv"
    src.parent.mkdir(exist_ok=True)
    src.write_text(buf.getvalue())
    profile = root / "csv.yaml"
    profile.write_text("version: 1\ntables:\n  t:\n    columns:\n      c0: {op: pseudonymize, format: email, "
                       "domain: email}\n" + "".join(f"      c{j}: keep\n" for j in range(1, ncols)))
    out = root / "csvout" / "t.csv"
    out.parent.mkdir(exist_ok=True)
    res = invoke("run", src, "-p", profile, "--keyring", keyring, "-o", out, "-q", "--force")
    assert res.exit_code == 0, res.stderr
    assert_no_marker(marks, out, res.stderr)
    got = list(csv.reader(io.StringIO(out.read_text(), newline=""), delimiter=delim))
    assert got[0] == names
    assert [r[1:] for r in got[1:]] == [["" if v is None else v for v in r] for r in rows]
    event(f"delimiter {delim!r}")
