"""A review of ``veil verify`` (issue 17) and typed output / ``scan --update`` (issue 16): each test is
a bug found by trying the commands as a user would (small realistic inputs), or a case that held
up and is worth keeping. Bugs not fixed here are ``xfail(strict=True)`` with the reason."""

from __future__ import annotations

import csv
import json
import secrets
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from veil.profile import load_profile
from veil.verify import default_checks
from veil.verify.runner import verify_paths

from . import dump_fixtures
from .test_dump_mysql import client, mysqldump, server  # noqa: F401 (MariaDB fixture and helpers)

pg, pg_tools = dump_fixtures.pg, dump_fixtures.pg_tools  # fixtures of a real PostgreSQL

MARKER = "Zqxmarker"  # planted in values: must never reach a report, an error or stderr


def _cli(*args):
    from click.testing import CliRunner

    from veil.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def _write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _profile(path: Path, text: str):
    path.write_text(text, encoding="utf-8")
    return load_profile(path)


def _verify(original: Path, copy: Path, profile, **kw) -> dict:
    """Every check in this process (one group), the report after a JSON round trip."""
    checks = [c for group in default_checks() for c in group]
    report = verify_paths(original, copy, profile, checks, **kw)
    text = json.dumps(report, allow_nan=False)
    assert MARKER.lower() not in text.lower(), "a value of the data reached the report"
    return json.loads(text)


# -- nested columns as quasi-identifiers, sensitive attributes, kept columns -------------------


def test_nested_columns_in_risk_do_not_crash(tmp_path):
    """A struct / list / map column (Parquet) as a quasi-identifier, a sensitive attribute or a kept
    column beside a transformed one: RiskCheck fingerprinted every column by dictionary encoding,
    which Arrow has no kernel for on nested types, and verify died with an internal error (exit 1)."""
    n = 40
    table = pa.table({
        "id": pa.array(range(1, n + 1), pa.int64()),
        "name": pa.array([f"{MARKER}{i} Name" for i in range(n)]),
        "tags": pa.array([[f"{MARKER}t{i % 4}", "x"] for i in range(n)]),
        "info": pa.array([{"a": i % 3, "b": f"{MARKER}s{i % 3}"} for i in range(n)]),
        "m": pa.array([[("k", f"{MARKER}m{i % 2}")] for i in range(n)], pa.map_(pa.string(), pa.string())),
        "age": pa.array([20 + i % 2 for i in range(n)], pa.int32()),
    })
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    pq.write_table(table, tmp_path / "in" / "t.parquet")
    copy = table.set_column(1, "name", pa.array([f"Fake{i} Person" for i in range(n)]))
    pq.write_table(copy, tmp_path / "out" / "t.parquet")
    profile = _profile(tmp_path / "p.yaml", """\
version: 1
tables:
  t:
    privacy: {quasi_identifiers: [age, tags], sensitive: [info, m], k: 2}
    columns:
      id: keep
      name: {op: fake, kind: name}
      tags: keep
      info: keep
      m: keep
      age: keep
""")
    report = _verify(tmp_path / "in", tmp_path / "out", profile)
    risk = report["risk"]["tables"]["t"]
    assert risk["k"] == 10  # (age, tags) has 4 classes of 10 rows (i % 4 decides both)
    assert risk["l_diversity"] == {"info": 3, "m": 1}  # within a class of i % 4: i % 3 takes 3 values, i % 2 one
    assert risk["linkage"]["reidentified"] == 0


# -- the leak check -----------------------------------------------------------------------------


def test_a_name_mentioned_in_three_notes_is_still_a_leak(tmp_path):
    """Each of 300 customers' (faked) single-word names is left in 3 of 900 support notes. With one
    or two notes per customer the check finds them all (in_text); with three, none."""
    people = [{"id": i, "name": f"{MARKER}{i:04d}"} for i in range(1, 301)]
    notes = [{"nid": j, "pid": 1 + j % 300, "note": f"call {MARKER}{1 + j % 300:04d} later today"}
             for j in range(900)]
    _write_csv(tmp_path / "in" / "people.csv", people)
    _write_csv(tmp_path / "in" / "notes.csv", notes)
    _write_csv(tmp_path / "out" / "people.csv", [{"id": p["id"], "name": f"Fake{p['id']}"} for p in people])
    _write_csv(tmp_path / "out" / "notes.csv", notes)
    profile = _profile(tmp_path / "p.yaml", """\
version: 1
tables:
  people:
    columns: {id: keep, name: {op: fake, kind: first_name}}
  notes:
    columns: {nid: keep, pid: keep, note: keep}
""")
    report = _verify(tmp_path / "in", tmp_path / "out", profile)
    name = report["leaks"]["tables"]["people"]["columns"]["name"]
    assert name["in_text"] == 900 and report["leaks"]["summary"]["leaks"] >= 900


