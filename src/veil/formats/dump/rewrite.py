"""The second pass over a SQL dump, as a run's source: its data as batches, everything else as text.

Each COPY block or run of INSERT statements of one table becomes Arrow batches
that go through the same driver, plan, operators, workers, forget lists and
vault as CSV and Parquet tables; the text between them is handed on, byte for
byte, for the sink (:mod:`.sinks`) to write in its place. Only the columns an
operator reads are decoded; a kept column's raw text is written back
untouched, and a table nobody transforms is copied without being parsed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ... import progress
from ...dataset import Barrier, Batch, Begin, Copied, End, Item, Sink
from ...errors import InputError, UsageError
from ...ops.arrays import as_text
from ...output import STDOUT
from ...plan import Plan, TablePlan
from ...sqltypes import sql_is_numeric, sql_type_category
from ...subset.closure import positions_in
from . import DumpInfo, data_header
from .lexer import MYSQL, CopyData, Scanner, Statement, Text
from .shuffle import Rows
from .sinks import Counters, DumpSink, output_path, setval, table_sink, without_auto_increment
from .values import InsertStatement, copy_decode, copy_encode, copy_rows, decode_literal, encode_literal, joined_lines

_to_text = as_text

def _value_columns(tplan: TablePlan, all_columns: bool) -> set[str]:
    """The columns some operator (or forget list, or key check) reads: only they are decoded."""
    if all_columns:
        return {c.name for c in tplan.columns}
    cols = {c.name for c in tplan.columns if c.transformed}
    cols |= {other for c in tplan.columns for other in c.context_columns}
    cols |= {c.vault_context for c in tplan.columns if c.vault_context}
    if tplan.subject:
        cols.add(tplan.subject.column)
    for fk in tplan.foreign_keys:
        cols.update(fk.columns)
    for ref in tplan.referenced:
        cols.update(ref)
    return cols


def needs_work(tplan: TablePlan, forgotten: dict[str, frozenset[bytes]], all_columns: bool) -> bool:
    """Whether a block's rows go through the driver (else its text is copied as it is). ``all_columns``
    is also set for a shuffled dump (every row must be rendered to be reordered)."""
    return all_columns or any(c.transformed for c in tplan.columns) or bool(tplan.drop_refs) \
        or bool(tplan.nulled) or bool(tplan.subject and forgotten.get(tplan.subject.domain))


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



def _is_binary(c, dialect: str) -> bool:
    """A column the DDL declares binary (bytea, blob, varbinary): its bytes need not be UTF-8."""
    sql_type = (c.field.metadata or {}).get(b"veil.sql_type", b"").decode() if c.field is not None else ""
    return bool(sql_type) and sql_type_category(sql_type, dialect) == "binary"


_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"
_DATETIME_TEXT = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"


def _working_type(c, text: pa.Array) -> pa.DataType:
    """The column's type; for a column of unknown SQL type (no CREATE TABLE in the dump) that a
    date operator works on, date or datetime when every value looks like one, so the output
    stays a valid value of the column (e.g. '1985-01-01', not '1985')."""
    unknown = c.field is not None and (c.field.metadata or {}).get(b"veil.sql_type") == b""
    dated = c.operator.parses_dates(c.params)
    if not (unknown and dated and pa.types.is_string(c.in_type)) or text.null_count == len(text):
        return c.in_type
    for pattern, typ in ((_DATE_TEXT, pa.date32()), (_DATETIME_TEXT, pa.timestamp("s"))):
        if pc.all(pc.fill_null(pc.match_substring_regex(text, pattern), True)).as_py():
            return typ
    return c.in_type



def _enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


class DumpSource:
    """A dump's items for the driver (veil.dataset): its text, and each data block as Begin,
    batches (each carrying how to render its rows back: ``carry(batch, kept) -> bytes``), End.
    ``all_columns`` (``--format parquet|csv``): every column decoded, nothing rendered."""

    def __init__(self, info: DumpInfo, plan: Plan, all_columns: bool, counters: Counters | None = None):
        self.info, self.plan, self.all_columns, self.counters = info, plan, all_columns, counters
        self.shuffle = False  # row_order: shuffle of a dump output: every block's rows are rendered
        self._seen: dict[str, int] = {}  # per subsetted table: rows passed so far (their positions)
        self.names = list(plan.tables)
        self.file = str(info.path)
        self.sealed: dict[str, int] = {}  # table -> line of the setval written from its data
        self.forgotten: dict[str, frozenset[bytes]] = {}
        self.batch_size = 65_536
        self._read: tuple[Callable[[], int], int] | None = None  # (bytes read so far, dump size)
        self.side: Any = None  # tables copied beside the run (veil.db.pg_side.SideCopy): counted at the end

    def _report(self) -> None:
        """Tell a progress line how much of the dump has been read (when its size is known)."""
        if self._read is not None:
            progress.bytes_read(progress.WHOLE_INPUT, self._read[0](), self._read[1])

    def items(self, plan: Any, batch_size: int, forgotten: dict[str, frozenset[bytes]]) -> Iterator[Item]:
        self.batch_size, self.forgotten = batch_size, forgotten
        dialect = self.info.dialect
        group: list[InsertStatement] = []
        rows_in_group = 0
        with self.info.lines() as lines:
            self._read = _position(lines) if progress.listening() else None
            for k, item in enumerate(Scanner(lines, dialect, self.file).items()):
                if k % 1024 == 0:
                    self._report()
                if isinstance(item, Statement) and item.kind == "insert":
                    st = InsertStatement(item.text, item.line, dialect, self.file)
                    if group and (st.table != group[0].table or st.columns != group[0].columns
                                  or rows_in_group >= batch_size):
                        yield from self._inserts(group)
                        group, rows_in_group = [], 0
                    group.append(st)
                    rows_in_group += len(st.rows)
                    continue
                if group:
                    yield from self._inserts(group)
                    group, rows_in_group = [], 0
                if isinstance(item, CopyData):
                    yield from self._copy(item)
                elif isinstance(item, Statement) and item.kind == "setval" and self.counters is not None:
                    yield Barrier()  # every row of the table is out: its maximum is known
                    text, tables = setval(item, self.info, self.plan, self.counters)
                    for t in tables:
                        self.sealed.setdefault(t, item.line)
                    yield _enc(text)
                elif isinstance(item, Statement) and item.kind == "create_table" and dialect == MYSQL:
                    yield _enc(without_auto_increment(item, self.info, self.plan))
                elif isinstance(item, (Text, Statement)):
                    yield _enc(item.text)
        if group:
            yield from self._inserts(group)
        if self.side is not None:
            for name, rows in self.side.finish():
                yield Copied(name, rows)

    def _subset_mask(self, name: str, n: int) -> np.ndarray | None:
        """Whether each of the next ``n`` rows of ``name`` is in the run's subset (veil.subset), in
        file order (positions counted across the table's blocks); None without a subset for it."""
        kept = self.plan.subset.get(name) if self.plan.subset is not None else None
        if kept is None:
            return None
        start = self._seen.get(name, 0)
        self._seen[name] = start + n
        return positions_in(kept, start, n)

    def _table(self, raw_name: str, line: int) -> tuple[str, TablePlan]:
        name = self.info.parent_of(raw_name)
        tplan = self.plan.tables.get(name)
        if tplan is None:
            raise InputError(f"data for table {raw_name}, which the dump never creates", file=self.file, line=line)
        if name in self.sealed:
            raise InputError(f"data for table {name} after the setval of its sequence (line {self.sealed[name]})",
                             file=self.file, line=line,
                             hint="put the setval lines after the data, as pg_dump does")
        return name, tplan

    def _value_batch(self, tplan: TablePlan, name: str, cols: list[str], raw_of: Callable[[int], pa.Array],
                     decode: Callable[[pa.Array], pa.Array], n: int, lines: Callable[[int], int]) -> pa.RecordBatch:
        """The values the plan reads, decoded and typed; the other columns null."""
        all_columns = self.all_columns
        wanted = _value_columns(tplan, all_columns)
        index = {c: i for i, c in enumerate(cols)}
        arrays = []
        for c in tplan.columns:
            if c.name in wanted and c.name in index and c.operator.nulls_column and not all_columns:
                arrays.append(pa.nulls(n, c.in_type))
            elif c.name in wanted and c.name in index and not c.operator.reads_values and not all_columns:
                arrays.append(decode(raw_of(index[c.name])))  # only its nulls matter: any bytes will do
            elif c.name in wanted and c.name in index and all_columns and c.operator.keeps_value \
                    and _is_binary(c, self.info.dialect):
                # kept bytes of a binary column, as they are (they need not be UTF-8): the text array
                # shares the bytes unchecked, and the typed writer casts it to binary without reading it
                raw = decode(raw_of(index[c.name]))
                arrays.append(pa.Array.from_buffers(pa.string(), len(raw), raw.buffers(), raw.null_count,
                                                    raw.offset))
            elif c.name in wanted and c.name in index:
                text = _utf8(decode(raw_of(index[c.name])), name, c.name, lines, self.file)
                arrays.append(_typed(text, _working_type(c, text), name, c.name, lines, self.file))
            else:
                arrays.append(pa.nulls(n, c.in_type))
        return pa.RecordBatch.from_arrays(arrays, names=[c.name for c in tplan.columns])

    def _copy(self, item: CopyData) -> Iterator[Item]:
        """A COPY block: its rows in batches of ``batch_size`` lines, or as text when nothing changes."""
        file = self.file
        raw_name, cols = data_header(item.statement, self.info.dialect, file)
        name, tplan = self._table(raw_name, item.statement.line)
        yield Begin(name, file=file)
        cols = cols or [c.name for c in tplan.columns]
        unknown = [c for c in cols if c not in {p.name for p in tplan.columns}]
        if unknown:
            raise InputError(f"COPY names columns the table does not have: {', '.join(unknown)}", file=file,
                             line=item.statement.line, table=name)
        if not needs_work(tplan, self.forgotten, self.all_columns or self.shuffle):
            # nothing to transform: the rows as they are (those of the subset, if the run has one)
            n = skipped = 0
            seq = [(i, (name, c)) for i, c in enumerate(cols or [p.name for p in tplan.columns])
                   if self.counters is not None and (name, c) in self.counters.extra]
            for _, data, rows in item.chunks(self.batch_size):
                kept = self._subset_mask(name, rows)
                if kept is None:
                    yield data
                    n += rows
                    continue
                lines = [line for line, k in zip(data.split(b"\n"), kept.tolist(), strict=False) if k]
                if lines:
                    yield b"\n".join(lines) + b"\n"
                n += len(lines)
                skipped += rows - len(lines)
                for i, key in seq:  # a subset's sequence column: its largest value written
                    for line in lines:
                        field = line.split(b"\t")[i]
                        if field.lstrip(b"-").isdigit():
                            self.counters.add_value(key, int(field))
            yield _enc(item.end[0])
            yield Copied(name, n, skipped)
            yield End(name, last=False)
            return
        for first_line, data, rows in item.chunks(self.batch_size):
            crlf = data.find(b"\r\n")
            if crlf >= 0:
                raise InputError("a COPY row ends with CRLF; veil rewrites COPY rows with LF line ends only",
                                 file=file, line=first_line + data.count(b"\n", 0, crlf), table=name,
                                 hint="convert the dump's line ends to LF (e.g. dos2unix)")
            if not data.endswith(b"\n"):
                raise InputError("the dump ends inside a COPY data block (no \\. terminator)", file=file,
                                 line=first_line, hint="the dump is truncated")
            yield self._copy_batch(name, tplan, cols, data, rows, first_line)
        yield _enc(item.end[0])
        yield End(name, last=False)

    def _copy_batch(self, name: str, tplan: TablePlan, cols: list[str], data: bytes, rows: int,
                    start: int) -> Batch:
        self._report()
        raw = copy_rows(data, rows, cols, start, self.file)
        if raw.num_rows != rows or raw.num_columns != len(cols):
            raise InputError("a COPY row has the wrong number of fields", file=self.file, line=start,
                             table=name, hint="the dump was edited or cut")
        raw_cols = [raw.column(i).combine_chunks() for i in range(len(cols))]
        batch = self._value_batch(tplan, name, cols, lambda i: raw_cols[i], copy_decode, raw.num_rows,
                                  lambda i: start + i)
        kept_cols = {c.name for c in tplan.columns if not c.transformed and c.name not in tplan.nulled}

        def render(out: pa.RecordBatch, kept: pa.Array | None, split: bool = False) -> bytes | Rows:
            keep = [a.filter(kept) if kept is not None else a for a in raw_cols]
            fields = [keep[i] if cname in kept_cols else copy_encode(_to_text(out.column(cname)))
                      for i, cname in enumerate(cols)]
            if not len(fields[0]):
                return Rows(pa.array([], pa.binary())) if split else b""
            lines = pc.binary_join_element_wise(*fields, pa.scalar(b"\t", pa.binary()))
            if split:  # row_order: shuffle: the lines, for the sink to reorder (veil.formats.dump.shuffle)
                return Rows(lines)
            return joined_lines(lines)

        return Batch(batch, None if self.all_columns else render)

    def _inserts(self, stmts: list[InsertStatement]) -> Iterator[Item]:
        """A run of INSERT statements of one table (same column list): one batch."""
        file, dialect = self.file, self.info.dialect
        name, tplan = self._table(stmts[0].table, stmts[0].line)
        yield Begin(name, file=file)
        if not needs_work(tplan, self.forgotten, self.all_columns or self.shuffle):
            total = sum(len(st.rows) for st in stmts)
            kept = self._subset_mask(name, total)
            if kept is None:
                for st in stmts:
                    yield _enc(st.text)
                yield Copied(name, total)
            else:  # the statements again without the rows outside the subset
                keep = kept.tolist()
                yield _enc(_render_inserts(stmts, keep, {}, [], dialect))
                cols = stmts[0].columns or [c for c, _ in self.info.tables[stmts[0].table].columns]
                for i, c in enumerate(cols):  # a subset's sequence column: its largest value written
                    if self.counters is not None and (name, c) in self.counters.extra:
                        values = [v for st in stmts for v in st.raw(i)]
                        for v, k in zip(values, keep, strict=True):
                            if k and v.lstrip("-").isdigit():
                                self.counters.add_value((name, c), int(v))
                yield Copied(name, sum(keep), total - sum(keep))
            yield End(name, last=False)
            return
        cols = stmts[0].columns or [c for c, _ in self.info.tables[stmts[0].table].columns]
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
        raw_text: dict[int, pa.Array] = {}

        def raw_of(i: int) -> pa.Array:
            if i not in raw_text:
                raw_text[i] = pa.array([v.encode("utf-8", "surrogateescape") for st in stmts for v in st.raw(i)],
                                       pa.binary())
            return raw_text[i]

        def decode(raw: pa.Array) -> pa.Array:
            vals = [decode_literal(v.decode("utf-8", "surrogateescape"), dialect) for v in raw.to_pylist()]
            return pa.array([None if v is None else v.encode("utf-8", "surrogateescape") for v in vals],
                            pa.binary())

        batch = self._value_batch(tplan, name, cols, raw_of, decode, n, lambda i: row_lines[i])
        tdef = self.info.tables.get(stmts[0].table)
        numeric = {c: sql_is_numeric(t, dialect) for c, t in (tdef.columns if tdef else [])}
        transformed = {c.name for c in tplan.columns if c.transformed} | set(tplan.nulled)
        changed = [i for i, cname in enumerate(cols) if cname in transformed]

        def render(out: pa.RecordBatch, kept: pa.Array | None, split: bool = False) -> bytes | Rows:
            new_values = {i: _to_text(out.column(cols[i])).to_pylist() for i in changed}
            keep = kept.to_pylist() if kept is not None else [True] * n
            num = [numeric.get(c, False) for c in cols]
            if split:  # row_order: shuffle: each row's tuple, and how to frame them as INSERTs again
                return insert_rows(stmts, keep, new_values, num, dialect)
            return _enc(_render_inserts(stmts, keep, new_values, num, dialect))

        yield Batch(batch, None if self.all_columns else render)
        yield End(name, last=False)


def _position(lines: Any) -> tuple[Callable[[], int], int] | None:
    """How many bytes of the dump's file have been read (compressed bytes for gzip) and its size,
    when both are known: a regular file, not pg_restore's pipe."""
    buf = getattr(lines, "buffer", None)
    raw = getattr(buf, "fileobj", None) or buf  # a GzipFile reads the compressed file under it
    try:
        st = os.fstat(raw.fileno())
        raw.tell()
    except (AttributeError, OSError, ValueError):
        return None
    return (raw.tell, st.st_size) if stat.S_ISREG(st.st_mode) and st.st_size else None


def _render_inserts(stmts: list[InsertStatement], kept: list[bool], new_values: dict[int, list[str | None]],
                    numeric: list[bool], dialect: str) -> str:
    """The INSERT statements again, without their dropped rows, with the new values of the changed
    columns (``new_values``: column index -> the kept rows' values) in place of the old."""
    out_pos = {}
    pos = 0
    for i, k in enumerate(kept):
        if k:
            out_pos[i] = pos
            pos += 1
    pieces: list[str] = []
    row = 0
    for st in stmts:
        text = st.text
        if not any(kept[row + j] for j in range(len(st.rows))):
            row += len(st.rows)
            continue
        pieces.append(text[:st.row_spans[0][0]])
        first = True
        for j, (rs, _end) in enumerate(st.row_spans):
            g = row + j
            if not kept[g]:
                continue
            if not first:
                pieces.append(text[st.row_spans[j - 1][1]:rs])
            first = False
            _row_pieces(pieces, st, j, new_values, out_pos[g], numeric, dialect)
        pieces.append(text[st.row_spans[-1][1]:])
        row += len(st.rows)
    return "".join(pieces)


def _row_pieces(pieces: list[str], st: InsertStatement, j: int, new_values: dict[int, list[str | None]],
                pos: int, numeric: list[bool], dialect: str) -> None:
    """Row ``j`` of ``st`` (its parenthesised tuple) with the new values (at output position ``pos``)."""
    text = st.text
    p, end = st.row_spans[j]
    for ci in sorted(new_values):
        a, b = st.rows[j][ci]
        if text[a:b].upper() == "DEFAULT":
            continue  # the server computes it (generated/identity columns): left as written
        pieces.append(text[p:a])
        pieces.append(encode_literal(new_values[ci][pos], dialect, numeric[ci]))
        p = b
    pieces.append(text[p:end])


def insert_rows(stmts: list[InsertStatement], kept: list[bool], new_values: dict[int, list[str | None]],
                numeric: list[bool], dialect: str) -> Rows:
    """The kept rows' tuples, rewritten, one by one; framed again as INSERT statements by the sink
    with the first statement's head and tail, no longer and with no more rows than the longest."""
    tuples: list[bytes] = []
    pos = 0
    row = 0
    for st in stmts:
        for j in range(len(st.rows)):
            if kept[row + j]:
                pieces: list[str] = []
                _row_pieces(pieces, st, j, new_values, pos, numeric, dialect)
                tuples.append(_enc("".join(pieces)))
                pos += 1
        row += len(st.rows)
    first = stmts[0]
    two = next((st.row_spans for st in stmts if len(st.row_spans) > 1), None)
    return Rows(pa.array(tuples, pa.binary()), head=_enc(first.text[:first.row_spans[0][0]]),
                tail=_enc(first.text[first.row_spans[-1][1]:]),
                sep=_enc(first.text[two[0][1]:two[1][0]]) if two else b",",
                max_bytes=max(len(_enc(st.text)) for st in stmts), max_rows=max(len(st.rows) for st in stmts))


def dump_run(plan: Plan, info: DumpInfo, out: Path, fmt: str | None) -> tuple[DumpSource, Sink, Path]:
    """The source, sink and output path of a run of a SQL dump: the dump rewritten, or (``fmt``)
    its tables as files."""
    file = str(info.path)
    if fmt is None:
        dropped = [f"{t.name}.{c.name}" for t in plan.tables.values() for c in t.columns if c.dropped]
        if dropped:
            raise InputError(f"drop would change the tables of a SQL dump ({', '.join(dropped)})", file=file,
                             hint="use nullify or redact, or write files with --format parquet|csv")
    out = output_path(info, out, fmt)
    if out == STDOUT:
        if fmt is not None:
            raise UsageError("--out - writes a SQL dump to standard output; --format writes table files",
                             hint="give a directory for --out with --format")
        counters = dump_counters(info, plan)
        return DumpSource(info, plan, False, counters), DumpSink("-", plan, False, counters), out
    if out.resolve() == info.path.resolve() or info.path.resolve() in out.resolve().parents:
        raise InputError("the output must not be the input, or inside it", file=str(out),
                         hint="choose another --out")
    if fmt is not None:
        return DumpSource(info, plan, True), table_sink(info, plan, fmt), out
    counters = dump_counters(info, plan)
    return DumpSource(info, plan, False, counters), DumpSink(out.name, plan, info.compressed, counters), out


def dump_counters(info: DumpInfo, plan: Plan) -> Counters | None:
    """What a rewritten PostgreSQL dump counts for its setval lines (None for MySQL: no setval)."""
    if info.dialect == MYSQL:
        return None
    return Counters(sequence_columns(info, plan))


def sequence_columns(info: DumpInfo, plan: Plan) -> set[tuple[str, str]]:
    """The (table, column) pairs a sequence feeds in the tables a subset filters: their setval is
    written from the subset's largest value, not the source's (which tells how big the source is)."""
    if plan.subset is None:
        return set()
    return {(info.parent_of(t), c) for seq in info.sequences.seqs.values() for t, c in seq.links
            if info.parent_of(t) in plan.subset}
