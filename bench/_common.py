"""Shared pieces of the veil benchmarks: data generator, profile, keyring, measurement.

Everything here is deterministic (numpy seeded) so two runs of a benchmark
read byte-identical inputs. Run as a script only for the plain pyarrow copy
baseline (``python bench/_common.py copy FORMAT IN OUT``), which the
benchmarks start in a subprocess so its memory is measured like veil's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "_data"
REPO = BENCH_DIR.parent
GEN_VERSION = 1  # bump when the generated data changes (cached files carry it in their name)
SEED = 20240611
BATCH = 65_536
COLUMNS = ("customer_id", "email", "first_name", "last_name", "phone", "birth_date", "city",
           "signup_ts")

PROFILE_YAML = """\
# veil profile for the benchmark table (bench/_common.py); 5 of 8 columns are personal.
version: 1
defaults:
  unknown_columns: fail
tables:
  customers:
    primary_key: [customer_id]
    columns:
      customer_id: keep
      email: {op: pseudonymize, format: email, domain: email}
      first_name: {op: fake, kind: first_name}
      last_name: {op: fake, kind: last_name}
      phone: {op: fake, kind: phone_number}
      birth_date: {op: generalize, to: year}
      city: keep
      signup_ts: keep
"""

# -- word lists ------------------------------------------------------------

_ONSETS = ["b", "br", "c", "ch", "d", "f", "g", "gr", "h", "j", "k", "kl", "l", "m", "n", "p",
           "r", "s", "sch", "st", "t", "v", "w", "z", "ł", "ż", "š", "č", "ð"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ei", "ie", "é", "è", "ä", "ö", "ü", "å", "ø", "ó",
           "í", "ã"]
_CODAS = ["", "", "", "n", "r", "s", "l", "th", "rt", "ns", "k", "ck", "ñ", "ß", "m"]
_CITY_SUFFIX = ["", "", "burg", "ville", "stadt", "ford", "ów", "heim", " Saint-Élie", "by",
                "ön", " City"]
_REAL_FIRST = ["Anna", "José", "Zoë", "Łukasz", "Søren", "Björn", "Chloé", "François", "Jürgen",
               "Øyvind", "Małgorzata", "Đorđe", "Αλέξανδρος", "Иван", "陈", "Ngọc", "Siobhán",
               "Maria", "John", "Mohammed", "Aiko", "Renée", "Ana", "Peter", "Léa"]
_REAL_LAST = ["Müller", "Smith", "García", "Nowak", "Østergård", "Dubois", "Schröder", "Kovačević",
              "Papadopoulos", "Иванов", "王", "Nguyễn", "O'Brien", "Jones", "Martínez", "Rossi"]
_REAL_CITY = ["São Paulo", "Zürich", "Kraków", "Malmö", "München", "Besançon", "Reykjavík",
              "Łódź", "Köln", "Paris", "Berlin", "Lyon", "Hamburg", "New York", "Chicago"]


def _words(rng, n: int, syllables: tuple[int, int], real: list[str],
           suffixes: list[str] | None = None) -> list[str]:
    """n distinct capitalised pseudo-words (real ones first: they get the most weight)."""
    out, seen = [], set()
    for w in real:
        if w not in seen:
            seen.add(w)
            out.append(w)
    while len(out) < n:
        k = int(rng.integers(syllables[0], syllables[1] + 1))
        w = "".join(_ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
                    for _ in range(k)) + _CODAS[rng.integers(len(_CODAS))]
        if suffixes:
            w += suffixes[rng.integers(len(suffixes))]
        w = w[:1].upper() + w[1:]
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def _zipf_draw(rng, n_words: int, size: int, s: float = 1.05, q: float = 2.7):
    """Indexes in [0, n_words) with Zipf-Mandelbrot weights 1/(rank+q)^s."""
    import numpy as np

    w = 1.0 / (np.arange(n_words) + q) ** s
    return rng.choice(n_words, size=size, p=w / w.sum())


# -- the table -------------------------------------------------------------

def generate_table(rows: int):
    """The customers-like benchmark table: 8 columns, 5 personal, realistic repetition."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(SEED)
    first_words = _words(rng, 3000, (1, 3), _REAL_FIRST)
    last_words = _words(rng, 6000, (2, 3), _REAL_LAST)
    city_words = _words(rng, 300, (1, 3), _REAL_CITY, _CITY_SUFFIX)
    domains = ["gmail.com", "yahoo.com", "outlook.com", "web.de", "gmx.de", "orange.fr",
               "icloud.com", "proton.me", "example.org", "hotmail.com"]

    # ascending ids with gaps (deleted accounts), unique
    customer_id = 1_000_000 + np.cumsum(rng.integers(1, 4, size=rows)).astype(np.int64)
    first_idx = _zipf_draw(rng, len(first_words), rows)
    last_idx = _zipf_draw(rng, len(last_words), rows, s=0.95, q=10.0)
    first = pa.array(first_words, pa.string()).take(pa.array(first_idx))
    last = pa.array(last_words, pa.string()).take(pa.array(last_idx))

    # email: built from the owner's name and a per-owner number; ~5% of rows share
    # the address of another customer (families, shared mailboxes)
    owner = np.arange(rows)
    shared = rng.random(rows) < 0.05
    owner[shared] = rng.integers(0, rows, size=int(shared.sum()))
    owner_arr = pa.array(owner)
    slug = _ascii_slug_array
    num = pc.cast(pa.array((owner.astype(np.int64) * 7_919 + 13) % 9_999_991), pa.string())
    dom = pa.array(domains).take(pa.array(rng.integers(0, len(domains), size=rows)[owner]))
    email = pc.binary_join_element_wise(
        slug(first).take(owner_arr), ".", slug(last).take(owner_arr), num, "@", dom, "")

    # phone: ~90% unique, ~3% null
    area = rng.integers(201, 990, size=rows)
    line = rng.integers(0, 10_000_000, size=rows)
    dup = rng.random(rows) < 0.10
    src = rng.integers(0, rows, size=int(dup.sum()))
    area[dup], line[dup] = area[src], line[src]
    phone = pc.binary_join_element_wise(
        "+1 (", pc.cast(pa.array(area), pa.string()), ") ",
        pc.utf8_lpad(pc.cast(pa.array(line // 10_000), pa.string()), 3, "0"), "-",
        pc.utf8_lpad(pc.cast(pa.array(line % 10_000), pa.string()), 4, "0"), "")
    phone = pc.if_else(pa.array(rng.random(rows) < 0.03), pa.scalar(None, pa.string()), phone)

    # birth dates: ~25k distinct days (1940 .. mid 2008)
    d0 = int(np.datetime64("1940-01-01", "D").astype(np.int64))
    birth = pa.array((d0 + rng.integers(0, 25_000, size=rows)).astype(np.int32)).view(pa.date32())

    city = pa.array(city_words, pa.string()).take(pa.array(_zipf_draw(rng, len(city_words), rows)))
    t0 = int(np.datetime64("2015-01-01T00:00:00", "s").astype(np.int64))
    signup = pa.array(t0 + rng.integers(0, 10 * 365 * 86_400, size=rows)).view(pa.timestamp("s"))

    return pa.table([pa.array(customer_id), email, first, last, phone, birth, city, signup],
                    names=list(COLUMNS))


def _ascii_slug_array(arr):
    """Lower-case ASCII local-part slug of each name (non-ASCII names fold or fall back)."""
    import unicodedata

    import pyarrow as pa

    uniq = arr.unique()
    folded = []
    for w in uniq.to_pylist():
        s = unicodedata.normalize("NFKD", w).encode("ascii", "ignore").decode().lower()
        folded.append("".join(c for c in s if c.isalnum()) or "user")
    import pyarrow.compute as pc

    return pa.array(folded, pa.string()).take(pc.index_in(arr, value_set=uniq))


@dataclass
class Inputs:
    parquet: Path
    csv: Path
    profile: Path
    keyring: Path
    created: list[Path]


def prepare(rows: int, formats: tuple[str, ...], log=print) -> Inputs:
    """Generate (or reuse) the input files, the profile and the keyring under bench/_data."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    stem = f"customers-v{GEN_VERSION}-{rows}"
    pq_path = DATA_DIR / stem / "customers.parquet"
    csv_path = DATA_DIR / f"{stem}-csv" / "customers.csv"
    profile = DATA_DIR / "profile.yaml"
    keyring = DATA_DIR / "keys" / "keyring.json"
    created: list[Path] = []
    need = [p for f, p in (("parquet", pq_path), ("csv", csv_path)) if f in formats and not p.exists()]
    if need:
        # in a subprocess: the benchmark process stays small, so polling it and
        # forking measured commands from it costs little
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "generate", str(rows),
                        *map(str, need)], check=True)
        created.extend(p.parent for p in need)
        log(f"generated {rows:,} rows -> {', '.join(str(p.relative_to(REPO)) for p in need)} "
            f"in {time.perf_counter() - t0:.1f}s")
    profile.write_text(PROFILE_YAML)
    # a fresh keyring each time: the keys do not matter here, and an old keyring
    # file may not match the installed veil's keyring format
    keyring.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "veil", "keys", "init", "--force", str(keyring)],
                   check=True, stdout=subprocess.DEVNULL)
    return Inputs(pq_path, csv_path, profile, keyring, created)


def write_files(rows: int, paths: list[str]) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = generate_table(rows)
    for name in paths:
        p = Path(name)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        if p.suffix == ".parquet":
            pq.write_table(table, tmp, row_group_size=128 * 1024)
        else:
            pacsv.write_csv(table, tmp, pacsv.WriteOptions(quoting_style="needed"))
        tmp.replace(p)


def cleanup(inputs: Inputs) -> None:
    for d in inputs.created:
        shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(DATA_DIR / "out", ignore_errors=True)


# -- measurement -----------------------------------------------------------

RSS_METHOD = ("peak RSS = max over time of the RSS sum of the process tree (parent + all "
              "descendants, polled every 20 ms with psutil; pages shared between processes "
              "are counted in each, so this is an upper bound); main process = "
              "its own high-water mark, /proc VmHWM, polled likewise")


@dataclass
class Measure:
    seconds: float
    peak_tree_mb: float  # psutil poll of the process tree's RSS sum
    peak_main_mb: float  # VmHWM of the top process alone (Linux; 0 elsewhere)
    returncode: int


def measure(cmd: list[str], poll: float = 0.02) -> Measure:
    """Run cmd, returning its wall time and peak memory; raise if it fails."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ps = psutil.Process(proc.pid)
    peak = hwm = 0
    status = None
    while True:
        hwm = max(hwm, _vm_hwm(proc.pid))
        try:
            total = ps.memory_info().rss
            for ch in ps.children(recursive=True):
                try:
                    total += ch.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, total)
        except psutil.Error:
            pass
        pid, st = os.waitpid(proc.pid, os.WNOHANG)
        if pid:
            status = st
            break
        time.sleep(poll)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    return Measure(seconds, peak / 2**20, hwm / 1024, proc.returncode)


def _vm_hwm(pid: int) -> int:
    """Peak RSS (KiB) of one process so far, from /proc (monotonic, so polling loses little).

    Not ru_maxrss: Linux carries the parent's high-water mark across fork+exec into it.
    """
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def veil_cmd(inp: Path, out: Path, inputs: Inputs, workers: int | None,
             report: Path | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "veil", "run", str(inp), "--profile", str(inputs.profile),
           "--keyring", str(inputs.keyring), "--out", str(out), "-q"]
    if workers:
        cmd += ["--workers", str(workers)]
    if report:
        cmd += ["--report", str(report)]
    return cmd


def baseline_cmd(fmt: str, inp: Path, out: Path) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "copy", fmt, str(inp), str(out)]


def plain_copy(fmt: str, inp: str, out: str) -> None:
    """The baseline: a plain streaming pyarrow read + write, no transformation.

    Parquet: ParquetFile.iter_batches(65536) -> ParquetWriter (default options, as veil).
    CSV: csv.open_csv -> csv.CSVWriter(quoting_style="needed"), every column read as
    text like veil does (so both do the same text-in/text-out work).
    """
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(inp)
        with pq.ParquetWriter(out, pf.schema_arrow) as w:
            for batch in pf.iter_batches(batch_size=BATCH):
                w.write_batch(batch)
    elif fmt == "csv":
        import pyarrow as pa
        import pyarrow.csv as pacsv

        with open(inp, newline="", encoding="utf-8") as fh:
            header = fh.readline().rstrip("\r\n").replace('"', "").split(",")
        reader = pacsv.open_csv(inp, convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in header}, strings_can_be_null=True))
        with pacsv.CSVWriter(out, reader.schema,
                             write_options=pacsv.WriteOptions(quoting_style="needed")) as w:
            for batch in reader:
                w.write_batch(batch)
    else:
        raise SystemExit(f"unknown format {fmt}")


def median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "copy":
        plain_copy(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) >= 4 and sys.argv[1] == "generate":
        write_files(int(sys.argv[2]), sys.argv[3:])
    else:
        raise SystemExit("usage: python bench/_common.py copy parquet|csv IN OUT\n"
                         "       python bench/_common.py generate ROWS FILE.parquet|FILE.csv...")