# -- scan --update ------------------------------------------------------------------------------


@pytest.mark.parametrize("profile_text, line, path", [
    ("version: 1\ntables:\n  t:\n    columns: {}\n", 4, "tables.t.columns"),
    ("version: 1\ntables: {}\n", 2, "tables"),
])
def test_update_refuses_an_empty_flow_mapping_with_a_profile_error(tmp_path, profile_text, line, path):
    """`columns: {}` or `tables: {}` (an empty mapping can only be written in flow style): the update
    took it for a block mapping, looked for its last key, and died with an internal error (exit 1,
    IndexError) instead of the documented profile error naming the line (exit 3)."""
    from click.testing import CliRunner

    from veil.cli import main

    _write_csv(tmp_path / "in" / "t.csv", [{"id": i, "email": f"{MARKER}{i}@example.com"} for i in range(1, 30)])
    profile = tmp_path / "p.yaml"
    profile.write_text(profile_text)
    res = CliRunner().invoke(main, ["scan", str(tmp_path / "in"), "--update", str(profile)])
    assert res.exit_code == 3, res.output
    assert f"p.yaml:{line}: {path}: written in flow style" in res.stderr
    assert profile.read_text() == profile_text
    assert MARKER.lower() not in res.output.lower()


# -- the linkage attack against a typed copy of a dump ------------------------------------------


@pytest.mark.parametrize("qi", ["seen", "data", "flag"])
def test_linkage_on_a_typed_parquet_copy_of_a_dump(pg, tmp_path, keyring, qi):
    """A pg_dump written to Parquet (typed by its DDL): the copy holds timestamptz as UTC instants,
    bytea as bytes, booleans as bool, while ORIGINAL is the dump's text (`+00` offsets, `\\x..` hex,
    t/f). The attacker's view of ORIGINAL was compared as that text, so a kept, unique timestamptz
    or bytea quasi-identifier re-identified 0 rows instead of all of them (and a `linkage>0.5` gate
    passed). Now the dump's text is read as the copy's type first."""
    db = pg.create("veil_h11")
    with pg.connect(db) as conn:
        conn.execute("CREATE TABLE tz_t (id int PRIMARY KEY, seen timestamptz, data bytea, flag boolean, "
                     "note text)")
        conn.execute("INSERT INTO tz_t SELECT i, timestamptz '2021-01-01 10:00:00+00' + i * interval '1 hour', "
                     "decode('deadbeef' || lpad(to_hex(i), 4, '0'), 'hex'), i % 2 = 0, "
                     f"'{MARKER}' || i FROM generate_series(1, 20) i")
    dump = dump_fixtures.pg_dump(db, tmp_path / "d.sql")
    (tmp_path / "p.yaml").write_text(f"""\
version: 1
tables:
  public.tz_t:
    privacy: {{quasi_identifiers: [{qi}]}}
    columns: {{id: keep, seen: keep, data: keep, flag: keep, note: {{op: redact}}}}
""")
    res = _cli("run", dump, "-p", tmp_path / "p.yaml", "--keyring", keyring, "--out", tmp_path / "out",
               "--format", "parquet", "-q")
    assert res.exit_code == 0, res.output
    assert pq.read_schema(tmp_path / "out" / "public.tz_t.parquet").field(qi).type != pa.string()
    report = _verify(dump, tmp_path / "out", load_profile(tmp_path / "p.yaml"))
    linkage = report["risk"]["tables"]["public.tz_t"]["linkage"]
    expected = 0 if qi == "flag" else 20  # 20 distinct instants / byte strings; flag: 2 classes of 10
    assert linkage["paired"] and linkage["reidentified"] == expected


