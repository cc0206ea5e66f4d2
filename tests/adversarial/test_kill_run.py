"""kill -9 of `veil run` at random times (fixed seed), then a consistency check and a rerun.

For CSV and Parquet inputs, with and without a vault, with two workers: a clean run gives the
reference output; then, several times, a run into the same --out is killed with SIGKILL after a
random delay (anywhere from start-up to past the end of a run) and checked:

- no process the run had started is left (every descendant seen while it ran, by PID);
- the previous output is intact (same bytes), or absent if there was none; nothing else under
  the target's name;
- with a vault, `vault audit --verify` passes;
- the same command run again succeeds, leaves no `.veil-tmp-*` beside the target, and writes the
  reference output byte for byte (which is the previous output of the next round).

VEIL_KILL_ITERATIONS sets the kills per case (default 2; `-s` prints where each kill landed).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from ..test_workers import alive, people
from .harness import run_veil, snapshot

pytestmark = pytest.mark.adversarial

SEED = 14
KILLS = int(os.environ.get("VEIL_KILL_ITERATIONS", "2"))
ROWS = 60_000
PROFILE = """\
version: 1
defaults:
  unknown_columns: fail
tables:
  people:
    primary_key: [id]
    columns:
      id: {{op: pseudonymize, format: token, domain: person_id}}
      email: {{op: pseudonymize, format: email, domain: email{reversible}}}
      city: keep
"""


def start(args: list) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("VEIL_DEBUG", None)
    return subprocess.Popen([sys.executable, "-m", "veil", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)


def kill_after(args: list, delay: float) -> tuple[list[psutil.Process], int, bool]:
    """Start the run, SIGKILL it after ``delay`` seconds; every descendant seen meanwhile, how many
    of them were pool workers, and whether the run had already ended by itself."""
    proc = start(args)
    top = psutil.Process(proc.pid)
    seen: dict[int, psutil.Process] = {}
    workers: set[int] = set()
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            tree = top.children(recursive=True)
            for p in tree:
                seen.setdefault(p.pid, p)
            server = {p.pid for p in tree if "forkserver" in " ".join(_cmdline(p))}
            workers.update(p.pid for p in tree if p.ppid() in server)
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.005)
    ended = proc.poll() is not None
    if not ended:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return list(seen.values()), len(workers), ended


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def left_over(tree: list[psutil.Process], within: float = 10) -> list[tuple[int, str]]:
    deadline = time.monotonic() + within
    left = tree
    while left and time.monotonic() < deadline:
        left = [p for p in left if alive(p)]
        if left:
            time.sleep(0.05)
    found = []
    for p in left:
        try:
            found.append((p.pid, " ".join(p.cmdline())[:80]))
            p.kill()  # not left for the next test
        except psutil.Error:
            pass
    return found


@pytest.mark.parametrize("vault", [False, True], ids=["plain", "vault"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_kill_run_at_random_times(tmp_path: Path, keyring: Path, fmt: str, vault: bool) -> None:
    rng = random.Random(f"{SEED}-{fmt}-{vault}")
    src = tmp_path / "in"
    src.mkdir()
    if fmt == "csv":
        pacsv.write_csv(people(ROWS), src / "people.csv")
    else:
        pq.write_table(people(ROWS), src / "people.parquet")
    prof = tmp_path / "profile.yaml"
    prof.write_text(PROFILE.format(reversible=", reversible: true" if vault else ""))
    out = tmp_path / "out"
    args = ["run", src, "--profile", prof, "--keyring", keyring, "--out", out, "--workers", "2",
            "--batch-size", "500", "-q"]
    if vault:
        args += ["--vault", tmp_path / "vault.db"]
    verify = ["vault", "audit", "--verify", "--keyring", keyring, "--vault", tmp_path / "vault.db"]

    # the reference: a clean run into another directory (and another vault: the same records)
    ref_out = tmp_path / "ref"
    ref_args = [ref_out if a == out else (tmp_path / "ref.db" if a == tmp_path / "vault.db" else a) for a in args]
    t0 = time.monotonic()
    res = run_veil(*ref_args)
    clean_seconds = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    reference = snapshot(ref_out)
    assert reference

    before: dict | None = None  # the output the killed run must leave alone (None: there is none yet)
    for i in range(KILLS):
        delay = rng.uniform(0.05, clean_seconds * 1.1)
        tree, workers, ended = kill_after(args, delay)
        where = f"round {i}, killed after {delay:.2f}s of a {clean_seconds:.2f}s run"
        print(f"kill-run {fmt} {'vault' if vault else 'plain'} {where}: "
              f"{'ended before the kill' if ended else 'killed'}, {len(tree)} descendants seen "
              f"({workers} workers)")
        assert tree or ended or delay < 1.5, f"{where}: no child process seen"
        assert not left_over(tree), f"{where}: processes left"
        if ended:  # the run finished before the kill: its output is the reference
            assert snapshot(out) == reference, where
        elif before is None:
            assert not out.exists(), f"{where}: a killed run left an output"
        else:
            assert snapshot(out) == before, f"{where}: the previous output changed"
        assert not [p for p in tmp_path.iterdir() if p.name.startswith("out") and p.name != "out"], where
        if vault and (tmp_path / "vault.db").exists():
            res = run_veil(*verify)
            assert res.returncode == 0, f"{where}: vault audit --verify: {res.stdout[-1000:]} {res.stderr[-1000:]}"

        res = run_veil(*args)
        assert res.returncode == 0, f"{where}: the rerun failed: {res.stderr[-2000:]}"
        assert snapshot(out) == reference, f"{where}: the rerun's output differs from a clean run's"
        assert not list(tmp_path.glob(".veil-tmp-*")), f"{where}: temporary output left after the rerun"
        before = reference
    if vault:
        res = run_veil(*verify)
        assert res.returncode == 0, res.stdout + res.stderr
