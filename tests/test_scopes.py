"""Scopes (issue 18.3): copies made for different recipients cannot be joined on their pseudonyms.

The measured failure: a second table of 300 of the same people, run separately with the same
keyring, joined 300/300 to the full record on the email pseudonym. With scopes, two releases
(``staging``, ``ml``) share no pseudonym, while one scope stays consistent across tables and
refreshes; no scope derives exactly the keys of veil before scopes (known answers).
"""

from __future__ import annotations

import base64
import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.keys import Keyring, derive
from veil.scope import ScopedKeys, scoped, valid_scope

from .vault_fixtures import active_version, column, data_files, rotate, run_ok

N_PEOPLE, N_LEADS = 600, 300
SECRET = bytes(range(32))  # the known-answer keyring's secret
ENV = {"VEIL_TEST_SCOPE_KEY": base64.b64encode(SECRET).decode()}

PROFILE = """\
version: 1
{scope}tables:
  people:
    primary_key: [person_id]
    columns:
      person_id: {{op: pseudonymize, format: int, domain: person_id, reversible: true}}
      email: {{op: pseudonymize, format: email, domain: email, reversible: true}}
      first_name: {{op: fake, kind: first_name, reversible: true}}
      signup: {{op: date_shift, subject: person_id, max_days: 30, domain: shift}}
  leads:
    primary_key: [lead_id]
    columns:
      lead_id: keep
      email: {{op: pseudonymize, format: email, domain: email, reversible: true}}
      first_name: {{op: fake, kind: first_name, reversible: true}}
"""


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def data(tmp_path) -> Path:
    """people (600) and leads: 300 of the same people, as a second team's table would hold them."""
    src = tmp_path / "src"
    src.mkdir()
    names = ["Ana", "Ben", "Chloe", "Dev", "Eva", "Farid", "Gus", "Hana", "Ivo", "Jun"]
    people = [[i, f"person{i}@example.org", names[i % len(names)], (date(2020, 1, 1) + timedelta(days=i)).isoformat()]
              for i in range(1, N_PEOPLE + 1)]
    _write_csv(src / "people.csv", ["person_id", "email", "first_name", "signup"], people)
    _write_csv(src / "leads.csv", ["lead_id", "email", "first_name"],
               [[1000 + j, p[1], p[2]] for j, p in enumerate(people[::2][:N_LEADS])])
    return src


def _profile(tmp_path: Path, scope: str | None = None, name: str = "profile.yaml") -> Path:
    p = tmp_path / name
    p.write_text(PROFILE.format(scope=f"scope: {scope}\n" if scope else ""), encoding="utf-8")
    return p


def _joined(a: Path, b: Path) -> int:
    """How many of b's leads join a's people on the email pseudonym."""
    return len(set(column(b, "leads", "email")) & set(column(a, "people", "email")))


# -- known answers: no scope is today's keys ---------------------------------------------------------

def test_no_scope_is_the_keyring_itself():
    ring = Keyring.for_testing(SECRET)
    assert scoped(ring, None) is ring
    info = b"veil/v1/domain/email"
    expected = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(SECRET)
    assert ring.subkey("domain", "email") == expected == derive(SECRET, "domain", "email")