def _typed_dump_copy(pg, tmp_path, keyring, columns: str) -> tuple[Path, Path]:
    """A pg_dump of a 20-row table with a unique timestamptz and a bytea, and its copy written to
    Parquet by veil run with every column kept."""
    db = pg.create("veil_h11")
    with pg.connect(db) as conn:
        conn.execute("CREATE TABLE tz_t (id int PRIMARY KEY, seen timestamptz, data bytea)")
        conn.execute("INSERT INTO tz_t SELECT i, timestamptz '2021-01-01 10:00:00+00' + i * interval '1 hour', "
                     "decode('deadbeef' || lpad(to_hex(i), 4, '0'), 'hex') FROM generate_series(1, 20) i")
    dump = dump_fixtures.pg_dump(db, tmp_path / "d.sql")
    (tmp_path / "keep.yaml").write_text("version: 1\ntables:\n  public.tz_t:\n"
                                        "    columns: {id: keep, seen: keep, data: keep}\n")
    res = _cli("run", dump, "-p", tmp_path / "keep.yaml", "--keyring", keyring, "--out", tmp_path / "out",
               "--format", "parquet", "-q")
    assert res.exit_code == 0, res.output
    (tmp_path / "p.yaml").write_text(f"version: 1\ntables:\n  public.tz_t:\n    columns: {columns}\n")
    return dump, tmp_path / "out"


def test_an_unshifted_timestamptz_in_a_parquet_copy_of_a_dump_is_a_leak(pg, tmp_path, keyring):
    """A dump's text ('2021-01-01 11:00:00+00') never equalled the Parquet copy's UTC instant, so a date
    left unshifted was no leak. The runner now reads ORIGINAL's text as the typed copy's types."""
    dump, out = _typed_dump_copy(pg, tmp_path, keyring,
                                 "{id: keep, seen: {op: date_shift, subject: id, max_days: 30}, data: keep}")
    report = _verify(dump, out, load_profile(tmp_path / "p.yaml"))
    seen = report["leaks"]["tables"]["public.tz_t"]["columns"]["seen"]
    assert seen["compared"] == 20 and seen["kept_same_row"] == 20 and seen["leaks"] == 20


def test_kept_columns_of_a_typed_copy_of_a_dump_have_distance_zero(pg, tmp_path, keyring):
    dump, out = _typed_dump_copy(pg, tmp_path, keyring, "{id: keep, seen: keep, data: keep}")
    report = _verify(dump, out, load_profile(tmp_path / "p.yaml"))
    columns = report["utility"]["tables"]["public.tz_t"]["columns"]
    assert {c: columns[c]["distance"] for c in ("id", "seen", "data")} == {"id": 0.0, "seen": 0.0, "data": 0.0}


def test_a_kept_decimal_column_of_a_typed_copy_has_distance_zero(tmp_path, keyring):
    rows = [{"id": i, "total": f"{(i * 7919) % 50000 / 100:.2f}"} for i in range(1, 601)]
    _write_csv(tmp_path / "in" / "orders.csv", rows)
    (tmp_path / "p.yaml").write_text("version: 1\ntables:\n  orders:\n    columns: {id: keep, total: keep}\n")
    res = _cli("run", tmp_path / "in", "-p", tmp_path / "p.yaml", "--keyring", keyring, "--out", tmp_path / "out",
               "--format", "parquet", "-q")
    assert res.exit_code == 0, res.output
    assert pa.types.is_decimal(pq.read_schema(tmp_path / "out" / "orders.parquet").field("total").type)
    report = _verify(tmp_path / "in", tmp_path / "out", load_profile(tmp_path / "p.yaml"))
    total = report["utility"]["tables"]["orders"]["columns"]["total"]
    assert total["distance"] == 0.0 and total["wasserstein"] == 0.0


# -- typed output of a dump ---------------------------------------------------------------------


