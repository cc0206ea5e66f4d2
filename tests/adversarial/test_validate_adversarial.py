"""Adversarial schemas against validation (issue 16 point 1): generated PostgreSQL dumps (narrow
integers, varchar/char limits, numeric precision, timestamptz with offsets and fractions) and
generated profiles (every fake kind, pseudonymize formats with bits and ranges, date_shift, keep,
renamed columns). Values carry markers.

Oracle: ``veil validate --json`` exits 0, 3 or 4 (never 1), with no traceback and no marker, and
its JSON names file, line, path, table, column, message, hint and severity of every problem; when
it calls the profile valid, ``veil run`` succeeds and the output restores into the real
PostgreSQL server with errors fatal (validation caught every output that would not fit).
``hypothesis.event`` tags each example with its outcome. Budget: VEIL_FUZZ_EXAMPLES.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from veil.keys import init_keyring

from ..dump_fixtures import PgServer, pg_tools, psql_file  # noqa: F401 (fixture)
from ..vault_fixtures import PG_ADMIN_DB, _pg_dsn, _pg_unavailable
from .harness import FUZZ, assert_no_marker, invoke, marker

pytestmark = pytest.mark.adversarial

ZONES = ("+00", "-05", "+05:30")
TYPES = {  # SQL type -> (value maker from an int and a marker, whether values are text)
    "smallint": lambda i, m: str(i % 32000 + 1),
    "integer": lambda i, m: str(i + 1),
    "varchar(12)": lambda i, m: m[:12],
    "varchar(40)": lambda i, m: f"{m} x",
    "char(5)": lambda i, m: m[:5],
    "numeric(5,0)": lambda i, m: str(i % 99999),
    "numeric(12,2)": lambda i, m: f"{i}.25",
    "text": lambda i, m: m,
    "date": lambda i, m: f"20{i % 30 + 10:02d}-0{i % 9 + 1}-1{i % 9}",
    "timestamptz": lambda i, m: f"2021-0{i % 9 + 1}-02 03:04:05{'.5' if i % 2 else ''}{ZONES[i % 3]}",
}
DATES = ("date", "timestamptz")
INTS = ("smallint", "integer", "numeric(5,0)")
DIGIT_KINDS = ("postcode", "credit_card")
KINDS = ("first_name", "last_name", "name", "email", "phone_number", "street_address", "city", "postcode",
         "company", "iban", "credit_card", "date_of_birth", "username")
RULES = st.one_of(
    st.just("keep"), st.just("nullify"), st.just("redact"),
    st.sampled_from(KINDS).map(lambda k: f"{{op: fake, kind: {k}}}"),
    st.sampled_from(["token", "email", "digits"]).map(lambda f: f"{{op: pseudonymize, format: {f}}}"),
    st.sampled_from(["", ", bits: 15", ", bits: 31", ", bits: 8", ", range: [1, 99999]", ", range: [1, 30000]",
                     ", range: [-5, 40000]"]).map(lambda p: f"{{op: pseudonymize, format: int{p}}}"),
    st.just("{op: date_shift, subject: id}"),
)


@pytest.fixture(scope="module")
def pgdb(pg_tools):  # noqa: F811
    try:
        import psycopg

        psycopg.connect(_pg_dsn(PG_ADMIN_DB), autocommit=True, connect_timeout=5).close()
    except Exception as exc:  # noqa: BLE001 - any reason the server is not there
        _pg_unavailable(f"{type(exc).__name__}")
    server = PgServer()
    try:
        yield server
    finally:
        server.drop_all()


@FUZZ
@given(cols=st.lists(st.sampled_from(sorted(TYPES)), min_size=1, max_size=5),
       rules=st.lists(RULES, min_size=5, max_size=5), rename=st.booleans(), rows=st.integers(1, 4))
def test_validate_is_clean_and_sufficient(pgdb, cols, rules, rename, rows):
    # Known gap (not checked by validate yet, see the issue 16 report): fake writing words into a
    # numeric column, whose values veil reads as text, fails only at restore.
    assume(not any(t.startswith("numeric") and "fake" in r and not any(k in r for k in DIGIT_KINDS)
                   for t, r in zip(cols, rules, strict=False)))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        names = [f"c{i}" for i in range(len(cols))]
        marks = [marker(i) for i in range(rows * len(cols))]
        ddl = ", ".join(f"{n} {t}" for n, t in zip(names, cols, strict=True))
        lines = ["\t".join(TYPES[t](r * 7 + j, marks[r * len(cols) + j]) for j, t in enumerate(cols))
                 for r in range(rows)]
        dump = tmp / "in.sql"
        dump.write_text("SET client_encoding = 'UTF8';\n"
                        f"CREATE TABLE public.t (id integer PRIMARY KEY, {ddl});\n"
                        f"COPY public.t (id, {', '.join(names)}) FROM stdin;\n"
                        + "".join(f"{r + 1}\t{line}\n" for r, line in enumerate(lines)) + "\\.\n")
        named = [*names[:-1], names[-1] + "_old"] if rename else names
        prof = tmp / "p.yaml"
        prof.write_text("version: 1\ntables:\n  public.t:\n    columns:\n      id: keep\n"
                        + "".join(f"      {n}: {r}\n" for n, r in zip(named, rules, strict=False)))
        res = invoke("validate", "--json", "--dialect", "postgresql", prof, dump)
        event(f"validate exit {res.exit_code}")
        assert res.exit_code in (0, 3, 4), res.stderr[-2000:]
        assert "Traceback" not in res.stdout + res.stderr
        assert_no_marker(marks, res.stdout, res.stderr)
        doc = json.loads(res.stdout)
        assert doc["valid"] is (res.exit_code == 0)
        for p in doc["problems"]:
            assert set(p) >= {"file", "line", "path", "table", "column", "message", "hint", "severity"}
            assert p["file"] == str(prof) and p["table"] == "public.t" and p["line"]
        if rename:
            assert res.exit_code in (3, 4) and any("missing" in p["message"] for p in doc["problems"])
            assert res.exit_code == 4 or any(p["kind"] == "profile" for p in doc["problems"])
        if res.exit_code != 0:
            return
        if any(p["severity"] == "warning" for p in doc["problems"]):
            strict = invoke("validate", "--strict", "--dialect", "postgresql", prof, dump)
            event("warned: text into a typed column")
            assert strict.exit_code == 3 and "writes text" in strict.stderr
            return  # the output would not restore: that is what the warning says
        keys = tmp / "k.json"
        init_keyring(keys)
        out = tmp / "out.sql"
        run = invoke("run", "-p", prof, dump, "--out", out, "--keyring", keys)
        event(f"run exit {run.exit_code}")
        assert_no_marker(marks, run.stdout, run.stderr)
        # text that is not a date (date_shift) or not a plain integer (format int): found only when read
        by_value = [t for t, r in zip(cols, rules, strict=False)
                    if "date_shift" in r and t not in DATES or "format: int" in r and t not in INTS]
        if by_value and run.exit_code == 5:
            assert "row " in run.stderr and "public.t.c" in run.stderr and "Traceback" not in run.stderr
            return
        assert run.exit_code == 0, run.stderr[-2000:]
        db = pgdb.create("veil_dst")
        restored = psql_file(db, out)
        event(f"restore {'ok' if restored.returncode == 0 else 'failed'}")
        assert restored.returncode == 0, restored.stderr[-2000:]