def test_scoped_keys_mix_the_scope_into_every_info():
    ring = Keyring.for_testing(SECRET)
    index_secret = derive(SECRET, "index", "")
    staging = ScopedKeys(ring, "staging")

    def hkdf(master: bytes, info: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(master)

    assert staging.subkey("domain", "email") == hkdf(SECRET, "veil/v1/scope=staging/domain/email")
    assert staging.index_key("blind", "email") == hkdf(index_secret, "veil/v1/scope=staging/blind/email")
    assert staging.subkey("date_shift-table", "x") == hkdf(SECRET, "veil/v1/scope=staging/date_shift-table/x")
    # the vault's own keys are the same in every scope (one vault serves several scopes)
    for purpose in ("vault-binding", "audit", "context", "context-block"):
        assert staging.index_key(purpose) == ring.index_key(purpose)
    assert staging.vault_key(ring.active_version) == ring.vault_key(ring.active_version)
    # another scope, or none, never gives the same key
    ml = ScopedKeys(ring, "ml")
    keys = {ring.subkey("domain", "email"), staging.subkey("domain", "email"), ml.subkey("domain", "email"),
            ring.index_key("blind", "email"), staging.index_key("blind", "email"), ml.index_key("blind", "email")}
    assert len(keys) == 6
    # a domain cannot pose as a scope: the scope goes before the purpose, and holds no "/"
    assert ring.subkey("domain", "scope=staging/domain/email") != staging.subkey("domain", "email")
    assert not valid_scope("a/b") and not valid_scope("") and not valid_scope("x" * 65)
    assert not valid_scope("Staging") and valid_scope("vendor-x_2") and valid_scope("x" * 64)
    with pytest.raises(ValueError):
        ScopedKeys(ring, "a/b")


def test_no_scope_output_equals_todays(cli, data, tmp_path):
    """Known answer, end to end: the pseudonyms of an unscoped run with a fixed key are those
    veil wrote before scopes (pinned values)."""
    report = run_ok(cli, data, tmp_path / "o", _profile(tmp_path), "env:VEIL_TEST_SCOPE_KEY", env=ENV)
    assert report["scope"] is None
    assert column(tmp_path / "o", "people", "email")[:2] == PINNED_EMAILS
    assert column(tmp_path / "o", "people", "person_id")[:2] == PINNED_IDS
    assert column(tmp_path / "o", "people", "first_name")[:2] == PINNED_NAMES
    assert column(tmp_path / "o", "people", "signup")[:2] == ["2020-01-05", "2020-01-30"]


# Written by veil before scopes existed (commit 265db69) for this data, profile and key.
PINNED_EMAILS = ["hlblyh6ntfvaadup@example.com", "yinlmpiu2shrduyz@example.com"]
PINNED_IDS = ["450289742", "1791398563"]
PINNED_NAMES = ["Faith", "Vincent"]


# -- unlinkable releases -------------------------------------------------------------------------------

def test_scopes_cannot_be_joined(cli, keyring, data, tmp_path):
    profile = _profile(tmp_path)
    rep = {}
    for scope in ("staging", "ml"):
        rep[scope] = run_ok(cli, data, tmp_path / scope, profile, keyring, "--scope", scope)
        assert rep[scope]["scope"] == scope
    unscoped = tmp_path / "none"
    run_ok(cli, data, unscoped, profile, keyring)
    staging, ml = tmp_path / "staging", tmp_path / "ml"
    # within a scope, consistent across tables: every lead joins its person (300/300)
    assert _joined(staging, staging) == N_LEADS and _joined(ml, ml) == N_LEADS
    # across scopes (and against an unscoped copy): 0/300
    assert _joined(staging, ml) == 0 and _joined(ml, staging) == 0
    assert _joined(unscoped, staging) == 0 and _joined(staging, unscoped) == 0
    a, b = set(column(staging, "people", "email")), set(column(ml, "people", "email"))
    assert len(a) == N_PEOPLE and not a & b  # 80-bit tokens: a chance coincidence is negligible
    # person_id is a keyed permutation of [0, 2**31) in each scope: some person's id in one copy is
    # another person's id in the other with probability ~600*600/2**31 = 1.7e-4 (no link: different
    # people), four with ~4e-17; the same person keeps the same id in both with ~600/2**31 = 2.8e-7,
    # two with ~4e-14
    s_ids, m_ids = column(staging, "people", "person_id"), column(ml, "people", "person_id")
    assert len(set(s_ids)) == N_PEOPLE and len(set(s_ids) & set(m_ids)) <= 3
    assert sum(x == y for x, y in zip(s_ids, m_ids, strict=True)) <= 1
    # date shifts differ per scope: the same person's offset is not the same in both copies
    s_dates, m_dates = column(staging, "people", "signup"), column(ml, "people", "signup")
    assert sum(x != y for x, y in zip(s_dates, m_dates, strict=True)) > 0.9 * N_PEOPLE
    # a refresh in the same scope writes the same copy, byte for byte
    run_ok(cli, data, tmp_path / "staging2", profile, keyring, "--scope", "staging")
    assert [p.read_bytes() for p in data_files(staging)] == [p.read_bytes() for p in data_files(tmp_path / "staging2")]


def test_profile_scope_and_cli_override(cli, keyring, data, tmp_path):
    run_ok(cli, data, tmp_path / "flag", _profile(tmp_path), keyring, "--scope", "staging")
    in_profile = _profile(tmp_path, "staging", "scoped.yaml")
    doc = run_ok(cli, data, tmp_path / "prof", in_profile, keyring)
    assert doc["scope"] == "staging"
    assert column(tmp_path / "prof", "people", "email") == column(tmp_path / "flag", "people", "email")
    doc = run_ok(cli, data, tmp_path / "over", in_profile, keyring, "--scope", "ml")
    assert doc["scope"] == "ml"
    assert _joined(tmp_path / "prof", tmp_path / "over") == 0


def test_the_run_summary_names_the_scope(cli, keyring, data, tmp_path):
    res = cli("run", data, "--profile", _profile(tmp_path), "--keyring", keyring, "--out", tmp_path / "o",
              "--workers", "1", "--scope", "vendor-x")
    assert res.exit_code == 0, res.output
    assert "scope vendor-x)" in res.stderr


@pytest.mark.parametrize("bad", ["Staging", "a/b", "x" * 65, "café"])
def test_a_bad_scope_name_is_refused(cli, keyring, data, tmp_path, bad):
    res = cli("run", data, "--profile", _profile(tmp_path), "--keyring", keyring, "--out", tmp_path / "o",
              "--scope", bad)
    assert res.exit_code == 2
    assert "a-z, 0-9, _ and -" in res.stderr
    assert not (tmp_path / "o").exists()
    p = tmp_path / "bad.yaml"
    p.write_text(PROFILE.format(scope=f"scope: {json.dumps(bad)}\n"), encoding="utf-8")
    res = cli("run", data, "--profile", p, "--keyring", keyring, "--out", tmp_path / "o")
    assert res.exit_code == 3
    assert f"{p}:2" in res.stderr and "scope must be 1 to 64 characters" in res.stderr
    assert not (tmp_path / "o").exists()


# -- the vault and rekey, per scope ------------------------------------------------------------------

def _reveal(cli, keyring, vault, *tokens):
    return cli("vault", "reveal", "--domain", "email", "--purpose", "test", *tokens,
               "--keyring", keyring, "--vault", vault)


def test_vault_per_scope(cli, keyring, data, tmp_path):
    profile = _profile(tmp_path)
    vault, only_staging = tmp_path / "vaults" / "shared.db", tmp_path / "vaults" / "staging.db"
    for scope in ("staging", "ml"):
        run_ok(cli, data, tmp_path / scope, profile, keyring, "--scope", scope, "--vault", vault)
    run_ok(cli, data, tmp_path / "s2", profile, keyring, "--scope", "staging", "--vault", only_staging)
    s_tok, m_tok = column(tmp_path / "staging", "people", "email")[4], column(tmp_path / "ml", "people", "email")[4]
    original = column(data, "people", "email")[4]
    # one vault, two scopes: each scope's pseudonyms reveal (records of one did not stand in for the other's)
    for tok in (s_tok, m_tok):
        res = _reveal(cli, keyring, vault, tok)
        assert res.exit_code == 0, res.output
        assert res.stdout == f"{tok}\t{original}\n"
    # a vault written in scope staging knows nothing of scope ml's pseudonyms
    res = _reveal(cli, keyring, only_staging, m_tok)
    assert res.exit_code == 8 and res.stdout == ""
    assert _reveal(cli, keyring, only_staging, s_tok).exit_code == 0
    # forget works per scope: the staging records go, ml's stay until forgotten in ml too
    res = cli("vault", "forget", "--domain", "email", original, "--scope", "staging",
              "--keyring", keyring, "--vault", vault)
    assert res.exit_code == 0, res.output
    assert _reveal(cli, keyring, vault, s_tok).exit_code == 8
    assert _reveal(cli, keyring, vault, m_tok).exit_code == 0
    res = cli("vault", "forget", "--domain", "email", original, "--scope", "ml", "--keyring", keyring, "--vault", vault)
    assert res.exit_code == 0, res.output
    assert _reveal(cli, keyring, vault, m_tok).exit_code == 8
    res = cli("vault", "audit", "--verify", "--keyring", keyring, "--vault", vault)
    assert res.exit_code == 0, res.output


def test_rekey_keeps_the_scope(cli, keyring, data, tmp_path):
    profile = _profile(tmp_path, "staging", "scoped.yaml")
    vault = tmp_path / "vaults" / "v.db"
    v1 = active_version(cli, keyring)
    run_ok(cli, data, tmp_path / "o1", profile, keyring, "--vault", vault)
    v2 = rotate(cli, keyring)
    run_ok(cli, data, tmp_path / "fresh", profile, keyring)  # a fresh staging run under v2
    out = tmp_path / "o2"
    res = cli("rekey", tmp_path / "o1", "--from", v1, "--profile", profile, "--out", out, "--keyring", keyring,
              "--vault", vault, "--workers", "1", "--report", tmp_path / "o2.json")
    assert res.exit_code == 0, res.output
    assert [p.read_bytes() for p in data_files(out)] == [p.read_bytes() for p in data_files(tmp_path / "fresh")]
    doc = json.loads((tmp_path / "o2.json").read_text())
    assert doc["scope"] == "staging" and doc["rekey"] == {"from": v1, "to": v2}
    # a re-key in another scope (or none) is refused: date shifts would be undone with the wrong offsets
    for other in (("--scope", "ml"), ()):
        res = cli("rekey", tmp_path / "o1", "--from", v1, "--profile", _profile(tmp_path) if not other else profile,
                  "--out", tmp_path / "o3", "--keyring", keyring, "--vault", vault, "--workers", "1", *other)
        assert res.exit_code == 6, res.output
        assert "the dataset was made in another scope" in res.stderr and "--scope NAME" in res.stderr
    assert not (tmp_path / "o3").exists()


def test_rekey_of_a_shuffled_copy_shuffles_under_the_new_key(cli, keyring, data, tmp_path):
    """row_order: shuffle in the profile: a re-keyed copy holds the rows of a fresh run under the new
    version, in an order of the new key's (it kept the old copy's order, so position linked the two
    copies)."""
    profile = _profile(tmp_path, "staging", "shuffled.yaml")
    profile.write_text("row_order: shuffle\n" + profile.read_text(), encoding="utf-8")
    vault = tmp_path / "vaults" / "v.db"
    v1 = active_version(cli, keyring)
    run_ok(cli, data, tmp_path / "o1", profile, keyring, "--vault", vault)
    rotate(cli, keyring)
    run_ok(cli, data, tmp_path / "fresh", profile, keyring)
    res = cli("rekey", tmp_path / "o1", "--from", v1, "--profile", profile, "--out", tmp_path / "o2",
              "--keyring", keyring, "--vault", vault, "--workers", "1")
    assert res.exit_code == 0, res.output
    before, after = column(tmp_path / "o1", "leads", "lead_id"), column(tmp_path / "o2", "leads", "lead_id")
    assert sorted(after) == sorted(before)
    assert sum(a == b for a, b in zip(before, after, strict=True)) < len(before) // 10
    assert sorted(column(tmp_path / "o2", "leads", "email")) == sorted(column(tmp_path / "fresh", "leads", "email"))