def test_a_mysql_blob_of_real_bytes_is_written_to_parquet(server, tmp_path, keyring):  # noqa: F811
    """A kept BLOB holding bytes that are not UTF-8, written to Parquet: every column was decoded as
    UTF-8 text first, so the run ended (exit 5, 'keep or nullify binary columns') though it was kept."""
    db = f"veil_h11_{secrets.token_hex(4)}"
    try:
        client(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4;")
        client("CREATE TABLE t (id int PRIMARY KEY, pic blob, name varchar(40));"
               "INSERT INTO t SELECT seq, UNHEX(CONCAT('DEADBEEF', HEX(seq))), CONCAT('n', seq) FROM seq_1_to_20;", db)
        dump = mysqldump(db, [], tmp_path / "m.sql")
    finally:
        client(f"DROP DATABASE IF EXISTS `{db}`;", check=False)
    (tmp_path / "p.yaml").write_text("version: 1\ntables:\n  t:\n    columns: {id: keep, pic: keep, name: keep}\n")
    res = _cli("run", dump, "-p", tmp_path / "p.yaml", "--keyring", keyring, "--out", tmp_path / "out",
               "--format", "parquet", "-q")
    assert res.exit_code == 0, res.output
    t = pq.read_table(tmp_path / "out" / "t.parquet")
    assert t.schema.field("pic").type == pa.binary()
    # UNHEX of an odd number of hex digits reads a leading 0 (seq 1..15: '0DEADBEEF1' ...)
    want = sorted(bytes.fromhex(h if len(h) % 2 == 0 else "0" + h) for h in (f"DEADBEEF{i:X}" for i in range(1, 21)))
    assert sorted(t.column("pic").to_pylist()) == want


# -- values in the report -----------------------------------------------------------------------


def _numbers(node) -> list[float]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _numbers(v)]
    if isinstance(node, list):
        return [x for v in node for x in _numbers(v)]
    return [float(node)] if isinstance(node, int | float) and not isinstance(node, bool) else []


def test_no_card_number_of_the_original_in_the_report(tmp_path, keyring):
    """A transformed text column whose values all read as numbers (card numbers) is kind 'number':
    its quantiles came from a sample, so the shop sample's report held 6 of payments.card_number's
    real card numbers, a column the profile fakes. Value summaries are for kept columns only."""
    from tests.conftest import SAMPLES_CSV, SHOP_PROFILE

    res = _cli("run", SAMPLES_CSV, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", tmp_path / "out", "-q",
               "--workers", "1")
    assert res.exit_code == 0, res.output
    with (SAMPLES_CSV / "payments.csv").open(encoding="utf-8-sig", newline="") as f:
        cards = {int(r["card_number"]) for r in csv.DictReader(f) if r["card_number"]}
    report = _verify(SAMPLES_CSV, tmp_path / "out", load_profile(SHOP_PROFILE))
    found = sum(1 for x in _numbers(report) if x.is_integer() and int(x) in cards)
    assert found == 0, "card numbers of the original in the report"  # a count, never the numbers


def test_a_table_only_the_copy_has_is_searched_for_leaks(tmp_path):
    """A copy with a table ORIGINAL lacks (a backup of the customers left in the output directory,
    or a dump's extra COPY block): the runner skipped its batches, so original emails there were no
    leak (leaks 0, the gate passed). Its cells are now searched like a kept column's."""
    people = [{"id": i, "email": f"{MARKER.lower()}{i}@example.org"} for i in range(1, 51)]
    _write_csv(tmp_path / "in" / "people.csv", people)
    _write_csv(tmp_path / "out" / "people.csv", [{"id": p["id"], "email": f"x{p['id']}@token.invalid"}
                                                 for p in people])
    _write_csv(tmp_path / "out" / "people_backup.csv", people[:3])
    (tmp_path / "p.yaml").write_text("version: 1\ntables:\n  people:\n"
                                     "    columns: {id: keep, email: {op: pseudonymize, format: email}}\n")
    report = _verify(tmp_path / "in", tmp_path / "out", load_profile(tmp_path / "p.yaml"))
    assert report["extra_tables"] == ["people_backup"]
    email = report["leaks"]["tables"]["people"]["columns"]["email"]
    assert email["elsewhere"] == 3 and email["found_in"] == ["people_backup.email"]
    assert report["leaks"]["summary"]["leaks"] == 3
    assert report["integrity"]["summary"]["missing_tables"] == 0 and "people_backup" not in report["utility"]["tables"]
    res = _cli("verify", tmp_path / "in", tmp_path / "out", "-p", tmp_path / "p.yaml", "--fail-on", "leaks>0")
    assert res.exit_code == 10 and MARKER.lower() not in res.output.lower()


