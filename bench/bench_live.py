"""Live PostgreSQL -> live PostgreSQL: `veil run postgresql://src --out postgresql://dst` against the same
run through a pipe and against a plain copy with no anonymization (the floor).

    python bench/bench_live.py                      # 100 MB (bench_dump's dataset), 3 repeats
    python bench/bench_live.py --mb 20 --repeat 3   # quicker
    python bench/bench_live.py --mb 500 --repeat 1 --only live   # peak memory at 5x the size
    python bench/bench_live.py --kind mariadb       # the same against MariaDB (mysqldump | mariadb)

The dataset is bench_dump's dump (customers with 5 personal columns, orders referencing it), loaded
once into a scratch source database on the local server (VEIL_PG_HOST/PORT/USER, default
127.0.0.1:5432 postgres). Each round runs, back to back, into fresh databases:

  floor: pg_dump SRC | psql DST                                    (no anonymization)
  pipe:  pg_dump SRC | veil run - --out - | psql DST               (the file path, streamed)
  live:  veil run postgresql://SRC --out postgresql://DST --if-exists replace

Wall time from spawn to exit (the live run's includes creating its scratch database and the swap;
the floor's and pipe's target databases are created before the clock starts); peak RSS of the
process tree (veil, pg_dump, psql; never the server's). Medians of the repeats, ratios to the floor.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RSS_METHOD, measure, median  # noqa: E402
from bench_dump import prepare  # noqa: E402

HOST = os.environ.get("VEIL_PG_HOST", "127.0.0.1")
PORT = os.environ.get("VEIL_PG_PORT", "5432")
USER = os.environ.get("VEIL_PG_USER", "postgres")
SRC, DST = "veil_live_bench_src", "veil_live_bench_dst"
CONN = ["-h", HOST, "-p", PORT, "-U", USER]


def sql(db: str, statement: str) -> None:
    subprocess.run(["psql", "-X", "-q", *CONN, "-d", db, "-c", statement], check=True, stdout=subprocess.DEVNULL)


def fresh(db: str) -> None:
    sql("postgres", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    sql("postgres", f'CREATE DATABASE "{db}" TEMPLATE template0')


def url(db: str) -> str:
    return f"postgresql://{USER}@{HOST}:{PORT}/{db}"


MY_HOST = os.environ.get("VEIL_MY_HOST", "127.0.0.1")
MY_PORT = os.environ.get("VEIL_MY_PORT", "3306")
MY_USER = os.environ.get("VEIL_MY_USER", "root")
MY_CONN = ["-h", MY_HOST, "-P", MY_PORT, "-u", MY_USER]
MY_SCHEMA = """
CREATE TABLE customers (customer_id bigint NOT NULL PRIMARY KEY, email text NOT NULL, first_name text,
  last_name text, phone text, birth_date date, city text, signup_ts datetime) ENGINE=InnoDB;
CREATE TABLE orders (order_id bigint NOT NULL PRIMARY KEY, customer_id bigint NOT NULL, ordered_at datetime NOT NULL,
  amount decimal(10,2) NOT NULL, status text NOT NULL, note text, KEY orders_customer_id_idx (customer_id),
  CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers (customer_id)) ENGINE=InnoDB;
