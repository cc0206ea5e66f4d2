"""`veil verify` against `veil run` on the same data (issue 17: verify <= 2x run).

    python bench/bench_verify.py                        # 1M rows, 3 rounds, parquet
    python bench/bench_verify.py --rows 100000 --repeat 1 --formats parquet,csv

Each round runs `veil run` (input -> copy) then `veil verify` (input, copy) as subprocesses,
measured the same way (wall time from spawn to exit, peak RSS of the process tree); the ratio is
the median of the per-round ratios. The profile is the benchmark's (bench/_common.py) with a
privacy section on (birth_date, city), so every check runs: leaks over the five transformed
columns, k-anonymity and the linkage attack, utility of all eight columns, integrity.
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
    DATA_DIR,
    PROFILE_YAML,
    RSS_METHOD,
    cleanup,
    measure,
    median,
    prepare,
    veil_cmd,
)

TARGET = "target (issue 17): verify/run <= 2.0x"
PRIVACY = "    privacy: {quasi_identifiers: [birth_date, city], k: 5}\n"


def verify_cmd(inp: Path, out: Path, profile: Path, report: Path) -> list[str]:
    return [sys.executable, "-m", "veil", "verify", str(inp), str(out), "--profile", str(profile),
            "--report", str(report), "--fail-on", "leaks>1000000000", "-q"]


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

    print(f"veil bench_verify: {args.rows:,} rows, repeat {args.repeat}, run --workers {args.workers}")
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, pyarrow {pyarrow.__version__}")
    inputs = prepare(args.rows, formats)
    profile = DATA_DIR / "profile-verify.yaml"
    profile.write_text(PROFILE_YAML.replace("    primary_key: [customer_id]\n",
                                            "    primary_key: [customer_id]\n" + PRIVACY))
    inputs.profile = profile
    out_dir = DATA_DIR / "out-verify"
    rows = []
    try:
        for fmt in formats:
            inp = inputs.parquet if fmt == "parquet" else inputs.csv
            out_dir.mkdir(parents=True, exist_ok=True)
            out = out_dir / f"copy{inp.suffix}"
            report = out_dir / "verify.json"
            runs, verifies = [], []
            for i in range(args.repeat):
                if out.exists():
                    shutil.rmtree(out) if out.is_dir() else out.unlink()
                r = measure(veil_cmd(inp, out, inputs, args.workers))
                v = measure(verify_cmd(inp, out, profile, report))
                got = json.loads(report.read_text())
                runs.append(r)
                verifies.append(v)
                print(f"  {fmt} #{i + 1}: run {r.seconds:6.2f}s {r.peak_tree_mb:5.0f} MB | verify {v.seconds:6.2f}s "
                      f"{v.peak_tree_mb:5.0f} MB | ratio {v.seconds / r.seconds:.2f}x | leaks "
                      f"{got['leaks']['summary'].get('leaks')}, k {got['risk']['summary'].get('k')}, "
                      f"utility {got['utility']['summary'].get('utility')}", flush=True)
            rows.append((fmt, median([m.seconds for m in runs]), median([m.seconds for m in verifies]),
                         median([v.seconds / r.seconds for v, r in zip(verifies, runs, strict=True)]),
                         max(m.peak_tree_mb for m in runs), max(m.peak_tree_mb for m in verifies)))
    finally:
        if not args.keep:
            cleanup(inputs)
        shutil.rmtree(out_dir, ignore_errors=True)
    print()
    head = (f"{'format':<8} {'rows':>10} {'run s':>7} {'verify s':>9} {'verify/run':>10} {'RSS run MB':>11} "
            f"{'RSS verify MB':>14}")
    print(head)
    print("-" * len(head))
    for fmt, t_run, t_ver, ratio, m_run, m_ver in rows:
        print(f"{fmt:<8} {args.rows:>10,} {t_run:>7.2f} {t_ver:>9.2f} {ratio:>9.2f}x {m_run:>11.0f} {m_ver:>14.0f}")
    print()
    print(f"times: medians of {args.repeat} rounds (process start to exit); verify/run: median of per-round ratios")
    print(f"memory: max over runs; {RSS_METHOD}")
    print(TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
