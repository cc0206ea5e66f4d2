"""The Spark engine's scaling and overhead, and the Python API against the CLI.

    python bench/bench_spark.py                 # 1M rows, 3 repeats
    python bench/bench_spark.py --rows 10000000 --repeat 1

On the benchmark table (bench/_common.py: 8 columns, 5 transformed), in the same run:

- Spark local[1] and local[2] (``veil run --engine spark``, each in its own process): the job's
  time (the session's start, ~8 s of JVM, is reported apart) and the speed-up local[2]/local[1];
  and local[1] with its whole process tree pinned to one CPU (the JVM and the Python workers share
  it) against local[2] on two: the speed-up from one core to two;
  the CPU-seconds of the driver, the JVM and the Python workers in each, their busy cores, and the
  bound on the speed-up that sets on this machine's cores (cores / busy cores of local[1]);
- veil's local engine (``veil run --workers 2``) against Spark local[2]: the overhead ratio;
- ``veil.anonymize`` on a pandas DataFrame of the table (conversion to and from Arrow included)
  against ``veil run --workers 1`` on its Parquet file (one process each).

Medians of the repeats; runs alternate so drift hits every variant alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA_DIR, median, prepare  # noqa: E402


class _CpuPoll:
    """CPU-seconds of this process tree during a run, by process kind: the driver (this Python
    process), the JVM, and the Python workers (pyspark's daemon and its forks). psutil polls every
    ``every`` s; a process's last reading counts (a worker exiting between polls loses < ``every``)."""

    def __init__(self, every: float = 0.1):
        import threading

        import psutil

        self.me = psutil.Process()
        self.every, self.start, self.last = every, {}, {}
        self.kind: dict[int, str] = {}
        self._stop = threading.Event()
        self._poll()
        self.start = dict(self.last)  # CPU spent before the run (the JVM's start) is not counted
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        import psutil

        for proc in [self.me, *self.me.children(recursive=True)]:
            try:
                t = proc.cpu_times()
                if proc.pid not in self.kind:
                    name = proc.name()
                    self.kind[proc.pid] = ("driver" if proc.pid == self.me.pid else
                                           "jvm" if name.startswith("java") else "python_workers")
                self.last[proc.pid] = t.user + t.system
            except psutil.Error:  # exited between the listing and the reading
                continue

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self._poll()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self._poll()
        out = {"driver": 0.0, "jvm": 0.0, "python_workers": 0.0}
        for pid, cpu in self.last.items():
            out[self.kind[pid]] += cpu - self.start.get(pid, 0.0)
        return out


def _spark_job(src: Path, out: Path, profile: Path, keyring: Path, workers: int) -> dict:
    """In this process: start a local[workers] session, then time one run (printed as JSON) and
    the CPU-seconds each kind of process spent in it (_CpuPoll)."""
    import veil
    from veil.spark.run import run_spark

    t0 = time.perf_counter()
    from pyspark.sql import SparkSession

    # no Arrow batch size here: run_spark sets it itself, as for veil run --engine spark
    spark = SparkSession.builder.master(f"local[{workers}]").config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter() - t0
    keys = veil.load_keyring(keyring)
    poll = _CpuPoll()
    t1 = time.perf_counter()
    run_spark(src, veil.load_profile(profile), keys, out, spark=spark)
    job = time.perf_counter() - t1
    cpu = poll.stop()
    spark.stop()
    return {"startup": started, "job": job, "cpu": cpu}


def _subprocess_spark(src, out, profile, keyring, workers, cores: int | None = None) -> dict:
    """A Spark run in its own process; with ``cores``, that process and all it starts (the JVM, the
    Python workers) pinned to the first ``cores`` CPUs (sched_setaffinity, inherited by children)."""
    if out.exists():
        shutil.rmtree(out)
    pin = (lambda: os.sched_setaffinity(0, set(range(cores)))) if cores else None
    proc = subprocess.run([sys.executable, __file__, "--spark-job", str(workers), "--src", str(src), "--out", str(out),
                           "--profile", str(profile), "--keyring", str(keyring)],
                          capture_output=True, text=True, check=True, preexec_fn=pin)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cli(src, out, profile, keyring, workers) -> float:
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "veil", "run", str(src), "-p", str(profile), "--keyring", str(keyring),
                    "--out", str(out), "--workers", str(workers), "-q"], check=True)
    return time.perf_counter() - t0


