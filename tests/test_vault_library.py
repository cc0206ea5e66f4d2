"""The library keeps its own audit promises (issue 15 point 5), with no CLI: Vault.reveal,
Vault.forget, destroy_version and a run's commit each write their audit entry (and commit it),
so a library user cannot re-identify, forget or shred without a trace."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from veil.errors import KeyringError
from veil.keys import ACTIVE, DESTROYED, init_keyring, load_keyring
from veil.vault import (
    PLAIN_SCHEMA,
    Vault,
    blind_indexes,
    blind_key,
    dedup_keys,
    destroy_version,
    encrypt_records,
    forget_note,
    open_vault,
)

DOMAIN = "email"


def _records(keys, version: str, pairs: list[tuple[str, str]]) -> pa.RecordBatch:
    """Sealed records (no context, no subject) of (pseudonym, original) pairs, as a run makes them."""
    originals = [o.encode() for _, o in pairs]
    blinds = pa.array(blind_indexes(blind_key(keys, DOMAIN), originals), pa.binary(16))
    contexts = pa.array([""] * len(pairs), pa.string())
    plain = pa.RecordBatch.from_arrays(
        [pa.array([p for p, _ in pairs], pa.string()), contexts, pa.array(originals, pa.binary()), blinds,
         dedup_keys(keys, blinds, contexts), pa.nulls(len(pairs), pa.binary(16))], schema=PLAIN_SCHEMA)
    return encrypt_records(keys, DOMAIN, version, plain)


@pytest.fixture
def two_versions(tmp_path):
    """A keyring file with a retired v1 and an active v2, and a vault holding two records of each,
    each version's written as a run writes them (record_run, store, commit)."""
    ring_path = tmp_path / "keys" / "ring.json"
    ring_path.parent.mkdir()
    v1 = init_keyring(ring_path)
    ring = load_keyring(ring_path)
    v2 = ring.rotate()
    ring.save()
    vault_path = tmp_path / "v.db"
    vault = open_vault(vault_path, ring)
    for v, tag in ((v1, "a"), (v2, "b")):
        vault.record_run("run", purpose=f"run {tag}", version=v)
        vault.store(DOMAIN, v, _records(ring, v, [(f"p{tag}1", f"{tag}1@example.org"), (f"p{tag}2", "x@example.org")]))
        vault.commit()
    vault.close()
    return ring_path, vault_path, v1, v2


def _entries(ring_path: Path, vault_path: Path) -> list[dict]:
    """The audit log as a fresh connection sees it: only what was committed."""
    vault = open_vault(vault_path, load_keyring(ring_path), create=False, pending_ok=True)
    try:
        return vault.audit_entries()
    finally:
        vault.close()


def _verify(ring_path: Path, vault_path: Path) -> list[str]:
    ring = load_keyring(ring_path)
    vault = open_vault(vault_path, ring, create=False)
    try:
        return vault.verify({kv.id: kv.status for kv in ring.versions()})[1]
    finally:
        vault.close()


def test_run_commit_writes_its_audit_entry_with_the_records(two_versions):
    """record_run: the commit that stores a run's records writes its "run" entry, counting them, in the
    same transaction (so a crash between the two cannot leave records the log does not account for);
    a rolled-back run writes none."""
    ring_path, vault_path, v1, v2 = two_versions
    runs = [e for e in _entries(ring_path, vault_path) if e["action"] == "run"]
    assert [(e["key_version"], e["count"], e["purpose"]) for e in runs] == [(v1, 2, "run a"), (v2, 2, "run b")]
    assert _verify(ring_path, vault_path) == []

    ring = load_keyring(ring_path)
    vault = open_vault(vault_path, ring)
    vault.record_run("run", purpose="run c", version=v2)
    vault.store(DOMAIN, v2, _records(ring, v2, [("pc1", "c1@example.org")]))
    vault.rollback()
    vault.commit()  # nothing pending: no entry
    vault.close()
    assert [e["purpose"] for e in _entries(ring_path, vault_path) if e["action"] == "run"] == ["run a", "run b"]


def test_reveal_writes_one_entry_per_version_and_commits_it(two_versions):
    ring_path, vault_path, v1, v2 = two_versions
    vault = open_vault(vault_path, load_keyring(ring_path))
    found = vault.reveal(DOMAIN, ["pa1", "pb1", "nobody"], purpose="ticket 9", actor="alice")  # every live version
    vault.close()  # no commit by the caller
    assert found == {"pa1": [b"a1@example.org"], "pb1": [b"b1@example.org"]}
    reveals = [e for e in _entries(ring_path, vault_path) if e["action"] == "reveal"]
    # one entry per version with hits, in the vault's order of versions (their names: random ids)
    assert sorted((e["key_version"], e["count"], e["purpose"], e["actor"], e["domain"]) for e in reveals) == \
        sorted([(v1, 1, "ticket 9", "alice", DOMAIN), (v2, 1, "ticket 9", "alice", DOMAIN)])

    vault = open_vault(vault_path, load_keyring(ring_path))
    assert vault.reveal(DOMAIN, ["nobody"], purpose="ticket 10", versions=[v2]) == {}
    vault.close()
    last = _entries(ring_path, vault_path)[-1]
    assert (last["action"], last["key_version"], last["count"], last["purpose"]) == ("reveal", v2, 0, "ticket 10")
    assert _verify(ring_path, vault_path) == []


