"""Streaming check for SQL dumps: veil's peak memory must not grow with the dump's size.

    python bench/bench_dump_memory.py                  # 100 MB and 1000 MB dumps
    python bench/bench_dump_memory.py --sizes 10,100   # quick check

Runs `veil run` (default --workers) once on the bench_dump pg_dump file at two
sizes and compares the peak RSS of veil's process tree. Each dump is generated,
run and deleted before the next (unless --keep), so the disk holds one dump and
its output at a time (about 2x the larger size).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA_DIR, RSS_METHOD, measure  # noqa: E402
from bench_dump import MB, cleanup, prepare, veil_cmd  # noqa: E402

TARGET = "target (issue 4): peak memory independent of the dump size, <= 1.5x for 10x the size"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,1000",
                    help="two comma-separated dump sizes in MB (2^20 bytes), small then large (default: 100,1000)")
    ap.add_argument("--workers", type=int, default=None,
                    help="passed to veil run (default: veil's own default, the CPU count)")
    ap.add_argument("--keep", action="store_true", help="keep the generated dumps in bench/_data")
    args = ap.parse_args(argv)
    sizes = [float(s) for s in args.sizes.split(",")]
    if len(sizes) != 2 or min(sizes) <= 0:
        ap.error("--sizes takes two positive sizes in MB")

    print(f"veil bench_dump_memory: pg_dump plain text, {sizes[0]:g} MB and {sizes[1]:g} MB, "
          f"--workers {args.workers or 'default'} ({os.cpu_count()} CPUs)")
    runs = []
    for mb in sizes:
        files = prepare(mb)
        out = DATA_DIR / "out" / "mem.sql"
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.exists():
                out.unlink()
            m = measure(veil_cmd(files, out, args.workers))
            size = files.dump.stat().st_size / MB
            if abs(out.stat().st_size / MB - size) > 0.05 * size:
                raise SystemExit(f"unexpected output size {out.stat().st_size / MB:.1f} MB for a {size:.1f} MB dump")
        finally:
            if not args.keep:
                cleanup(files)
        runs.append((size, files, m))
        print(f"  {size:>8,.1f} MB dump ({files.customers:,} customers, {files.orders:,} orders): "
              f"{m.seconds:.2f}s = {size / m.seconds:.1f} MB/s, peak RSS tree {m.peak_tree_mb:.0f} MB, "
              f"main process {m.peak_main_mb:.0f} MB", flush=True)

    (s1, _, m1), (s2, _, m2) = runs
    ratio = m2.peak_tree_mb / m1.peak_tree_mb
    print()
    print(f"peak RSS (process tree): {s1:,.0f} MB dump {m1.peak_tree_mb:.0f} MB, {s2:,.0f} MB dump "
          f"{m2.peak_tree_mb:.0f} MB: {s2 / s1:.1f}x the size -> {ratio:.2f}x memory")
    print(f"main process only (VmHWM): {m1.peak_main_mb:.0f} MB -> {m2.peak_main_mb:.0f} MB, "
          f"ratio {m2.peak_main_mb / m1.peak_main_mb:.2f}x")
    extra = (s2 - s1) / 100
    print(f"growth per extra 100 MB of dump: tree {(m2.peak_tree_mb - m1.peak_tree_mb) / extra:+.1f} MB, "
          f"main process {(m2.peak_main_mb - m1.peak_main_mb) / extra:+.1f} MB (a streaming run stays near 0)")
    print(f"memory: {RSS_METHOD}")
    print(TARGET + f" -> {'met' if ratio <= 1.5 else 'NOT met'} ({ratio:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