"""


def my_sql(statement: str, db: str | None = None) -> None:
    subprocess.run(["mariadb", *MY_CONN, "--local-infile=1", *([db] if db else []), "-e", statement], check=True)


def my_fresh(db: str) -> None:
    my_sql(f"DROP DATABASE IF EXISTS `{db}`; CREATE DATABASE `{db}` CHARACTER SET utf8mb4")


def my_source(files) -> None:
    """The PostgreSQL source's rows loaded into a MariaDB database of the same tables (COPY's text format
    is LOAD DATA's default: tab-separated, backslash escapes, \\N for null)."""
    import tempfile

    my_fresh(SRC)
    my_sql(MY_SCHEMA, SRC)
    with tempfile.TemporaryDirectory() as tmp:
        for table in ("customers", "orders"):
            path = Path(tmp) / f"{table}.tsv"
            subprocess.run(["psql", "-X", "-q", *CONN, "-d", SRC, "-c", f"\\copy {table} TO '{path}'"], check=True)
            my_sql(f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table}", SRC)
    my_sql("ANALYZE TABLE customers, orders", SRC)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--only", choices=["floor", "pipe", "live"], action="append",
                    help="run only these (repeatable; the floor is always run, for the ratios)")
    ap.add_argument("--kind", choices=["postgresql", "mariadb"], default="postgresql",
                    help="the servers: PostgreSQL (pg_dump | psql) or MariaDB (mysqldump | mariadb)")
    args = ap.parse_args(argv)
    files = prepare(args.mb)
    fresh(SRC)
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *CONN, "-d", SRC, "-f", str(files.dump)],
                   check=True, stdout=subprocess.DEVNULL)
    sql(SRC, "ANALYZE")
    veil = [sys.executable, "-m", "veil", "run"]
    opts = ["--profile", str(files.profile), "--keyring", str(files.keyring), "-q", "--workers", str(args.workers)]
    psql_in = f"psql -X -q -v ON_ERROR_STOP=1 {' '.join(CONN)} -d {DST}"
    pg_dump = f"pg_dump {' '.join(CONN)} {SRC}"
    if args.kind == "mariadb":
        my_source(files)
        my_in = f"mariadb {' '.join(MY_CONN)} {DST}"
        dump_cmd = f"mysqldump {' '.join(MY_CONN)} --single-transaction --no-tablespaces {SRC}"
        my_url = f"mysql://{MY_USER}@{MY_HOST}:{MY_PORT}"
        commands = {
            "floor": ["bash", "-c", f"set -o pipefail; {dump_cmd} | {my_in}"],
            "pipe": ["bash", "-c", f"set -o pipefail; {dump_cmd} | {' '.join(veil)} - {' '.join(opts)} --out - | "
                                   f"{my_in}"],
            "live": [*veil, f"{my_url}/{SRC}", *opts, "--out", f"{my_url}/{DST}", "--if-exists", "replace"],
        }
        sql("postgres", f'DROP DATABASE IF EXISTS "{SRC}" WITH (FORCE)')
    else:
        commands = {
            "floor": ["bash", "-c", f"set -o pipefail; {pg_dump} | {psql_in} > /dev/null"],
            "pipe": ["bash", "-c", f"set -o pipefail; {pg_dump} | {' '.join(veil)} - {' '.join(opts)} --out - | "
                                   f"{psql_in} > /dev/null"],
            "live": [*veil, url(SRC), *opts, "--out", url(DST), "--if-exists", "replace"],
        }
    if args.only:
        commands = {k: v for k, v in commands.items() if k == "floor" or k in args.only}
    results: dict[str, list] = {k: [] for k in commands}
    for r in range(args.repeat):
        for name, cmd in commands.items():
            my_fresh(DST) if args.kind == "mariadb" else fresh(DST)
            m = measure(cmd)
            results[name].append(m)
            print(f"round {r + 1} {name:5}: {m.seconds:7.2f}s  peak tree {m.peak_tree_mb:6.0f} MB", flush=True)
    size = files.dump.stat().st_size / 2**20
    floor = median([m.seconds for m in results["floor"]])
    print(f"\n{size:.1f} MB dump ({files.customers:,} customers, {files.orders:,} orders), "
          f"workers {args.workers}, medians of {args.repeat}:")
    for name, ms in results.items():
        t = median([m.seconds for m in ms])
        peak = max(m.peak_tree_mb for m in ms)
        print(f"  {name:5} {t:7.2f}s  {t / floor:4.2f}x floor  peak tree RSS {peak:6.0f} MB")
    print(f"({RSS_METHOD})")
    if args.kind == "mariadb":
        my_sql(f"DROP DATABASE IF EXISTS `{DST}`; DROP DATABASE IF EXISTS `{SRC}`")
    else:
        sql("postgres", f'DROP DATABASE IF EXISTS "{DST}" WITH (FORCE)')
        sql("postgres", f'DROP DATABASE IF EXISTS "{SRC}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
