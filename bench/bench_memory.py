"""Streaming check: veil's peak memory must not grow with the input size.

    python bench/bench_memory.py                  # 1M and 4M rows, Parquet
    python bench/bench_memory.py --format csv

Runs `veil run` (same profile, default --workers) once on the benchmark table
at two sizes and compares the peak RSS of veil's process tree. A streaming
pipeline holds a bounded window of batches, so 4x the rows should cost about
the same memory: the ratio 4M/1M should stay near 1.0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA_DIR, RSS_METHOD, cleanup, measure, prepare, veil_cmd  # noqa: E402

TARGET = "target: <= 1.5x"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    ap.add_argument("--sizes", default="1000000,4000000",
                    help="two comma-separated row counts, small then large (default: 1M,4M)")
    ap.add_argument("--workers", type=int, default=None,
                    help="passed to veil run (default: veil's own default, the CPU count)")
    ap.add_argument("--keep", action="store_true", help="keep the generated data in bench/_data")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if len(sizes) != 2 or min(sizes) < 1:
        ap.error("--sizes takes two positive row counts")

    print(f"veil bench_memory: {args.format}, rows {sizes[0]:,} and {sizes[1]:,}, "
          f"--workers {args.workers or 'default'} ({os.cpu_count()} CPUs)")
    rows_out = []
    for rows in sizes:
        inputs = prepare(rows, (args.format,))
        inp = inputs.parquet if args.format == "parquet" else inputs.csv
        out = DATA_DIR / "out" / f"mem{inp.suffix}"
        try:
            if out.exists():
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            m = measure(veil_cmd(inp, out, inputs, args.workers))
            size_mb = inp.stat().st_size / 2**20
        finally:
            if not args.keep:
                cleanup(inputs)
        rows_out.append((rows, size_mb, m))
        print(f"  {rows:>10,} rows ({size_mb:,.0f} MB input): {m.seconds:.2f}s, "
              f"peak RSS tree {m.peak_tree_mb:.0f} MB, main process {m.peak_main_mb:.0f} MB",
              flush=True)

    (r1, _, m1), (r2, _, m2) = rows_out
    ratio = m2.peak_tree_mb / m1.peak_tree_mb
    print()
    print(f"peak RSS (process tree): {r1:,} rows {m1.peak_tree_mb:.0f} MB, "
          f"{r2:,} rows {m2.peak_tree_mb:.0f} MB, ratio {r2 // r1 if r2 % r1 == 0 else r2 / r1}x "
          f"rows -> {ratio:.2f}x memory")
    print(f"main process only (VmHWM): {m1.peak_main_mb:.0f} MB -> {m2.peak_main_mb:.0f} MB, "
          f"ratio {m2.peak_main_mb / m1.peak_main_mb:.2f}x")
    extra = (r2 - r1) / 1e6
    print(f"growth per extra million rows: tree {(m2.peak_tree_mb - m1.peak_tree_mb) / extra:+.0f} MB, "
          f"main process {(m2.peak_main_mb - m1.peak_main_mb) / extra:+.0f} MB "
          "(a streaming run stays near 0)")
    print(f"memory: {RSS_METHOD}")
    print(TARGET + f" -> {'met' if ratio <= 1.5 else 'NOT met'} ({ratio:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