# -- gates --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fail_on", ["", " , ", ","])
def test_an_empty_fail_on_is_refused_not_a_pass(tmp_path, fail_on):
    """`--fail-on "$GATES"` with an unset CI variable parsed to no gate at all, which replaced the
    default gates too: a copy with a leak passed (exit 0). Now a usage error (exit 2)."""
    people = [{"id": i, "email": f"{MARKER.lower()}{i}@example.org"} for i in range(1, 21)]
    _write_csv(tmp_path / "in" / "people.csv", people)
    _write_csv(tmp_path / "out" / "people.csv", people)  # nothing pseudonymized: every email leaks
    (tmp_path / "p.yaml").write_text("version: 1\ntables:\n  people:\n"
                                     "    columns: {id: keep, email: {op: pseudonymize, format: email}}\n")
    assert _cli("verify", tmp_path / "in", tmp_path / "out", "-p", tmp_path / "p.yaml", "-q").exit_code == 10
    res = _cli("verify", tmp_path / "in", tmp_path / "out", "-p", tmp_path / "p.yaml", "-q", "--fail-on", fail_on)
    assert res.exit_code == 2 and "--fail-on: no gate given" in res.stderr


@pytest.mark.parametrize("qi", ["price", "at"])
def test_linkage_on_a_typed_parquet_copy_of_csv(tmp_path, keyring, qi):
    """CSV written to typed Parquet: prices written '7.5' and '8.50' become decimal(38,2) ('7.50'),
    times with an offset become UTC instants. The attacker's view compared the CSV text with them,
    so only half the rows (price) or none (at) were re-identified though every row is unique."""
    rows = [{"id": i, "price": f"{i}.5" if i % 2 else f"{i}.50",
             "at": f"2021-03-{1 + i % 28:02d}T{i % 24:02d}:00:00+02:00"} for i in range(1, 41)]
    _write_csv(tmp_path / "in" / "t.csv", rows)
    (tmp_path / "p.yaml").write_text(f"version: 1\ntables:\n  t:\n    privacy: {{quasi_identifiers: [{qi}]}}\n"
                                     "    columns: {id: keep, price: keep, at: keep}\n")
    res = _cli("run", tmp_path / "in", "-p", tmp_path / "p.yaml", "--keyring", keyring, "--out", tmp_path / "out",
               "--format", "parquet", "-q")
    assert res.exit_code == 0, res.output
    assert not pa.types.is_string(pq.read_schema(tmp_path / "out" / "t.parquet").field(qi).type)
    risk = _verify(tmp_path / "in", tmp_path / "out", load_profile(tmp_path / "p.yaml"))["risk"]["tables"]["t"]
    assert risk["classes"] == 40 and risk["linkage"]["reidentified"] == 40


def _people(root: Path, columns: list[str]) -> Path:
    import random

    rnd = random.Random(7)
    rows = [{"id": i, "email": f"{MARKER.lower()}{i}@example.org", "zip": f"{rnd.randint(10000, 99999)}",
             "age": rnd.randint(18, 90)} for i in range(1, 201)]
    _write_csv(root / "people.csv", [{c: r[c] for c in columns} for r in rows])
    return root


@pytest.mark.parametrize("privacy, zip_rule", [
    ("", "{op: generalize, prefix: 2}"),  # no privacy section: the usual rule
    ("    privacy: {quasi_identifiers: [age], k: 5}\n", "{op: generalize, prefix: 2}"),  # k, zip not a QI
    ("    privacy: {quasi_identifiers: [zip], k: 5}\n", "keep"),  # k guards zip: veil run generalizes it
])
def test_update_gives_a_new_quasi_identifier_its_rule_unless_a_privacy_k_guards_it(tmp_path, privacy, zip_rule):
    """The draft keeps a quasi-identifier (zip, age) because its drafted privacy section has veil run
    generalize it to reach k. scan --update copied that `keep` into a known table whose profile has
    no such section, so a new zip column was copied as it is (the comment even said 'generalized by
    veil run'); it now gets the scan's usual rule there."""
    _people(tmp_path / "old", ["id", "email"])
    profile = tmp_path / "p.yaml"
    profile.write_text("version: 1\ntables:\n  people:\n" + privacy.replace("[zip]", "[age]")
                       + "    columns:\n      id: keep\n      email: {op: pseudonymize, format: email}\n"
                       + ("      age: keep\n" if privacy else ""))
    _people(tmp_path / "new", ["id", "email", "zip", "age"])
    if "[zip]" in privacy:  # the profile holds zip to k already, as a QI it lists before the column exists
        profile.write_text(profile.read_text().replace("[age]", "[age, zip]"))
    res = _cli("scan", tmp_path / "new", "--update", profile)
    assert res.exit_code == 0, res.output
    import yaml

    rules = yaml.safe_load(profile.read_text())["tables"]["people"]["columns"]
    assert rules["zip"] == yaml.safe_load(zip_rule)
    if not privacy:
        assert rules["age"] != "keep"
    assert "generalized by veil run" not in profile.read_text() or "[age, zip]" in profile.read_text()


