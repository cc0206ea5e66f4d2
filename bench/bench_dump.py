"""SQL dump throughput: `veil run` on a pg_dump plain-text dump, against reading and tokenizing it.

    python bench/bench_dump.py                      # 100 MB dump, 3 repeats
    python bench/bench_dump.py --mb 1000 --repeat 1
    python bench/bench_dump.py --mb 2 --repeat 1    # quick check

The dump is written by this script, deterministically and without a database,
in the exact text pg_dump 15 writes (a load + pg_dump round trip gives the same
bytes): a customers table (8 columns, 5 personal, as in bench_core) and an
orders table referencing it, with COPY escapes and NULLs in the data. Each
round runs, back to back: (a) a plain read of the file in 1 MB chunks, (b)
veil's dump scanner over the file, consuming every COPY line without
transforming anything, (c) `veil run`; all three are subprocesses measured
alike (wall time from spawn to exit, peak RSS of the process tree).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    _REAL_CITY,
    _REAL_FIRST,
    _REAL_LAST,
    DATA_DIR,
    RSS_METHOD,
    SEED,
    Measure,
    _ascii_slug_array,
    _words,
    _zipf_draw,
    measure,
    median,
)
from _common import PROFILE_YAML as CORE_PROFILE_YAML  # noqa: E402

DUMP_VERSION = 1  # bump when the generated dump changes (cached files carry it in their name)
MB = 2**20
CHUNK = 100_000  # rows generated (and written) at a time
CUSTOMERS_SHARE = 0.55  # of the target size, the rest is orders

# bench_core's customers profile (the primary key comes from the dump's DDL here), plus orders, which
# holds nothing personal: its customer_id follows customers.customer_id through the dump's foreign key.
PROFILE_YAML = CORE_PROFILE_YAML.replace("    primary_key: [customer_id]\n", "") + """\
  orders:
    columns:
      order_id: keep
      ordered_at: keep
      amount: keep
      status: keep
      note: keep
"""

CUSTOMER_COLS = ("customer_id", "email", "first_name", "last_name", "phone", "birth_date", "city", "signup_ts")
ORDER_COLS = ("order_id", "customer_id", "ordered_at", "amount", "status", "note")

_PG_VERSION = "15.20 (Debian 15.20-0+deb12u1)"
# pg_dump's \restrict key: 63 random letters and digits (fixed here)
_RESTRICT = "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[b % 62]
                    for b in hashlib.sha512(f"veil-bench-{SEED}".encode()).digest()[:63])

_HEAD = f"""\
--
-- PostgreSQL database dump
--

\\restrict {_RESTRICT}

-- Dumped from database version {_PG_VERSION}
-- Dumped by pg_dump version {_PG_VERSION}

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: customers; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.customers (
    customer_id bigint NOT NULL,
    email text NOT NULL,
    first_name text,
    last_name text,
    phone text,
    birth_date date,
    city text,
    signup_ts timestamp without time zone
);


ALTER TABLE public.customers OWNER TO postgres;

--
-- Name: orders; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.orders (
    order_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    ordered_at timestamp without time zone NOT NULL,
    amount numeric(10,2) NOT NULL,
    status text NOT NULL,
    note text
);


ALTER TABLE public.orders OWNER TO postgres;

--
-- Data for Name: customers; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.customers ({", ".join(CUSTOMER_COLS)}) FROM stdin;
"""

_MIDDLE = f"""\
\\.


--
-- Data for Name: orders; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.orders ({", ".join(ORDER_COLS)}) FROM stdin;
"""

_TAIL = f"""\
\\.


--
-- Name: customers customers_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.customers
    ADD CONSTRAINT customers_pkey PRIMARY KEY (customer_id);


--
-- Name: orders orders_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (order_id);


--
-- Name: orders_customer_id_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX orders_customer_id_idx ON public.orders USING btree (customer_id);


--
-- Name: orders orders_customer_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customers(customer_id);


--
-- PostgreSQL database dump complete
--

\\unrestrict {_RESTRICT}

