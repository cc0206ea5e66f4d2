"""The leak check of ``veil verify`` (veil.verify.leaks): time and peak memory against merely reading.

    python bench/bench_verify_leaks.py                  # 1M rows, Parquet, medians of 3 rounds
    python bench/bench_verify_leaks.py --rows 100000 --format csv --repeat 1
    python bench/bench_verify_leaks.py --verify-paths ORIGINAL COPY PROFILE [--checks rest]

``--verify-paths`` times ``verify.runner.verify_paths`` in this process on data you give (the
lead's figure: ``veil run``'s input, its output and the profile), with LeakCheck alone
(``--checks leaks``) or Risk + Utility + Integrity (``--checks rest``): wall and CPU seconds,
medians of ``--repeat`` rounds.

A customers table with 3 text columns (name, address, a kept free-text note) plus email, phone, id
and city is generated (numpy seeded), ``veil run`` makes the copy, then three measured subprocesses:

- ``veil run`` itself (the verify target is at most 2x its time);
- *read*: what the verify runner reads, without any check: ORIGINAL once, then COPY alongside
  ORIGINAL again (the pairing), the same readers and batches;
- *leaks*: the same reads with LeakCheck fed (phase 1, then phase 2 with the paired rows).

Each round runs the three in turn; the medians of ``--repeat`` rounds are printed (the machine
may be shared: single rounds are noisy). The ratio leaks/read is the check's own cost. 100 notes
hold their row's email and 100 their phone number (written with its spaces): the check must report
them (``in_text``), and nothing else but names that happen to be specific (held by at most 0.1% of
the rows) in the notes that quote them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RSS_METHOD, measure, median  # noqa: E402

PROFILE = """\
version: 1
tables:
  customers:
    primary_key: [id]
    columns:
      id: {{op: pseudonymize, format: int, range: [1, {rows}]}}
      email: {{op: pseudonymize, format: email}}
      name: {{op: fake, kind: name}}
      address: {{op: fake, kind: street_address}}
      phone: {{op: pseudonymize, format: digits}}
      city: keep
      note: keep
"""

SYL = ["ka", "lo", "mi", "ra", "to", "ne", "su", "vi", "de", "an", "or", "el", "ju", "bo", "ri", "za"]
WORDS = ("the customer called about order delivery invoice refund address please check again later "
         "tomorrow support ticket closed opened payment card failed twice thanks quick help").split()
PLANTED = 100


def _names(rng, n: int, size: int) -> np.ndarray:
    parts = rng.integers(0, len(SYL), size=(n, 3))
    words = np.array(["".join(SYL[i] for i in row).capitalize() for row in parts])
    ranks = np.minimum(rng.zipf(1.3, size) - 1, n - 1)
    return words[ranks]


def generate(rows: int) -> pa.Table:
    rng = np.random.default_rng(20261205)
    ids = np.arange(1, rows + 1)
    first, last = _names(rng, 300, rows), _names(rng, 3000, rows)
    name = np.char.add(np.char.add(first, " "), last)
    email = np.char.add(np.char.add(np.char.lower(first), ids.astype(str)), "@mail.example.org")
    streets = _names(rng, 800, rows)
    address = np.char.add(np.char.add(rng.integers(1, 300, rows).astype(str), " "),
                          np.char.add(streets, rng.choice([" Street", " Road", " Avenue"], rows)))
    p = rng.integers(0, 10**9, rows)
    phone = [f"+420 {v // 10**6:03d} {v // 1000 % 1000:03d} {v % 1000:03d}" for v in p.tolist()]
    city = _names(rng, 200, rows)
    w = rng.integers(0, len(WORDS), size=(rows, 10))
    note = [" ".join(WORDS[i] for i in row) + f" ref {k}" for k, row in enumerate(w.tolist())]
    plant = rng.choice(rows, 2 * PLANTED, replace=False)
    for k in plant[:PLANTED]:
        note[k] += f" write to {email[k]}"
    for k in plant[PLANTED:]:
        note[k] += f" call {phone[k]}"
    return pa.table({"id": ids, "email": email, "name": name, "address": address, "phone": phone,
                     "city": city, "note": note})


def _pairs(original: str, copy: str):
    """ORIGINAL's batches, then COPY's with ORIGINAL's rows at the same positions (one table each)."""
    from veil.formats import open_dataset

    o, c = open_dataset(original), open_dataset(copy)
    for t in o.tables:
        for b in t.batches(65_536):
            yield "original", t.name, b, None
    for t in c.tables:
        again = next(x for x in o.tables if x.name == t.name).batches(65_536)
        for b in t.batches(65_536):
            yield "copy", t.name, b, next(again)


def child_read(original: str, copy: str) -> None:
    n = sum(b.num_rows for _, _, b, _ in _pairs(original, copy))
    print(json.dumps({"rows_read": n}))


def child_leaks(original: str, copy: str, profile: str, report: str) -> None:
    from veil.formats import open_dataset
    from veil.plan import compile_plan
    from veil.profile import load_profile
    from veil.verify.base import TableInfo, VerifyContext
    from veil.verify.leaks import LeakCheck

    o, c = open_dataset(original), open_dataset(copy)
    plan = compile_plan(load_profile(profile), o, None)
    copies = {t.name: t for t in c.tables}
    ctx = VerifyContext({t.name: TableInfo(t.name, t.schema, copies[t.name].schema, plan.tables.get(t.name))
                         for t in o.tables}, plan)
    check = LeakCheck(ctx)
    t0 = time.perf_counter()
    phase1 = 0.0
    for side, table, batch, paired in _pairs(original, copy):
        if side == "original":
            check.original(table, batch)
            phase1 = time.perf_counter() - t0
        else:
            check.copy(table, batch, paired)
    section = check.finish()
    section["phase1_seconds"] = round(phase1, 3)
    section["total_seconds"] = round(time.perf_counter() - t0, 3)
    Path(report).write_text(json.dumps(section))


