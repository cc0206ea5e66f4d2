"""A vault belongs to one keyring; every reveal attempt is audited; weak passphrases are refused."""

from __future__ import annotations

import json

from .conftest import SAMPLES_CSV, SHOP_PROFILE


def _reversible_profile(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(SHOP_PROFILE.read_text().replace("defaults:\n", "defaults:\n  reversible: true\n", 1))
    return p


def test_vault_refuses_another_keyring(tmp_path, keyring, cli):
    vault = tmp_path / "vaultdir" / "v.db"
    prof = _reversible_profile(tmp_path)
    assert cli("run", SAMPLES_CSV, "-p", prof, "--keyring", keyring, "--vault", vault, "--out",
               tmp_path / "o1", "-q").exit_code == 0
    other = tmp_path / "k2" / "ring.json"
    assert cli("keys", "init", other).exit_code == 0
    for args in (("run", SAMPLES_CSV, "-p", prof, "--out", tmp_path / "o2", "-q"),
                 ("vault", "forget", "--domain", "email", "a@b.c"),
                 ("vault", "audit", "--verify")):
        res = cli(*args, "--keyring", other, "--vault", vault)
        assert res.exit_code == 8 and "belongs to another keyring" in res.stderr, args
    assert not (tmp_path / "o2").exists()
    # the rightful keyring still works and the audit chain is intact
    res = cli("vault", "audit", "--verify", "--keyring", keyring, "--vault", vault)
    assert res.exit_code == 0 and "intact" in res.stdout


def test_reveal_that_finds_nothing_is_audited(tmp_path, keyring, cli):
    vault = tmp_path / "vaultdir" / "v.db"
    assert cli("run", SAMPLES_CSV, "-p", _reversible_profile(tmp_path), "--keyring", keyring, "--vault", vault,
               "--out", tmp_path / "o1", "-q").exit_code == 0
    res = cli("vault", "reveal", "--domain", "email", "--purpose", "fishing", "--actor", "mallory", "nope",
              "--keyring", keyring, "--vault", vault)
    assert res.exit_code == 8
    entries = json.loads(cli("vault", "audit", "--json", "--keyring", keyring, "--vault", vault).stdout)
    last = entries[-1]
    assert (last["action"], last["actor"], last["purpose"], last["count"]) == ("reveal", "mallory", "fishing", 0)


def test_short_passphrase_refused(tmp_path, cli):
    res = cli("keys", "init", tmp_path / "k.json", "--passphrase-env", "P", env={"P": "short"})
    assert res.exit_code == 2 and "at least 8 characters" in res.output
    assert not (tmp_path / "k.json").exists()


def test_rekey_to_the_same_version_refused(tmp_path, keyring, cli):
    vault = tmp_path / "vaultdir" / "v.db"
    prof = _reversible_profile(tmp_path)
    assert cli("run", SAMPLES_CSV, "-p", prof, "--keyring", keyring, "--vault", vault, "--out",
               tmp_path / "o1", "-q").exit_code == 0
    v1 = json.loads(cli("keys", "list", "--json", "--keyring", keyring).stdout)[0]["id"]
    res = cli("rekey", tmp_path / "o1", "--from", v1, "-p", prof, "--keyring", keyring, "--vault", vault,
              "--out", tmp_path / "o2")
    assert res.exit_code == 6 and "same key version" in res.stderr and not (tmp_path / "o2").exists()
