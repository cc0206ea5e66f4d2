"""End-to-end tests of the vault through the CLI, on SQLite and PostgreSQL: records written by
`run --vault`, reveal and its audit trail, the audit chain, forget, rekey, crypto-shredding and
tamper detection."""

from __future__ import annotations

import csv
import hmac
import json
import os
import sqlite3
import stat
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from . import vault_fixtures
from .conftest import SAMPLES_CSV, SAMPLES_PARQUET, SHOP_PROFILE
from .vault_fixtures import (
    SqliteStore,
    Store,
    active_version,
    column,
    data_files,
    email_pairs,
    find_secrets,
    keyring_secrets,
    read_table,
    rotate,
    run_ok,
    versions,
)

# pytest fixtures shared with the other vault/keys test module
pg_url, store, vault_profile = vault_fixtures.pg_url, vault_fixtures.store, vault_fixtures.vault_profile


def _db_error(store: Store) -> type[Exception]:
    if store.kind == "sqlite":
        return sqlite3.DatabaseError
    import psycopg
    return psycopg.Error


class Veil:
    """The CLI bound to one keyring, vault and profile."""

    def __init__(self, cli, keyring: Path, store: Store, profile: Path, tmp_path: Path):
        self.cli, self.keyring, self.store, self.profile, self.tmp = cli, keyring, store, profile, tmp_path
        store.keyring = keyring

    @property
    def kv(self) -> tuple:
        return ("--keyring", self.keyring, "--vault", self.store.spec)

    def run(self, name: str, src: Path = SAMPLES_CSV, *extra) -> dict:
        return run_ok(self.cli, src, self.tmp / name, self.profile, self.keyring, "--vault", self.store.spec,
                      *extra)

    def reveal(self, *tokens, domain: str = "email", purpose: str = "test", extra: tuple = ()):
        return self.cli("vault", "reveal", "--domain", domain, "--purpose", purpose, *extra, *tokens, *self.kv)

    def forget(self, *values, domain: str = "email", extra: tuple = ()):
        return self.cli("vault", "forget", "--domain", domain, *extra, *values, *self.kv)

    def audit(self, *extra):
        return self.cli("vault", "audit", *extra, *self.kv)

    def audit_entries(self) -> list[dict]:
        res = self.audit("--json")
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)

    def rekey(self, dataset: Path, v_from: str, out: Path, *extra):
        return self.cli("rekey", dataset, "--from", v_from, "--profile", self.profile, "--out", out,
                        "--workers", "1", "-q", *extra, *self.kv)


@pytest.fixture
def veil(cli, keyring, store, vault_profile, tmp_path) -> Veil:
    return Veil(cli, keyring, store, vault_profile, tmp_path)


def _reveal_lines(stdout: str) -> list[tuple[str, str]]:
    return [tuple(line.split("\t", 1)) for line in stdout.splitlines()]


# -- writing records, reveal -------------------------------------------------------------------

def test_run_writes_vault_records_and_reveal(veil):
    report = veil.run("o1")
    assert report["totals"]["vault_records_written"] > 0
    assert report["tables"]["customers"]["vault_records_written"] > 0
    assert report["tables"]["customers"]["columns"]["email"]["reversible"] is True
    assert report["forget_list_applied"] is True

    pairs = email_pairs(SAMPLES_CSV, veil.tmp / "o1")
    token, original = pairs[7]
    res = veil.reveal(token, purpose="ticket 7")
    assert res.exit_code == 0, res.output
    assert res.stdout == f"{token}\t{original}\n"

    several = pairs[10:15]
    res = veil.reveal(*[p for p, _ in several])
    assert res.exit_code == 0, res.output
    assert _reveal_lines(res.stdout) == several

    # the customer_id domain (format: int) is reversible too
    ids_in, ids_out = column(SAMPLES_CSV, "customers", "customer_id"), column(veil.tmp / "o1", "customers",
                                                                              "customer_id")
    res = veil.reveal(ids_out[3], domain="customer_id")
    assert res.exit_code == 0, res.output
    assert res.stdout == f"{ids_out[3]}\t{ids_in[3]}\n"


def test_reveal_from_file(veil):
    veil.run("o1")
    pairs = email_pairs(SAMPLES_CSV, veil.tmp / "o1")[20:32]
    tokens = veil.tmp / "tokens.txt"
    tokens.write_text("\n".join(p for p, _ in pairs) + "\n\n")
    res = veil.reveal(extra=("--from-file", tokens))
    assert res.exit_code == 0, res.output
    assert _reveal_lines(res.stdout) == pairs
    # arguments and file together
    extra_pair = email_pairs(SAMPLES_CSV, veil.tmp / "o1")[40]
    res = veil.reveal(extra_pair[0], extra=("--from-file", tokens))
    assert res.exit_code == 0, res.output
    assert _reveal_lines(res.stdout) == [extra_pair, *pairs]


def test_reveal_unknown_token(veil):
    veil.run("o1")
    res = veil.reveal("zzzzzzzzzzzzzzzz@example.com")
    assert res.exit_code == 8
    assert "not found" in res.stderr
    assert res.stdout == ""
    token, original = email_pairs(SAMPLES_CSV, veil.tmp / "o1")[0]
    mixed = veil.reveal(token, "zzzzzzzzzzzzzzzz@example.com")
    assert mixed.exit_code == 8
    assert mixed.stdout == f"{token}\t{original}\n"
    assert "1 pseudonym(s) not found" in mixed.stderr


def test_reveal_without_vault_file(cli, keyring, tmp_path):
    missing = tmp_path / "nowhere" / "vault.db"
    res = cli("vault", "reveal", "--domain", "email", "--purpose", "x", "tok", "--keyring", keyring,
              "--vault", missing)
    assert res.exit_code == 8 and "vault file not found" in res.stderr
    assert not missing.exists()


def test_second_run_writes_no_duplicate_records(veil):
    first = veil.run("o1")
    n = first["totals"]["vault_records_written"]
    segs = len(veil.store.segments())
    second = veil.run("o2")
    assert second["totals"]["vault_records_written"] == 0
    assert all(t["vault_records_written"] == 0 for t in second["tables"].values())
    assert len(veil.store.segments()) == segs
    assert sum(t.num_rows for *_, t in veil.store.segments()) == n
    # the Parquet sample is the same data: nothing new either
    third = veil.run("o3", SAMPLES_PARQUET)
    assert third["totals"]["vault_records_written"] == 0


