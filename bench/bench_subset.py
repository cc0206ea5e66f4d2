"""Subsetting against a full run: 5% of the customers (and their orders) of bench_dump's dataset.

    python bench/bench_subset.py                 # 100 MB pg_dump and the same tables as Parquet, 3 repeats
    python bench/bench_subset.py --dump-mb 20 --repeat 1

Per round, alternating: `veil run` of the whole input (bench_dump's profile: customers pseudonymized
and faked, orders kept), and the same run with `subset: {targets: [{table: customers, fraction:
0.05}], include_children: [orders]}`. Inputs: the dump rewritten as a dump, and its two tables as
Parquet files (written once by `veil run --format parquet`). Wall time and peak RSS of the process
tree (bench/_common.measure); medians, the ratio subset / full, and rows out (from the run report).
Target (issue 20): a subset costs no more than anonymizing everything (ratio <= 1.0).

``--anchor`` adds, per round, the way peers that need a live database subset a dump (Greenmask,
Jailer): restore it into PostgreSQL with psql (errors fatal), then run the subset's queries —
customers chosen by a salted md5 of the key below 5%, their orders through a join on the foreign
key, as Greenmask builds from its subset_conds (a recursive CTE only where the graph has a cycle;
this one has none) — each COPYed out to a file. That pipeline anonymizes nothing: its time is a
floor for "load it and ask the database", the restore counted separately.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_dump  # noqa: E402
from _common import DATA_DIR, RSS_METHOD, measure, median  # noqa: E402

SUBSET = """
subset:
  targets:
    - {table: customers, fraction: 0.05}
  include_children: [orders]
"""


def _cmd(inp: Path, profile: Path, keyring: Path, out: Path, report: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "veil", "run", str(inp), "--profile", str(profile), "--keyring", str(keyring),
            "--out", str(out), "--report", str(report), "-q", "--workers", str(workers), "--force"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dump-mb", type=float, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--anchor", action="store_true", help="also restore the dump into PostgreSQL and subset it "
                    "with SQL (PGHOST/PGUSER or 127.0.0.1/postgres)")
    args = ap.parse_args(argv)
    files = bench_dump.prepare(args.dump_mb)
    work = DATA_DIR / "subset"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    full_profile = files.profile
    sub_profile = work / "profile-subset.yaml"
    sub_profile.write_text(full_profile.read_text() + SUBSET)
    # the Parquet copy has no DDL: its tables' names, keys and foreign key are declared
    fk = "[{columns: [customer_id], references: {table: public.customers, columns: [customer_id]}}]"
    pq_text = full_profile.read_text() \
        .replace("  customers:\n", "  public.customers:\n    primary_key: [customer_id]\n") \
        .replace("  orders:\n", f"  public.orders:\n    primary_key: [order_id]\n    foreign_keys: {fk}\n")
    pq_full, pq_sub = work / "profile-pq.yaml", work / "profile-pq-subset.yaml"
    pq_full.write_text(pq_text)
    pq_sub.write_text(pq_text + SUBSET)
    keep_all = work / "keep.yaml"
    keep_all.write_text("version: 1\ndefaults: {unknown_columns: keep}\ntables: {}\n")
    parquet = work / "parquet"
    subprocess.run([sys.executable, "-m", "veil", "run", str(files.dump), "--profile", str(keep_all), "--out",
                    str(parquet), "--format", "parquet", "--keyring", str(files.keyring), "-q"], check=True)
    inputs = {"dump": files.dump, "parquet": parquet}
    results: dict[str, dict] = {}
    try:
        for kind, inp in inputs.items():
            runs: dict[str, list] = {"full": [], "subset": []}
            rows: dict[str, int] = {}
            for _ in range(args.repeat):
                profiles = (full_profile, sub_profile) if kind == "dump" else (pq_full, pq_sub)
                for mode, profile in zip(("full", "subset"), profiles, strict=True):
                    out = work / f"out-{kind}-{mode}"
                    if kind == "dump":
                        out.mkdir(exist_ok=True)
                        out = out / "shop.sql"
                    report = work / f"{kind}-{mode}.json"
                    runs[mode].append(measure(_cmd(inp, profile, files.keyring, out, report, args.workers)))
                    rows[mode] = json.loads(report.read_text())["totals"]["rows_out"]
            full = median([m.seconds for m in runs["full"]])
            results[kind] = {mode: {"seconds": round(median([m.seconds for m in ms]), 2),
                                    "vs_full": round(median([m.seconds for m in ms]) / full, 2),
                                    "peak_tree_mb": round(median([m.peak_tree_mb for m in ms])),
                                    "peak_main_mb": round(median([m.peak_main_mb for m in ms])),
                                    "rows_out": rows[mode]}
                             for mode, ms in runs.items()}
        if args.anchor:
            results["anchor_postgresql"] = _anchor(files.dump, work, args.repeat, results["dump"])
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            bench_dump.cleanup(files)
    print(json.dumps({"dump_mb": args.dump_mb, "repeat": args.repeat, "workers": args.workers,
                      "memory": RSS_METHOD, "results": results}, indent=2))
    return 0


ANCHOR_SQL = {  # 5% of the customers by a salted hash of the key, and their orders (Greenmask-style joins)
    "customers": "SELECT c.* FROM public.customers c WHERE {cond}",
    "orders": "SELECT o.* FROM public.orders o JOIN public.customers c ON c.customer_id = o.customer_id "
              "WHERE {cond}",
}
ANCHOR_COND = "('x' || substr(md5('bench-salt' || c.customer_id::text), 1, 15))::bit(60)::bigint < {limit}"


def _anchor(dump: Path, work: Path, repeat: int, veil: dict) -> dict:
    os.environ.setdefault("PGHOST", "127.0.0.1")  # psql and measure()'s children read them
    os.environ.setdefault("PGUSER", "postgres")
    db = f"veil_bench_anchor_{os.getpid()}"
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    cond = ANCHOR_COND.format(limit=int(0.05 * 2**60))
    restore, query, rows = [], [], 0
    for _ in range(repeat):
        subprocess.run(psql + ["-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {db}", "-c", f"CREATE DATABASE {db}"],
                       check=True, capture_output=True)
        restore.append(measure(psql + ["-d", db, "-f", str(dump)]).seconds)
        script = " && ".join(f"psql -X -q -v ON_ERROR_STOP=1 -d {db} -c \"COPY ({sql.format(cond=cond)}) TO STDOUT\" "
                             f"> {work / (t + '.copy')}" for t, sql in ANCHOR_SQL.items())
        query.append(measure(["bash", "-c", script]).seconds)
        rows = sum(sum(1 for _ in open(work / (t + ".copy"), "rb")) for t in ANCHOR_SQL)
    subprocess.run(psql + ["-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {db}"], check=True, capture_output=True)
    r, q = median(restore), median(query)
    sub = veil["subset"]["seconds"]
    return {"restore_seconds": round(r, 2), "query_seconds": round(q, 2), "total_seconds": round(r + q, 2),
            "rows_out": rows, "veil_subset_vs_total": round(sub / (r + q), 2),
            "veil_subset_vs_query_alone": round(sub / q, 2),
            "note": "no anonymization in the anchor; veil's subset run anonymizes what it writes"}


if __name__ == "__main__":
    raise SystemExit(main())
