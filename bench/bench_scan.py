"""veil scan: does scan time follow the sample, not the data? 10 tables at 1M and at 10M rows in total.

    python bench/bench_scan.py                    # Parquet, 1M vs 10M rows, 3 rounds
    python bench/bench_scan.py --format csv
    python bench/bench_scan.py --sizes 100000,1000000 --repeat 1   # quick check

Each size is a directory of 10 tables (customers, orders, payments, addresses, support tickets,
products, events, employees, invoices, sessions; personal and look-alike columns, one free-text
column), generated deterministically and cached in bench/_data. For each size the benchmark
times, in the same process and the same run:

- ``scan``: scan_dataset on the directory with the default sample (2,000 distinct values per
  column, 20,000 rows per table), the Presidio detector already built (it is built once per
  process; its cost is printed separately);
- ``read``: a plain pyarrow read of every table, whole (the baseline: what grows with the data).

It prints the median of the rounds, and the ratios largest/smallest size for both: the scan's
should stay near 1 while the read's grows with the data.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "_data"
GEN_VERSION = 1
SEED = 20261123

FIRST = ["Anna", "Lukas", "Marie", "Jonas", "Emma", "Noah", "Olivia", "Liam", "Sofia", "Mateo", "Chloé", "Louis",
         "Giulia", "Lorenzo", "Zoë", "Søren", "Łukasz", "Aiko", "Fatima", "Omar"]
LAST = ["Müller", "Schmidt", "Smith", "Johnson", "García", "Martínez", "Rossi", "Bianchi", "Dubois", "Moreau",
        "Nowak", "Kowalski", "Jensen", "Nielsen", "O'Brien", "Murphy", "Silva", "Santos", "Novák", "Horvat"]
CITIES = ["Berlin", "Hamburg", "München", "Paris", "Lyon", "Madrid", "Barcelona", "Roma", "Milano", "London",
          "Manchester", "Dublin", "Lisboa", "Porto", "Warszawa", "Kraków", "Praha", "Wien", "Zürich", "Amsterdam"]
WORDS = ["please", "call", "back", "about", "the", "delivery", "refund", "order", "was", "late", "and", "damaged",
         "customer", "asked", "for", "invoice", "copy", "thanks", "kind", "regards"]


def _pick(rng: np.random.Generator, words: list[str], n: int) -> pa.Array:
    return pc.take(pa.array(words), pa.array(rng.integers(0, len(words), n)))


def _num(rng: np.random.Generator, lo: int, hi: int, n: int) -> pa.Array:
    return pa.array(rng.integers(lo, hi, n)).cast(pa.string())


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def table(name: str, n: int, rng: np.random.Generator) -> pa.Table:
    ids = pa.array(np.arange(1, n + 1, dtype=np.int64))
    ref = pa.array(rng.integers(1, max(2, n // 2), n, dtype=np.int64))
    ts = pa.array(rng.integers(1_600_000_000, 1_750_000_000, n).astype("datetime64[s]"))
    money = pa.array(np.round(rng.random(n) * 500, 2))
    if name == "customers":
        first, last = _pick(rng, FIRST, n), _pick(rng, LAST, n)
        return pa.table({
            "customer_id": ids,
            "email": _join(pc.utf8_lower(first), ".", _num(rng, 0, 10**6, n), "@example.com"),
            "first_name": first, "last_name": last,
            "phone": _join("+49 30 ", _num(rng, 1_000_000, 9_999_999, n)),
            "birth_date": pa.array(rng.integers(-15_000, 12_000, n).astype("datetime64[D]")),
            "city": _pick(rng, CITIES, n), "signup_at": ts,
        })
    if name == "orders":
        return pa.table({"order_id": ids, "customer_id": ref, "order_number": _join("ORD-", _num(rng, 10**6, 10**7, n)),
                         "total": money, "status": _pick(rng, ["new", "paid", "shipped", "returned"], n),
                         "placed_at": ts})
    if name == "payments":
        return pa.table({"payment_id": ids, "order_id": ref,
                         "iban": _join("DE89 3704 0044 0532 0130 0", _num(rng, 0, 10, n)), "amount": money,
                         "currency": _pick(rng, ["EUR", "USD", "GBP"], n), "paid_at": ts})
    if name == "addresses":
        return pa.table({"address_id": ids, "customer_id": ref,
                         "street": _join(_pick(rng, LAST, n), "straße ", _num(rng, 1, 200, n)),
                         "postcode": _num(rng, 10_000, 99_999, n), "city": _pick(rng, CITIES, n),
                         "country": _pick(rng, ["DE", "FR", "ES", "IT", "GB"], n)})
    if name == "support_tickets":
        body = _join(_pick(rng, WORDS, n), " ", _pick(rng, WORDS, n), " ", _pick(rng, WORDS, n), " ",
                     _pick(rng, WORDS, n), " ", _pick(rng, WORDS, n), " reach me at ",
                     pc.utf8_lower(_pick(rng, FIRST, n)), _num(rng, 0, 10**5, n), "@example.org or ",
                     _pick(rng, FIRST, n), " ", _pick(rng, LAST, n), " will call.")
        return pa.table({"ticket_id": ids, "customer_id": ref, "created_at": ts, "body": body})
    if name == "products":
        return pa.table({"product_id": ids, "sku": _join("SKU-", _num(rng, 10_000, 99_999, n), "-XL"),
                         "title": _join(_pick(rng, WORDS, n), " ", _pick(rng, WORDS, n)), "price": money,
                         "in_stock": pa.array(rng.random(n) < 0.8)})
    if name == "events":
        return pa.table({"event_id": ids, "customer_id": ref,
                         "ip_address": _join(_num(rng, 1, 223, n), ".", _num(rng, 0, 255, n), ".",
                                             _num(rng, 0, 255, n), ".", _num(rng, 1, 254, n)),
                         "kind": _pick(rng, ["view", "click", "buy"], n), "at": ts})
    if name == "employees":
        return pa.table({"employee_id": ids, "vorname": _pick(rng, FIRST, n), "nachname": _pick(rng, LAST, n),
                         "geburtsdatum": pa.array(rng.integers(-10_000, 10_000, n).astype("datetime64[D]")),
                         "steuer_id": _num(rng, 10**10, 10**11 - 1, n), "gehalt": money})
    if name == "invoices":
        return pa.table({"invoice_id": ids, "order_id": ref,
                         "invoice_no": _join("INV-2025-", _num(rng, 10**5, 10**6, n)), "net": money, "issued_at": ts})
    if name == "sessions":
        return pa.table({"session_id": ids, "customer_id": ref, "user_agent": _pick(rng, ["Mozilla/5.0", "curl/8"], n),
                         "duration_s": pa.array(rng.integers(1, 3600, n)), "started_at": ts})
    raise ValueError(name)


TABLES = ["customers", "orders", "payments", "addresses", "support_tickets", "products", "events", "employees",
          "invoices", "sessions"]


def dataset(total_rows: int, fmt: str) -> Path:
    path = DATA_DIR / f"scan-v{GEN_VERSION}-{total_rows}-{fmt}"
    if path.exists():
        return path
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    per = total_rows // len(TABLES)
    for name in TABLES:
        t = table(name, per, rng)
        if fmt == "parquet":
            pq.write_table(t, tmp / f"{name}.parquet", row_group_size=128 * 1024)
        else:
            pacsv.write_csv(t, tmp / f"{name}.csv")
    tmp.rename(path)
    return path


def plain_read(path: Path, fmt: str) -> int:
    rows = 0
    for f in sorted(path.iterdir()):
        t = pq.read_table(f) if fmt == "parquet" else pacsv.read_csv(f)
        rows += t.num_rows
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000000,10000000", help="total rows per dataset, comma-separated")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    ap.add_argument("--no-ner", action="store_true", help="pattern recognizers only")
    args = ap.parse_args()

    from veil.detect.engine import detector
    from veil.detect.scan import scan_dataset
    from veil.formats import open_dataset

    sizes = [int(s) for s in args.sizes.split(",")]
    t0 = time.perf_counter()
    det = detector(None, not args.no_ner)
    print(f"detector built in {time.perf_counter() - t0:.2f}s (once per process; NER: {det.model or 'off'})")
    paths = {}
    for n in sizes:
        t0 = time.perf_counter()
        paths[n] = dataset(n, args.format)
        size_mb = sum(f.stat().st_size for f in paths[n].iterdir()) / 1e6
        print(f"data {n:,} rows: {paths[n].name} ({size_mb:,.0f} MB, ready in {time.perf_counter() - t0:.1f}s)")
    scan_t: dict[int, list[float]] = {n: [] for n in sizes}
    read_t: dict[int, list[float]] = {n: [] for n in sizes}
    entities: dict[int, list[str]] = {}
    for r in range(args.repeat):
        for n in sizes:  # interleaved, so drift in machine load hits every size alike
            t0 = time.perf_counter()
            result = scan_dataset(open_dataset(paths[n]), use_ner=not args.no_ner)
            scan_t[n].append(time.perf_counter() - t0)
            entities[n] = [f.entity for f in result.findings]
            t0 = time.perf_counter()
            rows = plain_read(paths[n], args.format)
            read_t[n].append(time.perf_counter() - t0)
            assert rows == n // len(TABLES) * len(TABLES)
            print(f"round {r + 1}: {n:>12,} rows  scan {scan_t[n][-1]:6.2f}s  read {read_t[n][-1]:6.2f}s",
                  flush=True)
    lo, hi = sizes[0], sizes[-1]
    print()
    print(f"{'rows':>12}  {'scan (median)':>14}  {'plain read (median)':>20}")
    for n in sizes:
        print(f"{n:>12,}  {statistics.median(scan_t[n]):13.2f}s  {statistics.median(read_t[n]):19.2f}s")
    ratio_scan = statistics.median(scan_t[hi]) / statistics.median(scan_t[lo])
    ratio_read = statistics.median(read_t[hi]) / statistics.median(read_t[lo])
    print(f"scan  {hi:,} / {lo:,} rows: {ratio_scan:.2f}x   (target <= 1.3x)")
    print(f"read  {hi:,} / {lo:,} rows: {ratio_read:.2f}x   (the baseline grows with the data)")
    same = entities[lo] == entities[hi]
    print(f"same findings at both sizes: {same}")
    return 0 if ratio_scan <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
