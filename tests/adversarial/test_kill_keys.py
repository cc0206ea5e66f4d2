"""kill -9 of `keys destroy`, `keys rotate` and `vault forget`, then a consistency check and a rerun.

Two kinds of kill, both a real SIGKILL of the veil process:

- at each *step*: veil runs under a small wrapper that counts the calls that make a step durable
  (a vault commit, a vault compaction, the keyring's atomic write) and kills itself just before
  or just after the k-th one, for every k: every state a crash can leave is visited;
- at random *times* (fixed seed): the process is killed after a random delay, wherever it is.

After each kill: the keyring loads; `vault audit --verify` passes, or (for a destruction caught
half-way) names the interrupted destruction, which every other command also refuses; the command
run again succeeds; then everything is consistent (no record of a destroyed version, its audit
entry present with the full count, verify passes).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from veil.keys import DESTROYED, load_keyring

from ..conftest import SAMPLES_CSV
from ..vault_fixtures import email_pairs, make_vault_profile
from .harness import run_veil

pytestmark = pytest.mark.adversarial

SEED = 14
RANDOM_KILLS = int(os.environ.get("VEIL_KILL_ITERATIONS", "3"))  # per command; raise it for long runs
_REFUSALS_CHECKED: list[int] = []  # the other commands' refusal is checked on the first few interrupted states

WRAPPER = r'''
import atexit, os, signal, sys
from veil.vault import backends
from veil import keys as K

plan = os.environ.get("VEIL_KILL_AT", "count")
when, _, at = plan.partition(":")
at = int(at or 0)
count = 0

def hook(fn):
    def wrapped(*args, **kwargs):
        global count
        count += 1
        if when == "before" and count == at:
            os.kill(os.getpid(), signal.SIGKILL)
        result = fn(*args, **kwargs)
        if when == "after" and count == at:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    return wrapped

backends.SqliteBackend.commit = hook(backends.SqliteBackend.commit)
backends.SqliteBackend.compact = hook(backends.SqliteBackend.compact)
K._write_private = hook(K._write_private)
if when == "count":
    atexit.register(lambda: open(os.environ["VEIL_KILL_COUNT"], "w").write(str(count)))
from veil.cli import main
main(prog_name="veil")
'''


class Setup:
    def __init__(self, tmp: Path, fresh: bool = True):
        self.tmp = tmp
        self.keyring = tmp / "keys" / "keyring.json"
        self.vault = tmp / "vaultdir" / "vault.db"
        self.profile = tmp / "profiles" / "profile.yaml"
        self.wrapper = tmp / "killer.py"
        if fresh:
            (tmp / "profiles").mkdir(parents=True)
            make_vault_profile(tmp / "profiles")
            self.wrapper.write_text(WRAPPER)
        self.kv = ("--keyring", self.keyring, "--vault", self.vault)

    def veil(self, *args, check: bool = True):
        res = run_veil(*args)
        if check:
            assert res.returncode == 0, res.stderr
        return res

    def popen(self, *args, kill_at: str = "none") -> subprocess.Popen:
        env = dict(os.environ, VEIL_KILL_AT=kill_at, VEIL_KILL_COUNT=str(self.tmp / "count"))
        env.pop("VEIL_DEBUG", None)
        return subprocess.Popen([sys.executable, str(self.wrapper), *map(str, args)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def steps(self, *args) -> int:
        proc = self.popen(*args, kill_at="count")
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        return int((self.tmp / "count").read_text())

    def audit(self) -> list[dict]:
        return json.loads(self.veil("vault", "audit", "--json", *self.kv).stdout)

    def verify(self):
        return self.veil("vault", "audit", "--verify", *self.kv, check=False)

    def records(self, version: str) -> int:
        import sqlite3
        conn = sqlite3.connect(self.vault)
        try:
            return int(conn.execute("SELECT COALESCE(SUM(n), 0) FROM veil_segments WHERE key_version = ?",
                                    [version]).fetchone()[0])
        finally:
            conn.close()


_TEMPLATES: dict[Path, Setup] = {}


def _fresh(tmp: Path, name: str) -> Setup:
    """A keyring with two versions (v1 retired, v2 active) and a vault holding records of both: made
    once per test, then copied (modes kept)."""
    template = _TEMPLATES.get(tmp)
    if template is None:
        template = _TEMPLATES[tmp] = _make(tmp, "template")
    shutil.copytree(template.tmp, tmp / name)
    s = Setup(tmp / name, fresh=False)
    s.v1, s.n_v1 = template.v1, template.n_v1
    return s


def _make(tmp: Path, name: str) -> Setup:
    s = Setup(tmp / name)
    s.veil("keys", "init", s.keyring)
    v1 = json.loads(s.veil("keys", "list", "--json", "--keyring", s.keyring).stdout)[0]["id"]
    s.veil("run", SAMPLES_CSV, "-p", s.profile, "--out", s.tmp / "o1", "-q", "--workers", "1", *s.kv)
    s.veil("keys", "rotate", "--keyring", s.keyring)
    s.veil("run", SAMPLES_CSV, "-p", s.profile, "--out", s.tmp / "o2", "-q", "--workers", "1", *s.kv)
    s.v1 = v1
    s.n_v1 = s.records(v1)
    assert s.n_v1 > 0
    return s


def _kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL after ``delay`` seconds; whether the process was still running when killed."""
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        return True