"""

_STATUS = ["new", "paid", "shipped", "delivered", "cancelled", "refunded"]
# free text with what COPY must escape: newlines, tabs, backslashes (and quotes, non-ASCII)
_NOTES = ["Leave at the door", "Ring twice\nthen wait", "Gift wrap, card: \"Happy birthday!\"",
          "Call before delivery", "Deliver to neighbour (No. 12)\nif absent", "Fragile\tthis side up",
          "Code C:\\door\\4711", "Bitte beim Nachbarn abgeben", "Livraison après 18h",
          "Second floor\r\nno lift", "It's a surprise – don't ring", "手渡しでお願いします", "PO box only",
          "tab\tseparated\tnote", "ends with a backslash \\", "Zweite Tür links"]


@dataclass
class DumpFiles:
    dump: Path
    profile: Path
    keyring: Path
    created: list[Path]
    customers: int
    orders: int
    customers_bytes: int


def _copy_text(arr):
    """Text -> COPY text field: escape \\, tab, LF, CR; null -> \\N."""
    import pyarrow as pa
    import pyarrow.compute as pc

    s = arr
    for a, b in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        s = pc.replace_substring(s, a, b)
    return pc.fill_null(s, pa.scalar("\\N", pa.string()))


def _lines(fields) -> tuple[bytes, list[int]]:
    """Join fields with tabs, one row per line: (all lines, cumulative byte length after each line)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    joined = pc.binary_join_element_wise(*fields, pa.scalar("\t"))
    joined = pc.binary_join_element_wise(joined, pa.scalar("\n"), pa.scalar(""))  # end each line
    joined = joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined
    offs = np.frombuffer(joined.buffers()[1], dtype=np.int32)[joined.offset:joined.offset + len(joined) + 1]
    data = joined.buffers()[2].to_pybytes()[offs[0]:offs[-1]]
    return data, (offs[1:] - offs[0]).tolist()


class _Words:
    def __init__(self):
        import numpy as np

        rng = np.random.default_rng(SEED)
        self.first = _words(rng, 3000, (1, 3), _REAL_FIRST)
        self.last = _words(rng, 6000, (2, 3), _REAL_LAST)
        self.city = _words(rng, 300, (1, 3), _REAL_CITY, ["", "", "burg", "ville", "stadt", "ford", "ów",
                                                          "heim", " Saint-Élie", "by", "ön", " City"])
        # a few cities with a backslash in their name: kept values that must round-trip escaped
        self.city[150:153] = [w + "\\Nord" for w in self.city[150:153]]


