"""Where a rewritten SQL dump goes: the dump's text with its data rewritten (:class:`DumpSink`), or
one file per table (``--format parquet|csv``: :func:`table_sink`); and the statements that
follow the data (setval, AUTO_INCREMENT) rewritten from what was written.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import re
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ...dataset import Target, Writer
from ...errors import InputError, OutputError, UsageError
from ...output import STDOUT
from ...plan import Plan, TablePlan
from .. import FORMATS
from ..files import TableFilesSink, table_writer
from . import DUMP_HINT, DumpInfo, dump_sources
from .lexer import Statement
from .sequences import auto_increment_column, auto_increment_span, parse_setval
from .shuffle import BlockShuffle


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


ARCHIVE_NAMES = (".dump", ".pgdump", ".backup", ".tar")  # what pg_dump -Fc/-Fd/-Ft output is named


def dump_output_name(info: DumpInfo) -> str:
    """The output's name in an --out DIR/: the input's (plain SQL for an archive; stdin.sql[.gz]
    for a piped dump)."""
    if info.spool is not None:
        return "stdin.sql" if info.custom or not info.compressed else "stdin.sql.gz"
    return info.path.name if not info.custom else info.path.stem + ".sql"


def output_path(info: DumpInfo, out: Path, fmt: str | None) -> Path:
    """The file a dump run writes. An archive input (pg_dump -Fc/-Fd) is written as plain SQL: a
    name that promises an archive (x.dump) is refused, pg_restore could not read it."""
    if fmt is not None or out == STDOUT:
        return out
    name = dump_output_name(info)
    if out.is_dir() or str(out).endswith(("/", "\\")):
        return out / name
    if info.custom and out.name.lower().endswith(ARCHIVE_NAMES):
        raise UsageError("a pg_dump archive (-Fc/-Fd) is written back as a plain SQL dump, not as an archive; "
                         f"--out {out.name} suggests an archive", file=str(out),
                         hint=f"use --out {out.with_suffix('.sql').name} (restore it with psql), or pass a "
                         "directory")
    return out


class Counters:
    """The largest output value of every transformed integer column (for setval). A text column is
    tried as integers only when its SQL type is unknown (a dump without its CREATE TABLE), and only
    until one batch is not: casting every transformed text column cost a pass over it per batch."""

    def __init__(self, extra: set[tuple[str, str]] | None = None) -> None:
        self.max: dict[tuple[str, str], int] = {}
        self.not_int: set[tuple[str, str]] = set()
        # kept columns counted too: those a sequence feeds in a table a subset filters (veil.subset)
        self.extra = extra or set()

    def add_value(self, key: tuple[str, str], value: int) -> None:
        if key not in self.max or value > self.max[key]:
            self.max[key] = value

    def add(self, table: str, tplan: TablePlan, batch: pa.RecordBatch) -> None:
        names = set(batch.schema.names)
        for c in tplan.columns:
            key = (table, c.name)
            if not (c.transformed or key in self.extra) or c.name not in names or key in self.not_int:
                continue
            col = batch.column(c.name)
            known = c.field is not None and (c.field.metadata or {}).get(b"veil.sql_type", b"") != b""
            if known and pa.types.is_string(col.type):
                self.not_int.add(key)  # a text column: no sequence value (a setval of it is refused)
                continue
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


def setval(item: Statement, info: DumpInfo, plan: Plan, counters: Counters) -> tuple[str, list[str]]:
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
            links.append(((name, c), cp.transformed))
    # a subset's kept column is set from what was written too: the source's value tells its size
    moved = [k for k, transformed in links if transformed or k in counters.extra]
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


def without_auto_increment(item: Statement, info: DumpInfo, plan: Plan) -> str:
    """A MySQL CREATE TABLE without its AUTO_INCREMENT=N option when that column is transformed."""
    col = auto_increment_column(item.text)
    name = info.parent_of(item.info.table) if item.info is not None and item.info.table else None
    tplan = plan.tables.get(name) if name else None
    cp = next((x for x in tplan.columns if x.name.lower() == (col or "").lower()), None) if tplan else None
    subset = plan.subset is not None and name in plan.subset  # a subset: the source's next id tells its size
    if cp is None or not (cp.transformed or subset):
        return item.text
    span = auto_increment_span(item.text)
    if span is None:
        return item.text
    return item.text[:span[0]] + item.text[span[1]:]


def table_sink(info: DumpInfo, plan: Plan, fmt: str) -> TableFilesSink:
    """--format parquet|csv: one file per table of the dump instead of a dump."""
    out = FORMATS[fmt]
    names = table_file_names(list(plan.tables), out.extensions[0], str(info.path))

    def opener(tplan: TablePlan) -> Callable[[Path], Writer]:  # typed Parquet: veil.formats.typed
        fields = [c.field for c in tplan.columns if c.field is not None]
        return lambda path: table_writer(fmt, path, tplan, None, lambda: dump_sources(info, fields),
                                         str(info.path), DUMP_HINT)

    return TableFilesSink({t: (names[t], opener(tplan)) for t, tplan in plan.tables.items()})


Render = Callable[[pa.RecordBatch, "pa.Array | None"], bytes]


class _Stdout:
    """Standard output as the dump's file: written as it goes, flushed (never closed) at the end; a
    reader that went away (psql stopped on an error) is a clean error."""

    def __init__(self) -> None:
        self.fh = sys.stdout.buffer

    def write(self, data: bytes) -> None:
        try:
            self.fh.write(data)
        except BrokenPipeError:
            raise _closed() from None

    def close(self) -> None:
        try:
            self.fh.flush()
        except BrokenPipeError:
            raise _closed() from None

    def poison(self) -> None:
        """After a failure: end the partial stream with a line no reader accepts (a byte that is not
        UTF-8: an error inside a COPY block, in a statement, or as a row of any table), so psql
        with ON_ERROR_STOP fails instead of loading half a dump (at EOF psql ends a COPY quietly)."""
        with contextlib.suppress(OSError, ValueError):
            self.fh.write(POISON)
            self.fh.flush()


POISON = b"\n\xff veil: the run failed, this dump is incomplete\n"


def _closed() -> OutputError:
    # stdout cannot be flushed again at exit: point it at /dev/null (Python's advice for EPIPE)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return OutputError("standard output was closed before the dump was written whole (--out -)",
                       file="-", hint="the command reading veil's output stopped: see its own error")


class DumpSink:
    """The rewritten dump, one file (gzip when the input was): the source's text as it is, and each
    batch as its ``carry`` (a render function of the source) writes it back. ``counters`` (PostgreSQL
    dumps): the largest value written of each transformed integer column, for setval."""

    is_dir = False
    takes_text = True

    def __init__(self, name: str, plan: Plan, compressed: bool, counters: Counters | None):
        self.name, self.plan, self.compressed, self.counters = name, plan, compressed, counters
        self.fh: Any = None
        # row_order: shuffle: the table's subkey for its rows' order (veil.formats.dump.shuffle)
        self.order: Callable[[str], bytes] | None = None
        self.shuffle: BlockShuffle | None = None

    def open(self, target: Target) -> None:
        spill = None
        if getattr(target, "stream", False):  # --out -: plain SQL to standard output, for | psql
            self.fh = _Stdout()
        else:
            path = target.path_for(self.name)
            spill = path.parent
            self.fh = gzip.open(path, "wb") if self.compressed else open(path, "wb", buffering=1 << 20)
        if self.order is not None:
            self.shuffle = BlockShuffle(self.order, self.fh.write, spill)

    def begin(self, table: str) -> None:
        pass

    def write(self, table: str, batch: pa.RecordBatch, kept: pa.Array | None, carry: Render) -> None:
        if self.shuffle is not None:
            self.shuffle.add(table, carry(batch, kept, split=True))  # type: ignore[call-arg]
        else:
            data = carry(batch, kept)
            if data:
                self.fh.write(data)
        if self.counters is not None:
            self.counters.add(table, self.plan.tables[table], batch)

    def text(self, data: bytes) -> None:
        if self.shuffle is not None:
            self.shuffle.flush()  # text ends a data block: its rows first
        self.fh.write(data)

    def end(self, table: str) -> None:
        pass

    def close(self) -> str | None:
        if self.shuffle is not None:
            self.shuffle.flush()
        self.fh.close()
        return self.name

    def abort(self) -> None:
        if self.shuffle is not None:
            with contextlib.suppress(Exception):
                self.shuffle.discard()
        if isinstance(self.fh, _Stdout):
            self.fh.poison()
        elif self.fh is not None:
            self.fh.close()
