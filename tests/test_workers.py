"""Worker processes end with the run (issue 14, point 5).

``veil run --workers 2`` starts a forkserver, a resource tracker and the pool workers (children
of the forkserver). A run killed with kill -9 used to leave all of them alive for good: each worker
waits on a queue whose write end it holds itself, and holds the forkserver's and the tracker's
pipes open. Each test here starts a real run, waits until both workers exist, kills the run with
SIGKILL and checks by PID that every process it had started is gone within a few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from . import dump_fixtures
from .dump_fixtures import PgServer, pg_dump

pg, pg_tools = dump_fixtures.pg, dump_fixtures.pg_tools

ROWS = 200_000
PROFILE = """\
version: 1
defaults:
  unknown_columns: fail
tables:
  {table}:
    primary_key: [id]
    columns:
      id: keep
      email: {{op: pseudonymize, format: email, domain: email}}
      city: keep
"""


def people(rows: int = ROWS) -> pa.Table:
    return pa.table({"id": pa.array([str(i) for i in range(rows)]),
                     "email": pa.array([f"user{i}@example.com" for i in range(rows)]),
                     "city": pa.array(["Paris", "Lyon"] * (rows // 2) + ["Paris"] * (rows % 2))})


def alive(p: psutil.Process) -> bool:
    """Running and not a zombie (an orphan's zombie is reaped by init, if init reaps at all)."""
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def start(*args) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("VEIL_DEBUG", None)
    return subprocess.Popen([sys.executable, "-m", "veil", "run", *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def busy_tree(proc: subprocess.Popen, workers: int = 2, timeout: float = 120) -> list[psutil.Process]:
    """Every descendant of ``proc`` once ``workers`` pool workers (children of the forkserver) run."""
    top = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the run ended (exit {proc.returncode}) before its workers were seen: "
                        f"{proc.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            tree = top.children(recursive=True)
            servers = [p for p in tree if "forkserver" in " ".join(p.cmdline())]
            pool = [p for p in tree if servers and p.ppid() == servers[0].pid]
        except psutil.NoSuchProcess:
            continue
        if len(pool) >= workers:
            return tree
        time.sleep(0.005)
    pytest.fail("the run's workers never appeared")


def kill_and_check(proc: subprocess.Popen, tree: list[psutil.Process], within: float = 10) -> None:
    """SIGKILL the run; every process of ``tree`` must be gone ``within`` seconds (checked by PID)."""
    assert tree, "the run had no child process"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    deadline = time.monotonic() + within
    left = tree
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    described = [(p.pid, " ".join(p.cmdline())[:80]) for p in left if alive(p)]
    for p in left:  # do not leave them behind for the next test
        try:
            p.kill()
        except psutil.Error:
            pass
    assert not described, f"processes left after kill -9 of the run: {described}"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("vault", [False, True], ids=["plain", "vault"])
def test_kill_run_leaves_no_worker(tmp_path: Path, keyring: Path, fmt: str, vault: bool) -> None:
    data = tmp_path / "in"
    data.mkdir()
    if fmt == "csv":
        pacsv.write_csv(people(), data / "people.csv")
    else:
        pq.write_table(people(), data / "people.parquet")
    prof = tmp_path / "profile.yaml"
    prof.write_text(PROFILE.format(table="people"))
    extra = ("--vault", tmp_path / "vault.db") if vault else ()
    proc = start(data, "--profile", prof, "--keyring", keyring, "--out", tmp_path / "out", "--workers", "2",
                 "--batch-size", "500", "-q", *extra)
    kill_and_check(proc, busy_tree(proc))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("form", ["plain", "custom"])
def test_kill_dump_run_leaves_no_process(tmp_path: Path, keyring: Path, pg: PgServer, form: str) -> None:
    """SQL dumps go through the same engine; a custom archive also has a pg_restore child."""
    db = pg.create("veil_src")
    with pg.connect(db) as conn:
        conn.execute("CREATE TABLE people (id int PRIMARY KEY, email text, city text)")
        conn.execute(f"INSERT INTO people SELECT i, 'user' || i || '@example.com', 'Paris' "
                     f"FROM generate_series(1, {ROWS}) i")
    dump = pg_dump(db, tmp_path / ("people.sql" if form == "plain" else "people.dump"),
                   *(["-Fc"] if form == "custom" else []))
    prof = tmp_path / "profile.yaml"
    prof.write_text(PROFILE.format(table="people"))
    proc = start(dump, "--profile", prof, "--keyring", keyring, "--out", tmp_path / "out.sql", "--workers", "2",
                 "--batch-size", "500", "-q")
    tree = busy_tree(proc)
    if form == "custom":
        assert any("pg_restore" in " ".join(p.cmdline()) for p in tree)
    kill_and_check(proc, tree)
    assert not (tmp_path / "out.sql").exists()


def test_worker_ends_when_its_run_ends(tmp_path: Path) -> None:
    """The watchdog alone (no kill of the forkserver): a worker started for a process that then
    exits ends within a second or two, whoever its parent is."""
    script = tmp_path / "w.py"
    script.write_text(
        "import os, sys, time\n"
        "from veil.pipeline import worker_init, RunContext\n"
        "watched = int(sys.argv[1])\n"
        "worker_init(RunContext(None), watched)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n")
    watched = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    worker = subprocess.Popen([sys.executable, str(script), str(watched.pid)], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "ready"
        watched.kill()
        watched.wait()
        assert worker.wait(timeout=10) != 0
    finally:
        for p in (watched, worker):
            if p.poll() is None:
                p.kill()
                p.wait()
