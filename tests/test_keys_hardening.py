"""Hardening of keys and the vault (issue 14): KDF bounds, reveal purposes, the keyring binding and
what `vault audit --verify` notices, interrupted destructions, blind indexes bound to their key
version, and a full disk."""

from __future__ import annotations

import base64
import json
import os
import resource
import stat
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from veil.errors import UsageError
from veil.keys import SCRYPT_MAX_MEMORY, SCRYPT_N, SCRYPT_P, SCRYPT_R, kdf_params, load_keyring
from veil.vault import blind_indexes, blind_key, open_vault

from . import vault_fixtures
from .adversarial.harness import FUZZ, invoke, snapshot
from .conftest import SAMPLES_CSV
from .test_vault import Veil
from .vault_fixtures import column, email_pairs, make_vault_profile

# pytest fixtures shared with the other vault/keys test modules
pg_url, store, vault_profile = vault_fixtures.pg_url, vault_fixtures.store, vault_fixtures.vault_profile

PASS_ENV = "VEIL_TEST_PASSPHRASE"
GOOD = {PASS_ENV: "correct horse battery staple"}


@pytest.fixture
def keydir(tmp_path) -> Path:
    d = tmp_path / "keys"
    d.mkdir()
    return d


# -- 1. KDF bounds ------------------------------------------------------------------------

def _encrypted_ring(cli, keydir) -> Path:
    path = keydir / "ring.json"
    assert cli("keys", "init", path, "--passphrase-env", PASS_ENV, env=GOOD).exit_code == 0
    return path


def test_init_writes_kdf_parameters_within_the_bounds(cli, keydir):
    doc = json.loads(_encrypted_ring(cli, keydir).read_text())
    kdf = doc["kdf"]
    assert (kdf["name"], kdf["n"], kdf["r"], kdf["p"]) == ("scrypt", SCRYPT_N, SCRYPT_R, SCRYPT_P)
    assert len(base64.b64decode(kdf["salt"])) == 16
    kdf_params(kdf, "x")  # accepted by the reader's own bounds
    assert 128 * SCRYPT_N * SCRYPT_R <= SCRYPT_MAX_MEMORY


HOSTILE_KDF = [
    ("n", 2**30), ("n", 2**21), ("n", 3 * 2**14), ("n", 0), ("n", -1), ("n", 1), ("n", "32768"), ("n", 32768.0),
    ("n", True), ("n", None), ("r", 2**20), ("r", 0), ("r", 33), ("p", 2**20), ("p", 0), ("p", 17),
    ("name", "argon2"), ("salt", ""), ("salt", "AAAA"), ("salt", base64.b64encode(b"x" * 65).decode()),
    ("salt", "not base64!"), ("salt", None),
]


@pytest.mark.parametrize(("field", "value"), HOSTILE_KDF, ids=[f"{f}={v!r}" for f, v in HOSTILE_KDF])
def test_out_of_bounds_kdf_refused_fast(cli, keydir, field, value):
    path = _encrypted_ring(cli, keydir)
    doc = json.loads(path.read_text())
    doc["kdf"][field] = value
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    t0 = time.monotonic()
    res = cli("keys", "list", "--keyring", path, "--passphrase-env", PASS_ENV, env=GOOD)
    assert res.exit_code == 6, res.output
    assert "key derivation parameters are out of bounds" in res.stderr and str(path) in res.stderr
    assert time.monotonic() - t0 < 5


def test_memory_hungry_combination_refused(cli, keydir):
    path = _encrypted_ring(cli, keydir)
    doc = json.loads(path.read_text())
    doc["kdf"].update(n=2**20, r=16)  # each within its range, 2 GiB together
    path.write_text(json.dumps(doc))
    res = cli("keys", "list", "--keyring", path, "--passphrase-env", PASS_ENV, env=GOOD)
    assert res.exit_code == 6 and "128 * n * r" in res.stderr


def test_kdf_refused_before_the_passphrase_is_asked(cli, keydir):
    path = _encrypted_ring(cli, keydir)
    doc = json.loads(path.read_text())
    doc["kdf"]["n"] = 2**30
    path.write_text(json.dumps(doc))
    res = cli("keys", "list", "--keyring", path)  # no passphrase given, no terminal
    assert res.exit_code == 6 and "out of bounds" in res.stderr


