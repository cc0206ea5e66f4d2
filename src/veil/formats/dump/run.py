"""The second pass over a SQL dump: rewrite its data, copy everything else byte for byte.

Each COPY block or run of INSERT statements of one table becomes Arrow batches
that go through the same plan, operators, workers, forget lists and vault as
CSV and Parquet tables. Only the columns an operator reads are decoded; a
kept column's raw text is written back untouched, and a table nobody
transforms is copied without being parsed.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ...dataset import Dataset
from ...errors import InputError
from ...keys import KeyProvider
from ...ops.arrays import as_text
from ...output import AtomicOutput
from ...pipeline import (
    BatchResult,
    ColumnStats,
    KeyCheck,
    RunContext,
    RunResult,
    TableResult,
    VaultWriter,
    _Engine,
    absorb,
    drop_refs_for,
    run_context,
)
from ...plan import Plan, TablePlan
from ...vault import Vault
from .. import FORMATS
from . import NUMERIC_SQL, DumpInfo, data_header
from .scan import MYSQL, CopyData, Scanner, Statement, Text
from .sequences import auto_increment_column, auto_increment_span, parse_setval
from .values import InsertStatement, copy_decode, copy_encode, copy_rows, decode_literal, encode_literal

_to_text = as_text


def _value_columns(tplan: TablePlan, all_columns: bool) -> set[str]:
    """The columns some operator (or forget list, or key check) reads: only they are decoded."""
    if all_columns:
        return {c.name for c in tplan.columns}
    cols = {c.name for c in tplan.columns if c.op != "keep"}
    cols |= {c.params["subject"] for c in tplan.columns if c.op == "date_shift"}
    cols |= {c.vault_context for c in tplan.columns if c.vault_context}
    if tplan.subject:
        cols.add(tplan.subject.column)
    for fk in tplan.foreign_keys:
        cols.update(fk.columns)
    for ref in tplan.referenced:
        cols.update(ref)
    return cols


def _needs_work(tplan: TablePlan, run: RunContext, all_columns: bool) -> bool:
    return all_columns or any(c.op != "keep" for c in tplan.columns) or bool(tplan.drop_refs) or bool(
        tplan.subject and run.forgotten.get(tplan.subject.domain))


def _typed(text: pa.Array, to: pa.DataType, table: str, column: str, lines: Callable[[int], int], file: str):
    """Text values -> the column's working type; a bad value names its line, never itself."""
    if pa.types.is_string(to):
        return text
    try:
        return pc.cast(text, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    for i, v in enumerate(text.to_pylist()):
        if v is None:
            continue
        try:
            pc.cast(pa.array([v]), to)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InputError(f"a value is not a valid {to} for the operator on this column", file=file,
                             line=lines(i), table=table, column=column,
                             hint="fix the value, or keep/nullify this column") from None
    return pc.cast(text, to)


def _utf8(raw: pa.Array, table: str, column: str, lines: Callable[[int], int], file: str) -> pa.Array:
    try:
        return raw.cast(pa.string())
    except pa.ArrowInvalid:
        for i, v in enumerate(raw.to_pylist()):
            if v is not None:
                try:
                    v.decode("utf-8")
                except UnicodeDecodeError:
                    raise InputError("a value is not UTF-8 text (binary data?)", file=file, line=lines(i),
                                     table=table, column=column, hint="keep or nullify binary columns") from None
        raise


QUEUED_TEXT_LIMIT = 8 << 20  # bytes of dump text held back behind an unfinished batch

_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"
_DATETIME_TEXT = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"


def _working_type(c, text: pa.Array) -> pa.DataType:
    """The column's type; for a column of unknown SQL type (no CREATE TABLE in the dump) that a
    date operator works on, date or datetime when every value looks like one, so the output
    stays a valid value of the column (e.g. '1985-01-01', not '1985')."""
    unknown = c.field is not None and (c.field.metadata or {}).get(b"veil.sql_type") == b""
    dated = c.op == "date_shift" or (c.op == "generalize" and c.params.get("to"))
    if not (unknown and dated and pa.types.is_string(c.in_type)) or text.null_count == len(text):
        return c.in_type
    for pattern, typ in ((_DATE_TEXT, pa.date32()), (_DATETIME_TEXT, pa.timestamp("s"))):
        if pc.all(pc.fill_null(pc.match_substring_regex(text, pattern), True)).as_py():
            return typ
    return c.in_type


@dataclass
class _Pending:
    future: Future
    render: Callable[[BatchResult], bytes]
    table: str
    value_batch: pa.RecordBatch


class _Writer:
    """Ordered output: text is written as soon as every batch before it is done."""

    def __init__(self, fh, window: int, on_result: Callable[[_Pending, BatchResult], None]):
        self.fh = fh
        self.queue: deque[bytes | _Pending] = deque()
        self.window = window
        self.on_result = on_result
        self.in_flight = 0
        self.queued_bytes = 0

    def text(self, data: bytes) -> None:
        if not self.queue:
            if data:
                self.fh.write(data)
            return
        self.queue.append(data)
        self.queued_bytes += len(data)
        if self.queued_bytes > QUEUED_TEXT_LIMIT:
            # text behind an unfinished batch: wait for it rather than hold the dump in memory
            self.drain(until_all=True)

    def batch(self, p: _Pending) -> None:
        self.queue.append(p)
        self.in_flight += 1
        self.drain()

    def drain(self, until_all: bool = False) -> None:
        """Write what is ready; wait while too many batches are in flight (or for all of them)."""
        while self.queue:
            head = self.queue[0]
            if isinstance(head, bytes):
                if head:
                    self.fh.write(head)
                self.queued_bytes -= len(head)
                self.queue.popleft()
                continue
            if not (until_all or self.in_flight > self.window) and not head.future.done():
                return
            result = head.future.result()
            self.on_result(head, result)
            data = head.render(result)
            if data:
                self.fh.write(data)
            self.queue.popleft()
            self.in_flight -= 1


def _tag(table: str) -> str:
    return hashlib.sha256(table.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _fold(name: str) -> str:
    """Names a case-insensitive or normalizing file system (macOS, Windows) takes for the same."""
    return unicodedata.normalize("NFC", name).casefold()


MAX_NAME_BYTES = 200


def table_file_names(tables: list[str], ext: str, file: str = "") -> dict[str, str]:
    """A distinct, stable file name for every table of a dump (``--format parquet|csv``).

    A name that is already safe (letters, digits, ``.``, ``-``, ``_``; not hidden; short) is
    used as it is: ``public.customers.parquet``. A name that had to be changed (``a/b`` ->
    ``a_b``), and every name that another one equals when case and Unicode normalization are
    ignored (``A`` and ``a``), gets ``-`` and the first 8 hex digits of the SHA-256 of the exact
    table name: ``public.a_b-3f2c9e1a.parquet``. The suffix depends on the table name alone.
    """
    base: dict[str, str] = {}
    for t in tables:
        safe = re.sub(r"[^\w.\-]", "_", t).lstrip(".") or "_"
        if len(safe.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            safe = safe.encode("utf-8", "surrogateescape")[:MAX_NAME_BYTES].decode("utf-8", "ignore")
        base[t] = safe if safe == t else f"{safe}-{_tag(t)}"
    groups: dict[str, list[str]] = {}
    for t, b in base.items():
        groups.setdefault(_fold(b), []).append(t)
    for members in groups.values():
        if len(members) > 1:
            for t in members:
                if base[t] == t:
                    base[t] = f"{t}-{_tag(t)}"
    seen: dict[str, str] = {}
    for t, b in base.items():
        other = seen.setdefault(_fold(b), t)
        if other != t:
            raise InputError(f"tables {other} and {t} would be written to the same file", file=file or None,
                             hint="rename one of them, or write a dump instead of --format parquet|csv")
    return {t: b + ext for t, b in base.items()}


class _TableFiles:
    """--format parquet|csv: one file per table instead of a dump."""

    def __init__(self, target: AtomicOutput, fmt: str, plan: Plan, file: str = ""):
        self.target, self.fmt, self.plan = target, FORMATS[fmt], plan
        self.writers: dict[str, object] = {}
        self.names = table_file_names(list(plan.tables), self.fmt.extensions[0], file)

    def name(self, table: str) -> str:
        return self.names[table]

    def write(self, table: str, batch: pa.RecordBatch) -> None:
        w = self.writers.get(table)
        if w is None:
            w = self.writers[table] = self.fmt.writer(self.target.path_for(self.name(table)),
                                                      self.plan.tables[table].out_schema, None)
        w.write(batch)

    def close(self) -> None:
        for table, tplan in self.plan.tables.items():
            if table not in self.writers:
                self.writers[table] = self.fmt.writer(self.target.path_for(self.name(table)), tplan.out_schema, None)
        for w in self.writers.values():
            w.close()


def output_path(info: DumpInfo, out: Path, fmt: str | None) -> Path:
    if fmt is not None:
        return out
    name = info.path.name if not info.custom else info.path.stem + ".sql"
    if out.is_dir() or str(out).endswith(("/", "\\")):
        return out / name
    return out


def run_dump(plan: Plan, dataset: Dataset, out: Path, keys: KeyProvider | None, *, fmt: str | None,
             batch_size: int, workers: int, progress, vault: Vault | None) -> RunResult:
    info: DumpInfo = dataset.dump
    file = str(info.path)
    if fmt is None:
        dropped = [f"{t.name}.{c.name}" for t in plan.tables.values() for c in t.columns if c.dropped]
        if dropped:
            raise InputError(f"drop would change the tables of a SQL dump ({', '.join(dropped)})", file=file,
                             hint="use nullify or redact, or write files with --format parquet|csv")
    out = output_path(info, Path(out), fmt)
    if out.resolve() == info.path.resolve():
        raise InputError("the output must not be the input", file=str(out), hint="choose another --out")
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.perf_counter()
    run = run_context(plan, keys, vault)
    engine = _Engine(run, workers)
    results = {name: TableResult(name, columns={c.name: ColumnStats() for c in t.columns})
               for name, t in plan.tables.items()}
    dropped_keys: dict[str, dict[tuple[str, ...], set[tuple]]] = {}
    key_checks = {name: KeyCheck(t) for name, t in plan.tables.items()}
    records = VaultWriter(vault, keys) if vault is not None else None
    all_columns = fmt is not None

    def on_result(p: _Pending, r: BatchResult) -> None:
        res = results[p.table]
        absorb(res, r, dropped_keys.setdefault(p.table, {}))
        inp = p.value_batch.filter(r.kept) if r.kept is not None else p.value_batch
        key_checks[p.table].add(inp, r.batch)
        if records is not None:
            records.add(res, r, inp)
        if files is not None:
            files.write(p.table, r.batch)
        if progress:
            progress(p.table, r.batch.num_rows)
        if counters is not None:
            counters.add(p.table, plan.tables[p.table], r.batch)

    files: _TableFiles | None = None
    counters = _Counters() if info.dialect != MYSQL and not all_columns else None
    try:
        with AtomicOutput(out, fmt is not None) as target:
            if fmt is not None:
                files = _TableFiles(target, fmt, plan, file)
                fh = open(os.devnull, "wb")  # only the tables are wanted, not the dump's text
            else:
                path = target.path_for(out.name)
                fh = gzip.open(path, "wb") if info.compressed else open(path, "wb", buffering=1 << 20)
            try:
                writer = _Writer(fh, max(2, workers * 2), on_result)
                _process(info, plan, run, engine, writer, results, dropped_keys, batch_size, all_columns,
                         counters)
                writer.drain(until_all=True)
            finally:
                fh.close()
            if files is not None:
                files.close()
            for check in key_checks.values():
                check.verify()
            engine.close()
            if vault is not None:
                vault.commit()
            target.commit(None if fmt is not None else out.name)
    except BaseException:
        if vault is not None:
            vault.rollback()
        if files is not None:
            for w in files.writers.values():
                try:
                    w.close()
                except Exception:  # noqa: BLE001 - closing after a failure; the first error is what matters
                    continue
        raise
    finally:
        engine.close()
    ordered = [results[n] for n in plan.tables]
    for r in ordered:
        r.seconds = time.perf_counter() - t0
    return RunResult(ordered, out, started, time.perf_counter() - t0, plan.key_version,
                     sum(r.vault_records for r in ordered), bool(run.forgotten))


class _Counters:
    """The largest output value of every transformed integer column (for setval)."""

    def __init__(self) -> None:
        self.max: dict[tuple[str, str], int] = {}
        self.not_int: set[tuple[str, str]] = set()

    def add(self, table: str, tplan: TablePlan, batch: pa.RecordBatch) -> None:
        names = set(batch.schema.names)
        for c in tplan.columns:
            if c.op == "keep" or c.name not in names:
                continue
            col = batch.column(c.name)
            key = (table, c.name)
            if pa.types.is_string(col.type) and col.null_count < len(col):  # a column of unknown type
                try:
                    col = pc.cast(col, pa.int64())
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    pass
            if pa.types.is_integer(col.type):
                m = pc.max(col).as_py()
                if m is not None and (key not in self.max or m > self.max[key]):
                    self.max[key] = m
            elif col.null_count < len(col):
                self.not_int.add(key)


def _setval(item: Statement, info: DumpInfo, plan: Plan, counters: _Counters) -> tuple[str, list[str]]:
    """The setval statement to write (and the tables whose data must not come after it)."""
    file = str(info.path)
    sv = parse_setval(item.text, info.dialect)
    if sv is None:
        raise InputError("a setval statement veil cannot read (expected SELECT pg_catalog.setval('name', n, "
                         "true|false);)", file=file, line=item.line, hint="remove the statement from the dump")
    seq = info.sequences.find(sv.sequence, info.tables)
    if seq is None:
        raise InputError(f"setval of sequence {sv.sequence}: veil cannot tell which column it feeds, so it cannot "
                         "set it without telling the original ids", file=file, line=item.line,
                         hint="dump with the schema (not --data-only), or remove the setval lines")
    links = []
    for t, c in seq.links:
        name = info.parent_of(t)
        tplan = plan.tables.get(name)
        cp = next((x for x in tplan.columns if x.name == c), None) if tplan else None
        if cp is not None:
            links.append(((name, c), cp.op != "keep"))
    moved = [k for k, transformed in links if transformed]
    if not moved:
        return item.text, []  # the column is kept (or none of the dump's): its value tells nothing new
    where = ", ".join(f"{t}.{c}" for t, c in moved)
    if len(moved) != len(links) or seq.increment < 0 or any(k in counters.not_int for k in moved):
        raise InputError(f"setval of sequence {sv.sequence}: its column ({where}) is transformed in a way veil "
                         "cannot set the sequence from (kept and transformed columns share it, a descending "
                         "sequence, or values that are no longer integers)", file=file, line=item.line,
                         hint="pseudonymize the column with format int, or remove the setval line")
    values = [counters.max[k] for k in moved if k in counters.max]
    top = max(values) if values else None
    start = seq.start if seq.start is not None else 1
    body = item.text.rstrip()
    tail = item.text[len(body):]
    if top is None or top < start:
        new = f"SELECT pg_catalog.setval({sv.literal}, {start}, false);"
    else:
        new = f"SELECT pg_catalog.setval({sv.literal}, {top}, true);"
    return new + tail, [t for t, _ in moved]


def _without_auto_increment(item: Statement, info: DumpInfo, plan: Plan) -> str:
    """A MySQL CREATE TABLE without its AUTO_INCREMENT=N option when that column is transformed."""
    col = auto_increment_column(item.text)
    name = info.parent_of(item.info.table) if item.info is not None and item.info.table else None
    tplan = plan.tables.get(name) if name else None
    cp = next((x for x in tplan.columns if x.name.lower() == (col or "").lower()), None) if tplan else None
    if cp is None or cp.op == "keep":
        return item.text
    span = auto_increment_span(item.text)
    if span is None:
        return item.text
    return item.text[:span[0]] + item.text[span[1]:]


def _process(info: DumpInfo, plan: Plan, run: RunContext, engine: _Engine, writer: _Writer,
             results: dict[str, TableResult], dropped_keys, batch_size: int, all_columns: bool,
             counters: _Counters | None = None) -> None:
    file = str(info.path)
    dialect = info.dialect
    group: list[InsertStatement] = []
    offsets: dict[str, int] = {}
    sealed: dict[str, int] = {}  # table -> line of the setval written from its data

    def enc(s: str) -> bytes:
        return s.encode("utf-8", "surrogateescape")

    def table_plan(raw_name: str, line: int) -> tuple[str, TablePlan]:
        name = info.parent_of(raw_name)
        tplan = plan.tables.get(name)
        if tplan is None:
            raise InputError(f"data for table {raw_name}, which the dump never creates", file=file, line=line)
        if name in sealed:
            raise InputError(f"data for table {name} after the setval of its sequence (line {sealed[name]})",
                             file=file, line=line, hint="put the setval lines after the data, as pg_dump does")
        if tplan.foreign_keys and any(run.forgotten.values()):
            writer.drain(until_all=True)  # every dropped parent row must be known first
        tplan.drop_refs = drop_refs_for(tplan, dropped_keys)
        return name, tplan

    def value_batch(tplan: TablePlan, name: str, cols: list[str], raw_of: Callable[[int], pa.Array],
                    decode: Callable[[pa.Array], pa.Array], n: int, lines: Callable[[int], int]) -> pa.RecordBatch:
        wanted = _value_columns(tplan, all_columns)
        index = {c: i for i, c in enumerate(cols)}
        arrays = []
        for c in tplan.columns:
            if c.name in wanted and c.name in index and c.op == "redact" and not all_columns:
                arrays.append(decode(raw_of(index[c.name])))  # only its nulls matter: any bytes will do
            elif c.name in wanted and c.name in index and c.op == "nullify" and not all_columns:
                arrays.append(pa.nulls(n, c.in_type))
            elif c.name in wanted and c.name in index:
                text = _utf8(decode(raw_of(index[c.name])), name, c.name, lines, file)
                arrays.append(_typed(text, _working_type(c, text), name, c.name, lines, file))
            else:
                arrays.append(pa.nulls(n, c.in_type))
        return pa.RecordBatch.from_arrays(arrays, names=[c.name for c in tplan.columns])

    def submit(name: str, tplan: TablePlan, batch: pa.RecordBatch, render) -> None:
        offset = offsets.get(name, 0)
        offsets[name] = offset + batch.num_rows
        results[name].rows_in += batch.num_rows
        writer.batch(_Pending(engine.submit(tplan, batch, offset, True), render, name, batch))

    def copy_block(item: CopyData) -> None:
        raw_name, cols = data_header(item.statement, dialect, file)
        name, tplan = table_plan(raw_name, item.statement.line)
        cols = cols or [c.name for c in tplan.columns]
        unknown = [c for c in cols if c not in {p.name for p in tplan.columns}]
        if unknown:
            raise InputError(f"COPY names columns the table does not have: {', '.join(unknown)}", file=file,
                             line=item.statement.line, table=name)
        if not _needs_work(tplan, run, all_columns):
            n = 0
            for _, line in item.lines:
                writer.text(enc(line))
                n += 1
            writer.text(enc(item.end[0]))
            results[name].rows_in += n
            results[name].rows_out += n
            return
        chunk: list[bytes] = []
        first_line = None

        def flush() -> None:
            nonlocal chunk, first_line
            if not chunk:
                return
            start = first_line or 0
            raw = copy_rows(chunk, cols, start, file)
            if raw.num_rows != len(chunk) or raw.num_columns != len(cols):
                raise InputError("a COPY row has the wrong number of fields", file=file, line=start,
                                 table=name, hint="the dump was edited or cut")
            raw_cols = [raw.column(i).combine_chunks() for i in range(len(cols))]
            batch = value_batch(tplan, name, cols, lambda i: raw_cols[i], copy_decode, raw.num_rows,
                                lambda i, s=start: s + i)

            def render(r: BatchResult, raw_cols=raw_cols) -> bytes:
                if all_columns:
                    return b""  # --format parquet|csv: the tables are written, not the dump
                keep = [a.filter(r.kept) if r.kept is not None else a for a in raw_cols]
                fields = []
                for i, cname in enumerate(cols):
                    c = next(p for p in tplan.columns if p.name == cname)
                    fields.append(keep[i] if c.op == "keep" else copy_encode(_to_text(r.batch.column(cname))))
                if not len(fields[0]):
                    return b""
                lines = pc.binary_join_element_wise(*fields, pa.scalar(b"\t", pa.binary()))
                return b"\n".join(lines.to_pylist()) + b"\n"

            submit(name, tplan, batch, render)
            chunk, first_line = [], None

        for line_no, line in item.lines:
            if line.endswith("\r\n"):
                raise InputError("a COPY row ends with CRLF; veil rewrites COPY rows with LF line ends only",
                                 file=file, line=line_no, table=name,
                                 hint="convert the dump's line ends to LF (e.g. dos2unix)")
            if first_line is None:
                first_line = line_no
            chunk.append(enc(line))
            if len(chunk) >= batch_size:
                flush()
        if chunk and not chunk[-1].endswith(b"\n"):
            raise InputError("the dump ends inside a COPY data block (no \\. terminator)", file=file,
                             line=first_line, hint="the dump is truncated")
        flush()
        writer.text(enc(item.end[0]))

    def flush_inserts() -> None:
        nonlocal group
        if not group:
            return
        stmts, group = group, []
        name, tplan = table_plan(stmts[0].table, stmts[0].line)
        if not _needs_work(tplan, run, all_columns):
            for st in stmts:
                writer.text(enc(st.text))
                results[name].rows_in += len(st.rows)
                results[name].rows_out += len(st.rows)
            return
        cols = stmts[0].columns or [c for c, _ in info.tables[stmts[0].table].columns]
        known = {p.name for p in tplan.columns}
        if dialect == MYSQL:  # MySQL column names are case-insensitive
            lower = {p.lower(): p for p in known}
            cols = [c if c in known else lower.get(c.lower(), c) for c in cols]
        unknown = [c for c in cols if c not in known]
        if unknown:
            raise InputError(f"INSERT names columns the table does not have: {', '.join(unknown)}", file=file,
                             line=stmts[0].line, table=name)
        for st in stmts:
            if len(st.rows[0]) != len(cols) or any(len(r) != len(cols) for r in st.rows):
                raise InputError(f"malformed INSERT statement: rows do not have {len(cols)} values", file=file,
                                 line=st.line, table=name)
        n = sum(len(st.rows) for st in stmts)
        row_lines = [st.line for st in stmts for _ in st.rows]
        raw_text = {}

        def raw_of(i: int) -> pa.Array:
            if i not in raw_text:
                raw_text[i] = pa.array([v.encode("utf-8", "surrogateescape") for st in stmts for v in st.raw(i)],
                                       pa.binary())
            return raw_text[i]

        def decode(raw: pa.Array) -> pa.Array:
            vals = [decode_literal(v.decode("utf-8", "surrogateescape"), dialect) for v in raw.to_pylist()]
            return pa.array([None if v is None else v.encode("utf-8", "surrogateescape") for v in vals],
                            pa.binary())

        batch = value_batch(tplan, name, cols, raw_of, decode, n, lambda i: row_lines[i])
        tdef = info.tables.get(stmts[0].table)
        numeric = {c: bool(NUMERIC_SQL.match(t)) for c, t in (tdef.columns if tdef else [])}

        def render(r: BatchResult) -> bytes:
            if all_columns:
                return b""
            kept = r.kept.to_pylist() if r.kept is not None else [True] * n
            out_pos = {}
            pos = 0
            for i, k in enumerate(kept):
                if k:
                    out_pos[i] = pos
                    pos += 1
            new_values: dict[int, list[str | None]] = {}
            for i, cname in enumerate(cols):
                c = next(p for p in tplan.columns if p.name == cname)
                if c.op != "keep":
                    new_values[i] = _to_text(r.batch.column(cname)).to_pylist()
            pieces: list[str] = []
            row = 0
            for st in stmts:
                text = st.text
                kept_here = [row + j for j in range(len(st.rows)) if kept[row + j]]
                if not kept_here:
                    row += len(st.rows)
                    continue
                pieces.append(text[:st.row_spans[0][0]])
                first = True
                for j, (rs, re_) in enumerate(st.row_spans):
                    g = row + j
                    if not kept[g]:
                        continue
                    if not first:
                        pieces.append(text[st.row_spans[j - 1][1]:rs])
                    first = False
                    p = rs
                    for ci in sorted(new_values):
                        a, b = st.rows[j][ci]
                        if text[a:b].upper() == "DEFAULT":
                            continue  # the server computes it (generated/identity columns): left as written
                        pieces.append(text[p:a])
                        pieces.append(encode_literal(new_values[ci][out_pos[g]], dialect, numeric.get(cols[ci], False)))
                        p = b
                    pieces.append(text[p:re_])
                pieces.append(text[st.row_spans[-1][1]:])
                row += len(st.rows)
            return enc("".join(pieces))

        submit(name, tplan, batch, render)

    rows_in_group = 0
    with info.lines() as lines:
        for item in Scanner(lines, dialect, file).items():
            if isinstance(item, Statement) and item.kind == "insert":
                st = InsertStatement(item.text, item.line, dialect, file)
                if group and (st.table != group[0].table or st.columns != group[0].columns
                              or rows_in_group >= batch_size):
                    flush_inserts()
                    rows_in_group = 0
                group.append(st)
                rows_in_group += len(st.rows)
                continue
            flush_inserts()
            rows_in_group = 0
            if isinstance(item, CopyData):
                copy_block(item)
            elif isinstance(item, Statement) and item.kind == "setval" and counters is not None:
                writer.drain(until_all=True)  # every row of the table is out: its maximum is known
                text, tables = _setval(item, info, plan, counters)
                for t in tables:
                    sealed.setdefault(t, item.line)
                writer.text(enc(text))
            elif isinstance(item, Statement) and item.kind == "create_table" and dialect == MYSQL:
                writer.text(enc(_without_auto_increment(item, info, plan)))
            elif isinstance(item, (Text, Statement)):
                writer.text(enc(item.text))
        flush_inserts()