# -- keys destroy ------------------------------------------------------------------------------

def _check_destroy_after_kill(s: Setup, proc: subprocess.Popen) -> str:
    """After a kill of `keys destroy v1`: the state is one of three, each told apart; the rerun
    finishes it; then everything is consistent. Returns which state the kill left."""
    assert proc.returncode in (0, -signal.SIGKILL)
    ring = load_keyring(s.keyring)  # the keyring is never left half-written
    destroyed = {v.id: v.status for v in ring.versions()}[s.v1] == DESTROYED
    res = s.verify()
    if res.returncode == 0:
        state = "done" if destroyed else "not started"
        if destroyed:
            assert s.records(s.v1) == 0
            assert any(e["action"] == "destroy" and e["key_version"] == s.v1 and e["count"] == s.n_v1
                       for e in s.audit())
    else:
        state = "interrupted"
        assert res.returncode == 8, res.stderr
        assert f"destruction of key version {s.v1} was interrupted" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
        if len(_REFUSALS_CHECKED) >= 3:
            return _rerun_destroy(s, state)
        _REFUSALS_CHECKED.append(1)
        # every other command says so, and does nothing
        pseudonym = email_pairs(SAMPLES_CSV, s.tmp / "o1")[0][0]
        for args in (("vault", "reveal", "--domain", "email", "--purpose", "check", pseudonym, *s.kv),
                     ("run", SAMPLES_CSV, "-p", s.profile, "--out", s.tmp / "o3", "-q", "--workers", "1", *s.kv)):
            r = s.veil(*args, check=False)
            assert r.returncode == 8 and "was interrupted" in r.stderr and f"keys destroy {s.v1}" in r.stderr, \
                r.stderr
            assert r.stdout == "" and not (s.tmp / "o3").exists()
    return _rerun_destroy(s, state)


def _rerun_destroy(s: Setup, state: str) -> str:
    """The rerun finishes whatever was left; then everything is consistent."""
    s.veil("keys", "destroy", s.v1, "--yes", *s.kv)
    res = s.verify()
    assert res.returncode == 0, res.stderr
    assert s.records(s.v1) == 0
    destroy = [e for e in s.audit() if e["action"] == "destroy" and e["key_version"] == s.v1]
    assert destroy and destroy[0]["count"] == s.n_v1
    assert {v.id: v.status for v in load_keyring(s.keyring).versions()}[s.v1] == DESTROYED
    return state


def test_kill_destroy_at_every_step(tmp_path):
    probe = _fresh(tmp_path, "probe")
    n = probe.steps("keys", "destroy", probe.v1, "--yes", *probe.kv)
    assert n >= 4  # begin, delete, keyring, end (+ compaction)
    states = []
    for k in range(1, n + 1):
        for when in ("before", "after"):
            s = _fresh(tmp_path, f"{when}{k}")
            proc = s.popen("keys", "destroy", s.v1, "--yes", *s.kv, kill_at=f"{when}:{k}")
            proc.communicate(timeout=300)
            assert proc.returncode == -signal.SIGKILL
            states.append(_check_destroy_after_kill(s, proc))
    # the window the issue found (keyring saved, vault not yet) is among the states visited
    assert states.count("interrupted") >= 3 and "not started" in states and "done" in states