def test_reveal_is_audited_without_values(veil):
    veil.run("o1")
    v1 = active_version(veil.cli, veil.keyring)
    pairs = email_pairs(SAMPLES_CSV, veil.tmp / "o1")
    assert veil.reveal(pairs[0][0], purpose="GDPR request 42", extra=("--actor", "alice")).exit_code == 0
    assert veil.reveal(*[p for p, _ in pairs[1:4]], purpose="fraud case 7",
                       extra=("--actor", "bob")).exit_code == 0
    # a pseudonym of 10 digits (over half of them are: [0, 2**31)): one of 4 digits or fewer
    # (probability 4.7e-6), is found inside the audit's timestamps and MACs by chance; 10 digits in
    # a row are in a MAC with ~4e-10
    ids_out = sorted(column(veil.tmp / "o1", "customers", "customer_id"), key=len, reverse=True)
    assert len(ids_out[0]) == 10
    assert veil.reveal(ids_out[0], domain="customer_id", purpose="support",
                       extra=("--actor", "carol")).exit_code == 0

    entries = veil.audit_entries()
    reveals = [e for e in entries if e["action"] == "reveal"]
    got = [(e["actor"], e["purpose"], e["domain"], e["count"], e["key_version"]) for e in reveals]
    assert got == [("alice", "GDPR request 42", "email", 1, v1), ("bob", "fraud case 7", "email", 3, v1),
                   ("carol", "support", "customer_id", 1, v1)]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))

    text = json.dumps(entries)
    ids_in = column(SAMPLES_CSV, "customers", "customer_id")
    for token, original in pairs[:4]:
        assert original not in text
        assert token not in text
    assert f'"{ids_in[0]}"' not in text and ids_out[0] not in text
    plain = veil.audit()
    assert plain.exit_code == 0
    assert all(o not in plain.stdout for _, o in pairs[:4])


def test_parallel_run_matches_serial(veil, tmp_path):
    """Worker processes (small batches, 2 workers) write the same output, records and drops."""
    rows = _input_rows()
    _, customer, expected = _pick_customer(rows)
    assert veil.forget(customer["email"]).exit_code == 0
    serial = veil.run("o1")
    n_records = serial["totals"]["vault_records_written"]
    assert n_records == sum(t.num_rows for *_, t in veil.store.segments())
    # SQLite: a second, fresh vault (same forget list); PostgreSQL: the same database again
    second = SqliteStore(tmp_path / "vault2" / "v.db") if veil.store.kind == "sqlite" else veil.store
    if second is not veil.store:
        assert veil.cli("vault", "forget", "--domain", "email", customer["email"], "--keyring", veil.keyring,
                        "--vault", second.spec).exit_code == 0
    parallel = run_ok(veil.cli, SAMPLES_CSV, tmp_path / "o2", veil.profile, veil.keyring, "--vault", second.spec,
                      "--batch-size", "64", workers=2)
    assert parallel["totals"]["vault_records_written"] == (0 if second is veil.store else n_records)
    _check_forget_report(serial, expected, 1)
    _check_forget_report(parallel, expected, 1)
    a = {p.relative_to(tmp_path / "o1"): p.read_bytes() for p in data_files(tmp_path / "o1")}
    b = {p.relative_to(tmp_path / "o2"): p.read_bytes() for p in data_files(tmp_path / "o2")}
    assert a == b


# -- the audit chain -------------------------------------------------------------------------------

def test_audit_append_only_and_tamper_detected(veil):
    veil.run("o1")
    pairs = email_pairs(SAMPLES_CSV, veil.tmp / "o1")
    assert veil.reveal(pairs[0][0], purpose="first").exit_code == 0
    assert veil.reveal(pairs[1][0], purpose="second").exit_code == 0
    res = veil.audit("--verify")
    assert res.exit_code == 0, res.output
    assert "intact: 3 entries" in res.stdout

    err = _db_error(veil.store)
    with pytest.raises(err, match="append-only"):
        veil.store.execute("UPDATE veil_audit SET purpose = 'nothing to see' WHERE seq = 2")
    with pytest.raises(err, match="append-only"):
        veil.store.execute("DELETE FROM veil_audit WHERE seq = 3")
    assert veil.audit("--verify").exit_code == 0

    if veil.store.kind == "sqlite":
        veil.store.execute("DROP TRIGGER veil_audit_no_update")
    else:
        veil.store.execute("DROP TRIGGER veil_audit_append_only ON veil_audit")
    veil.store.execute("UPDATE veil_audit SET purpose = 'nothing to see' WHERE seq = 2")
    res = veil.audit("--verify")
    assert res.exit_code == 8
    assert "entry 2" in res.stderr and veil.store.label in res.stderr
    assert "entry 3" not in res.stderr


# -- forget ----------------------------------------------------------------------------------------

def _input_rows(src: Path = SAMPLES_CSV) -> dict[str, list[dict]]:
    return {t: read_table(src / f"{t}.csv") for t in ("customers", "orders", "addresses", "payments",
                                                        "support_tickets")}


def _expected_drops(rows: dict[str, list[dict]], customer: dict) -> dict[str, int]:
    cid, email = customer["customer_id"], customer["email"]
    orders = [o for o in rows["orders"] if o["customer_id"] == cid or o["customer_email"] == email]
    order_ids = {o["order_id"] for o in orders}
    return {
        "orders": len(orders),
        "addresses": sum(a["customer_id"] == cid for a in rows["addresses"]),
        "support_tickets": sum(s["customer_id"] == cid for s in rows["support_tickets"]),
        "payments": sum(p["order_id"] in order_ids for p in rows["payments"]),
    }


def _pick_customer(rows, skip: int = 0) -> tuple[int, dict, dict[str, int]]:
    """A customer referenced from every child table (orders, addresses, tickets, payments)."""
    found = 0
    for i, c in enumerate(rows["customers"]):
        exp = _expected_drops(rows, c)
        if all(exp.values()):
            if found == skip:
                return i, c, exp
            found += 1
    raise AssertionError("no customer referenced from every table")


def _check_forget_report(report: dict, expected: dict[str, int], n_forgotten: int) -> None:
    tables = report["tables"]
    assert tables["customers"]["rows_dropped"] == {"forgotten_subject": n_forgotten, "by_reference": 0}
    for t, n in expected.items():
        assert tables[t]["rows_dropped"] == {"forgotten_subject": 0, "by_reference": n}, t
    for t, tab in tables.items():
        dropped = tab["rows_dropped"]["forgotten_subject"] + tab["rows_dropped"]["by_reference"]
        assert tab["rows_out"] == tab["rows_in"] - dropped, t
    total_dropped = n_forgotten + sum(expected.values())
    assert report["totals"]["rows_out"] == report["totals"]["rows_in"] - total_dropped