def verify_paths_seconds(original: str, copy: str, profile: str, checks: str, repeat: int) -> None:
    """Wall and CPU seconds of ``runner.verify_paths`` with the checks asked for (medians)."""
    from veil.profile import load_profile
    from veil.verify import runner
    from veil.verify.integrity import IntegrityCheck
    from veil.verify.leaks import LeakCheck
    from veil.verify.risk import RiskCheck
    from veil.verify.utility import UtilityCheck

    chosen = {"leaks": [LeakCheck], "rest": [RiskCheck, UtilityCheck, IntegrityCheck], "none": []}[checks]
    prof = load_profile(profile)
    wall, cpu = [], []
    for _ in range(max(1, repeat)):
        t, c = time.perf_counter(), time.process_time()
        report = runner.verify_paths(original, copy, prof, chosen)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    print(f"verify_paths [{checks}]: wall {[round(x, 2) for x in wall]} median {median(wall):.2f} s; "
          f"CPU {[round(x, 2) for x in cpu]} median {median(cpu):.2f} s; load average {os.getloadavg()[0]:.1f}")
    print(json.dumps({k: report[k]["summary"] for k in ("leaks", "risk", "utility", "integrity") if k in report}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--verify-paths", nargs=3, metavar=("ORIGINAL", "COPY", "PROFILE"))
    ap.add_argument("--checks", choices=("leaks", "rest", "none"), default="leaks")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    ap.add_argument("--repeat", type=int, default=3, help="rounds (medians printed)")
    args = ap.parse_args()
    if args.verify_paths:
        verify_paths_seconds(*args.verify_paths, args.checks, args.repeat)
        return
    me = str(Path(__file__).resolve())
    work = Path(tempfile.mkdtemp(prefix="veil-bench-leaks-"))
    try:
        src = work / "original"
        src.mkdir()
        t0 = time.perf_counter()
        table = generate(args.rows)
        if args.format == "parquet":
            import pyarrow.parquet as pq
            pq.write_table(table, src / "customers.parquet", row_group_size=128 * 1024)
        else:
            import pyarrow.csv as pacsv
            pacsv.write_csv(table, src / "customers.csv", pacsv.WriteOptions(quoting_style="needed"))
        del table
        print(f"generated {args.rows:,} rows ({args.format}) in {time.perf_counter() - t0:.1f}s")
        profile, keyring, out = work / "profile.yaml", work / "keyring.json", work / "copy"
        profile.write_text(PROFILE.format(rows=args.rows))
        subprocess.run([sys.executable, "-m", "veil", "keys", "init", str(keyring)], check=True,
                       stdout=subprocess.DEVNULL)
        rounds: dict[str, list] = {"run": [], "read": [], "leaks": [], "phase1": [], "inside": []}
        report = work / "leaks.json"
        for r in range(max(1, args.repeat)):
            shutil.rmtree(out, ignore_errors=True)
            run = measure([sys.executable, "-m", "veil", "run", str(src), "--profile", str(profile),
                           "--keyring", str(keyring), "--out", str(out), "-q"])
            read = measure([sys.executable, me, "_read", str(src), str(out)])
            leaks = measure([sys.executable, me, "_leaks", str(src), str(out), str(profile), str(report)])
            section = json.loads(report.read_text())
            for name, m in (("run", run), ("read", read), ("leaks", leaks)):
                rounds[name].append(m)
            rounds["phase1"].append(section["phase1_seconds"])
            rounds["inside"].append(section["total_seconds"])
            print(f"round {r + 1}: veil run {run.seconds:.2f} s, read {read.seconds:.2f} s, "
                  f"leak check {leaks.seconds:.2f} s (in process {section['total_seconds']} s)")

        def med(name: str, what: str = "seconds") -> float:
            return median([getattr(m, what) for m in rounds[name]])

        run_s, read_s, leaks_s = med("run"), med("read"), med("leaks")
        print(f"medians of {len(rounds['run'])} round(s):")
        print(f"veil run        {run_s:7.2f} s   peak RSS {med('run', 'peak_tree_mb'):7.0f} MB")
        print(f"read only       {read_s:7.2f} s   peak RSS {med('read', 'peak_tree_mb'):7.0f} MB")
        print(f"leak check      {leaks_s:7.2f} s   peak RSS {med('leaks', 'peak_tree_mb'):7.0f} MB "
              f"(in process: phase 1 {median(rounds['phase1']):.2f} s, total {median(rounds['inside']):.2f} s)")
        print(f"ratio leaks/read {leaks_s / read_s:.2f}   leaks/veil run {leaks_s / run_s:.2f}")
        print(f"memory over reading: {med('leaks', 'peak_tree_mb') - med('read', 'peak_tree_mb'):.0f} MB for "
              f"{sum(c['distinct'] for c in section['tables']['customers']['columns'].values()):,} distinct values")
        print("leaks:", json.dumps(section["summary"]))
        for name, c in section["tables"]["customers"]["columns"].items():
            print(f"  {name:8} {c['treatment']:10} distinct {c['distinct']:>9,} kept {c['kept_same_row']} "
                  f"(chance {c['expected_same_row']}) same_column {c['same_column']:,} elsewhere {c['elsewhere']} "
                  f"in_text {c['in_text']} leaks {c['leaks']}")
        print(f"planted: {PLANTED} emails and {PLANTED} phones inside notes")
        print(RSS_METHOD)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_read":
        child_read(*sys.argv[2:4])
    elif len(sys.argv) > 1 and sys.argv[1] == "_leaks":
        child_leaks(*sys.argv[2:6])
    else:
        main()