def test_references_dangling_in_the_original_do_not_fail_the_default_gates(tmp_path, keyring):
    """5% of orders point at customers the extract does not hold (an inferred or profile foreign key
    on CSV: the scan infers one at 90% containment). The copy resolves exactly as the original does,
    yet the default gate fk<1 failed every such copy (exit 10, with a hint about privacy). The
    default is now fk_lost>0: what the copy broke; fk<1 stays for whoever asks for it."""
    _write_csv(tmp_path / "in" / "customers.csv", [{"customer_id": i, "name": f"{MARKER}{i}"} for i in range(1, 101)])
    _write_csv(tmp_path / "in" / "orders.csv", [{"order_id": j, "customer_id": 1 + j % 100 if j % 20 else 500 + j}
                                                for j in range(1, 301)])
    (tmp_path / "p.yaml").write_text("""\
version: 1
tables:
  customers:
    primary_key: [customer_id]
    columns: {customer_id: {op: pseudonymize, format: int}, name: {op: fake, kind: first_name}}
  orders:
    foreign_keys:
      - columns: [customer_id]
        references: {table: customers, columns: [customer_id]}
    columns: {order_id: keep}
""")
    out = tmp_path / "out"
    assert _cli("run", tmp_path / "in", "-p", tmp_path / "p.yaml", "--keyring", keyring, "--out", out,
                "-q").exit_code == 0
    args = ("verify", tmp_path / "in", out, "-p", tmp_path / "p.yaml", "-q", "--report", tmp_path / "v.json")
    assert _cli(*args).exit_code == 0
    doc = json.loads((tmp_path / "v.json").read_text())
    fk = doc["integrity"]["tables"]["orders"]["foreign_keys"][0]
    assert (fk["resolved_share"], fk["resolved_share_original"], fk["lost"]) == (0.95, 0.95, 0.0)
    assert doc["integrity"]["summary"]["fk_lost"] == 0.0
    assert _cli(*args, "--force", "--fail-on", "fk<1").exit_code == 10  # asked for: still there
    # the copy breaks references: 30 orders now point nowhere (2**31: outside the pseudonyms'
    # [0, 2**31), so it is never a customer's; 999999999 was one with probability 100/2**31 = 4.7e-8)
    with (out / "orders.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows[:30]:
        r["customer_id"] = str(2 ** 31)
    _write_csv(out / "orders.csv", rows)
    res = _cli(*args, "--force")
    assert res.exit_code == 10 and "fk_lost>0" in res.stderr
    doc = json.loads((tmp_path / "v.json").read_text())
    assert doc["integrity"]["summary"]["fk_lost"] > 0.05


def test_html_to_standard_output(tmp_path):
    """`--html -` (as `--json -`) died with an internal error (KeyError: check_targets leaves '-' out
    of the paths it returns). It now writes the page to standard output; both on '-' is refused."""
    rows = [{"id": i, "email": f"{MARKER.lower()}{i}@example.org"} for i in range(1, 21)]
    _write_csv(tmp_path / "in" / "people.csv", rows)
    _write_csv(tmp_path / "out" / "people.csv", [{"id": r["id"], "email": f"x{r['id']}@t.invalid"} for r in rows])
    (tmp_path / "p.yaml").write_text("version: 1\ntables:\n  people:\n"
                                     "    columns: {id: keep, email: {op: pseudonymize, format: email}}\n")
    base = ("verify", tmp_path / "in", tmp_path / "out", "-p", tmp_path / "p.yaml", "-q")
    res = _cli(*base, "--html", "-")
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("<!DOCTYPE html>") and res.stdout.rstrip().endswith("</html>")
    assert MARKER.lower() not in res.stdout.lower() and not (Path.cwd() / "-").exists()
    res = _cli(*base, "--html", "-", "--json", "-")
    assert res.exit_code == 2 and "cannot both be '-'" in res.stderr