def test_forget_subject(veil):
    rows = _input_rows()
    idx, customer, expected = _pick_customer(rows)
    veil.run("o1")
    token = column(veil.tmp / "o1", "customers", "email")[idx]
    order_tokens = set(column(veil.tmp / "o1", "orders", "customer_email"))
    assert token in order_tokens
    assert veil.reveal(token).stdout == f"{token}\t{customer['email']}\n"

    before = [(t.column("pseudonym").to_pylist(), t.column("ct").to_pylist())
              for *_, t in veil.store.segments(domain="email")]
    x_ct = [ct for names, cts in before for n, ct in zip(names, cts, strict=True) if n == token]
    assert len(x_ct) == 1 and x_ct[0] in veil.store.dump()

    res = veil.forget(customer["email"], extra=("--actor", "dpo"))
    assert res.exit_code == 0, res.output
    # the email record, plus every record written from the customer's own row (customer_id, names, phone)
    own = sum(1 for col in ("email", "customer_id", "first_name", "last_name", "phone") if customer[col])
    assert f"{own} vault record(s) deleted" in res.stdout
    assert x_ct[0] not in veil.store.dump(), "the forgotten record's ciphertext survives in the vault storage"
    assert "1 added to the forget list" in res.stdout
    assert customer["email"] not in res.stdout + res.stderr

    gone = veil.reveal(token)
    assert gone.exit_code == 8 and "not found" in gone.stderr
    assert customer["email"] not in gone.stdout

    report = veil.run("o2")
    _check_forget_report(report, expected, 1)
    assert token not in column(veil.tmp / "o2", "customers", "email")
    assert token not in column(veil.tmp / "o2", "orders", "customer_email")
    assert len(column(veil.tmp / "o2", "payments", "payment_id")) == len(rows["payments"]) - expected["payments"]

    # forgetting is idempotent, and the same holds for the Parquet sample
    again = veil.forget(customer["email"])
    assert again.exit_code == 0 and "0 added to the forget list" in again.stdout
    _check_forget_report(veil.run("o3", SAMPLES_PARQUET), expected, 1)

    forget_entries = [e for e in veil.audit_entries() if e["action"] == "forget"]
    assert [(e["actor"], e["domain"], e["count"]) for e in forget_entries][0] == ("dpo", "email", 1)
    assert customer["email"] not in json.dumps(veil.audit_entries())
    assert customer["email"].encode() not in veil.store.dump()
    assert veil.audit("--verify").exit_code == 0


def test_forget_from_file(veil):
    rows = _input_rows()
    i1, c1, e1 = _pick_customer(rows, 0)
    i2, c2, e2 = _pick_customer(rows, 1)
    veil.run("o1")
    tokens = [column(veil.tmp / "o1", "customers", "email")[i] for i in (i1, i2)]
    listing = veil.tmp / "forget.txt"
    listing.write_text(f"{c1['email']}\n\n{c2['email']}\n")
    res = veil.forget(extra=("--from-file", listing))
    assert res.exit_code == 0, res.output
    assert "forgot 2 subject(s)" in res.stdout and "2 added to the forget list" in res.stdout
    for t in tokens:
        assert veil.reveal(t).exit_code == 8
    report = veil.run("o2")
    _check_forget_report(report, {t: e1[t] + e2[t] for t in e1}, 2)
    dump = veil.store.dump()
    assert c1["email"].encode() not in dump and c2["email"].encode() not in dump


def test_forget_deletes_every_vault_record_of_the_subject(veil):
    """`vault forget` promises to delete the subjects' vault records: not only the subject column's
    record but every record of the forgotten customer (customer_id, name and phone fakes)."""
    rows = _input_rows()
    idx = next(i for i, c in enumerate(rows["customers"])
               if c["phone"] and all(_expected_drops(rows, c).values()))
    customer = rows["customers"][idx]
    veil.run("o1")
    out = read_table(veil.tmp / "o1" / "customers.csv")[idx]
    checks = [("customer_id", "customer_id"), ("customers.phone", "phone"), ("customers.last_name", "last_name")]
    for domain, col in checks:  # before: each reveals the customer's original
        res = veil.reveal(out[col], domain=domain)
        assert res.exit_code == 0 and f"{out[col]}\t{customer[col]}\n" in res.stdout, (domain, res.output)

    assert veil.forget(customer["email"]).exit_code == 0
    survivors = []
    for domain, col in checks:
        res = veil.reveal(out[col], domain=domain)
        if f"{out[col]}\t{customer[col]}\n" in res.stdout:
            survivors.append(f"{domain} (customers.{col})")
    assert not survivors, f"after forget, the subject's originals are still revealable from: {survivors}"


# -- rekey -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_rekey_equals_fresh_run(veil, fmt):
    src = SAMPLES_CSV if fmt == "csv" else SAMPLES_PARQUET
    v1 = active_version(veil.cli, veil.keyring)
    r1 = veil.run("o1", src)
    assert r1["key_version"] == v1
    v2 = rotate(veil.cli, veil.keyring)
    r2 = veil.run("o2", src)
    assert r2["key_version"] == v2

    out3 = veil.tmp / "o3"
    res = veil.rekey(veil.tmp / "o1", v1, out3, "--to", v2, "--report", veil.tmp / "o3.json")
    assert res.exit_code == 0, res.output
    fresh = {p.relative_to(veil.tmp / "o2"): p.read_bytes() for p in data_files(veil.tmp / "o2")}
    rekeyed = {p.relative_to(out3): p.read_bytes() for p in data_files(out3)}
    assert sorted(rekeyed) == sorted(fresh)
    assert {p.suffix for p in rekeyed} >= {f".{fmt}"}
    for name in fresh:
        assert rekeyed[name] == fresh[name], f"{name} differs from a fresh run under {v2}"
    doc = json.loads((veil.tmp / "o3.json").read_text())
    assert doc["rekey"] == {"from": v1, "to": v2} and doc["key_version"] == v2
    # the fresh run already recorded every V2 pseudonym
    assert doc["totals"]["vault_records_written"] == 0
    assert [e["action"] for e in veil.audit_entries()][-1] == "rekey"


def test_rekey_refuses_non_reversible_profile(cli, keyring, tmp_path):
    vault = tmp_path / "vaultdir" / "vault.db"
    v1 = active_version(cli, keyring)
    run_ok(cli, SAMPLES_CSV, tmp_path / "o1", SHOP_PROFILE, keyring, "--vault", vault)
    res = cli("rekey", tmp_path / "o1", "--from", v1, "--profile", SHOP_PROFILE, "--out", tmp_path / "o2",
              "--keyring", keyring, "--vault", vault, "--workers", "1")
    assert res.exit_code == 3
    assert "customers.email uses keyed operator pseudonymize but is not reversible" in res.stderr
    assert "cannot be re-keyed" in res.stderr
    assert not (tmp_path / "o2").exists()


# -- crypto-shredding --------------------------------------------------------------------------------

def _block_ciphertexts(table: pa.Table) -> list[bytes]:
    """The ciphertext of every block of a segment (its records' ct slices joined, as stored) and its tag."""
    cts, tags = table.column("ct").to_pylist(), table.column("tag").to_pylist()
    starts = [i for i, t in enumerate(tags) if t is not None] + [len(cts)]
    return [blob for s, e in zip(starts, starts[1:], strict=False) for blob in (b"".join(cts[s:e]), tags[s])]