def test_bad_nonce_or_cipher_refused(cli, keydir):
    for field, value in (("nonce", base64.b64encode(b"x" * 200).decode()), ("cipher", "ROT13")):
        path = _encrypted_ring(cli, keydir)
        doc = json.loads(path.read_text())
        doc[field] = value
        path.write_text(json.dumps(doc))
        res = cli("keys", "list", "--keyring", path, "--passphrase-env", PASS_ENV, env=GOOD)
        assert res.exit_code == 6 and "damaged" in res.stderr, field
        path.unlink()


def test_in_bounds_keyring_still_opens(cli, keydir):
    path = _encrypted_ring(cli, keydir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    res = cli("keys", "list", "--keyring", path, "--passphrase-env", PASS_ENV, env=GOOD)
    assert res.exit_code == 0, res.output


# -- a small vault ----------------------------------------------------------------------------

@pytest.fixture
def shop_vault(tmp_path, keyring, cli):
    """A vault written by one run of the shop samples (reversible, customers' subject = email)."""
    (tmp_path / "profiles").mkdir()
    prof = make_vault_profile(tmp_path / "profiles")
    vault = tmp_path / "vaultdir" / "vault.db"
    out = tmp_path / "out1"
    res = cli("run", SAMPLES_CSV, "-p", prof, "--keyring", keyring, "--vault", vault, "--out", out, "-q",
              "--workers", "1")
    assert res.exit_code == 0, res.output
    return {"vault": vault, "keyring": keyring, "profile": prof, "out": out,
            "kv": ("--keyring", keyring, "--vault", vault)}


def _audit(cli, sv) -> list[dict]:
    res = cli("vault", "audit", "--json", *sv["kv"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


# -- 3. a reveal needs a purpose ---------------------------------------------------------------

@pytest.mark.parametrize("purpose", ["", " ", "\t \n", "line\nbreak", "bell\x07"])
def test_reveal_without_a_real_purpose_refused(cli, shop_vault, purpose):
    sv = shop_vault
    pseudonym = column(sv["out"], "customers", "email")[0]
    before = _audit(cli, sv)
    res = cli("vault", "reveal", "--domain", "email", "--purpose", purpose, pseudonym, *sv["kv"])
    assert res.exit_code == 2, res.output
    assert "purpose" in res.stderr and res.stdout == ""
    assert _audit(cli, sv) == before  # nothing revealed, nothing logged


def test_reveal_purpose_refused_by_the_library(shop_vault):
    sv = shop_vault
    ring = load_keyring(sv["keyring"])
    v = open_vault(sv["vault"], ring)
    pseudonym = column(sv["out"], "customers", "email")[0]
    try:
        for purpose in ("", "   ", None):
            with pytest.raises(UsageError):
                v.reveal("email", [pseudonym], purpose=purpose, versions=[ring.active_version])
            with pytest.raises(UsageError):
                v.audit("reveal", purpose=purpose, domain="email", version=ring.active_version, count=1)
        got = v.reveal("email", [pseudonym], purpose=" ticket 7 ", versions=[ring.active_version])
        assert list(got) == [pseudonym]
        assert v.audit_entries()[-1]["purpose"] == "ticket 7"
    finally:
        v.close()


# -- 6. a vault on a full disk -----------------------------------------------------------------

def _limited(limit: int):
    def preexec():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def test_vault_on_a_full_disk_says_so(cli, shop_vault, tmp_path):
    """A vault that cannot grow (RLIMIT_FSIZE in a subprocess) is "no space left" (exit 9), not
    "busy"; the vault is unchanged and still verifies, and the output does not appear."""
    sv = shop_vault
    rotated = cli("keys", "rotate", "--keyring", sv["keyring"])  # the next run adds a new version's records
    assert rotated.exit_code == 0
    before = snapshot(sv["vault"])
    out = tmp_path / "out2"
    env = dict(os.environ)
    env.pop("VEIL_DEBUG", None)
    res = subprocess.run(
        [sys.executable, "-m", "veil", "run", str(SAMPLES_CSV), "-p", str(sv["profile"]), "--out", str(out), "-q",
         "--workers", "1", "--keyring", str(sv["keyring"]), "--vault", str(sv["vault"])],
        capture_output=True, text=True, env=env, timeout=300,
        preexec_fn=_limited(sv["vault"].stat().st_size + 1000))
    assert res.returncode == 9, res.stderr
    assert "no space left" in res.stderr and str(sv["vault"]) in res.stderr and "busy" not in res.stderr
    assert "Traceback" not in res.stderr
    assert snapshot(sv["vault"]) == before
    assert not out.exists()
    res = cli("vault", "audit", "--verify", *sv["kv"])
    assert res.exit_code == 0, res.output


# -- 4. what `vault audit --verify` notices ------------------------------------------------------

@pytest.fixture
def veil(cli, keyring, store, vault_profile, tmp_path) -> Veil:
    """A vault (SQLite and PostgreSQL) after a run, a forget and a reveal; verify passes."""
    v = Veil(cli, keyring, store, vault_profile, tmp_path)
    v.run("o1")
    pairs = email_pairs(SAMPLES_CSV, tmp_path / "o1")
    assert v.forget(pairs[3][1]).exit_code == 0
    assert v.reveal(pairs[5][0], purpose="ticket 5").exit_code == 0
    res = v.audit("--verify")
    assert res.exit_code == 0 and "intact: 3 entries" in res.stdout, res.output
    return v


def _drop_audit_triggers(store) -> None:
    if store.kind == "sqlite":
        store.execute("DROP TRIGGER veil_audit_no_delete")
        store.execute("DROP TRIGGER veil_audit_no_update")
    else:
        store.execute("DROP TRIGGER veil_audit_append_only ON veil_audit")


def _first_segment(store, domain="email"):
    return [s for s in store.segments() if s[1] == domain][0]


def _edit_ct(store):
    sid, _, _, table = _first_segment(store)
    idx = table.schema.get_field_index("ct")
    cts = table.column("ct").to_pylist()
    cts[0] = bytes([cts[0][0] ^ 1]) + cts[0][1:]
    store.write_segment(sid, table.set_column(idx, table.schema.field(idx), pa.array(cts, pa.binary())))


def _edit_blind(store):
    sid, _, _, table = _first_segment(store)
    idx = table.schema.get_field_index("blind")
    blinds = table.column("blind").to_pylist()
    blinds[0] = bytes(16)
    store.write_segment(sid, table.set_column(idx, table.schema.field(idx), pa.array(blinds, pa.binary(16))))


def _seg_id(store, domain="email") -> int:
    return _first_segment(store, domain)[0]


TAMPERS = {
    "binding row deleted": (lambda s: s.execute("DELETE FROM veil_meta WHERE name = 'keyring'"),
                            "keyring binding is missing"),
    "binding row edited": (lambda s: s.execute("UPDATE veil_meta SET value = ? WHERE name = 'keyring'", ["0" * 32]),
                           "belongs to another keyring"),
    "segment deleted": (lambda s: s.execute("DELETE FROM veil_segments WHERE id = ?", [_seg_id(s)]),
                        "records were removed or added outside veil"),
    "segment and its index deleted": (
        lambda s: [s.execute(f"DELETE FROM {t} WHERE {c} = ?", [i]) for i in [_seg_id(s)]
                   for t, c in (("veil_segment_keys", "segment"), ("veil_segments", "id"))],
        "records were removed or added outside veil"),
    "ciphertext edited": (_edit_ct, "authentication failed"),
    "blind index edited": (_edit_blind, "authentication failed"),
    "segment moved to another domain": (
        lambda s: s.execute("UPDATE veil_segments SET domain = 'phone' WHERE id = ?", [_seg_id(s)]),
        "authentication failed"),
    "segment moved to another version": (
        lambda s: s.execute("UPDATE veil_segments SET key_version = 'k-00000000' WHERE id = ?", [_seg_id(s)]),
        "which this keyring does not hold"),
    "segment count edited": (
        lambda s: s.execute("UPDATE veil_segments SET n = n + 1 WHERE id = ?", [_seg_id(s)]),
        "records were removed or added outside veil"),
    "dedup index edited": (
        lambda s: s.execute("UPDATE veil_segment_keys SET keys = ? WHERE segment = ?",
                            [bytes(len(s.query("SELECT keys FROM veil_segment_keys WHERE segment = ?",
                                                [_seg_id(s)])[0][0])), _seg_id(s)]),
        "dedup index of vault segment"),
    "dedup index for no segment": (
        lambda s: s.execute("INSERT INTO veil_segment_keys (segment, keys) VALUES (?, ?)", [999999, b"x"]),
        "segments that do not exist"),
    "forget list entry deleted": (lambda s: s.execute("DELETE FROM veil_forgotten"),
                                  "forget list of domain email"),
    "forget list entry added": (
        lambda s: s.execute("INSERT INTO veil_forgotten (domain, blind, added) VALUES ('email', ?, 'x')",
                            [bytes(16)]), "forget list of domain email was edited"),
    "forget list in a new domain": (
        lambda s: s.execute("INSERT INTO veil_forgotten (domain, blind, added) VALUES ('phone', ?, 'x')",
                            [bytes(16)]), "forget list of domain phone"),
    "middle audit entry deleted": (
        lambda s: (_drop_audit_triggers(s), s.execute("DELETE FROM veil_audit WHERE seq = 2")),
        "audit log entry"),
    "audit entry edited": (
        lambda s: (_drop_audit_triggers(s), s.execute("UPDATE veil_audit SET count = 7 WHERE seq = 1")),
        "audit log entry 1"),
    "latest run entry deleted with the tail": (
        lambda s: (_drop_audit_triggers(s), s.execute("DELETE FROM veil_audit WHERE seq >= 1")),
        "records were removed or added outside veil"),
    "interrupted destruction": (
        lambda s: s.execute("INSERT INTO veil_meta (name, value) VALUES ('destroying:k-12345678', '0')"),
        "destruction of key version k-12345678 was interrupted"),
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_verify_notices_every_edit(veil, tamper):
    edit, expected = TAMPERS[tamper]
    edit(veil.store)
    res = veil.audit("--verify")
    assert res.exit_code == 8, res.output
    assert expected in res.stderr, res.stderr
    assert "Traceback" not in res.output


def test_a_vault_without_its_binding_is_refused_by_every_command(veil):
    veil.store.execute("DELETE FROM veil_meta WHERE name = 'keyring'")
    other = veil.tmp / "k2" / "ring.json"
    assert veil.cli("keys", "init", other).exit_code == 0
    for ring in (veil.keyring, other):  # the rightful keyring, and one that would take the vault over
        res = veil.cli("run", SAMPLES_CSV, "-p", veil.profile, "--out", veil.tmp / "o9", "-q", "--keyring", ring,
                       "--vault", veil.store.spec)
        assert res.exit_code == 8 and "binding is missing" in res.stderr, res.output
        assert not (veil.tmp / "o9").exists()
    assert not veil.store.query("SELECT 1 FROM veil_meta WHERE name = 'keyring'")  # not re-bound


def test_the_one_edit_verify_cannot_see_is_documented(veil):
    """Removing the latest audit entries when they are reveals (the chain's tail; nothing else counts
    them) is the documented limit (docs/keys.md, The audit log)."""
    _drop_audit_triggers(veil.store)
    veil.store.execute("DELETE FROM veil_audit WHERE seq = 3")
    res = veil.audit("--verify")
    assert res.exit_code == 0 and "intact: 2 entries" in res.stdout
    doc = " ".join((Path(__file__).resolve().parent.parent / "docs" / "keys.md").read_text().split())
    assert "removing the latest entries goes unnoticed" in doc.lower()


# -- 5. blind indexes sealed to their key version ---------------------------------------------------

def _stored_indexes(store, version: str) -> dict[str, set[bytes]]:
    """What the vault stores of each record's indexes for one version, read raw (no key)."""
    out: dict[str, set[bytes]] = {"blind": set(), "subject": set(), "dedup": set()}
    for sid, data in store.query("SELECT id, data FROM veil_segments WHERE key_version = ?", [version]):
        t = pa.ipc.open_stream(bytes(data)).read_all()
        out["blind"].update(t.column("blind").to_pylist())
        out["subject"].update(x for x in t.column("subject").to_pylist() if x is not None)
        (blob,) = store.query("SELECT keys FROM veil_segment_keys WHERE segment = ?", [sid])[0]
        n = t.num_rows
        out["dedup"].update(bytes(blob)[16 * i:16 * i + 16] for i in range(n))
    return out


def test_two_versions_share_no_stored_index(cli, keyring, store, vault_profile, tmp_path):
    """The same extract run under two key versions: from the vault alone, no stored blind index,
    subject index or dedup key of one version's records equals one of the other's (they did, all
    of them, before indexes were sealed to their version), and no raw blind index is stored."""
    v = Veil(cli, keyring, store, vault_profile, tmp_path)
    v1 = load_keyring(keyring).active_version
    v.run("o1")
    assert cli("keys", "rotate", "--keyring", keyring).exit_code == 0
    v2 = load_keyring(keyring).active_version
    v.run("o2")
    a, b = _stored_indexes(store, v1), _stored_indexes(store, v2)
    for kind in ("blind", "subject", "dedup"):
        assert len(a[kind]) > 100 and len(b[kind]) > 100, kind
        assert not a[kind] & b[kind], f"{kind}: {len(a[kind] & b[kind])} shared between versions"
    ring = load_keyring(keyring)
    emails = [o.encode() for _, o in email_pairs(SAMPLES_CSV, tmp_path / "o1")]
    raw = set(blind_indexes(blind_key(ring, "email"), emails))
    for idx in (a, b):
        assert not raw & (idx["blind"] | idx["subject"] | idx["dedup"])
    # and everything still works through the keys: reveal of both versions, forget in both
    p1, o1 = email_pairs(SAMPLES_CSV, tmp_path / "o1")[2]
    p2, _ = email_pairs(SAMPLES_CSV, tmp_path / "o2")[2]
    res = v.reveal(p1, p2, purpose="check")
    assert res.exit_code == 0 and res.stdout.count(o1) == 2, res.output
    res = v.forget(o1)
    assert res.exit_code == 0 and int(res.stdout.split(", ")[-1].split()[0]) >= 2, res.stdout  # both versions
    assert v.reveal(p1).exit_code == 8 and v.reveal(p2).exit_code == 8
    assert v.run("o3")["totals"]["vault_records_written"] == 0  # dedup through the sealed keys
    assert v.audit("--verify").exit_code == 0


# -- fuzz: hostile encrypted-keyring wrappers ------------------------------------------------------

_ANY = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                 st.text(max_size=20), st.lists(st.integers(), max_size=3))


@FUZZ
@given(kdf=st.one_of(_ANY, st.dictionaries(st.sampled_from(["name", "n", "r", "p", "salt", "x"]),
                                           st.one_of(_ANY, st.integers(0, 2**31)), max_size=6)),
       nonce=_ANY, cipher=_ANY)
def test_fuzz_hostile_keyring_wrapper(tmp_path_factory, kdf, nonce, cipher):
    """Any wrapper: exit 6, one clean line, fast; never a crash, never the passphrase."""
    if isinstance(kdf, dict) and all(isinstance(kdf.get(k), int) for k in "nrp"):
        n, r, p = kdf["n"], kdf["r"], kdf["p"]
        assume(not (0 < n <= 2**20 and 0 < r <= 32 and 0 < p <= 16 and 128 * n * r * p > 2**26))  # slow, not hostile
    path = tmp_path_factory.mktemp("fuzz") / "ring.json"
    path.write_text(json.dumps({"format": "veil-keyring-encrypted", "version": 1, "kdf": kdf, "cipher": cipher,
                                "nonce": nonce, "ciphertext": "AAAA"}))
    path.chmod(0o600)
    res = invoke("keys", "list", "--keyring", path, "--passphrase-env", PASS_ENV, env=GOOD)
    assert res.exit_code == 6, res.stderr
    assert "Traceback" not in res.stderr and GOOD[PASS_ENV] not in res.stderr + res.stdout
