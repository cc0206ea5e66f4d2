"""Atomic output: a failed or killed run never leaves a partial output or harms the previous one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .conftest import SHOP_PROFILE


def snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_failed_run_keeps_previous_output(tmp_path, shop_csv, keyring, cli):
    out = tmp_path / "out"
    assert cli("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", out, "-q").exit_code == 0
    before = snapshot(out)
    # damage the last table read (support_tickets): an extra field on its last line
    path = shop_csv / "support_tickets.csv"
    path.write_bytes(path.read_bytes() + b'999,1,2020-01-01 00:00:00,"s","b",extra\n')
    res = cli("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", out)
    assert res.exit_code == 5
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".veil")] == []


def test_rerun_replaces_previous_output(tmp_path, shop_csv, keyring, cli):
    out = tmp_path / "out"
    assert cli("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", out, "-q").exit_code == 0
    (out / "stale.csv").write_text("left from an older run\n")
    assert cli("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", out, "-q").exit_code == 0
    assert not (out / "stale.csv").exists() and (out / "customers.csv").exists()


def test_refuses_to_replace_a_foreign_directory(tmp_path, shop_csv, keyring, cli):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    res = cli("run", shop_csv, "-p", SHOP_PROFILE, "--keyring", keyring, "--out", out)
    assert res.exit_code == 2 and "not written by veil" in res.stderr  # a usage error, checked up front
    assert (out / "thesis.tex").read_text() == "years of work"


def _big_input(d: Path, rows: int = 600_000) -> None:
    rng = np.random.default_rng(7)
    d.mkdir()
    pq.write_table(pa.table({
        "id": np.arange(rows, dtype=np.int64),
        "email": pa.array([f"user{i}@corp.example" for i in rng.integers(0, rows, rows)]),
    }), d / "big.parquet", row_group_size=50_000)


def test_kill_9_leaves_previous_output_and_nothing_partial(tmp_path, keyring):
    data = tmp_path / "in"
    _big_input(data)
    prof = tmp_path / "p.yaml"
    prof.write_text("version: 1\ntables:\n  big:\n    columns:\n      id: keep\n"
                    "      email: {op: pseudonymize, format: email}\n")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "veil", "run", str(data), "-p", str(prof), "--keyring", str(keyring),
           "--out", str(out), "-q", "--batch-size", "20000", "--workers", "1"]
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    before = snapshot(out)

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    # wait until the run is writing into its temporary directory, then kill it hard
    deadline = time.monotonic() + 120
    tmp_dirs: list[Path] = []
    while time.monotonic() < deadline:
        tmp_dirs = [p for p in tmp_path.glob(".veil-tmp-out-*") if any(p.iterdir())]
        part = tmp_dirs[0] / "big.parquet" if tmp_dirs else None
        if part is not None and part.exists() and part.stat().st_size:
            break
        time.sleep(0.01)
    assert tmp_dirs, "the run never started writing"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # the target still holds exactly the previous output; the partial one is hidden beside it
    assert snapshot(out) == before
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".veil-tmp-out-")]
    # the next run removes the dead run's leftovers and succeeds
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".veil-tmp-")] == []
    assert snapshot(out) == before  # deterministic: the same bytes again


def test_background_writer_keeps_order_and_raises_the_writers_error():
    """The output writer's thread writes batches in order, closes the writer, and hands its error
    (a full disk, say) to the main thread: at a later write or at close, never lost."""
    import pyarrow as pa
    import pytest

    from veil.pipeline import BackgroundWriter

    class Recorder:
        def __init__(self, fail_at: int | None = None):
            self.seen, self.closed, self.fail_at = [], False, fail_at

        def write(self, batch):
            if len(self.seen) == self.fail_at:
                raise OSError(28, "No space left on device")
            self.seen.append(batch.column(0)[0].as_py())

        def close(self):
            self.closed = True

    batches = [pa.record_batch({"x": [i]}) for i in range(50)]
    ok = Recorder()
    w = BackgroundWriter(ok, depth=2)
    for b in batches:
        w.write(b)
    w.close()
    assert ok.seen == list(range(50)) and ok.closed

    bad = Recorder(fail_at=3)
    w = BackgroundWriter(bad, depth=2)
    with pytest.raises(OSError, match="No space"):
        try:  # as _run_table does
            for b in batches:
                w.write(b)
        finally:
            w.close()
    assert bad.closed and bad.seen == [0, 1, 2]