def test_destroy_crypto_shreds_a_version(veil):
    v1 = active_version(veil.cli, veil.keyring)
    veil.run("o1")
    v1_pairs = email_pairs(SAMPLES_CSV, veil.tmp / "o1")
    v1_secrets = {k: v for k, v in keyring_secrets(veil.keyring).items() if k.startswith(v1)}
    assert len(v1_secrets) == 2
    v1_segments = veil.store.segments(version=v1)
    assert v1_segments
    # each block's ciphertext: its records' slices, end to end as stored
    blobs = [blob for *_, t in v1_segments for blob in _block_ciphertexts(t)]
    assert len(blobs) >= 4 and all(len(b) >= 16 for b in blobs)
    assert all(b in veil.store.dump() for b in blobs), "sanity: the blobs are findable before destroy"
    n_v1 = sum(t.num_rows for *_, t in v1_segments)

    v2 = rotate(veil.cli, veil.keyring)
    veil.run("o2")
    v2_token, v2_original = email_pairs(SAMPLES_CSV, veil.tmp / "o2")[3]

    res = veil.cli("keys", "destroy", v1, "--yes", "--actor", "sec-officer", *veil.kv)
    assert res.exit_code == 0, res.output
    assert f"destroyed key version {v1}" in res.stdout and f"{n_v1:,} vault record(s)" in res.stdout

    status = {v["id"]: v["status"] for v in versions(veil.cli, veil.keyring)}
    assert status == {v1: "destroyed", v2: "active"}
    active = veil.cli("keys", "destroy", v2, "--yes", *veil.kv)
    assert active.exit_code == 6 and "active" in active.stderr

    res = veil.reveal(v1_pairs[0][0], extra=("--key-version", v1))
    assert res.exit_code == 6 and "destroyed" in res.stderr
    assert v1_pairs[0][1] not in res.stdout
    res = veil.reveal(v1_pairs[0][0])
    assert res.exit_code == 8 and res.stdout == ""
    res = veil.rekey(veil.tmp / "o1", v1, veil.tmp / "o3")
    assert res.exit_code == 6 and "destroyed" in res.stderr
    assert not (veil.tmp / "o3").exists()

    assert not find_secrets(veil.keyring.read_bytes(), v1_secrets)
    assert veil.store.count_segments(v1) == 0
    dump = veil.store.dump()
    assert not [i for i, b in enumerate(blobs) if b in dump], "V1 ciphertexts survive in the vault storage"
    if veil.store.kind == "sqlite":
        for f in veil.store.files():
            data = f.read_bytes()
            assert not any(b in data for b in blobs), f

    res = veil.reveal(v2_token)
    assert res.exit_code == 0, res.output
    assert res.stdout == f"{v2_token}\t{v2_original}\n"
    entries = veil.audit_entries()
    destroy = [e for e in entries if e["action"] == "destroy"]
    assert [(e["actor"], e["key_version"], e["count"]) for e in destroy] == [("sec-officer", v1, n_v1)]
    assert veil.audit("--verify").exit_code == 0


# -- tamper detection --------------------------------------------------------------------------------

