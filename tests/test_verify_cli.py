"""veil verify end to end: a run's output verified, planted leaks found in files and in a dump, gates,
exit codes, and no value in the JSON, the HTML or stderr."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES_CSV, SHOP_PROFILE
from veil.errors import EXIT_GATE

from . import dump_fixtures
from .dump_fixtures import CUSTOMERS, PERSONAL_VALUES, populate, profile_text

pg, pg_tools = dump_fixtures.pg, dump_fixtures.pg_tools


def _values(path: Path, column: str) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [r[column] for r in csv.DictReader(f) if r[column]]


def _no_value(text: str, values: list[str]) -> None:
    leaked = [v for v in values if len(v) >= 6 and v in text]
    assert not leaked, f"{len(leaked)} values of the input appear in the output"


@pytest.fixture
def shop_copy(tmp_path, cli, keyring) -> Path:
    out = tmp_path / "copy"
    res = cli("run", SAMPLES_CSV, "--profile", SHOP_PROFILE, "--keyring", keyring, "--out", out, "-q",
              "--workers", "1")
    assert res.exit_code == 0, res.output
    return out


def test_a_run_of_the_sample_verifies_and_the_reports_hold_no_value(tmp_path, cli, shop_copy):
    report, html = tmp_path / "verify.json", tmp_path / "verify.html"
    res = cli("verify", SAMPLES_CSV, shop_copy, "--profile", SHOP_PROFILE, "--report", report, "--html", html)
    doc = json.loads(report.read_text())
    assert doc["report"] == "veil-verify" and doc["version"] == 1
    assert set(doc["tables"]) == {"customers", "addresses", "orders", "payments", "support_tickets"}
    for section in ("leaks", "risk", "utility", "integrity"):
        assert "summary" in doc[section] and "tables" in doc[section]
    assert doc["integrity"]["summary"]["missing_tables"] == 0
    assert doc["integrity"]["summary"]["fk"] == 1.0
    gates = {g["gate"]: g for g in doc["gates"]}
    assert gates["leaks>0"]["measured"]
    assert res.exit_code == (EXIT_GATE if doc["verdict"] == "fail" else 0), res.output
    assert res.output.strip().splitlines()[-1].startswith(("veil verify: PASS", "veil: error:"))
    values = (_values(SAMPLES_CSV / "customers.csv", "email") + _values(SAMPLES_CSV / "customers.csv", "last_name")
              + _values(SAMPLES_CSV / "customers.csv", "phone") + _values(SAMPLES_CSV / "addresses.csv", "street"))
    for text in (report.read_text(), html.read_text(), res.output):
        _no_value(text, values)


def test_planted_leaks_are_found_in_their_column_elsewhere_and_in_text(tmp_path, cli, shop_copy):
    emails = _values(SAMPLES_CSV / "customers.csv", "email")
    streets = _values(SAMPLES_CSV / "addresses.csv", "street")
    rows = list(csv.DictReader((shop_copy / "customers.csv").open(encoding="utf-8-sig", newline="")))
    rows[3]["email"] = emails[3]  # kept in its own row
    rows[5]["city"] = streets[0]  # another table's original in another column
    with (shop_copy / "customers.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    tickets = list(csv.DictReader((shop_copy / "support_tickets.csv").open(encoding="utf-8-sig", newline="")))
    tickets[0]["body"] = f"Hello, please write to {emails[7]} about the order."  # inside free text
    with (shop_copy / "support_tickets.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(tickets[0]))
        w.writeheader()
        w.writerows(tickets)
    report = tmp_path / "v.json"
    res = cli("verify", SAMPLES_CSV, shop_copy, "-p", SHOP_PROFILE, "--report", report, "--fail-on", "leaks>0")
    assert res.exit_code == EXIT_GATE, res.output
    doc = json.loads(report.read_text())
    email = doc["leaks"]["tables"]["customers"]["columns"]["email"]
    assert email["kept_same_row"] >= 1
    assert email["in_text"] >= 1
    street = doc["leaks"]["tables"]["addresses"]["columns"]["street"]
    assert street["elsewhere"] >= 1
    assert "customers.city" in street["found_in"]
    assert "leaks>0" in res.output.splitlines()[-1]
    _no_value(report.read_text() + res.output, emails + streets)


def test_json_to_stdout_and_gates(tmp_path, cli, shop_copy):
    res = cli("verify", SAMPLES_CSV, shop_copy, "-p", SHOP_PROFILE, "--json", "-", "-q", "--fail-on", "utility<0")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["verdict"] == "pass" and [g["gate"] for g in doc["gates"]] == ["utility<0"]
    res = cli("verify", SAMPLES_CSV, shop_copy, "-p", SHOP_PROFILE, "--json", "-", "-q", "--fail-on", "k<5")
    assert res.exit_code == EXIT_GATE  # no privacy section: k not measured, and a gate asked for fails
    assert json.loads(res.stdout)["gates"][0]["measured"] is False


def test_outputs_veil_must_not_write_are_refused(tmp_path, cli, shop_copy):
    before = (SAMPLES_CSV / "customers.csv").read_bytes()
    res = cli("verify", SAMPLES_CSV, shop_copy, "-p", SHOP_PROFILE, "--report", SAMPLES_CSV / "customers.csv")
    assert res.exit_code == 2
    assert (SAMPLES_CSV / "customers.csv").read_bytes() == before
    res = cli("verify", SAMPLES_CSV, shop_copy, "-p", SHOP_PROFILE, "--report", SHOP_PROFILE)
    assert res.exit_code == 2
    res = cli("verify", SAMPLES_CSV, SAMPLES_CSV, "-p", SHOP_PROFILE)
    assert res.exit_code == 5
    res = cli("verify", SAMPLES_CSV, shop_copy, "-p", SHOP_PROFILE, "--fail-on", "karma<5")
    assert res.exit_code == 2


def test_a_dump_copy_verifies_and_a_planted_leak_in_it_is_found(pg, cli, keyring, tmp_path):
    src = pg.create("veil_verify_src")
    populate(pg, src)
    dump = dump_fixtures.pg_dump(src, tmp_path / "in.sql")
    profile = tmp_path / "p.yaml"
    profile.write_text(profile_text(), encoding="utf-8")
    out = tmp_path / "out.sql"
    res = cli("run", dump, "--profile", profile, "--keyring", keyring, "--out", out, "-q", "--workers", "1")
    assert res.exit_code == 0, res.output
    report = tmp_path / "v.json"
    res = cli("verify", dump, out, "-p", profile, "--report", report, "--fail-on", "fk<1,missing_tables>0")
    assert res.exit_code == 0, res.output
    doc = json.loads(report.read_text())
    # the fixture's customer 5 signed up at 1999-12-31 23:59:59, which is also a product's kept updated_at:
    # the copy shows the original time of a shifted date, and verify says where (a true finding)
    leaks = {(t, c): v for t, tv in doc["leaks"]["tables"].items() for c, v in tv.get("columns", {}).items()
             if v.get("leaks")}
    assert list(leaks) == [("public.customers", "signup_at")]
    assert leaks[("public.customers", "signup_at")]["found_in"] == ["public.product_catalog.updated_at"]
    assert all(t["rows_copy"] == t["rows_original"] for t in doc["integrity"]["tables"].values())
    # plant: customer 1's original email put back into its row of the output
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    head = next(i for i, ln in enumerate(lines) if ln.startswith("COPY public.customers "))
    fields = lines[head + 1].split("\t")
    assert fields[0] != "\\." and fields[1] != CUSTOMERS[0][1]
    fields[1] = CUSTOMERS[0][1]
    lines[head + 1] = "\t".join(fields)
    out.write_text("".join(lines), encoding="utf-8")
    res = cli("verify", dump, out, "-p", profile, "--report", report, "--fail-on", "leaks>1")
    assert res.exit_code == EXIT_GATE, res.output
    email = json.loads(report.read_text())["leaks"]["tables"]["public.customers"]["columns"]["email"]
    assert email["kept_same_row"] == 1 and email["leaks"] >= 1
    _no_value(report.read_text() + res.output, [v for v in PERSONAL_VALUES if len(v) >= 6])

def test_verify_runs_as_a_command(tmp_path, shop_copy):
    """The installed entry point (python -m veil) with the real process exit code."""
    shutil.copy(SHOP_PROFILE, tmp_path / "p.yaml")
    proc = subprocess.run([sys.executable, "-m", "veil", "verify", str(SAMPLES_CSV), str(shop_copy), "-p",
                           str(tmp_path / "p.yaml"), "--fail-on", "fk<1"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("veil verify: PASS")
