"""Malformed profiles, Parquet files and operator inputs end in a clean error, never a crash (issue 14.7).

Each case used to exit 1 (internal error) or spin; each now gives a VeilError with the right exit
code, a message naming the place (file:line, table.column, row) and never a value.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import SAMPLES_CSV

# -- profiles ---------------------------------------------------------------------------


def _billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join(["*" + prev] * 9) + "]")
    return "version: 1\ntables: {}\n" + "\n".join(lines) + "\n"


def _validate(path, *extra) -> subprocess.CompletedProcess:
    # a subprocess with a timeout: the unbounded cases used to spin for minutes
    env = dict(os.environ)
    env.pop("VEIL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "veil", "validate", str(path), *map(str, extra)],
                          capture_output=True, text=True, timeout=60, env=env)


def _clean(res, code: int = 3) -> str:
    assert res.returncode == code, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert "internal error" not in res.stderr
    return res.stderr


def test_yaml_aliases_are_refused_before_expanding(tmp_path):
    prof = tmp_path / "laughs.yaml"
    prof.write_text(_billion_laughs())
    err = _clean(_validate(prof))
    assert f"{prof}:3:" in err and "aliases" in err


def test_a_single_alias_is_refused_with_its_line(tmp_path, cli):
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  t:\n    columns:\n      a: &rule {op: redact}\n      b: *rule\n")
    res = cli("validate", prof)
    assert res.exit_code == 3
    assert f"{prof}:5:" in res.stderr


def test_deep_nesting_is_refused(tmp_path):
    prof = tmp_path / "deep.yaml"
    prof.write_text("version: 1\ntables:\n  t: " + "[" * 5000 + "]" * 5000 + "\n")
    err = _clean(_validate(prof))
    assert "nested more than" in err and f"{prof}:3:" in err
    prof.write_text("version: 1\ntables:\n  t: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n")
    assert "nested more than" in _clean(_validate(prof))


@pytest.mark.parametrize("kind", ["dir", "fifo", "device", "latin1", "empty", "blank", "nul", "missing"])
def test_profile_path_that_is_no_yaml_file(kind, tmp_path, cli):
    prof = tmp_path / "p.yaml"
    if kind == "dir":
        prof.mkdir()
    elif kind == "fifo":
        os.mkfifo(prof)  # reading it would block forever
    elif kind == "device":
        prof = "/dev/zero"  # reading it would never end
    elif kind == "latin1":
        prof.write_bytes("version: 1\ntables: {t: {columns: {caf\xe9: keep}}}\n".encode("latin-1"))
    elif kind == "empty":
        prof.write_bytes(b"")
    elif kind == "blank":
        prof.write_text("  \n# nothing\n")
    elif kind == "nul":
        prof.write_bytes(b"version: 1\x00\n")
    res = cli("validate", prof)
    assert res.exit_code == 3, res.stderr
    assert str(prof) in res.stderr and "internal error" not in res.stderr
    out = tmp_path / "out"
    res = cli("run", SAMPLES_CSV, "--profile", prof, "--out", out)
    assert res.exit_code == 3 and not out.exists()


def test_unreadable_profile(tmp_path, cli, monkeypatch):
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables: {}\n")
    real_open = os.open

    def denied(path, *a, **k):  # tests run as root, where chmod 000 does not stop a read
        if str(path) == str(prof):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", denied)
    res = cli("validate", prof)
    assert res.exit_code == 3 and "permission denied" in res.stderr


@pytest.mark.parametrize("text, where", [
    ("version: 1\ntables:\n  t:\n    columns:\n      a: !!python/object:os.system {}\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    columns:\n      a: {op: redact, value: !!python/name:os.system ''}\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    columns:\n      a: {op: redact, value: !foo bar}\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    columns:\n      a: {op: redact, value: !!binary '%%'}\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    columns:\n      a: {op: redact, value: 2020-02-30}\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    columns:\n      ? [a, b]\n      : keep\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    columns:\n      a: {op: [redact]}\n", ":5:"),
    ("version: 1\ntables:\n  t:\n    unique: 5\n", ":4:"),
    ("version: 1\ntables:\n  t:\n    foreign_keys: {columns: [a]}\n", ":4:"),
    ("version: 1\ntables: !!set {a, b}\n", ":2:"),
    ("version: 1\n---\nversion: 1\n", ":2:"),
])
def test_odd_yaml_is_a_profile_problem(text, where, tmp_path, cli):
    prof = tmp_path / "p.yaml"
    prof.write_text(text)
    res = cli("validate", prof)
    assert res.exit_code == 3, res.stderr
    assert f"{prof}{where}" in res.stderr