def test_tampered_segment_detected(veil, monkeypatch):
    # blocks of 16 records, so the sample's few hundred fill several (the real size is BLOCK_ROWS)
    monkeypatch.setattr("veil.vault.segments.BLOCK_ROWS", 16)
    v1 = active_version(veil.cli, veil.keyring)
    veil.run("o1")
    pairs = dict(email_pairs(SAMPLES_CSV, veil.tmp / "o1"))
    sid, _, _, table = veil.store.segments(domain="email", version=v1)[0]
    i = 5
    token = table.column("pseudonym")[i].as_py()
    original = pairs[token]
    cts = table.column("ct").to_pylist()
    ct = bytearray(cts[i])
    ct[len(ct) // 2] ^= 0x01
    cts[i] = bytes(ct)
    idx = table.schema.get_field_index("ct")
    veil.store.write_segment(sid, table.set_column(idx, table.schema.field(idx), pa.array(cts, pa.binary())))

    # records are sealed in blocks: the error names the block's records, record i among them
    starts = [k for k, t in enumerate(table.column("tag").to_pylist() + [b""]) if t is not None]
    assert len(starts) > 2, "the sample should fill several blocks"
    s, e = next((s, e) for s, e in zip(starts, starts[1:], strict=False) if s <= i < e)
    block = f"records {s}-{e - 1} of segment {sid}"
    res = veil.reveal(token)
    assert res.exit_code == 8
    assert "authentication failed" in res.stderr
    assert veil.store.label in res.stderr
    assert block in res.stderr
    assert res.stdout == ""
    assert original not in res.stdout + res.stderr

    other = table.column("pseudonym")[e].as_py()  # the next block's first record
    ok = veil.reveal(other)
    assert ok.exit_code == 0 and ok.stdout == f"{other}\t{pairs[other]}\n"

    rotate(veil.cli, veil.keyring)
    res = veil.rekey(veil.tmp / "o1", v1, veil.tmp / "o3")
    assert res.exit_code == 8
    assert "authentication failed" in res.stderr and veil.store.label in res.stderr
    assert block in res.stderr
    assert original not in res.stdout + res.stderr
    assert not (veil.tmp / "o3").exists()
    assert not [p for p in veil.tmp.iterdir() if p.name.startswith(".veil-tmp-")]


@pytest.mark.parametrize("field", ["pseudonym", "context", "blind", "subject", "tag"])
def test_edited_record_fields_detected(veil, field):
    """Every stored field of a record is authenticated: swapping two records' pseudonyms (a record
    moved), or editing a context, a blind index (and so the dedup key made from them), a subject
    or a tag, fails the block's tag on reveal."""
    v1 = active_version(veil.cli, veil.keyring)
    veil.run("o1")
    sid, _, _, table = veil.store.segments(domain="email", version=v1)[0]
    values = table.column(field).to_pylist()
    i = 3
    if field == "pseudonym":
        values[i], values[i + 1] = values[i + 1], values[i]
    elif field == "tag":
        values[0] = bytes([values[0][0] ^ 1]) + values[0][1:]
    elif field == "subject":
        values[i] = b"\x01" * 16
    elif field == "context":
        values[i] += "1"
    else:
        values[i] = bytes([values[i][0] ^ 1]) + values[i][1:]
    idx = table.schema.get_field_index(field)
    field_type = table.schema.field(idx)
    veil.store.write_segment(sid, table.set_column(idx, field_type, pa.array(values, field_type.type)))
    res = veil.reveal(table.column("pseudonym")[i].as_py())
    assert res.exit_code == 8, res.output
    assert "authentication failed" in res.stderr and f"of segment {sid}" in res.stderr
    assert res.stdout == ""


def test_damaged_segment_detected(veil):
    veil.run("o1")
    sid, *_ = veil.store.segments(domain="email")[0]
    veil.store.execute("UPDATE veil_segments SET data = ? WHERE id = ?", [b"not an arrow stream", sid])
    token = column(veil.tmp / "o1", "customers", "email")[0]
    res = veil.reveal(token)
    assert res.exit_code == 8
    assert f"segment {sid}" in res.stderr and "damaged" in res.stderr


def test_vault_file_readable_by_others_refused(cli, keyring, vault_profile, tmp_path):
    vault = tmp_path / "vaultdir" / "vault.db"
    run_ok(cli, SAMPLES_CSV, tmp_path / "o1", vault_profile, keyring, "--vault", vault)
    assert stat.S_IMODE(vault.stat().st_mode) == 0o600
    os.chmod(vault, 0o640)
    res = cli("vault", "audit", "--keyring", keyring, "--vault", vault)
    assert res.exit_code == 8
    assert "accessible by other users" in res.stderr and str(vault) in res.stderr


def test_csv_reveal_round_trip_every_customer(veil):
    """Every customers.email pseudonym of a run reveals to its own original."""
    veil.run("o1")
    pairs = email_pairs(SAMPLES_CSV, veil.tmp / "o1")
    listing = veil.tmp / "all.txt"
    listing.write_text("\n".join(p for p, _ in pairs))
    res = veil.reveal(extra=("--from-file", listing))
    assert res.exit_code == 0, res.output
    assert _reveal_lines(res.stdout) == pairs
    with (veil.tmp / "o1" / "customers.csv").open(encoding="utf-8-sig", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(pairs)


# -- dedup and encryption units ----------------------------------------------------------------------

BLIND_KEY, CONTEXT_KEY, CONTEXT_BLOCK_KEY = b"k" * 32, b"c" * 32, b"e" * 32


def _context_key(c: str) -> bytes:
    """docs/keys.md: up to 15 UTF-8 bytes zero-padded plus the length, or 15 bytes of HMAC plus 0xFF,
    encrypted as one AES-256 block; zero for the empty context."""
    import hmac as std_hmac

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    b = c.encode()
    if not b:
        return bytes(16)
    block = b.ljust(15, b"\0") + bytes([len(b)]) if len(b) <= 15 else \
        std_hmac.digest(CONTEXT_KEY, b, "sha256")[:15] + b"\xff"
    return Cipher(algorithms.AES(CONTEXT_BLOCK_KEY), modes.ECB()).encryptor().update(block)


def _plain(rows: list[tuple[str, str, bytes, bytes | None]]) -> pa.RecordBatch:
    """Plain vault records: blind indexes under BLIND_KEY; dedup key = blind XOR the context's key."""
    import hmac as std_hmac

    from veil.vault import PLAIN_SCHEMA

    blinds = [std_hmac.digest(BLIND_KEY, o, "sha256")[:16] for _, _, o, _ in rows]
    ctx_keys = [_context_key(c) for _, c, _, _ in rows]
    keys = [bytes(a ^ b for a, b in zip(x, y, strict=True)) for x, y in zip(blinds, ctx_keys, strict=True)]
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    return pa.RecordBatch.from_arrays([pa.array(cols[0], pa.string()), pa.array(cols[1], pa.string()),
                                       pa.array(cols[2], pa.binary()), pa.array(blinds, pa.binary(16)),
                                       pa.array(keys, pa.binary(16)), pa.array(cols[3], pa.binary(16))],
                                      schema=PLAIN_SCHEMA)


class _ContextKeys:
    def index_key(self, purpose: str, domain: str = "") -> bytes:
        return {("context", ""): CONTEXT_KEY, ("context-block", ""): CONTEXT_BLOCK_KEY}[(purpose, domain)]


@given(st.lists(st.text(max_size=24), max_size=40))
def test_context_keys_known_answer_and_one_to_one(contexts):
    """context_keys gives the documented 16 bytes per context (short ones inline, the empty one all
    zero, long ones hashed), and different contexts get different keys; also on a sliced array."""
    from veil.vault import context_keys

    arr = pa.array(["pad"] + contexts, pa.string()).slice(1)
    got = context_keys(_ContextKeys(), arr).to_pylist()
    assert got == [_context_key(c) for c in contexts]
    assert len(set(got)) == len(set(contexts))
    assert all(k == bytes(16) for k, c in zip(got, contexts, strict=True) if c == "")


def test_fresh_matches_the_record_by_record_rule(tmp_path):
    """Vault.fresh keeps exactly what the record-by-record rule keeps: a record is its (original,
    context); a linked one is kept unless held linked (so even when held unlinked), an unlinked one
    unless held at all, where held means stored by an earlier run, or, for a record without a
    context, kept earlier in this run. Repeats within a batch are all kept. Three runs of random
    batches (all linked, none, mixed; pseudonyms shared by two originals), each run's records stored
    and committed, against a model written from that rule."""
    import random

    import numpy as np

    from veil.keys import new_keyring
    from veil.vault import Vault, encrypt_records
    from veil.vault.backends import open_backend

    rng = random.Random(7)
    keys = new_keyring()
    stored: set[tuple[bytes, str]] = set()
    stored_linked: set[tuple[bytes, str]] = set()
    subject = b"s" * 16
    for _ in range(3):
        vault = Vault(open_backend(str(tmp_path / "v.db")), keys, "test")
        run: set[tuple[bytes, str]] = set()  # kept by this run, without a context
        run_linked: set[tuple[bytes, str]] = set()
        kept_now: list[tuple] = []
        for _ in range(30):
            kind = rng.choice(["none", "all", "mixed"])
            rows = []
            for _ in range(rng.randint(0, 12)):
                linked = kind == "all" or (kind == "mixed" and rng.random() < 0.5)
                k = rng.randint(0, 15)
                rows.append((f"p{k % 10}", rng.choice(["", "", "c1", "c2"]), f"o{k}".encode(),
                             subject if linked else None))
            expect = [(o, c) not in ((stored_linked | run_linked) if s is not None else (stored | run))
                      for _, c, o, s in rows]
            plain = _plain(rows)
            dedup = np.frombuffer(b"".join(plain.column("key").to_pylist()), np.uint8).reshape(len(rows), 16)
            keep = vault.fresh("d", keys.active_version, dedup, np.array([s is not None for *_, s in rows], bool),
                               np.array([c == "" for _, c, _, _ in rows], bool))
            kept = [r for r, k in zip(rows, keep.tolist(), strict=True) if k]
            assert kept == [r for r, new in zip(rows, expect, strict=True) if new], (kind, rows)
            if kept:
                got = plain.filter(pa.array(keep))
                vault.store("d", keys.active_version, encrypt_records(keys, "d", keys.active_version, got))
            for _, c, o, s in kept:
                kept_now.append((o, c, s))
                if c == "":
                    run.add((o, c))
                    if s is not None:
                        run_linked.add((o, c))
        vault.commit()
        vault.close()
        stored |= {(o, c) for o, c, _ in kept_now}
        stored_linked |= {(o, c) for o, c, s in kept_now if s is not None}


def _expected_aad(domain: str, version: str, recs: list[tuple[str, str, bytes, bytes, bytes, bytes | None]]) -> bytes:
    """A block's associated data, as docs/keys.md describes it (written here independently)."""
    import struct

    u32 = struct.Struct("<I").pack
    d, v = domain.encode(), version.encode()
    parts = [b"veil-vault/v2\0", u32(len(d)), d, u32(len(v)), v, u32(len(recs))]
    parts += [u32(len(o)) for _, _, o, *_ in recs]
    parts += [u32(len(p.encode())) for p, *_ in recs]
    parts += [u32(len(c.encode())) for _, c, *_ in recs]
    parts += [p.encode() for p, *_ in recs] + [c.encode() for _, c, *_ in recs]
    parts += [b for *_, b, _, _ in recs] + [k for *_, k, _ in recs]
    parts += [bytes([s is not None]) for *_, s in recs] + [s or bytes(16) for *_, s in recs]
    return b"".join(parts)


def test_encrypt_records_known_layout_and_round_trip(tmp_path):
    """Records are sealed in blocks of BLOCK_ROWS: one fresh nonce per block, and each block's ciphertext and tag
    are AES-GCM over its originals end to end, with the associated data of docs/keys.md; the vault
    reads every original back (reveal and rekey paths)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from veil.keys import derive, new_keyring
    from veil.vault import BLOCK_ROWS, Vault, dedup_keys, encrypt_records
    from veil.vault.backends import open_backend

    keys = new_keyring()
    v = keys.active_version
    aes = AESGCM(derive(keys.vault_key(v), "vault", "email"))
    for m, originals in enumerate(([f"o{i}".encode() for i in range(600)], [b"same", b"", b"same", b"x"] * 5,
                                   [b"\xff\x00"])):
        n = len(originals)
        rows = [(f"p{i}", "ctx" if i % 2 else "", o, b"s" * 16 if i % 3 == 0 else None)
                for i, o in enumerate(originals)]
        plain = _plain(rows)
        # the keyring's own dedup keys: a stored segment has none, the vault makes them again
        plain = plain.set_column(4, "key", dedup_keys(keys, plain.column("blind"), plain.column("context")))
        recs = encrypt_records(keys, "email", v, plain)
        nonces, tags, cts = (recs.column(c).to_pylist() for c in ("nonce", "tag", "ct"))
        starts = list(range(0, n, BLOCK_ROWS))
        assert [i for i, x in enumerate(nonces) if x is not None] == starts
        assert [i for i, x in enumerate(tags) if x is not None] == starts
        assert len({nonces[s] for s in starts}) == len(starts)
        blinds, dedup = recs.column("blind").to_pylist(), recs.column("key").to_pylist()
        for s in starts:
            e = min(s + BLOCK_ROWS, n)
            block = [r[:3] + (blinds[i], dedup[i], r[3]) for i, r in zip(range(s, e), rows[s:e], strict=True)]
            sealed = aes.encrypt(nonces[s], b"".join(originals[s:e]), _expected_aad("email", v, block))
            assert b"".join(cts[s:e]) + tags[s] == sealed
            assert [len(c) for c in cts[s:e]] == [len(o) for o in originals[s:e]]
        vault = Vault(open_backend(str(tmp_path / f"v{m}.db")), keys, "test")
        vault.store("email", v, recs)
        vault.commit()
        mapping, _ = vault.load_map("email", v)
        assert mapping == {f"{p}\0{c}": o for p, c, o, _ in rows}
        found = vault.lookup("email", v, ["p1", f"p{n - 1}"])
        assert found == {f"p{i}": [originals[i]] for i in {min(1, n - 1), n - 1}}
        vault.close()


def test_blind_index_hmac_is_hmac_sha256():
    """veil's HMAC-SHA256 (CPython's SHA-256 when present), used by operators and blind indexes, gives
    hmac.digest's bytes for every key and value length."""
    import hmac as std_hmac

    from veil.hmacs import hmac_sha256_many
    from veil.vault import blind_indexes

    values = [b"", b"a", b"j.mueller@gmx.de", "Zoë Łukasz".encode(), bytes(range(256)) * 3]
    for key in (b"", b"k" * 32, b"x" * 64, b"y" * 65, bytes(range(200))):
        expected = [std_hmac.digest(key, v, "sha256") for v in values]
        assert hmac_sha256_many(key, values) == expected
        assert blind_indexes(key, values) == [d[:16] for d in expected]


def test_segment_layouts_never_released_refused_as_damaged(veil):
    """veil reads one stored segment format (STORED_SCHEMA, indexes sealed to the version): a segment
    in a layout of an unreleased build (a nonce per record and no tag; in-memory SEGMENT_SCHEMA,
    wide with the dedup keys; the stored columns with indexes not sealed) is a damaged segment:
    exit 8 naming it, no traceback, nothing printed."""
    from veil.vault import STORED_SCHEMA

    veil.run("o1")
    sid, _, _, table = veil.store.segments(domain="email")[0]
    n = table.num_rows
    per_record = pa.table({"pseudonym": table.column("pseudonym"), "context": table.column("context"),
                           "blind": table.column("blind"), "nonce": pa.array([b"\0" * 12] * n, pa.binary(12)),
                           "ct": pa.array([b"\0" * 20] * n, pa.binary()), "subject": table.column("subject")})
    raw = veil.store.query("SELECT data FROM veil_segments WHERE id = ?", [sid])[0][0]
    stored = pa.ipc.open_stream(bytes(raw)).read_all()
    unsealed = stored.replace_schema_metadata(None)
    assert unsealed.schema == STORED_SCHEMA
    for layout in (per_record, table, unsealed):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, layout.schema) as w:  # as it is, not as veil stores it
            w.write_table(layout)
        veil.store.execute("UPDATE veil_segments SET data = ? WHERE id = ?", [sink.getvalue().to_pybytes(), sid])
        res = veil.reveal(table.column("pseudonym")[0].as_py())
        assert res.exit_code == 8, res.output
        assert f"vault segment {sid} (domain email" in res.stderr and "is damaged" in res.stderr
        assert "Traceback" not in res.stderr and res.stdout == ""


