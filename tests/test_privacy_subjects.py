"""k-anonymity counted in subjects, and a subject table's privacy reaching the tables about its
subjects (veil.privacy.subjects)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from veil.privacy.search import COUNT, search

PROFILE = """version: 1
tables:
  customers:
    primary_key: [customer_id]
    subject: {column: customer_id, domain: customer}
    columns:
      customer_id: {op: pseudonymize, domain: customer, format: int}
      name: {op: fake, kind: name, domain: person}
      zip: keep
      birth_year: keep
      gender: keep
    privacy: {quasi_identifiers: [zip, birth_year, gender], k: 5, max_suppression: 0.05}
  history:
    primary_key: [history_id]
    subject: {column: customer_id, domain: customer}
    foreign_keys:
      - {columns: [customer_id], references: {table: customers, columns: [customer_id]}}
    columns:
      history_id: keep
      customer_id: {op: pseudonymize, domain: customer, format: int}
      zip: keep
      birth_year: keep
      gender: keep
      note: nullify
"""


def _combos(rows: list[tuple]) -> pa.Table:
    counts: dict[tuple, int] = defaultdict(int)
    for r in rows:
        counts[r] += 1
    keys = list(counts)
    return pa.table({"zip": [k[0] for k in keys], "who": [k[1] for k in keys], COUNT: [counts[k] for k in keys]})


def test_a_class_of_many_rows_of_few_people_is_below_k():
    # zip A: 3 people with 4 rows each (12 rows); zip B..: 5 people with one row each
    rows = [("10001", f"p{i}") for i in range(3) for _ in range(4)]
    rows += [(f"2000{j}", f"q{j}{i}") for j in range(4) for i in range(5)]
    combos = _combos(rows)
    by_rows = search(combos, ["zip"], 5, max_suppression=0.5)
    assert by_rows.report["unit"] == "row" and by_rows.report["suppressed_rows"] == 0
    by_people = search(combos, ["zip"], 5, max_suppression=0.5, subject="who")
    assert by_people.report["unit"] == "subject" and by_people.report["subjects"] == 23
    assert by_people.report["k"] >= 5
    # zip A's three people (12 rows) cannot stand alone: suppressed, or merged by a coarser level
    assert by_people.report["suppressed_rows"] >= 12 or by_people.levels["zip"]["name"] != "value"


def test_the_suppressed_class_counts_distinct_people():
    # one person with 10 rows in a rare zip is one person: the suppressed class must reach 5 people
    rows = [("99999", "lonely")] * 10 + [(f"1000{j}", f"p{j}{i}") for j in range(3) for i in range(6)]
    res = search(_combos(rows), ["zip"], 5, max_suppression=0.6, subject="who")
    assert res.report["k"] >= 5
    assert res.report["suppressed_rows"] >= 10 + 6 or res.levels["zip"]["name"] != "value"


def _write(tmp_path: Path, n: int = 600, per: int = 4, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    src = tmp_path / "in"
    src.mkdir()
    people = []
    with open(src / "customers.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "name", "zip", "birth_year", "gender"])
        for i in range(1, n + 1):
            p = (f"{rng.integers(10000, 10400):05d}", int(rng.integers(1940, 2005)), "FM"[int(rng.integers(0, 2))])
            people.append(p)
            w.writerow([i, f"Person {i}", *p])
    with open(src / "history.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["history_id", "customer_id", "zip", "birth_year", "gender", "note"])
        h = 0
        for i, p in enumerate(people, 1):
            for _ in range(int(rng.integers(1, per * 2))):
                h += 1
                w.writerow([h, i, *p, "moved"])
    return src


@pytest.fixture
def run_subjects(cli, keyring, tmp_path):
    src = _write(tmp_path)
    prof = tmp_path / "p.yaml"
    prof.write_text(PROFILE)
    out, rep = tmp_path / "out", tmp_path / "run.json"
    res = cli("run", src, "-p", prof, "--keyring", keyring, "-o", out, "--report", rep, "-q", "--workers", "1")
    assert res.exit_code == 0, res.output
    return src, out, json.loads(rep.read_text())


def _classes(path: Path, qis: list[str], who: str) -> dict[tuple, set]:
    got: dict[tuple, set] = defaultdict(set)
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            got[tuple(r[q] for q in qis)].add(r[who])
    return got


def test_a_table_about_subjects_takes_its_subject_tables_privacy(run_subjects):
    _src, out, report = run_subjects
    tables = report["tables"]
    parent, child = tables["customers"]["privacy"], tables["history"]["privacy"]
    assert parent["unit"] == "row" and child["unit"] == "subject"
    assert child["inherited_from"] == "customers" and child["k_target"] == 5
    assert set(child["floors"]) == {"zip", "birth_year", "gender"}
    assert child["floors"] == {q: parent["levels"][q] for q in child["floors"]}
    qis = ["zip", "birth_year", "gender"]
    # every class of the copy's history holds >= 5 distinct (pseudonymized) customers
    hist = _classes(out / "history.csv", qis, "customer_id")
    assert min(len(v) for v in hist.values()) >= 5 == child["k_target"]
    assert min(len(v) for v in hist.values()) == child["k"]
    # never finer than the subject table: each history value is one the customers copy holds
    cust = _classes(out / "customers.csv", qis, "customer_id")
    for i, q in enumerate(qis):
        assert child["floors"][q] != "value" or q == "gender"
        assert {k[i] for k in hist} - {""} <= {k[i] for k in cust}, q
    # and the join through the subject key gives back nothing finer than customers' classes
    joined = defaultdict(set)
    with open(out / "customers.csv", newline="") as fh:
        by_id = {r["customer_id"]: tuple(r[q] for q in qis) for r in csv.DictReader(fh)}
    with open(out / "history.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["customer_id"] in by_id and all(r[q] for q in qis):
                joined[by_id[r["customer_id"]]].add(r["customer_id"])
    assert joined  # the key still joins


def test_a_history_counted_in_rows_would_have_passed_k_with_fewer_people(tmp_path):
    # the same history searched by rows reaches "k" with classes of fewer than 5 people
    src = _write(tmp_path, n=300)
    rows: dict[tuple, int] = defaultdict(int)
    with open(src / "history.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            rows[(r["zip"], int(r["birth_year"]), r["gender"], int(r["customer_id"]))] += 1
    keys = list(rows)
    combos = pa.table({"zip": [k[0] for k in keys], "birth_year": [k[1] for k in keys],
                       "gender": [k[2] for k in keys], "cid": [k[3] for k in keys], COUNT: list(rows.values())})
    qis = ["zip", "birth_year", "gender"]
    by_rows = search(combos, qis, 5, max_suppression=0.05)
    by_people = search(combos, qis, 5, max_suppression=0.05, subject="cid")
    assert by_people.report["k"] >= 5
    assert by_people.report["information_loss"] >= by_rows.report["information_loss"]


def test_an_inherited_quasi_identifier_with_a_keyed_rule_is_a_profile_problem(cli, keyring, tmp_path):
    src = _write(tmp_path, n=50)
    prof = tmp_path / "p.yaml"
    prof.write_text(PROFILE.replace("      zip: keep\n      birth_year: keep\n      gender: keep\n      note",
                                    "      zip: {op: pseudonymize, domain: zip}\n      birth_year: keep\n"
                                    "      gender: keep\n      note"))
    res = cli("validate", prof, src)
    assert res.exit_code == 3, res.output
    assert "history.zip" in res.output and "inherited from its subject table customers" in res.output


def test_verify_confirms_k_in_people_for_the_inheriting_table(run_subjects, cli, tmp_path):
    src, out, run_report = run_subjects
    prof = tmp_path / "p.yaml"
    rep = tmp_path / "verify.json"
    res = cli("verify", src, out, "-p", prof, "--report", rep, "-q")
    assert res.exit_code == 0, res.output  # the default gates hold k >= 5 in both tables
    risk = json.loads(rep.read_text())["risk"]["tables"]
    hist = risk["history"]
    assert hist["unit"] == "subject" and hist["k"] == run_report["tables"]["history"]["privacy"]["k"]
    assert hist["k_rows"] >= hist["k"] >= 5
    assert risk["customers"]["k"] >= 5 and "unit" not in risk["customers"]
    # a copy that keeps history's original values is measured in people, and fails the gate
    (out / "history.csv").write_text((src / "history.csv").read_text())
    res = cli("verify", src, out, "-p", prof, "--report", rep, "-q")
    assert res.exit_code == 10, res.output
    assert json.loads(rep.read_text())["risk"]["tables"]["history"]["k"] < 5