def _api(parquet: Path, profile: Path, keyring: Path) -> float:
    import pyarrow.parquet as pq

    import veil

    df = pq.read_table(parquet).to_pandas()
    keys = veil.load_keyring(keyring)
    t0 = time.perf_counter()
    veil.anonymize(df, profile, keys, table="customers")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--spark-job", type=int, default=None, help=argparse.SUPPRESS)
    for internal in ("--src", "--out", "--profile", "--keyring"):
        ap.add_argument(internal, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.spark_job is not None:
        print(json.dumps(_spark_job(args.src, args.out, args.profile, args.keyring, args.spark_job)))
        return 0
    inputs = prepare(args.rows, ("parquet",))
    src = DATA_DIR / f"spark-in-{args.rows}"
    src.mkdir(parents=True, exist_ok=True)
    link = src / "customers.parquet"
    if not link.exists():
        link.symlink_to(inputs.parquet)
    out = DATA_DIR / "spark-out"
    print(f"veil bench_spark: {args.rows:,} rows, repeat {args.repeat}, {os.cpu_count()} CPUs")
    runs: dict[str, list[float]] = {k: [] for k in ("spark1", "spark2", "spark1core", "startup", "local2", "cli1",
                                                     "api")}
    cpu: dict[str, list[dict]] = {"spark1": [], "spark2": [], "spark1core": []}
    for i in range(args.repeat):
        s1 = _subprocess_spark(src, out, inputs.profile, inputs.keyring, 1)
        s2 = _subprocess_spark(src, out, inputs.profile, inputs.keyring, 2)
        s1c = _subprocess_spark(src, out, inputs.profile, inputs.keyring, 1, cores=1)
        for k, r in (("spark1", s1), ("spark2", s2), ("spark1core", s1c)):
            runs[k].append(r["job"])
            cpu[k].append(r["cpu"])
        runs["startup"] += [s1["startup"], s2["startup"]]
        runs["local2"].append(_cli(src, out, inputs.profile, inputs.keyring, 2))
        runs["cli1"].append(_cli(inputs.parquet, DATA_DIR / "cli1.parquet", inputs.profile, inputs.keyring, 1))
        runs["api"].append(_api(inputs.parquet, inputs.profile, inputs.keyring))
        print(f"  repeat {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in runs.items()), flush=True)
    m = {k: median(v) for k, v in runs.items()}
    busy = {}
    for k, label in (("spark1", "local[1]"), ("spark2", "local[2]"), ("spark1core", "local[1] on 1 core")):
        parts = {kind: median([c[kind] for c in cpu[k]]) for kind in cpu[k][0]}
        busy[k] = median([sum(c.values()) / t for c, t in zip(cpu[k], runs[k], strict=True)])
        print(f"Spark {label} CPU-s: " + ", ".join(f"{kind} {v:.2f}" for kind, v in parts.items())
              + f"; busy cores {busy[k]:.2f} (CPU-s / job time)")
    print(f"bound on {os.cpu_count()} cores: local[2]/local[1] <= {os.cpu_count()} / {busy['spark1']:.2f} = "
          f"{os.cpu_count() / busy['spark1']:.2f}x (local[1] already keeps {busy['spark1']:.2f} cores busy)")
    print(f"Spark local[1] job: {m['spark1']:.2f}s  local[2] job: {m['spark2']:.2f}s  "
          f"speed-up {m['spark1'] / m['spark2']:.2f}x (target >= 1.6x)")
    per_row = {k: median([sum(c.values()) for c in cpu[k]]) / args.rows * 1e6 for k in cpu}
    print(f"Spark local[1] pinned to 1 core (JVM and workers): {m['spark1core']:.2f}s  local[2] on {os.cpu_count()} "
          f"cores: {m['spark2']:.2f}s  speed-up from 1 core to 2: {m['spark1core'] / m['spark2']:.2f}x "
          f"(CPU-us per row: {per_row['spark1core']:.2f} on 1 core, {per_row['spark2']:.2f} on 2)")
    print(f"Spark session start (JVM): {m['startup']:.2f}s (not in the job times)")
    print(f"local engine --workers 2 (whole command): {m['local2']:.2f}s  Spark local[2]/local engine: "
          f"{m['spark2'] / m['local2']:.2f}x (job only), {(m['spark2'] + m['startup']) / m['local2']:.2f}x with start")
    print(f"rows/s per core: Spark local[1] {args.rows / m['spark1']:,.0f}, local engine (2 workers) "
          f"{args.rows / m['local2'] / 2:,.0f}")
    print(f"Python API on pandas: {m['api']:.2f}s  CLI --workers 1: {m['cli1']:.2f}s  "
          f"API/CLI {m['api'] / m['cli1']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