def test_segments_stored_compact(veil):
    """On disk a segment has a variable-length subject, one 28-byte seal (nonce, tag) per block,
    on the block's first record only, and no dedup keys (made again on reading)."""
    from veil.vault import STORED_SCHEMA

    veil.run("o1")
    pairs = dict(email_pairs(SAMPLES_CSV, veil.tmp / "o1"))
    sid, _, _, table = veil.store.segments(domain="email")[0]
    raw = veil.store.query("SELECT data FROM veil_segments WHERE id = ?", [sid])[0][0]
    stored = pa.ipc.open_stream(bytes(raw)).read_all()
    assert stored.schema == STORED_SCHEMA
    seals = stored.column("seal").to_pylist()
    starts = [i for i, x in enumerate(table.column("nonce").to_pylist()) if x is not None]
    assert [i for i, x in enumerate(seals) if x is not None] == starts
    assert all(seals[i] == table.column("nonce")[i].as_py() + table.column("tag")[i].as_py() for i in starts)
    assert len(bytes(raw)) < table.nbytes  # the null slots are not stored
    counts = []  # subjects take 16 bytes where linked, none where not
    for seg_id, _, _, seg in veil.store.segments():
        data = veil.store.query("SELECT data FROM veil_segments WHERE id = ?", [seg_id])[0][0]
        subjects = pa.ipc.open_stream(bytes(data)).read_all().column("subject").combine_chunks()
        # stored sealed to the segment's key version (test_keys_hardening checks the sealing)
        assert [x is None for x in subjects.to_pylist()] == [x is None for x in seg.column("subject").to_pylist()]
        linked = len(subjects) - subjects.null_count
        assert len(subjects.buffers()[2] or b"") == 16 * linked
        counts.append((linked, subjects.null_count))
    assert any(a for a, _ in counts) and any(b for _, b in counts)
    assert "key" not in stored.schema.names
    # dedup keys are made again from blind index and context, records with a context among them
    # (test_segment_keys_beside_the_segments_and_without_them checks them against the run's)
    assert any(c for *_, t in veil.store.segments() for c in t.column("context").to_pylist())

    token = table.column("pseudonym")[3].as_py()
    res = veil.reveal(token)
    assert res.exit_code == 0, res.output
    assert res.stdout == f"{token}\t{pairs[token]}\n"


