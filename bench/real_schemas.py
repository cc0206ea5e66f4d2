"""The whole path on the two realistic schemas of tests/schemas (issue 16 point 9), as figures.

For each schema (PostgreSQL "rental shop", MariaDB "music store"): create and load it, dump it with
the real pg_dump / mysqldump, ``veil scan -o draft``, ``veil validate``, ``veil run`` with the draft
unchanged, restore with errors fatal, then compare with the source. Prints per schema: tables,
columns, foreign keys declared (read from the DDL / written in the schema) and inferred, with the
precision and recall of the inference against the relations written in the schema, joins kept /
total (same joined rows, orphans and children-per-parent distribution), the application's INSERTs
without ids, restore OK, and the wall time of scan and run (subprocesses, start-up included).

    python bench/real_schemas.py                 # both schemas, veil's default workers
    python bench/real_schemas.py --workers 1 --ner --schemas rental_pg
    python bench/real_schemas.py --sample-rows 100     # partial samples, as big tables get

Needs the PostgreSQL and MariaDB servers of the tests (VEIL_PG_*, VEIL_MYSQL_* as in tests/).
Prints names and counts only, never a value.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.schemas import all_schemas  # noqa: E402 - the repository root first
from tests.schemas.harness import Outcome, run_path, unavailable  # noqa: E402


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.2f}" if whole else "n/a"


def figures(schema, o: Outcome) -> dict[str, str]:
    known_decl, known_undecl = schema.declared, schema.undeclared
    hit = o.inferred & known_undecl
    found = (o.declared | o.inferred) & (known_decl | known_undecl)
    changed = sum(o.sensitive.get(s.name, (1.0, 0))[0] <= s.max_share for s in schema.sensitive)
    return {
        "schema": schema.name,
        "tables": str(o.tables),
        "columns": str(o.columns),
        "rows": f"{o.rows:,}",
        "dump MB": f"{o.dump_bytes / 1e6:.1f}",
        "FKs declared (read/known)": f"{len(o.declared & known_decl)}/{len(known_decl)}"
                                     + (f" +{len(o.declared - known_decl)}" if o.declared - known_decl else ""),
        "FKs inferred (right/made)": f"{len(hit)}/{len(o.inferred)}",
        "FK-less known": str(len(known_undecl)),
        "inference precision": _share(len(hit), len(o.inferred)),
        "inference recall": _share(len(hit), len(known_undecl)),
        "all FKs recall": _share(len(found), len(known_decl | known_undecl)),
        "validate exit": str(o.validate_rc),
        "run exit": str(o.run_rc),
        "restore OK": "yes" if o.restore_ok else "NO",
        "joins kept/total": f"{o.joins_kept()}/{len(schema.relations)}",
        "inserts OK/total": f"{sum(ok for ok, _ in o.inserts.values())}/{len(schema.inserts)}",
        "keys pseudonymized": f"{sum(o.keys_changed.values())}/{len(o.keys_changed)}",
        "personal cols changed": f"{changed}/{len(schema.sensitive)}",
        "notes leaks": str(sum(o.notes_leaks.values())),
        "scan s": f"{o.seconds.get('scan', 0):.1f}",
        "validate s": f"{o.seconds.get('validate', 0):.1f}",
        "run s": f"{o.seconds.get('run', 0):.1f}",
        "restore s": f"{o.seconds.get('restore', 0):.1f}",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="veil run --workers (default: CPUs)")
    ap.add_argument("--ner", action="store_true", help="scan with NER (default: --no-ner, as the tests)")
    ap.add_argument("--schemas", default="", help="comma-separated names (default: all)")
    ap.add_argument("--sample-rows", type=int, help="veil scan --sample-rows (a big table's partial sample)")
    args = ap.parse_args(argv)
    wanted = {s for s in args.schemas.split(",") if s}
    rows = []
    for schema in all_schemas():
        if wanted and schema.name not in wanted:
            continue
        reason = unavailable(schema)
        if reason:
            print(f"{schema.name}: skipped ({reason})", file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory(prefix=f"veil-rs-{schema.name}-") as tmp:
            work = Path(tmp)
            from veil.keys import init_keyring

            keyring = work / "keys" / "keyring.json"
            init_keyring(keyring)
            flags = ("--sample-rows", str(args.sample_rows)) if args.sample_rows else ()
            o = run_path(schema, work, keyring, workers=args.workers, ner=args.ner, scan_flags=flags)
        if o.failed_step:
            print(f"{schema.name}: the path stopped at {o.failed_step}:\n{o.run_err or o.restore_err}",
                  file=sys.stderr)
        if o.validate_rc:
            print(f"{schema.name}: validate exit {o.validate_rc}:\n{o.validate_out}", file=sys.stderr)
        rows.append(figures(schema, o))
    if not rows:
        return 1
    keys = list(rows[0])
    width = max(len(k) for k in keys)
    print(f"{'':{width}}  " + "  ".join(f"{r['schema']:>12}" for r in rows))
    for k in keys[1:]:
        print(f"{k:{width}}  " + "  ".join(f"{r[k]:>12}" for r in rows))
    print(f"(veil run --workers {args.workers}; scan {'with' if args.ner else 'without'} NER"
          f"{f', --sample-rows {args.sample_rows}' if args.sample_rows else ''}; "
          f"times are wall seconds of the veil subprocess, start-up included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
