"""row_order: shuffle against keep: `veil run` of the same file, 1M rows.

    python bench/bench_row_order.py                       # 1M rows, 3 repeats, parquet + csv
    python bench/bench_row_order.py --rows 100000 --repeat 1 --formats parquet
    python bench/bench_row_order.py --formats dump --dump-mb 100   # a pg_dump of bench_dump's dataset

Three runs per round, alternating: keep (today's output), shuffle (the table held in memory,
under veil.formats.order.MEMORY_BYTES), and shuffle forced to spill (MEMORY_BYTES lowered to
--spill-mb, so the 256 bucket files are written and read back). Wall time and peak RSS of the
process tree (bench/_common.measure); the medians are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_dump  # noqa: E402
from _common import DATA_DIR, RSS_METHOD, cleanup, measure, median, prepare, veil_cmd  # noqa: E402

SPILLED = ("import sys; import veil.formats.order as o; o.MEMORY_BYTES = int(sys.argv[1]) << 20; "
           "from veil.cli import main; main(sys.argv[2:], prog_name='veil')")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--formats", default="parquet,csv")
    ap.add_argument("--spill-mb", type=int, default=16, help="MEMORY_BYTES of the spilled runs, in MB")
    ap.add_argument("--dump-mb", type=float, default=100, help="size of the dump of --formats dump (bench_dump's)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args(argv)
    formats = tuple(args.formats.split(","))
    inputs = prepare(args.rows, tuple(f for f in formats if f != "dump"))
    dump = bench_dump.prepare(args.dump_mb) if "dump" in formats else None
    out_dir = DATA_DIR / "out"
    results: dict[str, dict] = {}
    try:
        for fmt in formats:
            inp = inputs.parquet if fmt == "parquet" else inputs.csv
            runs: dict[str, list] = {"keep": [], "shuffle": [], "shuffle_spilled": []}
            for _ in range(args.repeat):
                for mode in runs:
                    out = out_dir / f"{fmt}-{mode}"
                    shutil.rmtree(out, ignore_errors=True)
                    if dump is not None and fmt == "dump":  # the dump rewritten, rows shuffled per block
                        out.mkdir(parents=True)
                        cmd = bench_dump.veil_cmd(dump, out / "shop.sql", args.workers)
                    else:
                        cmd = veil_cmd(inp, out, inputs, args.workers)
                    cmd += ["--row-order", "keep" if mode == "keep" else "shuffle"]
                    if mode == "shuffle_spilled":
                        cmd = [sys.executable, "-c", SPILLED, str(args.spill_mb), *cmd[3:]]
                    runs[mode].append(measure(cmd))
            keep = median([m.seconds for m in runs["keep"]])
            results[fmt] = {mode: {"seconds": round(median([m.seconds for m in ms]), 2),
                                   "vs_keep": round(median([m.seconds for m in ms]) / keep, 2),
                                   "peak_tree_mb": round(median([m.peak_tree_mb for m in ms])),
                                   "peak_main_mb": round(median([m.peak_main_mb for m in ms]))}
                            for mode, ms in runs.items()}
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
        if not args.keep:
            cleanup(inputs)
            if dump is not None:
                bench_dump.cleanup(dump)
    print(json.dumps({"rows": args.rows, "repeat": args.repeat, "workers": args.workers,
                      "spill_mb": args.spill_mb, "memory": RSS_METHOD, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