@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 3), st.booleans()), max_size=60),
       st.integers(1, 4))
def test_keyset_matches_a_set(keys, batches):
    """KeySet (open addressing) against a Python model, with a table small enough to collide, probe
    and grow: every key held is found with its link state, no other is; repeats in a batch; zero keys."""
    import numpy as np

    from veil.vault import KeySet

    class Tiny(KeySet):
        MIN_BITS = 1

    ks, model = Tiny(), {}
    chunk = max(1, len(keys) // batches)
    for i in range(0, len(keys), chunk):
        part = keys[i:i + chunk]
        # the top bits pick the home slot: few distinct values force collisions and long probes
        hi = np.array([h << 61 for h, _, _ in part], np.uint64)
        lo = np.array([lo for _, lo, _ in part], np.uint64)
        ks.add(hi, lo, np.array([linked for *_, linked in part], bool))
        for h, lo_, linked in part:
            model[(h, lo_)] = max(model.get((h, lo_), 0), 2 if linked else 1)
        assert ks.n == len(model)
        assert 2 * ks.n <= len(ks.state)
    probe = [(h, lo) for h in range(8) for lo in range(4)]
    state = ks.find(np.array([h << 61 for h, _ in probe], np.uint64), np.array([lo for _, lo in probe], np.uint64))
    assert {k: st for k, st in zip(probe, state.tolist(), strict=True) if st} == model
    # the same keys laid out in one pass (repeats once, linked if any copy is) hold the same
    hi = np.array([h << 61 for h, _, _ in keys], np.uint64)
    bulk = Tiny(hi, np.array([lo for _, lo, _ in keys], np.uint64), np.array([ln for *_, ln in keys], bool))
    state = bulk.find(np.array([h << 61 for h, _ in probe], np.uint64), np.array([lo for _, lo in probe], np.uint64))
    assert {k: st for k, st in zip(probe, state.tolist(), strict=True) if st} == model
    assert bulk.n == len(model)


@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 2**58 - 1)), max_size=200))
def test_argsort64_is_a_stable_argsort(parts):
    """The fast argsort of uint64 keys equals numpy's stable argsort, ties and near-ties included
    (values sharing their high bits, equal values, the top and bottom of the range)."""
    import numpy as np

    from veil.vault import argsort64

    values = np.array([(top << 61) | (low & 7 if top % 2 else low) for top, low in parts], np.uint64)
    assert argsort64(values).tolist() == np.argsort(values, kind="stable").tolist()


def test_records_with_a_context_across_batches_and_runs(veil):
    """`fake` records carry the row's primary key as context. A key value repeated within a batch
    gives one record; repeated in a later batch of the same run, a second copy (documented: not
    checked against the run's own records); a second run writes none; reveal shows each original once."""
    src = veil.tmp / "people"
    src.mkdir()
    (src / "people.csv").write_text("id,first_name\n1,Anna\n2,Bernd\n2,Bernd\n3,Anna\n1,Anna\n2,Carla\n",
                                    encoding="utf-8")
    profile = veil.tmp / "people.yaml"
    profile.write_text("version: 1\ntables:\n  people:\n    primary_key: [id]\n    columns:\n      id: keep\n"
                       "      first_name: {op: fake, kind: first_name, reversible: true}\n", encoding="utf-8")

    def run(name: str) -> dict:
        return run_ok(veil.cli, src, veil.tmp / name, profile, veil.keyring, "--vault", veil.store.spec,
                      "--batch-size", "3")

    # batch 1: (1 Anna) (2 Bernd) (2 Bernd) -> 2 records; batch 2: (3 Anna) (1 Anna) (2 Carla) -> 3
    assert run("p1")["totals"]["vault_records_written"] == 5
    assert run("p2")["totals"]["vault_records_written"] == 0
    rows = [(c, p) for *_, t in veil.store.segments(domain="people.first_name")
            for p, c in zip(t.column("pseudonym").to_pylist(), t.column("context").to_pylist(), strict=True)]
    assert sorted(c for c, _ in rows) == ["1", "1", "2", "2", "3"]
    out = column(veil.tmp / "p1", "people", "first_name")
    names = column(src, "people", "first_name")
    res = veil.reveal(out[0], domain="people.first_name")
    assert res.exit_code == 0, res.output
    assert _reveal_lines(res.stdout) == [(out[0], o) for o in dict.fromkeys(
        n for n, p in zip(names, out, strict=True) if p == out[0])]


_WORDS = ["ann@x.org", "b@y.com", "Zoë", "李", "", "j.mueller@gmx.de"]


@given(rows=st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(_WORDS)), st.booleans(),
                               st.integers(0, 3)), min_size=1, max_size=40),
       op=st.sampled_from([("pseudonymize", {"format": "email"}), ("fake", {"kind": "first_name"}),
                           ("pseudonymize", {"format": "digits"})]),
       shape=st.sampled_from(["plain", "unique-context", "repeated-context", "subject"]))
