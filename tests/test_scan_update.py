"""veil scan INPUT --update PROFILE: a hand-edited profile gets the new tables and columns of the input,
the vanished ones marked, and keeps every other byte; idempotent; validate and run accept the result,
and run transforms the old columns exactly as before. CSV directories and a real pg_dump."""

from __future__ import annotations

import csv
import difflib
import os
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.cli import main
from veil.detect.scan import scan_dataset
from veil.detect.update import ADDED, VANISHED, update_profile
from veil.errors import ProfileError
from veil.formats import open_dataset

from .dump_fixtures import pg, pg_dump, pg_tools  # noqa: F401

MARKER = re.compile(r"pii[0-9]{2}")  # every personal value of these inputs carries one


def veil(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _old_input(root: Path) -> Path:
    root.mkdir()
    _write(root / "customers.csv", ["customer_id", "email", "full_name", "city"],
           [[i, f"user{i}.pii{i % 100:02d}@example.com", f"Anna Schmidt pii{i % 100:02d}", "Berlin"]
            for i in range(1, 61)])
    _write(root / "orders.csv", ["order_id", "customer_id", "total", "status"],
           [[i, 1 + i % 60, f"{i}.50", "paid"] for i in range(1, 121)])
    return root


def _new_input(root: Path) -> Path:
    """The same rows a schema change later: customers.phone added, orders.status gone, tickets new."""
    root.mkdir()
    _write(root / "customers.csv", ["customer_id", "email", "full_name", "city", "phone"],
           [[i, f"user{i}.pii{i % 100:02d}@example.com", f"Anna Schmidt pii{i % 100:02d}", "Berlin",
             f"+49 30 {1000000 + i}"] for i in range(1, 61)])
    _write(root / "orders.csv", ["order_id", "customer_id", "total"], [[i, 1 + i % 60, f"{i}.50"]
                                                                       for i in range(1, 121)])
    _write(root / "tickets.csv", ["ticket_id", "customer_id", "contact_email"],
           [[i, 1 + i % 60, f"user{1 + i % 60}.pii{(1 + i % 60) % 100:02d}@example.com"] for i in range(1, 41)])
    return root


# Hand-written: comments everywhere, 4-space tables, a quoted table name, odd flow spacing, a line far
# past 80 characters, a commented-out rule, columns before the keys, a list at its key's indentation,
# and rules the scan would not suggest (email redacted, name kept as initials by hand).
HAND = """\
# Our shop profile. Reviewed by the DPO, 2026-11-02.
version: 1

defaults:
    unknown_columns: fail    # never copy a column nobody looked at

tables:

    # people
    customers:
        columns:
            customer_id: { op:  pseudonymize , format: int, domain: customer_id }   # joins
            email: redact                          # hand edit: we never need them
            full_name: {op: mask, keep_last: 0, domain: person_name, reversible: false, blank: keep}
            'city': keep
            # notes: scrub   (column dropped in 2025)
        primary_key: [customer_id]

    "orders":
      primary_key:
      - order_id
      foreign_keys:
      - columns: [customer_id]
        references: {table: customers, columns: [customer_id]}
      columns:
          order_id:   keep
          total: keep     # money is not personal
          status: "keep"

# end of tables
"""


def _only_insertions(old: str, new: str) -> list[str]:
    """The lines NEW adds to OLD; fails when any old line changed or went away."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    added = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        assert op in ("equal", "insert"), f"{op} of old lines {i1}-{i2}: {a[i1:i2]!r} -> {b[j1:j2]!r}"
        if op == "insert":
            added += b[j1:j2]
    return added


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    base = tmp_path_factory.mktemp("upd")
    return _old_input(base / "old"), _new_input(base / "new")


def test_update_keeps_every_edit_and_adds_only(inputs, tmp_path):
    old_in, new_in = inputs
    profile = tmp_path / "shop.yaml"
    profile.write_text(HAND)
    profile.chmod(0o640)
    assert veil("validate", profile, old_in).exit_code == 0
    res = veil("scan", new_in, "--update", profile, "--no-ner")
    assert res.exit_code == 0, res.stderr
    new = profile.read_text()
    added = _only_insertions(HAND, new)
    text = "".join(added)
    date = re.search(r"on (\d{4}-\d{2}-\d{2})", text).group(1)
    # the new column with the draft's rule and comment, at the indentation of its neighbours
    assert f"            {ADDED.format(date=date, what='column')}\n" in added
    assert re.search(r"^            # PHONE \(direct, [0-9.]+\) \| string", text, re.M)
    assert "            phone: {op: fake, kind: phone_number, domain: phone, shape: keep}\n" in added
    # the vanished column marked right above its rule
    lines = new.splitlines()
    i = lines.index('          status: "keep"')
    assert lines[i - 1] == "          " + VANISHED + date
    # the new table whole, after the last table, its inferred foreign key declared
    assert f"    {ADDED.format(date=date, what='table')}\n" in added
    assert re.search(r"^    tickets:  # 40 rows\n", text, re.M)
    assert "tickets:" in new.split("# end of tables")[0]
    doc = yaml.safe_load(new)
    assert doc["tables"]["tickets"]["foreign_keys"] == [
        {"columns": ["customer_id"], "references": {"table": "customers", "columns": ["customer_id"]}}]
    assert doc["tables"]["tickets"]["columns"]["contact_email"]["op"] == "pseudonymize"
    # hand edits are still there, unchanged
    old_doc = yaml.safe_load(HAND)
    assert doc["tables"]["customers"]["columns"]["email"] == "redact"
    for t, rules in old_doc["tables"].items():
        for c, rule in rules["columns"].items():
            assert doc["tables"][t]["columns"][c] == rule
    assert doc["defaults"] == old_doc["defaults"]
    # the summary, by name only
    assert "added 4 columns (1 tables), marked 1 vanished" in res.stderr
    assert "+ customers.phone" in res.stderr and "! orders.status" in res.stderr
    assert not MARKER.search(res.output + res.stderr + new)
    assert [p.name for p in tmp_path.iterdir()] == ["shop.yaml"]  # no temporary file, no lock left
    assert profile.stat().st_mode & 0o777 == 0o640  # its mode kept

    # idempotent: the same input again changes nothing, not even the file's time
    before = profile.stat().st_mtime_ns
    res = veil("scan", new_in, "--update", profile, "--no-ner")
    assert res.exit_code == 0, res.stderr
    assert profile.read_text() == new and profile.stat().st_mtime_ns == before
    assert f"unchanged {profile}" in res.stderr and "1 still not in the input" in res.stderr

    # validate still reports the vanished rule, and only it
    res = veil("validate", "--json", profile, new_in)
    assert res.exit_code == 3
    problems = yaml.safe_load(res.stdout)["problems"]
    assert [(p["table"], p["column"]) for p in problems] == [("orders", "status")]


def test_run_transforms_old_columns_as_before(inputs, tmp_path, keyring):
    old_in, new_in = inputs
    profile = tmp_path / "shop.yaml"
    profile.write_text(HAND)
    out_old = tmp_path / "out-old"
    assert veil("run", old_in, "-p", profile, "--keyring", keyring, "-o", out_old, "-q").exit_code == 0
    assert veil("scan", new_in, "--update", profile, "--no-ner", "-q").exit_code == 0
    # the person who reviews the update removes the vanished rule, as validate says
    text = profile.read_text()
    text = re.sub(r"^ *" + re.escape(VANISHED) + r".*\n *status: \"keep\"\n", "", text, flags=re.M)
    profile.write_text(text)
    res = veil("validate", profile, new_in)
    assert res.exit_code == 0, res.output + res.stderr
    out_new = tmp_path / "out-new"
    res = veil("run", new_in, "-p", profile, "--keyring", keyring, "-o", out_new, "-q")
    assert res.exit_code == 0, res.stderr

    def read(path: Path) -> dict[str, list[str]]:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        return {h: [r[i] for r in rows[1:]] for i, h in enumerate(rows[0])}

    for table, cols in {"customers": ["customer_id", "email", "full_name", "city"],
                        "orders": ["order_id", "customer_id", "total"]}.items():
        before, after = read(out_old / f"{table}.csv"), read(out_new / f"{table}.csv")
        for c in cols:
            assert after[c] == before[c], f"{table}.{c}"
    tickets = read(out_new / "tickets.csv")
    emails = set(read(out_new / "customers.csv")["customer_id"])
    assert set(tickets["customer_id"]) <= emails  # the inferred foreign key joins
    assert not any(MARKER.search(v) for vs in tickets.values() for v in vs)


def test_a_column_back_in_the_input_loses_its_mark(inputs, tmp_path):
    old_in, new_in = inputs
    profile = tmp_path / "p.yaml"
    profile.write_text(HAND)
    assert veil("scan", new_in, "--update", profile, "--no-ner", "-q").exit_code == 0
    marked = profile.read_text()
    res = veil("scan", old_in, "--update", profile, "--no-ner")
    assert res.exit_code == 0, res.stderr
    back = profile.read_text()
    lines = back.splitlines()
    assert VANISHED not in lines[lines.index('          status: "keep"') - 1]  # orders.status is back
    assert "orders.status (back in the input: mark removed)" in res.stderr
    # tickets and customers.phone are gone now: marked, never deleted
    assert back.count(VANISHED) == 2 and "tickets:" in back and "phone:" in back
    assert len(back.splitlines()) == len(marked.splitlines()) + 1


def test_unparseable_profile_exit_3_untouched(inputs, tmp_path):
    _, new_in = inputs
    profile = tmp_path / "p.yaml"
    broken = HAND.replace("      columns:\n          order_id:", "      columns:\n     order_id: [\n")
    profile.write_text(broken)
    before = profile.stat().st_mtime_ns
    res = veil("scan", new_in, "--update", profile, "--no-ner", "-q")
    assert res.exit_code == 3
    assert re.search(rf"{re.escape(str(profile))}:\d+: invalid YAML", res.stderr), res.stderr
    assert profile.read_text() == broken and profile.stat().st_mtime_ns == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.yaml"]  # no temporary file, no lock left


def test_missing_profile_and_options(inputs, tmp_path):
    _, new_in = inputs
    res = veil("scan", new_in, "--update", tmp_path / "nope.yaml", "-q", "--no-ner")
    assert res.exit_code == 3 and "not found" in res.stderr
    res = veil("scan", new_in, "--update", tmp_path, "-q", "--no-ner")
    assert res.exit_code == 2  # a directory
    p = tmp_path / "p.yaml"
    p.write_text(HAND)
    res = veil("scan", new_in, "--update", p, "-o", tmp_path / "d.yaml", "-q", "--no-ner")
    assert res.exit_code == 2 and "give one" in res.stderr
    res = veil("scan", new_in, "--update", new_in / "orders.csv", "-q", "--no-ner")
    assert res.exit_code == 2  # never the input
    # a symbolic link to the profile: the profile it points to is updated, the link stays
    real = tmp_path / "real.yaml"
    real.write_text(HAND)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    assert veil("scan", new_in, "--update", link, "-q", "--no-ner").exit_code == 0
    assert link.is_symlink() and "phone:" in real.read_text()
    # --json still works beside --update
    res = veil("scan", new_in, "--update", p, "--json", "-", "-q", "--no-ner")
    assert res.exit_code == 0 and '"columns"' in res.stdout and "phone:" in p.read_text()


def test_flow_style_that_needs_a_new_line_is_refused(inputs, tmp_path):
    _, new_in = inputs
    profile = tmp_path / "p.yaml"
    flow = HAND.replace(
        "        columns:\n"
        "            customer_id: { op:  pseudonymize , format: int, domain: customer_id }   # joins\n"
        "            email: redact                          # hand edit: we never need them\n"
        "            full_name: {op: mask, keep_last: 0, domain: person_name, reversible: false, blank: keep}\n"
        "            'city': keep\n",
        "        columns: {customer_id: {op: pseudonymize, format: int}, email: redact, full_name: keep, city: keep}\n")
    assert flow != HAND
    profile.write_text(flow)
    res = veil("scan", new_in, "--update", profile, "--no-ner", "-q")
    assert res.exit_code == 3
    assert f"{profile}:11: tables.customers.columns: written in flow style" in res.stderr, res.stderr
    assert profile.read_text() == flow


def test_crlf_no_final_newline_and_tables_without_columns(inputs, tmp_path):
    """Line breaks stay the file's own; a table with no rules yet or no columns key gets them."""
    _, new_in = inputs
    text = ("version: 1\r\ntables:\r\n  customers:\r\n  orders:\r\n    primary_key: [order_id]\r\n"
            "    unknown_columns: keep  # last line, no line break")
    result = scan_dataset(open_dataset(new_in), use_ner=False)
    new, summary = update_profile(text, result, "p.yaml", today="2026-01-02")
    _only_insertions(text + "\r\n", new)  # a line break added at the end, and lines: nothing else
    assert "\n" not in new.replace("\r\n", "")
    doc = yaml.safe_load(new)
    assert set(doc["tables"]["customers"]["columns"]) == {"customer_id", "email", "full_name", "city", "phone"}
    assert set(doc["tables"]["orders"]["columns"]) == {"order_id", "total"}  # customer_id: foreign key
    assert doc["tables"]["orders"]["foreign_keys"][0]["columns"] == ["customer_id"]
    assert doc["tables"]["orders"]["unknown_columns"] == "keep"
    assert summary.added_tables == ["tickets"] and not summary.marked
    again, summary = update_profile(new, result, "p.yaml", today="2027-01-01")
    assert again == new and not summary.changed


def test_library_refuses_what_does_not_parse():
    from veil.detect.findings import ScanResult

    empty = ScanResult("x", [], [], False, None, 10, 10)
    with pytest.raises(ProfileError) as err:
        update_profile("version: 1\ntables: {a: [\n", empty, "p.yaml")
    assert err.value.problems[0].line == 3 and err.value.file == "p.yaml"
    with pytest.raises(ProfileError):
        update_profile("- just\n- a list\n", empty, "p.yaml")
    with pytest.raises(ProfileError) as err:  # a duplicate key is ambiguous: refused with its line
        update_profile("version: 1\ntables:\n  a: {op: pii01}\n  a: {op: pii02}\n", empty, "p.yaml")
    assert err.value.problems[0].line == 4 and not MARKER.search(str(err.value))
    with pytest.raises(ProfileError) as err:  # some other YAML file given by mistake: never appended to
        update_profile("services:\n  web: {image: nginx}\n", empty, "compose.yaml")
    assert "version and tables" in str(err.value)


def test_new_inferred_foreign_key_joins_a_list_at_its_key_indentation(inputs):
    """A known table's foreign_keys written with its dashes at the key's column gets the new entry
    there, its columns rule-less (they inherit); nothing else moves."""
    _, new_in = inputs
    text = ("version: 1\ntables:\n  tickets:\n    foreign_keys:\n    - columns: [legacy_id]   # old\n"
            "      references: {table: customers, columns: [customer_id]}\n"
            "    columns:\n      ticket_id: keep\n      contact_email: redact\n")
    result = scan_dataset(open_dataset(new_in), use_ner=False)
    new, summary = update_profile(text, result, "p.yaml", today="2026-01-02")
    added = _only_insertions(text, new)
    assert added[0] == "    " + ADDED.format(date="2026-01-02", what="foreign key") + "\n"
    assert added[1].startswith("    - columns: [customer_id]  # inferred: 100% of 40 sampled values found")
    assert added[2] == "      references: {table: customers, columns: [customer_id]}\n"
    assert new.index("[customer_id]  #") < new.index("    columns:")
    doc = yaml.safe_load(new)["tables"]["tickets"]
    assert [fk["columns"] for fk in doc["foreign_keys"]] == [["legacy_id"], ["customer_id"]]
    assert "customer_id" not in doc["columns"] and doc["columns"]["contact_email"] == "redact"
    assert summary.added_foreign_keys == ["tickets.customer_id"] and "tickets.customer_id" in summary.added_columns
    assert update_profile(new, result, "p.yaml")[0] == new


# -- a real pg_dump: the schema moves between two dumps ----------------------------------------------

PG_SCHEMA = """
CREATE TABLE customers (customer_id integer PRIMARY KEY, email text NOT NULL, full_name text, note text);
CREATE TABLE orders (order_id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers,
                     total numeric(10,2) NOT NULL);
INSERT INTO customers SELECT i, 'c' || i || '.pii' || lpad((i % 100)::text, 2, '0') || '@example.com',
                             'Zoe Miller pii' || lpad((i % 100)::text, 2, '0'), 'x' FROM generate_series(1, 50) i;
INSERT INTO orders SELECT i, 1 + i % 50, i * 1.5 FROM generate_series(1, 80) i;
"""

PG_CHANGE = """
ALTER TABLE customers DROP COLUMN note;
ALTER TABLE customers ADD COLUMN phone text;
UPDATE customers SET phone = '+49 30 ' || (1000000 + customer_id);
CREATE TABLE refunds (refund_id integer PRIMARY KEY, order_id integer REFERENCES orders,
                      reason text, iban text);
INSERT INTO refunds SELECT i, i, 'damaged', 'DE89370400440532013000' FROM generate_series(1, 30) i;
ALTER TABLE orders ADD COLUMN parent_order integer REFERENCES orders;
"""


def test_pg_dump_update_validate_run(pg, tmp_path, keyring):  # noqa: F811
    db = pg.create("veil_scanupd")
    with pg.connect(db) as conn:
        conn.execute(PG_SCHEMA)
    first = pg_dump(db, tmp_path / "v1.sql")
    profile = tmp_path / "shop.yaml"
    assert veil("scan", first, "-o", profile, "--no-ner", "-q").exit_code == 0
    # a hand edit, and a comment of one's own
    edited = re.sub(r"^      note: .*$", "      note: nullify  # hand edit: free text", profile.read_text(),
                    count=1, flags=re.M)
    assert edited != profile.read_text()
    profile.write_text(edited)
    with pg.connect(db) as conn:
        conn.execute(PG_CHANGE)
    second = pg_dump(db, tmp_path / "v2.sql")
    res = veil("scan", second, "--update", profile, "--no-ner")
    assert res.exit_code == 0, res.stderr
    new = profile.read_text()
    added = "".join(_only_insertions(edited, new))
    doc = yaml.safe_load(new)["tables"]
    assert "public.refunds" in doc and "phone" in doc["public.customers"]["columns"]
    assert "# note: " not in added and "nullify  # hand edit" in new
    # orders.parent_order is a foreign key the dump declares: it inherits, nothing is written for it
    assert "parent_order" not in added
    assert re.search(r"^ *" + re.escape(VANISHED) + r".*\n *note: nullify", new, re.M)
    assert not MARKER.search(res.output + res.stderr + new)
    # idempotent on the dump too
    assert veil("scan", second, "--update", profile, "--no-ner", "-q").exit_code == 0
    assert profile.read_text() == new
    # validate names the vanished rule only; without it the profile is valid and runs
    res = veil("validate", "--json", profile, second)
    assert res.exit_code == 3
    assert [(p["table"], p["column"]) for p in yaml.safe_load(res.stdout)["problems"]] == [
        ("public.customers", "note")]
    profile.write_text(re.sub(r"^ *" + re.escape(VANISHED) + r".*\n *note: nullify.*\n", "", new, flags=re.M))
    assert veil("validate", profile, second).exit_code == 0
    out = tmp_path / "safe.sql"
    res = veil("run", second, "-p", profile, "--keyring", keyring, "-o", out, "-q")
    assert res.exit_code == 0, res.stderr
    assert not MARKER.search(out.read_text()) and os.path.getsize(out) > 0


# -- property: any block-style profile, any schema change -------------------------------------------

NAMES = ["customers", "orders", "Kunden", "a.b", "yes", "x y", "id", "email", "on", "null", "note#1", "ünï"]
RULES = ["keep", '"keep"', "{ op:  keep }", "{op: pseudonymize, domain: x}  # inline",
         "\n{i}  op: fake\n{i}  kind: name", "redact   "]


def _key(name: str, style: int) -> str:
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) and name not in ("yes", "on", "null")
    return name if plain and style == 0 else (f"'{name}'" if style == 1 else f'"{name}"')


