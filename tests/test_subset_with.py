"""A subset works with the rest of a run: vault records only for the rows written, a forgotten
subject stays out even when the subset chooses it (and its rows in other tables with it), and
k-anonymity is computed on the subset actually written."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from .conftest import SAMPLES_PARQUET
from .test_privacy_run import people_rows, profile, write_csv
from .vault_fixtures import SqliteStore, make_vault_profile, run_ok

SUBSET = """
subset:
  targets:
    - {table: customers, fraction: 0.3}
  include_children: [orders, payments, support_tickets, addresses]
"""


def _profile(tmp_path: Path, extra: str = SUBSET) -> Path:
    prof = make_vault_profile(tmp_path)
    prof.write_text(prof.read_text() + extra)
    return prof


def test_vault_records_and_forget_follow_the_subset(cli, keyring, tmp_path):
    store = SqliteStore(tmp_path / "vault" / "vault.db")
    prof = _profile(tmp_path)
    full = run_ok(cli, SAMPLES_PARQUET, tmp_path / "full", make_vault_profile(tmp_path, "full.yaml"), keyring,
                  "--vault", str(store.path))
    sub = run_ok(cli, SAMPLES_PARQUET, tmp_path / "sub", prof, keyring, "--vault", str(store.path))
    kept = pq.read_table(tmp_path / "sub" / "customers.parquet")
    assert 0 < kept.num_rows < 200
    # every written email has its record; a subset writes no record a full run did not
    assert sub["tables"]["customers"]["vault_records_written"] <= full["tables"]["customers"]["vault_records_written"]
    res = cli("vault", "reveal", "--domain", "email", "--purpose", "test", *kept.column("email").to_pylist()[:5],
              "--keyring", keyring, "--vault", str(store.path))
    assert res.exit_code == 0, res.output
    assert len(res.stdout.splitlines()) == 5
    # forget one customer the subset chose: the next subset run leaves them out, with their rows
    src = pq.read_table(SAMPLES_PARQUET / "customers.parquet")
    pseudonyms = set(kept.column("email").to_pylist())
    full_out = pq.read_table(tmp_path / "full" / "customers.parquet").column("email").to_pylist()
    chosen = [o for o, p in zip(src.column("email").to_pylist(), full_out, strict=True) if p in pseudonyms]
    victim = chosen[0]
    res = cli("vault", "forget", "--domain", "email", victim, "--keyring", keyring, "--vault", str(store.path))
    assert res.exit_code == 0, res.output
    again = run_ok(cli, SAMPLES_PARQUET, tmp_path / "sub2", prof, keyring, "--vault", str(store.path))
    after = pq.read_table(tmp_path / "sub2" / "customers.parquet")
    assert after.num_rows == kept.num_rows - 1
    assert again["tables"]["customers"]["rows_dropped"]["forgotten_subject"] == 1
    gone = [p for p in pseudonyms if p not in set(after.column("email").to_pylist())]
    assert len(gone) == 1
    orders = pq.read_table(tmp_path / "sub2" / "orders.parquet").column("customer_email").to_pylist()
    assert gone[0] not in orders


def test_k_anonymity_is_computed_on_the_subset(cli, keyring, tmp_path):
    src = write_csv(tmp_path / "in", people_rows(800))
    prof = profile(tmp_path / "p.yaml")
    prof.write_text(prof.read_text() + "subset:\n  targets:\n    - {table: people, fraction: 0.3}\n")
    rep = run_ok(cli, src, tmp_path / "out", prof, keyring)
    kp = rep["tables"]["people"]["privacy"]
    out = pq.read_table(tmp_path / "out" / "people.parquet") if (tmp_path / "out" / "people.parquet").exists() \
        else pa_csv.read_csv(tmp_path / "out" / "people.csv")
    written = rep["tables"]["people"]["rows_out"]
    # a 30% sample of 800 rows (Binomial): 320 or more with probability 1.1e-9, 360 or more with 3e-19
    assert out.num_rows == written and written < 800 * 0.45
    # the enforcement counted the subset's rows (its classes and suppressions), not the 800 input rows
    assert kp["rows"] == written and kp["k"] >= 5
    qis = ["birth_date", "gender", "age"]  # zip: suppressed whole at the level chosen, or kept coarse
    classes: dict[tuple, int] = {}
    rows = list(zip(*(out.column(c).to_pylist() for c in ["zip", *qis]), strict=True))
    for row in rows:
        classes[row] = classes.get(row, 0) + 1
    small = sum(n for n in classes.values() if n < 5)
    assert small <= kp["suppressed_rows"]  # only the suppressed rows are in classes below k
    assert json.dumps(kp)