def test_vault_records_reuse_the_operators_blind_indexes(rows, op, shape):
    """Records built from the operator's own blind indexes (its distinct values, rows dropped as for
    forgotten subjects) are the records built by hashing every original again, in every shape: one
    per distinct original, one per row (a unique context), grouped (repeated contexts), linked."""
    from types import SimpleNamespace

    import numpy as np

    from veil.keys import Keyring
    from veil.ops import OPERATORS, OpContext
    from veil.pipeline import RowContext, RunContext, vault_part, vault_records
    from veil.vault import rows16

    keys = Keyring.for_testing(bytes(range(32)))
    name, params = op
    values = pa.array([v for v, _, _ in rows], pa.string())
    kept = pa.array([k for _, k, _ in rows])
    ctx = OpContext(keys, "dom", OPERATORS[name].with_defaults(params), "t", "c", None, 0, None)
    out = OPERATORS[name].apply(values, ctx)
    if values.null_count == len(values):
        assert ctx.distinct is None
        return
    assert ctx.distinct is not None
    context = subject = None
    raw_context = pa.nulls(len(rows), pa.string())  # the output's context column, as the main process reads it
    if shape == "unique-context":
        raw_context = pa.array([str(i) for i in range(len(rows))])
        context = RowContext.of(keys, raw_context)
    elif shape == "repeated-context":  # a null or empty primary key is no context
        raw_context = pa.array([[None, "", "a", "long context of more than 15 bytes"][g] for _, _, g in rows])
        context = RowContext.of(keys, raw_context)
    elif shape == "subject":
        subject = pa.array([bytes([g]) * 16 if g else None for _, _, g in rows], pa.binary(16))
    inp, out = values.filter(kept), out.filter(kept)
    context = context.filter(kept) if context is not None else None
    subject = subject.filter(kept) if subject is not None else None
    column = SimpleNamespace(name="c", domain="dom", key_version="v1", vault_context="k" if context else None)
    run = RunContext(keys, vault=True)
    inp_batch = pa.RecordBatch.from_arrays([inp], ["c"])
    out_batch = pa.RecordBatch.from_arrays([out, raw_context.filter(kept)], ["c", "k"])
    contexts = {"k": rows16(context.key)} if context else {}

    def records(distinct):
        part = vault_part(column, inp, out, context, subject, run, distinct)
        if part is None:
            return None
        [(domain, version, plain)] = vault_records([part], inp_batch, out_batch, contexts, subject)
        assert (domain, version) == ("dom", "v1")
        return sorted(plain.to_pylist(), key=repr)

    reused, hashed = records(ctx.distinct.filter(kept)), records(None)
    assert reused == hashed
    if hashed is None:
        assert inp.null_count == len(inp)
        return
    # with a selection (Vault.fresh), it sees every record's dedup key, link and lack of context,
    # and only the records it keeps are built
    part = vault_part(column, inp, out, context, subject, run, ctx.distinct.filter(kept))
    [(_, _, every)] = vault_records([part], inp_batch, out_batch, contexts, subject)
    seen = []

    def select(domain, version, dedup, linked, no_context):
        seen.append((dedup.tobytes(), linked.tolist(), no_context.tolist()))
        return np.arange(len(dedup)) % 2 == 0

    chosen = vault_records([part], inp_batch, out_batch, contexts, subject, select)
    every = every.to_pylist()
    assert seen == [(b"".join(r["key"] for r in every), [r["subject"] is not None for r in every],
                     [r["context"] == "" for r in every])]
    assert len(chosen) == 1 and chosen[0][2].to_pylist() == every[::2]
    assert vault_records([part], inp_batch, out_batch, contexts, subject, lambda *a: np.zeros(len(a[2]), bool)) == []
    # each record is right: its original's pseudonym, blind index, context and dedup key
    blind = {v: hmac.new(keys.index_key("blind", "dom"), v.encode(), "sha256").digest()[:16]
             for v in inp.to_pylist() if v is not None}
    expected = {(o, p, c, s) for o, p, c, s in zip(
        inp.to_pylist(), out.to_pylist(), (context.text.to_pylist() if context else [""] * len(inp)),
        (subject.to_pylist() if subject is not None else [None] * len(inp)), strict=True) if o is not None}
    assert len(hashed) == len(expected)
    assert {(r["original"].decode(), r["pseudonym"], r["context"], r["subject"]) for r in hashed} == expected
    ctx_key = dict(zip(context.text.to_pylist(), context.key.to_pylist(), strict=True)) if context else {}
    for r in hashed:
        b = blind[r["original"].decode()]
        assert r["blind"] == b
        k = ctx_key.get(r["context"])
        assert r["key"] == (bytes(x ^ y for x, y in zip(b, k, strict=True)) if k else b)


def test_segment_keys_beside_the_segments_and_without_them(veil):
    """Each segment's dedup keys and subject links are stored apart (veil_segment_keys: 16 bytes a
    record, then a bit each, numpy packbits order), so a run reads them alone; forget rewrites them
    with their segment. A segment without them (an earlier veil) or with keys of the wrong size is
    read whole: a second run still writes no record."""
    import numpy as np

    from veil.keys import load_keyring
    from veil.vault import ecb, index_seal

    def check() -> dict[int, bytes]:
        keys = {int(sid): bytes(blob) for sid, blob in veil.store.query("SELECT segment, keys FROM veil_segment_keys")}
        segs = veil.store.segments()
        assert set(keys) == {sid for sid, *_ in segs}
        ring = load_keyring(veil.keyring)
        for sid, dom, ver, t in segs:
            linked = np.array([s is not None for s in t.column("subject").to_pylist()])
            # the keys sealed to the segment's version (one AES block each), then a byte 1
            sealed = ecb(index_seal(ring, dom, ver), np.frombuffer(b"".join(t.column("key").to_pylist()), np.uint8)
                          .reshape(-1, 16)).tobytes()
            assert keys[sid] == sealed + np.packbits(linked).tobytes() + b"\x01"
        return keys

    veil.run("o1")
    check()
    _, customer, _ = _pick_customer(_input_rows())
    assert veil.forget(customer["email"]).exit_code == 0
    keys = check()
    ids = sorted(keys)
    veil.store.execute("DELETE FROM veil_segment_keys WHERE segment = ?", [ids[0]])
    veil.store.execute("UPDATE veil_segment_keys SET keys = ? WHERE segment = ?", [keys[ids[-1]][:-2], ids[-1]])
    assert veil.run("o2")["totals"]["vault_records_written"] == 0


def test_keyset_reserve_makes_room_once():
    """reserve(n) lays the table out once for n more keys: adding them grows it no more, and every
    key is found (the keys held before the reserve too)."""
    import numpy as np

    from veil.vault import KeySet

    rng = np.random.default_rng(7)
    hi, lo = rng.integers(0, 2**64, 50_000, dtype=np.uint64), rng.integers(0, 2**64, 50_000, dtype=np.uint64)
    ks = KeySet(hi[:1000], lo[:1000], np.zeros(1000, bool))
    ks.reserve(49_000)
    bits = ks.bits
    for i in range(1000, 50_000, 7_000):
        ks.add(hi[i:i + 7_000], lo[i:i + 7_000], np.zeros(len(hi[i:i + 7_000]), bool))
    assert ks.bits == bits and ks.n == 50_000
    assert (ks.find(hi, lo) == 1).all()


def test_reveal_makes_dedup_keys_for_the_blocks_it_opens_only(tmp_path, monkeypatch):
    """A stored segment holds no dedup keys; a look-up makes them (an HMAC each for long contexts)
    for the records of the blocks it decrypts, not for the whole segment."""
    import veil.vault.segments as vault_mod
    from veil.keys import new_keyring
    from veil.vault import Vault, encrypt_records
    from veil.vault.backends import open_backend

    monkeypatch.setattr(vault_mod, "BLOCK_ROWS", 16)
    keys = new_keyring()
    v = keys.active_version
    rows = [(f"p{i}", f"a context of more than fifteen bytes {i}", f"o{i}".encode(), None) for i in range(40)]
    plain = _plain(rows)
    plain = plain.set_column(4, "key", vault_mod.dedup_keys(keys, plain.column("blind"), plain.column("context")))
    vault = Vault(open_backend(str(tmp_path / "v.db")), keys, "test")
    vault.store("d", v, encrypt_records(keys, "d", v, plain))
    vault.commit()
    made = []
    real = vault_mod.dedup_keys

    def counting(keys_, blinds, contexts):
        made.append(len(blinds))
        return real(keys_, blinds, contexts)

    monkeypatch.setattr(vault_mod, "dedup_keys", counting)
    assert vault.lookup("d", v, ["p20"]) == {"p20": [b"o20"]}
    assert made == [16]  # the block of records 16-31
    made.clear()
    assert len(vault.load_map("d", v)[0]) == 40
    assert made == [40]
    vault.close()
