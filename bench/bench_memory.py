"""Streaming check: veil's peak memory must not grow with the input size.

    python bench/bench_memory.py                  # 1M and 4M rows, Parquet
    python bench/bench_memory.py --format csv     # CSV, and Parquet as the reference, same run
    python bench/bench_memory.py --format csv --repeat 5 --sizes 1000000,4000000

Runs `veil run` (same profile, default --workers) on the benchmark table at two
sizes, --repeat times each, and compares the peak RSS of veil's process tree and
of its main process (medians). A streaming pipeline holds a bounded window of
batches, so 4x the rows should cost about the same memory: the ratio 4M/1M
should stay near 1.0 and the growth per extra million rows near 0. With
--format csv, Parquet is measured in the same run and CSV's growth is printed
beside it (target: CSV within +10 MB per extra million rows, main process and
tree, as flat as Parquet).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA_DIR, RSS_METHOD, cleanup, measure, median, prepare, veil_cmd  # noqa: E402

TARGET_RATIO = 1.5  # peak RSS of the tree, large size / small size
TARGET_SLOPE = 10.0  # MB per extra million rows, main process and tree


def run_format(fmt: str, sizes: list[int], workers: int | None, repeat: int, keep: bool) -> list[tuple]:
    """[(rows, input MB, median seconds, median tree MB, median main MB, every tree MB, every main MB)]"""
    rows_out = []
    for rows in sizes:
        inputs = prepare(rows, (fmt,))
        inp = inputs.parquet if fmt == "parquet" else inputs.csv
        out = DATA_DIR / "out" / f"mem{inp.suffix}"
        runs = []
        try:
            for _ in range(repeat):
                if out.exists():
                    shutil.rmtree(out) if out.is_dir() else out.unlink()
                runs.append(measure(veil_cmd(inp, out, inputs, workers)))
            size_mb = inp.stat().st_size / 2**20
        finally:
            if not keep:
                cleanup(inputs)
        trees, mains = [m.peak_tree_mb for m in runs], [m.peak_main_mb for m in runs]
        row = (rows, size_mb, median([m.seconds for m in runs]), median(trees), median(mains), trees, mains)
        rows_out.append(row)
        print(f"  {fmt:>7} {rows:>10,} rows ({size_mb:,.0f} MB input): {row[2]:.2f}s, "
              f"peak RSS tree {row[3]:.0f} MB, main process {row[4]:.0f} MB "
              f"(medians of {repeat}; tree {', '.join(f'{x:.0f}' for x in trees)}; "
              f"main {', '.join(f'{x:.0f}' for x in mains)})", flush=True)
    return rows_out


def slopes(rows_out: list[tuple]) -> tuple[float, float, float, float]:
    """(tree ratio, main ratio, tree MB per extra million rows, main MB per extra million rows)"""
    (r1, _, _, t1, m1, *_), (r2, _, _, t2, m2, *_) = rows_out
    extra = (r2 - r1) / 1e6
    return t2 / t1, m2 / m1, (t2 - t1) / extra, (m2 - m1) / extra


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    ap.add_argument("--sizes", default="1000000,4000000",
                    help="two comma-separated row counts, small then large (default: 1M,4M)")
    ap.add_argument("--workers", type=int, default=None,
                    help="passed to veil run (default: veil's own default, the CPU count)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per format and size; medians are reported")
    ap.add_argument("--no-reference", action="store_true",
                    help="with --format csv, do not measure Parquet alongside")
    ap.add_argument("--keep", action="store_true", help="keep the generated data in bench/_data")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if len(sizes) != 2 or min(sizes) < 1 or sizes[0] >= sizes[1]:
        ap.error("--sizes takes two positive row counts, small then large")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    formats = [args.format] + (["parquet"] if args.format == "csv" and not args.no_reference else [])

    print(f"veil bench_memory: {', '.join(formats)}, rows {sizes[0]:,} and {sizes[1]:,}, "
          f"--workers {args.workers or 'default'} ({os.cpu_count()} CPUs), {args.repeat} run(s) each")
    results = {fmt: run_format(fmt, sizes, args.workers, args.repeat, args.keep) for fmt in formats}

    print()
    r1, r2 = sizes
    size_ratio = r2 // r1 if r2 % r1 == 0 else round(r2 / r1, 2)
    met = True
    for fmt, rows_out in results.items():
        (_, _, _, t1, m1, *_), (_, _, _, t2, m2, *_) = rows_out
        tree_ratio, main_ratio, tree_slope, main_slope = slopes(rows_out)
        print(f"{fmt}: peak RSS (process tree) {t1:.0f} MB -> {t2:.0f} MB ({size_ratio}x rows -> "
              f"{tree_ratio:.2f}x memory); main process (VmHWM) {m1:.0f} MB -> {m2:.0f} MB ({main_ratio:.2f}x)")
        print(f"{fmt}: growth per extra million rows: tree {tree_slope:+.1f} MB, main process {main_slope:+.1f} MB "
              "(a streaming run stays near 0)")
        ok = tree_ratio <= TARGET_RATIO and (fmt == "parquet" or max(tree_slope, main_slope) <= TARGET_SLOPE)
        met = met and ok
    if "csv" in results and "parquet" in results:
        _, _, ct, cm = slopes(results["csv"])
        _, _, pt, pm = slopes(results["parquet"])
        print(f"csv against parquet, same run: growth per extra million rows, tree {ct:+.1f} vs {pt:+.1f} MB "
              f"({ct - pt:+.1f}), main process {cm:+.1f} vs {pm:+.1f} MB ({cm - pm:+.1f}); "
              f"peak main at {r2:,} rows {results['csv'][1][4]:.0f} vs {results['parquet'][1][4]:.0f} MB")
    print(f"memory: {RSS_METHOD}")
    print(f"target: tree ratio <= {TARGET_RATIO}x; CSV growth <= +{TARGET_SLOPE:.0f} MB per extra million rows "
          f"(tree and main process) -> {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