def test_forget_writes_its_audit_entry_and_commits_it(two_versions):
    ring_path, vault_path, v1, v2 = two_versions
    vault = open_vault(vault_path, load_keyring(ring_path))
    assert vault.forget(DOMAIN, [b"x@example.org", b"x@example.org", b"nobody"], actor="carol") == (2, 2)
    vault.close()
    last = _entries(ring_path, vault_path)[-1]
    assert (last["action"], last["domain"], last["count"], last["actor"]) == ("forget", DOMAIN, 2, "carol")
    ring = load_keyring(ring_path)
    vault = open_vault(vault_path, ring)
    assert last["purpose"] == forget_note(vault.forgotten(DOMAIN), 2)
    assert vault.reveal(DOMAIN, ["pa2", "pb2"], purpose="check") == {}
    vault.close()
    assert _verify(ring_path, vault_path) == []


def test_destroy_version_shreds_in_order_and_writes_its_audit_entries(two_versions):
    ring_path, vault_path, v1, v2 = two_versions
    ring = load_keyring(ring_path)
    assert destroy_version(ring, v1, vault_path, actor="dave") == 2  # the vault given by path: opened here
    statuses = {kv.id: kv.status for kv in load_keyring(ring_path).versions()}
    assert statuses == {v1: DESTROYED, v2: ACTIVE}  # saved
    tail = [(e["action"], e["key_version"], e["count"], e["actor"]) for e in _entries(ring_path, vault_path)][-2:]
    assert tail == [("destroy-begin", v1, 0, "dave"), ("destroy", v1, 2, "dave")]
    assert _verify(ring_path, vault_path) == []
    vault = open_vault(vault_path, load_keyring(ring_path), create=False)  # no destruction pending
    assert vault.reveal(DOMAIN, ["pa1", "pb1"], purpose="after") == {"pb1": [b"b1@example.org"]}
    vault.close()


def test_destroy_version_refuses_before_opening_the_vault(two_versions, tmp_path):
    """The active or an unknown version is refused by the keyring first: no vault opened or created,
    the keyring file unchanged; without a vault only the keyring changes."""
    ring_path, vault_path, v1, v2 = two_versions
    before = ring_path.read_bytes()
    absent = tmp_path / "absent.db"
    for version in (v2, "k-00000000"):
        with pytest.raises(KeyringError):
            destroy_version(load_keyring(ring_path), version, absent)
    assert not absent.exists() and ring_path.read_bytes() == before
    ring = load_keyring(ring_path)
    vault = Vault.__new__(Vault)  # never touched: a refused destruction opens nothing
    with pytest.raises(KeyringError):
        destroy_version(ring, v2, vault)
    assert destroy_version(ring, v1) is None
    assert {kv.id: kv.status for kv in load_keyring(ring_path).versions()}[v1] == DESTROYED


# -- a run through the library (run_plan), no CLI --------------------------------

RUN_PROFILE = """\
version: 1
tables:
  customers:
    columns:
      id: keep
      email: {op: pseudonymize, format: email, domain: email, reversible: true}
"""


def _library_run(tmp_path: Path, vault_path: Path, *, progress=None, out: str = "out"):
    import pyarrow.csv as pacsv

    from veil import compile_plan, load_profile, open_dataset, run_plan

    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    emails = [f"user{i}@example.org" for i in range(5)] + ["user0@example.org"]  # 5 distinct
    pacsv.write_csv(pa.table({"id": [str(i) for i in range(6)], "email": emails}), src / "customers.csv")
    (tmp_path / "p.yaml").write_text(RUN_PROFILE)
    ring_path = tmp_path / "keys" / "ring.json"
    if not ring_path.exists():
        ring_path.parent.mkdir()
        init_keyring(ring_path)
    ring = load_keyring(ring_path)
    dataset = open_dataset(src)
    plan = compile_plan(load_profile(tmp_path / "p.yaml"), dataset, ring.active_version)
    vault = open_vault(vault_path, ring)
    try:
        return ring_path, ring.active_version, run_plan(plan, dataset, tmp_path / out, ring, vault=vault,
                                                        progress=progress, purpose="nightly", actor="ci")
    finally:
        vault.close()


def test_run_plan_writes_the_run_entry_with_its_records(tmp_path):
    """run_plan with a vault writes exactly one "run" entry, counting the records it stored, in the
    commit that stores them (the CLI writes none of its own)."""
    vault_path = tmp_path / "v.db"
    ring_path, version, result = _library_run(tmp_path, vault_path)
    assert result.vault_records == 5
    runs = [e for e in _entries(ring_path, vault_path) if e["action"] == "run"]
    assert [(e["key_version"], e["count"], e["purpose"], e["actor"]) for e in runs] == [
        (version, 5, "nightly", "ci")]
    assert _verify(ring_path, vault_path) == []
    # a second run stores nothing new: its entry counts 0
    _library_run(tmp_path, vault_path, out="out2")
    assert [e["count"] for e in _entries(ring_path, vault_path) if e["action"] == "run"] == [5, 0]


def test_a_failed_run_plan_leaves_no_run_entry_and_no_records(tmp_path):
    vault_path = tmp_path / "v.db"

    def fail(table: str, rows: int) -> None:  # after the batch's records were stored
        raise RuntimeError("injected failure")

    with pytest.raises(RuntimeError, match="injected failure"):
        _library_run(tmp_path, vault_path, progress=fail)
    ring_path = tmp_path / "keys" / "ring.json"
    entries = _entries(ring_path, vault_path)
    assert [e for e in entries if e["action"] == "run"] == []
    vault = open_vault(vault_path, load_keyring(ring_path), create=False)
    try:
        assert vault.versions_of(DOMAIN) == []
    finally:
        vault.close()
    assert not (tmp_path / "out").exists()
    assert _verify(ring_path, vault_path) == []