def _customers_chunk(words: _Words, i: int, n: int, last_id: int):
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng([SEED, 1, i])
    ids = last_id + np.cumsum(rng.integers(1, 4, size=n)).astype(np.int64)
    first = pa.array(words.first, pa.string()).take(pa.array(_zipf_draw(rng, len(words.first), n)))
    last = pa.array(words.last, pa.string()).take(pa.array(_zipf_draw(rng, len(words.last), n, s=0.95, q=10.0)))
    # ~0.5% of last names carry a tab (a messy import): a transformed value that needs decoding
    last = pc.if_else(pa.array(rng.random(n) < 0.005), pc.binary_join_element_wise(last, "Jr.", "\t"), last)
    owner = np.arange(n)
    shared = rng.random(n) < 0.05
    owner[shared] = rng.integers(0, n, size=int(shared.sum()))
    owner_arr = pa.array(owner)
    domains = ["gmail.com", "yahoo.com", "outlook.com", "web.de", "gmx.de", "orange.fr", "icloud.com",
               "proton.me", "example.org", "hotmail.com"]
    num = pc.cast(pa.array((ids[owner] * 7_919 + 13) % 9_999_991), pa.string())
    dom = pa.array(domains).take(pa.array(rng.integers(0, len(domains), size=n)[owner]))
    email = pc.binary_join_element_wise(_ascii_slug_array(first).take(owner_arr), ".",
                                        _ascii_slug_array(last).take(owner_arr), num, "@", dom, "")
    area = rng.integers(201, 990, size=n)
    line = rng.integers(0, 10_000_000, size=n)
    phone = pc.binary_join_element_wise(
        "+1 (", pc.cast(pa.array(area), pa.string()), ") ",
        pc.utf8_lpad(pc.cast(pa.array(line // 10_000), pa.string()), 3, "0"), "-",
        pc.utf8_lpad(pc.cast(pa.array(line % 10_000), pa.string()), 4, "0"), "")
    phone = pc.if_else(pa.array(rng.random(n) < 0.03), pa.scalar(None, pa.string()), phone)
    d0 = int(np.datetime64("1940-01-01", "D").astype(np.int64))
    birth = pa.array((d0 + rng.integers(0, 25_000, size=n)).astype(np.int32)).view(pa.date32())
    birth = pc.if_else(pa.array(rng.random(n) < 0.01), pa.scalar(None, pa.date32()), birth)
    city = pa.array(words.city, pa.string()).take(pa.array(_zipf_draw(rng, len(words.city), n)))
    t0 = int(np.datetime64("2015-01-01T00:00:00", "s").astype(np.int64))
    signup = pa.array(t0 + rng.integers(0, 10 * 365 * 86_400, size=n)).view(pa.timestamp("s"))
    fields = [pc.cast(pa.array(ids), pa.string()), email, first, last, phone, pc.cast(birth, pa.string()),
              city, pc.cast(signup, pa.string())]
    return _lines([_copy_text(f) for f in fields]), ids


def _orders_chunk(i: int, n: int, first_id: int, customer_ids):
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng([SEED, 2, i])
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    cust = customer_ids[rng.integers(0, len(customer_ids), size=n)]
    t0 = int(np.datetime64("2016-01-01T00:00:00", "s").astype(np.int64))
    at = pa.array(t0 + np.sort(rng.integers(0, 9 * 365 * 86_400, size=n))).view(pa.timestamp("s"))
    cents = rng.integers(100, 500_000, size=n)
    amount = pc.binary_join_element_wise(pc.cast(pa.array(cents // 100), pa.string()),
                                         pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0"), ".")
    status = pa.array(_STATUS).take(pa.array(rng.integers(0, len(_STATUS), size=n)))
    note = pa.array(_NOTES).take(pa.array(rng.integers(0, len(_NOTES), size=n)))
    note = pc.if_else(pa.array(rng.random(n) < 0.12), note, pa.scalar(None, pa.string()))
    fields = [pc.cast(pa.array(ids), pa.string()), pc.cast(pa.array(cust), pa.string()),
              pc.cast(at, pa.string()), amount, status, note]
    return _lines([_copy_text(f) for f in fields])


def write_dump(path: Path, target_bytes: int) -> tuple[int, int, int]:
    """Write the dump (about target_bytes); returns (customers rows, orders rows, customers COPY bytes)."""
    import numpy as np

    words = _Words()
    head, middle, tail = _HEAD.encode(), _MIDDLE.encode(), _TAIL.encode()
    budget_c = max(1, int(target_bytes * CUSTOMERS_SHARE) - len(head))
    budget_o = max(1, target_bytes - len(head) - len(middle) - len(tail))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    ids_all = []
    with open(tmp, "wb") as fh:
        fh.write(head)
        written, last_id, i = 0, 1000, 0
        while written < budget_c:
            (data, ends), ids = _customers_chunk(words, i, CHUNK, last_id)
            room = budget_c - written
            if ends[-1] > room:  # the last chunk: stop at the line that reaches the budget
                k = int(np.searchsorted(ends, room)) + 1
                data, ids = data[:ends[k - 1]], ids[:k]
            fh.write(data)
            written += len(data)
            ids_all.append(ids)
            last_id = int(ids[-1])
            i += 1
        customers_bytes = written
        customer_ids = np.concatenate(ids_all)
        fh.write(middle)
        budget_o -= written
        written, next_id, i = 0, 1, 0
        while written < budget_o:
            data, ends = _orders_chunk(i, CHUNK, next_id, customer_ids)
            room = budget_o - written
            n = CHUNK
            if ends[-1] > room:
                n = int(np.searchsorted(ends, room)) + 1
                data = data[:ends[n - 1]]
            fh.write(data)
            written += len(data)
            next_id += n
            i += 1
        fh.write(tail)
    tmp.replace(path)
    return len(customer_ids), next_id - 1, customers_bytes


def prepare(mb: float, log=print) -> DumpFiles:
    """Generate (or reuse) the dump, and write the profile and a fresh keyring, under bench/_data."""
    import subprocess

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    d = DATA_DIR / f"dump-v{DUMP_VERSION}-{mb:g}mb"
    dump = d / "shop.sql"
    meta = d / "meta.json"
    created: list[Path] = []
    if not (dump.exists() and meta.exists()):
        t0 = time.perf_counter()
        # in a subprocess, so the benchmark process stays small (it forks every measured command)
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--generate", f"{mb:g}", str(dump)],
                       check=True)
        created.append(d)
        log(f"generated {dump.stat().st_size / MB:,.1f} MB dump -> {dump.relative_to(DATA_DIR.parent.parent)} "
            f"in {time.perf_counter() - t0:.1f}s")
    m = json.loads(meta.read_text())
    profile = DATA_DIR / "profile-dump.yaml"
    profile.write_text(PROFILE_YAML)
    keyring = DATA_DIR / "keys" / "keyring.json"
    keyring.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "veil", "keys", "init", "--force", str(keyring)], check=True,
                   stdout=subprocess.DEVNULL)
    return DumpFiles(dump, profile, keyring, created, m["customers"], m["orders"], m["customers_bytes"])


def cleanup(files: DumpFiles) -> None:
    for d in files.created:
        shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(DATA_DIR / "out", ignore_errors=True)


# -- the three measured commands -------------------------------------------------------------

READ_CODE = """\
import sys
n = 0
with open(sys.argv[1], "rb", buffering=0) as fh:
    while chunk := fh.read(1 << 20):
        n += len(chunk)
print(n)
"""

# the scanner veil uses for both of its passes, fed like DumpInfo.lines() feeds it
SCAN_CODE = """\
import sys
from veil.formats.dump.lexer import CopyData, Scanner
rows = 0
with open(sys.argv[1], "rt", encoding="utf-8", errors="surrogateescape", newline="") as fh:
    for item in Scanner(iter(fh), "postgresql", sys.argv[1]).items():
        if isinstance(item, CopyData):
            for _ in item.lines:
                rows += 1
print(rows)
"""


def read_cmd(dump: Path) -> list[str]:
    return [sys.executable, "-c", READ_CODE, str(dump)]


def scan_cmd(dump: Path) -> list[str]:
    return [sys.executable, "-c", SCAN_CODE, str(dump)]


def veil_cmd(files: DumpFiles, out: Path, workers: int | None, report: Path | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "veil", "run", str(files.dump), "--profile", str(files.profile),
           "--keyring", str(files.keyring), "--out", str(out), "-q"]
    if workers:
        cmd += ["--workers", str(workers)]
    if report:
        cmd += ["--report", str(report)]
    return cmd


def check_output(files: DumpFiles, out: Path) -> str:
    """Cheap sanity check of veil's output: same size class, same lines outside customers' COPY rows."""
    def digest(path: Path) -> tuple[int, int, int]:
        n = rows = lines = 0
        inside = False
        with open(path, "rb") as fh:
            for line in fh:
                lines += 1
                if inside and line == b"\\.\n":
                    inside = False
                if inside:
                    rows = (rows * 1_000_003 + hash(line)) % (1 << 61)
                else:
                    n = (n * 1_000_003 + hash(line)) % (1 << 61)
                if line.startswith(b"COPY public.customers "):
                    inside = True
        return n, lines, rows

    (a, la, ra), (b, lb, rb) = digest(files.dump), digest(out)
    if (a, la) != (b, lb):
        raise SystemExit("veil's output differs from the input outside the customers rows")
    if ra == rb:
        raise SystemExit("veil's output has the input's customers rows unchanged")
    return f"output checked: {lb:,} lines, identical to the input outside the customers rows, which changed"


def _fmt(m: Measure, size: int) -> str:
    return f"{m.seconds:6.2f}s {size / MB / m.seconds:7.1f} MB/s {m.peak_tree_mb:5.0f} MB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=100, help="dump size in MB (2^20 bytes; default 100)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", action="store_true", help="keep the generated dump in bench/_data")
    ap.add_argument("--generate", nargs=2, metavar=("MB", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.generate:
        path = Path(args.generate[1])
        c, o, cb = write_dump(path, int(float(args.generate[0]) * MB))
        (path.parent / "meta.json").write_text(json.dumps({"customers": c, "orders": o, "customers_bytes": cb}))
        return 0
    if args.mb <= 0 or args.repeat < 1 or args.workers < 1:
        ap.error("bad arguments")

    import pyarrow

    print(f"veil bench_dump: pg_dump plain text, {args.mb:g} MB, repeat {args.repeat}, --workers {args.workers}")
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, pyarrow {pyarrow.__version__}")
    files = prepare(args.mb)
    size = files.dump.stat().st_size
    print(f"dump: {size / MB:,.1f} MB; customers {files.customers:,} rows ({files.customers_bytes / MB:,.1f} MB "
          f"of COPY rows, 5 of 8 columns transformed), orders {files.orders:,} rows (no transformed column: "
          "copied through)")
    out_dir = DATA_DIR / "out"
    out = out_dir / "veil.sql"
    report = out_dir / "report.json"
    rounds: list[tuple[Measure, Measure, Measure, float]] = []
    try:
        for i in range(args.repeat):
            out_dir.mkdir(parents=True, exist_ok=True)
            if out.exists():
                out.unlink()
            a = measure(read_cmd(files.dump))
            b = measure(scan_cmd(files.dump))
            c = measure(veil_cmd(files, out, args.workers, report))
            internal = json.loads(report.read_text())["seconds"]
            rounds.append((a, b, c, internal))
            print(f"  #{i + 1}: (a) read {_fmt(a, size)} | (b) tokenize {_fmt(b, size)} | "
                  f"(c) veil {_fmt(c, size)} (in-run {internal:.2f}s, main process {c.peak_main_mb:.0f} MB) | "
                  f"c/a {c.seconds / a.seconds:.1f}x c/b {c.seconds / b.seconds:.2f}x", flush=True)
        print("  " + check_output(files, out))
    finally:
        if not args.keep:
            cleanup(files)

    ta, tb, tc = (median([r[k].seconds for r in rounds]) for k in range(3))
    tin = median([r[3] for r in rounds])
    print()
    head = f"{'pass':<26} {'median s':>9} {'MB/s':>8} {'peak RSS MB':>12}"
    print(head)
    print("-" * len(head))
    for label, t, k in (("(a) plain read, 1 MB chunks", ta, 0), ("(b) tokenize (Scanner)", tb, 1),
                        ("(c) veil run", tc, 2)):
        print(f"{label:<26} {t:>9.2f} {size / MB / t:>8.1f} {max(r[k].peak_tree_mb for r in rounds):>12.0f}")
    print()
    print(f"c/a = {median([r[2].seconds / r[0].seconds for r in rounds]):.1f}x, "
          f"c/b = {median([r[2].seconds / r[1].seconds for r in rounds]):.2f}x (medians of per-round ratios)")
    print(f"veil in-run seconds (report, excludes start-up): {tin:.2f}s = {size / MB / tin:.1f} MB/s; "
          f"customers rows/s {files.customers / tin:,.0f}")
    print(f"veil peak RSS (process tree): {max(r[2].peak_tree_mb for r in rounds):.0f} MB, "
          f"main process {max(r[2].peak_main_mb for r in rounds):.0f} MB")
    print(f"times: medians of {args.repeat} wall-clock runs (spawn to exit, interpreter start-up included); "
          "the file is in the page cache for all three")
    print(f"memory: max over runs; {RSS_METHOD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
