"""The utility and integrity checks of `veil verify` against reading the same data.

    python bench/bench_verify_utility.py                      # 1M rows x 8 columns, parquet, 3 rounds
    python bench/bench_verify_utility.py --rows 100000 --repeat 1 --formats parquet,csv

The benchmark table (bench/_common.py: 8 columns, 5 transformed by its profile) goes through
`veil run` once; then, alternating, each round measures in a subprocess (wall time, peak RSS):

- **read**: both datasets streamed the way `veil verify` reads them (`verify.runner.stream`), rows
  counted, nothing else: the floor any check pays;
- **checks**: `verify_paths` with only UtilityCheck and IntegrityCheck, each check's own seconds
  measured inside (original + copy + finish).

The ratio checks/read is what the two checks cost on top of reading. `veil run`'s time on the same
input is printed for scale (the issue's target: the whole of verify <= 2x run; bench_verify.py
measures that).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA_DIR, RSS_METHOD, cleanup, measure, median, prepare, veil_cmd  # noqa: E402


class Timed:
    """A check wrapped to add up the seconds spent in it."""

    def __init__(self, check) -> None:
        self.check, self.name, self.seconds = check, check.name, 0.0

    def _time(self, fn, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.seconds += time.perf_counter() - t0

    def original(self, table, batch):
        self._time(self.check.original, table, batch)

    def copy(self, table, batch, original):
        self._time(self.check.copy, table, batch, original)

    def finish(self):
        return self._time(self.check.finish)


def child_read(inp: str, out: str) -> None:
    from veil.formats import open_dataset
    from veil.verify.runner import stream

    rows = 0
    for path in (inp, out):
        for _, batch in stream(open_dataset(path)):
            rows += batch.num_rows
    print(json.dumps({"rows": rows}))


def child_checks(inp: str, out: str, profile: str) -> None:
    from veil.profile import load_profile
    from veil.verify.integrity import IntegrityCheck
    from veil.verify.runner import verify_paths
    from veil.verify.utility import UtilityCheck

    timed: list[Timed] = []

    def wrap(cls):
        def make(ctx):
            timed.append(Timed(cls(ctx)))
            return timed[-1]
        return make

    report = verify_paths(inp, out, load_profile(profile), [wrap(UtilityCheck), wrap(IntegrityCheck)])
    print(json.dumps({"seconds": {t.name: round(t.seconds, 3) for t in timed},
                      "utility": report["utility"]["summary"], "integrity": report["integrity"]["summary"],
                      "scores": {c: v["distance"] for c, v in
                                 report["utility"]["tables"]["customers"]["columns"].items()}}))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--formats", default="parquet")
    ap.add_argument("--keep", action="store_true", help="keep the generated data in bench/_data")
    args = ap.parse_args(argv)
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    import pyarrow

    print(f"veil bench_verify_utility: {args.rows:,} rows x 8 columns, repeat {args.repeat}")
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, pyarrow {pyarrow.__version__}")
    inputs = prepare(args.rows, formats)
    out_dir = DATA_DIR / "out-verify-utility"
    me = str(Path(__file__).resolve())
    rows = []
    try:
        for fmt in formats:
            inp = inputs.parquet if fmt == "parquet" else inputs.csv
            out_dir.mkdir(parents=True, exist_ok=True)
            out = out_dir / fmt / inp.name  # the input's name: verify pairs tables by name
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.exists():
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            run = measure(veil_cmd(inp, out, inputs, args.workers))
            print(f"  {fmt}: veil run {run.seconds:.2f}s {run.peak_tree_mb:.0f} MB (for scale)", flush=True)
            reads, checks, inner = [], [], []
            for i in range(args.repeat):
                r = measure([sys.executable, me, "_read", str(inp), str(out)])
                c = _measure_json(me, inp, out, inputs.profile)
                reads.append(r)
                checks.append(c[0])
                inner.append(c[1])
                print(f"  {fmt} #{i + 1}: read {r.seconds:6.2f}s {r.peak_tree_mb:5.0f} MB | checks "
                      f"{c[0].seconds:6.2f}s {c[0].peak_tree_mb:5.0f} MB (inside: {c[1]['seconds']}) | "
                      f"ratio {c[0].seconds / r.seconds:.2f}x | utility {c[1]['utility']['utility']}, "
                      f"fk {c[1]['integrity']['fk']}", flush=True)
            rows.append((fmt, run.seconds, median([m.seconds for m in reads]),
                         median([m.seconds for m in checks]),
                         median([c.seconds / r.seconds for c, r in zip(checks, reads, strict=True)]),
                         max(m.peak_tree_mb for m in reads), max(m.peak_tree_mb for m in checks)))
            print(f"  {fmt}: column distances {inner[-1]['scores']}")
    finally:
        if not args.keep:
            cleanup(inputs)
        shutil.rmtree(out_dir, ignore_errors=True)
    print()
    head = (f"{'format':<8} {'rows':>10} {'run s':>7} {'read s':>7} {'checks s':>9} {'checks/read':>11} "
            f"{'RSS read MB':>12} {'RSS checks MB':>14}")
    print(head)
    print("-" * len(head))
    for fmt, t_run, t_read, t_chk, ratio, m_read, m_chk in rows:
        print(f"{fmt:<8} {args.rows:>10,} {t_run:>7.2f} {t_read:>7.2f} {t_chk:>9.2f} {ratio:>10.2f}x "
              f"{m_read:>12.0f} {m_chk:>14.0f}")
    print()
    print(f"times: medians of {args.repeat} rounds (process start to exit); checks/read: median of per-round ratios")
    print(f"memory: max over rounds; {RSS_METHOD}")
    return 0


def _measure_json(me: str, inp: Path, out: Path, profile: Path):
    """Measure the checks' subprocess and read the JSON it prints."""
    result = DATA_DIR / "out-verify-utility" / "checks.json"
    m = measure([sys.executable, me, "_checks", str(inp), str(out), str(profile), str(result)])
    return m, json.loads(result.read_text())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_read":
        child_read(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "_checks":
        sys.stdout = open(sys.argv[5], "w")  # noqa: SIM115 - the parent reads it back
        child_checks(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(main())