@st.composite
def _profiles(draw):
    """A profile of block style with random indentation, quoting, comments and blank lines, and the
    input's tables and columns after a random schema change."""
    step = draw(st.sampled_from([2, 3, 4]))
    tables = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    lines = ["# a profile", "version: 1", "tables:"]
    schema: dict[str, list[str]] = {}
    for t in tables:
        cols = draw(st.lists(st.sampled_from(NAMES), min_size=0, max_size=4, unique=True))
        ti = " " * step
        if draw(st.booleans()):
            lines.append(ti + "# about " + t)
        lines.append(ti + _key(t, draw(st.integers(0, 2))) + ":" + draw(st.sampled_from(["", "  # t"])))
        ci = ti + " " * step
        if cols:
            keys_first = draw(st.booleans())
            if keys_first:
                lines.append(ci + "unknown_columns: fail")
            lines.append(ci + "columns:")
            for c in cols:
                if draw(st.booleans()):
                    lines.append(ci + " " * step + "# why " + c)
                rule = draw(st.sampled_from(RULES)).replace("{i}", ci + " " * step)
                lines.append(ci + " " * step + _key(c, draw(st.integers(0, 2))) + ": " + rule)
                if draw(st.booleans()):
                    lines.append("")
            if not keys_first:
                lines.append(ci + "unknown_columns: fail")
        schema[t] = cols
    if draw(st.booleans()):
        lines.append("# the end")
    text = "\n".join(line.rstrip(" ") if line.strip() == "" else line for line in lines)
    text += draw(st.sampled_from(["\n", "", "\n\n"]))
    # the schema change: tables and columns dropped, added
    new: dict[str, list[str]] = {}
    for t, cols in schema.items():
        if draw(st.integers(0, 4)) == 0:
            continue
        kept = [c for c in cols if draw(st.integers(0, 3))]
        added = draw(st.lists(st.sampled_from([n for n in NAMES if n not in cols]), max_size=2, unique=True))
        new[t] = kept + added
    for t in draw(st.lists(st.sampled_from([n for n in NAMES if n not in schema]), max_size=2, unique=True)):
        new[t] = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    return text, schema, new


