"""Subsetting's memory: the same-sized subset (the 2,000 customers of smallest keyed hash, and their
orders) of bench_dump's pg_dump file at two sizes. The closure holds kept row positions and the key
sets of kept rows, so peak memory should follow the subset, not the input.

    python bench/bench_subset_memory.py                  # 100 MB and 400 MB dumps, 1 round each
    python bench/bench_subset_memory.py --sizes 20,80 --repeat 2

Per size: `veil run` of the dump with the subset (dump out), wall time and peak RSS (main process
and process tree, bench/_common.measure; medians over --repeat), rows in and out from the report;
then the ratios largest / smallest size of input bytes, time and peak memory.
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
from _common import DATA_DIR, RSS_METHOD, measure, median  # noqa: E402

SUBSET = """
subset:
  targets:
    - {table: customers, limit: 2000}
  include_children: [orders]
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,400", help="dump sizes in MB, comma-separated")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args(argv)
    work = DATA_DIR / "subset-memory"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results = {}
    try:
        for mb in [float(s) for s in args.sizes.split(",")]:
            files = bench_dump.prepare(mb)
            profile = work / f"profile-{mb:g}.yaml"
            profile.write_text(files.profile.read_text() + SUBSET)
            runs, report = [], work / f"report-{mb:g}.json"
            for _ in range(args.repeat):
                out = work / f"out-{mb:g}.sql"
                runs.append(measure([sys.executable, "-m", "veil", "run", str(files.dump), "--profile", str(profile),
                                     "--keyring", str(files.keyring), "--out", str(out), "--report", str(report),
                                     "-q", "--force", "--workers", str(args.workers)]))
                out.unlink()
            totals = json.loads(report.read_text())["totals"]
            results[f"{mb:g}mb"] = {"input_bytes": files.dump.stat().st_size,
                                    "rows_in": totals["rows_in"], "rows_out": totals["rows_out"],
                                    "seconds": round(median([m.seconds for m in runs]), 2),
                                    "peak_main_mb": round(median([m.peak_main_mb for m in runs])),
                                    "peak_tree_mb": round(median([m.peak_tree_mb for m in runs]))}
            bench_dump.cleanup(files)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    small, big = results[min(results, key=lambda k: results[k]["input_bytes"])], \
        results[max(results, key=lambda k: results[k]["input_bytes"])]
    ratios = {k: round(big[k] / small[k], 2) for k in ("input_bytes", "rows_out", "seconds", "peak_main_mb",
                                                        "peak_tree_mb")}
    print(json.dumps({"repeat": args.repeat, "workers": args.workers, "memory": RSS_METHOD, "results": results,
                      "largest_over_smallest": ratios}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