def test_kill_destroy_at_random_times(tmp_path):
    rng = random.Random(SEED)
    probe = _fresh(tmp_path, "probe")
    t0 = time.monotonic()
    probe.veil("keys", "destroy", probe.v1, "--yes", *probe.kv)
    full = time.monotonic() - t0
    for i in range(RANDOM_KILLS):
        s = _fresh(tmp_path, f"r{i}")
        proc = s.popen("keys", "destroy", s.v1, "--yes", *s.kv)
        _kill_after(proc, rng.uniform(0.5, 1.0) * full)
        _check_destroy_after_kill(s, proc)


# -- keys rotate -------------------------------------------------------------------------------

def _check_rotate_after_kill(s: Setup, before: list[str]) -> None:
    ring = load_keyring(s.keyring)  # old or new, never damaged
    ids = {v.id for v in ring.versions()}
    assert ids == set(before) or (len(ids) == len(before) + 1 and ids > set(before)
                                  and ring.active_version not in before)
    s.veil("keys", "rotate", "--keyring", s.keyring)
    after = load_keyring(s.keyring)
    assert {v.id for v in after.versions()} > ids and after.active_version not in ids
    s.veil("run", SAMPLES_CSV, "-p", s.profile, "--out", s.tmp / "o9", "-q", "--workers", "1", *s.kv)
    assert s.verify().returncode == 0


def test_kill_rotate_at_every_step_and_at_random_times(tmp_path):
    rng = random.Random(SEED)
    probe = Setup(tmp_path / "probe")
    probe.veil("keys", "init", probe.keyring)
    n = probe.steps("keys", "rotate", "--keyring", probe.keyring)
    assert n == 1
    plans = [f"{w}:1" for w in ("before", "after")] + [None] * RANDOM_KILLS
    for i, plan in enumerate(plans):
        s = Setup(tmp_path / f"k{i}")
        s.veil("keys", "init", s.keyring)
        before = [v.id for v in load_keyring(s.keyring).versions()]
        if plan:
            proc = s.popen("keys", "rotate", "--keyring", s.keyring, kill_at=plan)
            proc.communicate(timeout=300)
            assert proc.returncode == -signal.SIGKILL
        else:
            proc = s.popen("keys", "rotate", "--keyring", s.keyring)
            _kill_after(proc, rng.uniform(0.2, 1.2))
        _check_rotate_after_kill(s, before)


# -- vault forget ------------------------------------------------------------------------------

def _check_forget_after_kill(s: Setup, value: str) -> None:
    res = s.verify()
    assert res.returncode == 0, res.stderr  # all or nothing: one transaction
    forgets = [e for e in s.audit() if e["action"] == "forget"]
    assert len(forgets) <= 1
    s.veil("vault", "forget", "--domain", "email", value, *s.kv)
    assert s.verify().returncode == 0
    pseudonym = [p for p, o in email_pairs(SAMPLES_CSV, s.tmp / "o2") if o == value][0]
    r = s.veil("vault", "reveal", "--domain", "email", "--purpose", "check", pseudonym, *s.kv, check=False)
    assert r.returncode == 8 and r.stdout == ""


def test_kill_forget_at_every_step_and_at_random_times(tmp_path):
    rng = random.Random(SEED)
    probe = _fresh(tmp_path, "probe")
    value = email_pairs(SAMPLES_CSV, probe.tmp / "o1")[4][1]
    n = probe.steps("vault", "forget", "--domain", "email", value, *probe.kv)
    t0 = time.monotonic()
    probe.veil("vault", "forget", "--domain", "email", value, *probe.kv)
    full = time.monotonic() - t0
    plans = [f"{w}:{k}" for k in range(1, n + 1) for w in ("before", "after")] + [None] * RANDOM_KILLS
    for i, plan in enumerate(plans):
        s = _fresh(tmp_path, f"f{i}")
        if plan:
            proc = s.popen("vault", "forget", "--domain", "email", value, *s.kv, kill_at=plan)
            proc.communicate(timeout=300)
            assert proc.returncode == -signal.SIGKILL
        else:
            proc = s.popen("vault", "forget", "--domain", "email", value, *s.kv)
            _kill_after(proc, rng.uniform(0.5, 1.0) * full)
        _check_forget_after_kill(s, value)
