"""Core throughput: `veil run` against a plain pyarrow streaming copy of the same file.

    python bench/bench_core.py                        # 1M rows, 3 repeats, parquet + csv
    python bench/bench_core.py --rows 100000 --repeat 1 --formats parquet

For each format, baseline and veil runs alternate (baseline, veil, baseline,
veil, ...) so slow drift on a shared machine hits both alike; the ratio is the
median of the per-pair ratios. Both run as subprocesses and are measured the
same way (wall time from spawn to exit, peak RSS of the process tree).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    COLUMNS,
    DATA_DIR,
    RSS_METHOD,
    baseline_cmd,
    cleanup,
    measure,
    median,
    prepare,
    veil_cmd,
)

TARGET = "target (issue 2): veil/plain <= 4.0x on parquet"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--formats", default="parquet,csv",
                    help="comma-separated: parquet, csv (default: both)")
    ap.add_argument("--keep", action="store_true", help="keep the generated data in bench/_data")
    args = ap.parse_args(argv)
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    bad = [f for f in formats if f not in ("parquet", "csv")]
    if bad or not formats or args.rows < 1 or args.repeat < 1 or args.workers < 1:
        ap.error(f"bad arguments (unknown formats: {bad})" if bad else "bad arguments")

    import pyarrow

    print(f"veil bench_core: {args.rows:,} rows x {len(COLUMNS)} columns (5 transformed), "
          f"repeat {args.repeat}, --workers {args.workers}")
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"pyarrow {pyarrow.__version__}")
    inputs = prepare(args.rows, formats)
    out_dir = DATA_DIR / "out"
    results = []
    try:
        for fmt in formats:
            inp = inputs.parquet if fmt == "parquet" else inputs.csv
            out_dir.mkdir(parents=True, exist_ok=True)
            out_base = out_dir / f"plain{inp.suffix}"
            out_veil = out_dir / f"veil{inp.suffix}"
            report = out_dir / "report.json"
            base, veil, internal = [], [], []
            for i in range(args.repeat):
                for p in (out_base, out_veil):
                    if p.is_dir():
                        shutil.rmtree(p)
                    elif p.exists():
                        p.unlink()
                b = measure(baseline_cmd(fmt, inp, out_base))
                v = measure(veil_cmd(inp, out_veil, inputs, args.workers, report))
                internal.append(json.loads(report.read_text())["seconds"])
                base.append(b)
                veil.append(v)
                print(f"  {fmt} #{i + 1}: plain {b.seconds:6.2f}s {b.peak_tree_mb:6.0f} MB | "
                      f"veil {v.seconds:6.2f}s {v.peak_tree_mb:6.0f} MB "
                      f"(in-run {internal[-1]:.2f}s, main process {v.peak_main_mb:.0f} MB) | "
                      f"ratio {v.seconds / b.seconds:.2f}x", flush=True)
            t_veil = median([m.seconds for m in veil])
            results.append({
                "format": fmt,
                "veil": t_veil,
                "base": median([m.seconds for m in base]),
                "ratio": median([v.seconds / b.seconds for v, b in zip(veil, base, strict=True)]),
                "rows_s": args.rows / t_veil,
                "cells_s": args.rows * len(COLUMNS) / t_veil,
                "rss_veil": max(m.peak_tree_mb for m in veil),
                "rss_base": max(m.peak_tree_mb for m in base),
                "internal": median(internal),
            })
    finally:
        if not args.keep:
            cleanup(inputs)

    print()
    head = (f"{'format':<8} {'rows':>10} {'veil s':>8} {'plain s':>8} {'veil/plain':>10} "
            f"{'veil rows/s':>12} {'veil cells/s':>13} {'RSS veil MB':>12} {'RSS plain MB':>13}")
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r['format']:<8} {args.rows:>10,} {r['veil']:>8.2f} {r['base']:>8.2f} "
              f"{r['ratio']:>9.2f}x {r['rows_s']:>12,.0f} {r['cells_s']:>13,.0f} "
              f"{r['rss_veil']:>12.0f} {r['rss_base']:>13.0f}")
    print()
    print(f"times: medians of {args.repeat} wall-clock runs (process start to exit, including "
          "interpreter start-up); veil/plain: median of per-pair ratios")
    print("veil in-run seconds (report.json, excludes start-up): " +
          ", ".join(f"{r['format']} {r['internal']:.2f}s" for r in results))
    print(f"memory: max over runs; {RSS_METHOD}")
    print(f"cpu count: {os.cpu_count()}; veil --workers {args.workers}")
    print(TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
