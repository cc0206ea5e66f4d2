"""End-to-end tests of the keyring through the CLI: init, rotate, list, retire, passphrases,
keys from the environment, unsafe locations and modes, tamper detection, and that key
material never leaves the keyring."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from veil.keys import load_keyring

from . import vault_fixtures
from .conftest import SAMPLES_CSV, SAMPLES_PARQUET, SHOP_PROFILE
from .vault_fixtures import (
    VERSION_ID,
    active_version,
    column,
    data_files,
    find_secrets,
    init_keyring_cli,
    keyring_secrets,
    rotate,
    run_ok,
    versions,
)

KEYED_OPS = {"pseudonymize", "fake", "date_shift"}
PASS_ENV = "VEIL_TEST_PASSPHRASE"

# pytest fixtures shared with the other vault/keys test module
pg_url, store, vault_profile = vault_fixtures.pg_url, vault_fixtures.store, vault_fixtures.vault_profile


@pytest.fixture
def keydir(tmp_path) -> Path:
    d = tmp_path / "keys"
    d.mkdir()
    return d


# -- init / list -------------------------------------------------------------------------

def test_init_creates_private_keyring_with_one_active_version(cli, keydir):
    path = keydir / "ring.json"
    vid = init_keyring_cli(cli, path)
    assert VERSION_ID.match(vid)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    rows = versions(cli, path)
    assert [(r["id"], r["status"], r["active"]) for r in rows] == [(vid, "active", True)]

    res = cli("keys", "list", "--keyring", path)
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].split()[:2] == [vid, "active"]

    # a second init refuses to overwrite the keys; --if-missing is a no-op
    before = path.read_bytes()
    again = cli("keys", "init", path)
    assert again.exit_code == 6 and "already exists" in again.stderr
    assert cli("keys", "init", path, "--if-missing").exit_code == 0
    assert path.read_bytes() == before


# -- rotate ------------------------------------------------------------------------------

def test_rotate_new_active_version_used_by_runs(cli, keydir, tmp_path):
    path = keydir / "ring.json"
    v1 = init_keyring_cli(cli, path)
    profile = SHOP_PROFILE
    r1 = run_ok(cli, SAMPLES_CSV, tmp_path / "o1", profile, path)
    assert r1["key_version"] == v1

    v2 = rotate(cli, path)
    assert VERSION_ID.match(v2) and v2 != v1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    status = {r["id"]: (r["status"], r["active"]) for r in versions(cli, path)}
    assert status == {v1: ("retired", False), v2: ("active", True)}

    r2 = run_ok(cli, SAMPLES_CSV, tmp_path / "o2", profile, path)
    assert r2["key_version"] == v2
    keyed = [(t, c, spec["key_version"]) for t, tab in r2["tables"].items()
             for c, spec in tab["columns"].items() if spec["op"] in KEYED_OPS]
    assert ("customers", "email", v2) in keyed
    assert {kv for _, _, kv in keyed} == {v2}
    for tab in r2["tables"].values():
        for spec in tab["columns"].values():
            if spec["op"] not in KEYED_OPS:
                assert spec["key_version"] is None

    before = set(column(tmp_path / "o1", "customers", "email")) - {None}
    after = set(column(tmp_path / "o2", "customers", "email")) - {None}
    assert len(before) == len(after) == 200
    assert not (before & after), "pseudonyms before and after rotation must be unrelated"


# -- retire ------------------------------------------------------------------------------

def test_retire(cli, keydir):
    path = keydir / "ring.json"
    v1 = init_keyring_cli(cli, path)
    res = cli("keys", "retire", v1, "--keyring", path)
    assert res.exit_code == 6
    assert "active" in res.stderr and str(path) in res.stderr
    assert versions(cli, path)[0]["status"] == "active"

    unknown = cli("keys", "retire", "k-00000000", "--keyring", path)
    assert unknown.exit_code == 6 and "not in the keyring" in unknown.stderr

    v2 = rotate(cli, path)
    ok = cli("keys", "retire", v1, "--keyring", path)
    assert ok.exit_code == 0, ok.output
    assert {r["id"]: r["status"] for r in versions(cli, path)} == {v1: "retired", v2: "active"}
    assert cli("keys", "retire", v2, "--keyring", path).exit_code == 6


# -- passphrase-protected keyrings --------------------------------------------------------

def test_passphrase_keyring(cli, keydir, tmp_path):
    path = keydir / "ring.json"
    good = {PASS_ENV: "correct horse battery staple"}
    vid = init_keyring_cli(cli, path, "--passphrase-env", PASS_ENV, env=good)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    text = path.read_text()
    doc = json.loads(text)
    assert doc["format"] == "veil-keyring-encrypted"
    for field in ("secret", "vault_key", "index_secret", "keys", "integrity"):
        assert f'"{field}"' not in text, f"{field} stored in clear"
    ring = load_keyring(path, passphrase=lambda: good[PASS_ENV].encode())
    named = {"index_secret": ring._index_secret,
             "secret": ring._versions[vid].secret, "vault_key": ring._versions[vid].vault_key}
    assert not find_secrets(path.read_bytes(), named)

    profile = SHOP_PROFILE
    report = run_ok(cli, SAMPLES_CSV, tmp_path / "o1", profile, path, "--passphrase-env", PASS_ENV, env=good)
    assert report["key_version"] == vid

    bad = cli("run", SAMPLES_CSV, "--profile", profile, "--keyring", path, "--out", tmp_path / "o2",
              "--passphrase-env", PASS_ENV, "--workers", "1", env={PASS_ENV: "wrong"})
    assert bad.exit_code == 6
    assert "authentication failed" in bad.stderr and str(path) in bad.stderr
    assert not (tmp_path / "o2").exists()

    # without a passphrase (and no terminal) it is refused, not guessed
    none = cli("keys", "list", "--keyring", path)
    assert none.exit_code == 6 and "passphrase" in none.stderr

    # rotation keeps the file encrypted
    v2 = rotate(cli, path, "--passphrase-env", PASS_ENV, env=good)
    assert json.loads(path.read_text())["format"] == "veil-keyring-encrypted"
    assert active_version(cli, path, "--passphrase-env", PASS_ENV, env=good) == v2


# -- a raw key from the environment -------------------------------------------------------

def test_env_key_stable_version(cli, tmp_path):
    key = base64.b64encode(os.urandom(32)).decode()
    env = {"VEIL_TEST_KEY": key}
    profile = SHOP_PROFILE
    r1 = run_ok(cli, SAMPLES_CSV, tmp_path / "o1", profile, "env:VEIL_TEST_KEY", env=env)
    r2 = run_ok(cli, SAMPLES_CSV, tmp_path / "o2", profile, "env:VEIL_TEST_KEY", env=env)
    assert VERSION_ID.match(r1["key_version"])
    assert r1["key_version"] == r2["key_version"]
    assert column(tmp_path / "o1", "customers", "email") == column(tmp_path / "o2", "customers", "email")
    raw = base64.b64decode(key)
    for out in (tmp_path / "o1", tmp_path / "o2"):
        for f in data_files(out):
            assert not find_secrets(f.read_bytes(), {"env key": raw}), f
    for r in (r1, r2):
        assert not find_secrets(r["_report_path"].read_bytes() + r["_result"].stderr_bytes, {"env key": raw})

    ro = cli("keys", "rotate", "--keyring", "env:VEIL_TEST_KEY", env=env)
    assert ro.exit_code == 6 and "cannot be changed" in ro.stderr

    other = {"VEIL_TEST_KEY": base64.b64encode(os.urandom(32)).decode()}
    r3 = run_ok(cli, SAMPLES_CSV, tmp_path / "o3", profile, "env:VEIL_TEST_KEY", env=other)
    assert r3["key_version"] != r1["key_version"]

    short = cli("run", SAMPLES_CSV, "--profile", profile, "--keyring", "env:VEIL_TEST_KEY",
                "--out", tmp_path / "o4", env={"VEIL_TEST_KEY": base64.b64encode(b"x" * 16).decode()})
    assert short.exit_code == 6 and "32 random bytes" in short.stderr
    assert not (tmp_path / "o4").exists()


# -- unsafe keyrings ------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_keyring_readable_by_others_refused(cli, keyring, tmp_path, mode):
    os.chmod(keyring, mode)
    profile = SHOP_PROFILE
    res = cli("run", SAMPLES_CSV, "--profile", profile, "--keyring", keyring, "--out", tmp_path / "o")
    assert res.exit_code == 6
    assert "accessible by other users" in res.stderr and f"chmod 600 {keyring}" in res.stderr
    assert not (tmp_path / "o").exists()
    assert cli("keys", "list", "--keyring", keyring).exit_code == 6


@pytest.mark.parametrize("where", ["input", "input-subdir", "output"])
def test_keyring_inside_data_refused(cli, keyring, shop_csv, tmp_path, where):
    out = tmp_path / "out"
    if where == "input":
        inside = shop_csv / "ring.json"
    elif where == "input-subdir":
        inside = shop_csv / "secrets" / "ring.json"
    else:
        out.mkdir()
        inside = out / "ring.json"
    inside.parent.mkdir(exist_ok=True)
    shutil.copy2(keyring, inside)
    os.chmod(inside, 0o600)
    profile = SHOP_PROFILE
    res = cli("run", shop_csv, "--profile", profile, "--keyring", inside, "--out", out)
    assert res.exit_code == 6
    assert "inside the input or output location" in res.stderr and str(inside) in res.stderr
    assert not (out / "customers.csv").exists()


@pytest.mark.parametrize("out_exists", [True, False])
def test_vault_inside_output_refused(cli, keyring, vault_profile, tmp_path, out_exists):
    out = tmp_path / "out"
    if out_exists:
        out.mkdir()
    vault = out / "vault.db"
    res = cli("run", SAMPLES_CSV, "--profile", vault_profile, "--keyring", keyring, "--out", out,
              "--vault", vault, "--workers", "1")
    assert res.exit_code != 0
    assert "vault sits inside the input or output location" in res.stderr, res.stderr
    assert not vault.exists(), "the vault must not be created inside the output location"
    assert not (out / "customers.csv").exists()


def test_vault_inside_input_refused(cli, keyring, vault_profile, shop_csv, tmp_path):
    vault = shop_csv / "vault.db"
    res = cli("run", shop_csv, "--profile", vault_profile, "--keyring", keyring, "--out", tmp_path / "out",
              "--vault", vault, "--workers", "1")
    assert res.exit_code != 0
    assert "vault sits inside the input or output location" in res.stderr
    assert not vault.exists() and not (tmp_path / "out").exists()


# -- tamper detection -------------------------------------------------------------------------

def _flip_b64_char(s: str, pos: int) -> str:
    c = s[pos]
    return s[:pos] + ("B" if c != "B" else "C") + s[pos + 1:]


def test_keyring_secret_flip_detected(cli, keyring, vault_profile, tmp_path):
    v1 = active_version(cli, keyring)
    doc = json.loads(keyring.read_text())
    entry = next(k for k in doc["keys"] if k["id"] == v1)
    old = entry["secret"]
    entry["secret"] = _flip_b64_char(old, 10)
    text = keyring.read_text().replace(old, entry["secret"])
    assert text != keyring.read_text()
    keyring.write_text(text)
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600

    vault = tmp_path / "vaultdir" / "v.db"
    commands = [
        ("keys", "list"),
        ("keys", "rotate"),
        ("keys", "retire", v1),
        ("run", SAMPLES_CSV, "--profile", vault_profile, "--out", tmp_path / "o", "--workers", "1"),
        ("run", SAMPLES_PARQUET, "--profile", vault_profile, "--out", tmp_path / "o", "--vault", vault,
         "--workers", "1"),
        ("vault", "forget", "--domain", "email", "--vault", vault, "a@example.org"),
    ]
    for args in commands:
        res = cli(*args, "--keyring", keyring)
        assert res.exit_code == 6, (args, res.output)
        assert "authentication failed" in res.stderr or "integrity" in res.stderr, (args, res.stderr)
        assert str(keyring) in res.stderr, args
    assert not (tmp_path / "o").exists()
    assert keyring.read_text() == text, "a damaged keyring must not be rewritten"


def test_passphrase_keyring_ciphertext_flip_detected(cli, keydir, tmp_path):
    path = keydir / "ring.json"
    env = {PASS_ENV: "s3cret pass"}
    init_keyring_cli(cli, path, "--passphrase-env", PASS_ENV, env=env)
    doc = json.loads(path.read_text())
    ct = bytearray(base64.b64decode(doc["ciphertext"]))
    ct[len(ct) // 2] ^= 0x01
    doc["ciphertext"] = base64.b64encode(bytes(ct)).decode()
    path.write_text(json.dumps(doc, indent=2) + "\n")

    res = cli("keys", "list", "--keyring", path, "--passphrase-env", PASS_ENV, env=env)
    assert res.exit_code == 6
    assert "authentication failed" in res.stderr and str(path) in res.stderr
    profile = SHOP_PROFILE
    run = cli("run", SAMPLES_CSV, "--profile", profile, "--keyring", path, "--passphrase-env", PASS_ENV,
              "--out", tmp_path / "o", "--workers", "1", env=env)
    assert run.exit_code == 6 and "authentication failed" in run.stderr
    assert not (tmp_path / "o").exists()


# -- key material never leaves the keyring -------------------------------------------------------

def test_key_material_never_printed_or_stored(cli, keydir, tmp_path, vault_profile, store):
    path = keydir / "ring.json"
    results = []

    def call(*args, env=None):
        res = cli(*args, env=env)
        results.append((args, res))
        return res

    res = call("keys", "init", path)
    assert res.exit_code == 0, res.output
    named = keyring_secrets(path)
    v1 = active_version(cli, path)
    kv = ("--keyring", path, "--vault", store.spec)

    outs, reports = [], []

    def run(name):
        out, report = tmp_path / name, tmp_path / f"{name}.json"
        r = call("run", SAMPLES_CSV, "--profile", vault_profile, "--out", out, "--report", report,
                 "--workers", "1", *kv)
        assert r.exit_code == 0, r.output
        outs.append(out)
        reports.append(report)
        return out

    o1 = run("o1")
    pseudo = column(o1, "customers", "email")[:3]
    assert call("vault", "reveal", "--domain", "email", "--purpose", "leak test", *pseudo, *kv).exit_code == 0
    res = call("keys", "rotate", "--keyring", path)
    assert res.exit_code == 0
    named.update(keyring_secrets(path))
    assert len(named) == 5  # index secret + 2 versions x (secret, vault_key)
    o2 = run("o2")
    assert call("rekey", o1, "--from", v1, "--profile", vault_profile, "--out", tmp_path / "o3",
                "--report", tmp_path / "o3.json", "--workers", "1", *kv).exit_code == 0
    outs.append(tmp_path / "o3")
    reports.append(tmp_path / "o3.json")
    originals = column(SAMPLES_CSV, "customers", "email")
    assert call("vault", "forget", "--domain", "email", originals[5], *kv).exit_code == 0
    assert call("vault", "reveal", "--domain", "email", "--purpose", "leak test",
                *column(o2, "customers", "email")[:2], *kv).exit_code == 0
    assert call("vault", "audit", *kv).exit_code == 0
    assert call("vault", "audit", "--json", *kv).exit_code == 0
    assert call("vault", "audit", "--verify", *kv).exit_code == 0
    assert call("keys", "list", "--keyring", path).exit_code == 0
    assert call("keys", "list", "--json", "--keyring", path).exit_code == 0
    assert call("keys", "destroy", v1, "--yes", *kv).exit_code == 0
    # failing commands must not leak either
    assert call("vault", "reveal", "--domain", "email", "--purpose", "x", "nope@example.com", *kv).exit_code == 8
    assert call("vault", "reveal", "--domain", "email", "--purpose", "x", "--key-version", v1, "x", *kv
                ).exit_code == 6

    # the detector itself works: the keyring holds the current secrets
    assert "index_secret (base64)" in find_secrets(path.read_bytes(), named)
    leaks = []
    for args, r in results:
        found = find_secrets(r.stdout_bytes + b"\n" + r.stderr_bytes, named)
        if found:
            leaks.append((args[:2], found))
    for f in reports + [f for o in outs for f in data_files(o)]:
        found = find_secrets(f.read_bytes(), named)
        if found:
            leaks.append((str(f), found))
    found = find_secrets(store.dump(), named)
    if found:
        leaks.append(("vault", found))
    assert not leaks, leaks