def _result(schema: dict[str, list[str]]):
    from veil.detect.findings import Finding, ScanResult, TableScan

    tables = [TableScan(t, "csv", 10, False, 10) for t in schema]
    findings = [Finding(t, c, "string", "NONE", "none", 1.0, {}) for t, cols in schema.items() for c in cols]
    return ScanResult("in", tables, findings, False, None, 10, 10)


@settings(max_examples=int(os.environ.get("VEIL_FUZZ_EXAMPLES", 150)), deadline=None)
@given(_profiles())
def test_any_block_profile_keeps_every_byte(case):
    from veil.profile import load_yaml

    text, schema, new_schema = case
    result = _result(new_schema)
    new, summary = update_profile(text, result, "p.yaml", today="2026-01-02")
    # a line break is added to a last line without one only when lines are added after it
    added = _only_insertions(text + "\n" if not text.endswith("\n") and new.endswith("\n") else text, new)
    assert all(a.strip().startswith(("#", "columns:")) or ":" in a for a in added)
    old_doc, _ = load_yaml(text, "p.yaml")  # veil's own loader: the old rules read the same
    doc, _ = load_yaml(new, "p.yaml")
    for t, cols in schema.items():
        for c in cols:
            assert doc["tables"][t]["columns"][c] == old_doc["tables"][t]["columns"][c]
    for t, cols in new_schema.items():
        assert set(cols) <= set((doc["tables"][t] or {}).get("columns") or {})
    lines = new.splitlines()
    gone = [(t, c) for t, cols in schema.items() for c in cols if t in new_schema and c not in new_schema[t]]
    gone += [(t, None) for t in schema if t not in new_schema]
    assert len(summary.marked) == len(gone)
    assert sum(VANISHED in line for line in lines) == len(gone)
    again, summary = update_profile(new, result, "p.yaml", today="2027-03-04")
    assert again == new and not summary.changed  # idempotent
    back, summary = update_profile(new, _result(schema), "p.yaml")  # the old schema again: marks go
    assert len(summary.unmarked) == len(gone) and not summary.added_columns
