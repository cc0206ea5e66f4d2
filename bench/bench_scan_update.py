"""`veil scan --update`'s merge alone (no scan): CPU time of update_profile on a large profile.

    python bench/bench_scan_update.py                  # 500 tables x 20 columns (10,000 rules)
    python bench/bench_scan_update.py --tables 50 --columns 10

The profile is the draft of a synthetic scan; the new scan drops one column of every table, adds
one to every table and adds a table. Reported: the update (profile, draft and result parsed) and a
no-op update of the result (the profile parsed once, nothing written), in CPU seconds.
"""

from __future__ import annotations

import argparse
import time

from veil.detect.draft import draft_profile
from veil.detect.findings import Finding, ScanResult, TableScan
from veil.detect.update import update_profile


def _scan(schema: dict[str, list[str]]) -> ScanResult:
    return ScanResult("bench", [TableScan(t, "csv", 10, False, 10) for t in schema],
                      [Finding(t, c, "string", "NONE", "none", 1.0, {}) for t, cols in schema.items() for c in cols],
                      False, None, 10, 10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", type=int, default=500)
    ap.add_argument("--columns", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    schema = {f"t{i}": [f"c{j}" for j in range(args.columns)] for i in range(args.tables)}
    text = draft_profile(_scan(schema))
    moved = {t: cols[1:] + ["added"] for t, cols in schema.items()} | {"new_table": ["a", "b"]}
    result = _scan(moved)
    for _ in range(args.repeat):
        t0 = time.process_time()
        new, summary = update_profile(text, result, "bench.yaml")
        t1 = time.process_time()
        again, _ = update_profile(new, result, "bench.yaml")
        t2 = time.process_time()
        assert again == new
        print(f"{len(text) // 1024} KB profile, {args.tables * args.columns:,} rules: update {t1 - t0:.2f}s, "
              f"no-op {t2 - t1:.2f}s CPU ({summary.describe()})")


if __name__ == "__main__":
    main()
