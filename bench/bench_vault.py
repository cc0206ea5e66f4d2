"""Vault overhead: `veil run` without a vault, with a fresh vault, and refreshing the same vault.

    python bench/bench_vault.py                       # 1M rows, 3 rounds, parquet
    python bench/bench_vault.py --rows 100000 --repeat 1 --format csv
    python bench/bench_vault.py --format dump --mb 100  # a pg_dump file (bench_dump's), dump out

Same table and rules as bench_core, but email (pseudonymize) and first_name,
last_name, phone (fake) are `reversible: true`, so with --vault each run
writes encrypted (pseudonym -> original) records to an SQLite vault. Every
round runs, back to back: (a) no vault; (b) --vault on a fresh file (first
write: every record is new); (c) --vault on the vault (b) just wrote (refresh:
every record is already there and is deduplicated). Ratios are medians of the
per-round ratios b/a and c/a.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    COLUMNS,
    DATA_DIR,
    PROFILE_YAML,
    RSS_METHOD,
    Inputs,
    cleanup,
    measure,
    median,
    prepare,
    veil_cmd,
)

TARGET = "target (issue 3): with-vault / without <= 1.5x"
REVERSIBLE = ("email", "first_name", "last_name", "phone")



def vault_profile(chosen: set[str], text: str = PROFILE_YAML) -> str:
    """bench_core's profile (or bench_dump's), with `reversible: true` on the chosen pseudonymize/fake columns."""
    for col in chosen:
        start = text.index(f"      {col}: {{")
        end = text.index("}", start)
        text = text[:end] + ", reversible: true" + text[end:]
    return text


VARIANTS = (("a", "no vault"), ("b", "vault, first write"), ("c", "vault, refresh"))


def _rm(p: Path) -> None:
    if p.is_dir():
        shutil.rmtree(p)
    elif p.exists():
        p.unlink()


def _vault_files(vault: Path) -> list[Path]:
    return [vault, vault.with_name(vault.name + "-journal"), vault.with_name(vault.name + "-wal")]


def _vault_contents(vault: Path) -> dict[str, tuple[int, int]]:
    """domain -> (records, segments), read straight from the SQLite file."""
    con = sqlite3.connect(f"file:{vault}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT domain, SUM(n), COUNT(*) FROM veil_segments GROUP BY domain").fetchall()
    finally:
        con.close()
    return {d: (int(n), int(s)) for d, n, s in rows}


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--format", choices=("parquet", "csv", "dump"), default="parquet",
                    help="dump: bench_dump's pg_dump file (customers and orders; --mb sets its size), "
                    "written back as a dump")
    ap.add_argument("--mb", type=float, default=100, help="--format dump: the dump's size in MB (default 100)")
    ap.add_argument("--keep", action="store_true", help="keep the generated data (and the vault) in bench/_data")
    ap.add_argument("--reversible", default=",".join(REVERSIBLE),
                    help="comma-separated columns written to the vault (default: all four; "
                    "'email' is the typical identifier-only profile)")
    args = ap.parse_args(argv)
    if args.rows < 1 or args.repeat < 1 or args.workers < 1:
        ap.error("--rows, --repeat and --workers must be positive")

    import pyarrow

    size = f"{args.mb:g} MB pg_dump file" if args.format == "dump" else f"{args.rows:,} rows x {len(COLUMNS)} columns"
    print(f"veil bench_vault: {size} (5 transformed), {args.format}, repeat {args.repeat}, --workers {args.workers}")
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, pyarrow {pyarrow.__version__}; "
          f"load average (1/5/15 min) at start: {_load()}")
    chosen = {c.strip() for c in args.reversible.split(",") if c.strip()}
    if not chosen <= set(REVERSIBLE):
        ap.error(f"--reversible takes columns among {', '.join(REVERSIBLE)}")
    profile = DATA_DIR / "profile-vault.yaml"
    if args.format == "dump":
        import bench_dump

        files = bench_dump.prepare(args.mb)
        print(f"dump: {files.customers:,} customers, {files.orders:,} orders")
        inputs = Inputs(files.dump, files.dump, files.profile, files.keyring, files.created)
        profile.write_text(vault_profile(chosen, bench_dump.PROFILE_YAML))
    else:
        inputs = prepare(args.rows, (args.format,))
        profile.write_text(vault_profile(chosen))
    inputs = dataclasses.replace(inputs, profile=profile)
    inp = inputs.csv if args.format == "csv" else inputs.parquet
    out_dir = DATA_DIR / "out"
    vault = DATA_DIR / "vault" / "vault.sqlite"  # outside the input file and the outputs, as veil requires
    report = out_dir / "report.json"
    times: dict[str, list[float]] = {k: [] for k, _ in VARIANTS}
    internal: dict[str, list[float]] = {k: [] for k, _ in VARIANTS}
    rss: dict[str, list[float]] = {k: [] for k, _ in VARIANTS}
    written: dict[str, list[int]] = {"b": [], "c": []}
    size: dict[str, list[int]] = {"b": [], "c": []}
    loads: list[float] = [os.getloadavg()[0]]
    contents: dict[str, tuple[int, int]] = {}
    reversible: list[str] = []
    domains: dict[str, str] = {}
    try:
        for i in range(args.repeat):
            parts = []
            for key, _label in VARIANTS:
                out = out_dir / f"{'novault' if key == 'a' else 'vault'}{inp.suffix}"
                out_dir.mkdir(parents=True, exist_ok=True)
                _rm(out)
                cmd = veil_cmd(inp, out, inputs, args.workers, report)
                if key == "b":
                    for f in _vault_files(vault):
                        _rm(f)
                    vault.parent.mkdir(parents=True, exist_ok=True)
                if key != "a":
                    cmd += ["--vault", str(vault)]
                m = measure(cmd)
                doc = json.loads(report.read_text())
                times[key].append(m.seconds)
                internal[key].append(doc["seconds"])
                rss[key].append(m.peak_tree_mb)
                text = f"({key}) {m.seconds:6.2f}s"
                if key != "a":
                    n = doc["totals"]["vault_records_written"]
                    written[key].append(n)
                    size[key].append(vault.stat().st_size)
                    text += f" {n:>9,} rec {vault.stat().st_size / 2**20:5.0f} MB"
                    if key == "b":
                        contents = _vault_contents(vault)
                        customers = next(t for t in doc["tables"] if t.split(".")[-1] == "customers")
                        cols = doc["tables"][customers]["columns"]
                        reversible = [c for c, v in cols.items() if v["reversible"]]
                        domains = {cols[c]["domain"]: c for c in reversible}
                parts.append(text + f" [{m.peak_tree_mb:.0f} MB RSS]")
            loads.append(os.getloadavg()[0])
            print(f"  round {i + 1}: " + " | ".join(parts) +
                  f" | b/a {times['b'][-1] / times['a'][-1]:.2f}x c/a {times['c'][-1] / times['a'][-1]:.2f}x"
                  f" | load {loads[-1]:.2f}", flush=True)
    finally:
        if not args.keep:
            cleanup(inputs)
            profile.unlink(missing_ok=True)
            shutil.rmtree(vault.parent, ignore_errors=True)

    ratio = {k: median([x / a for x, a in zip(times[k], times["a"], strict=True)]) for k in ("b", "c")}
    print()
    head = f"{'run':<24} {'median s':>9} {'in-run s':>9} {'vs (a)':>8} {'peak RSS MB':>12}"
    print(head)
    print("-" * len(head))
    for key, label in VARIANTS:
        vs = "" if key == "a" else f"{ratio[key]:.2f}x"
        print(f"({key}) {label:<20} {median(times[key]):>9.2f} {median(internal[key]):>9.2f} {vs:>8} "
              f"{max(rss[key]):>12.0f}")
    print()
    print(f"reversible columns (from veil's report): {', '.join(reversible) or 'none'}")
    total = sum(n for n, _ in contents.values())
    print(f"records written: (b) first write {median(written['b']):,.0f} per run; "
          f"(c) refresh {median(written['c']):,.0f} per run")
    print("  in the vault after (b): " + ", ".join(
        f"{domains.get(d, d)} {n:,} in {s} segments" for d, (n, s) in sorted(contents.items())) +
        f"; total {total:,}")
    print(f"vault file size: after (b) {median(size['b']) / 2**20:.1f} MB "
          f"({median(size['b']) / max(total, 1):.0f} bytes/record), after (c) {median(size['c']) / 2**20:.1f} MB")
    print(f"times: medians of {args.repeat} wall-clock runs (process start to exit); ratios: median of per-round "
          "ratios; in-run s: veil's report (excludes start-up)")
    print(f"memory: max over runs; {RSS_METHOD}")
    print(f"load average (1 min) over the rounds: {min(loads):.2f} .. {max(loads):.2f} on {os.cpu_count()} CPUs; "
          f"at end (1/5/15 min): {_load()}")
    print(f"(b)/(a) = {ratio['b']:.2f}x, (c)/(a) = {ratio['c']:.2f}x")
    print(TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
