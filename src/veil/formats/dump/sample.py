"""Rows of a SQL dump: the first rows of every table and its row count (``veil scan``), or every row
(``veil verify``).

One pass over the dump. COPY rows are counted line by line and only the first
``max_rows`` of a table are split and decoded; INSERT statements are tokenized
(their row count needs it) but only the values of sampled rows are decoded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from ...errors import InputError
from . import DumpInfo, data_header
from .blocks import line_ends
from .lexer import CopyData, Scanner, Statement
from .values import InsertStatement, copy_decode, copy_rows, decode_literal


def _text(raw: pa.Array) -> pa.Array:
    """Binary values -> text; bytes that are not UTF-8 become U+FFFD (scan only looks)."""
    try:
        return raw.cast(pa.string())
    except pa.ArrowInvalid:
        return pa.array([None if v is None else v.decode("utf-8", "replace") for v in raw.to_pylist()], pa.string())


def _clean(text: str | None) -> str | None:
    """Bytes that are not UTF-8 (kept as surrogates) become U+FFFD."""
    if text is None or text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def read_rows(info: DumpInfo, max_rows: int | None = None, batch_rows: int = 65_536,
              tables: set[str] | None = None, columns_of: dict[str, list[str]] | None = None
              ) -> Iterator[tuple[str, int, pa.Table | None]]:
    """Every data block of the dump, in file order, as (table, rows, their values as text columns or
    None). A partition's rows count for its parent and come with the parent's columns. ``max_rows``:
    past that many rows of a table only the count is given (``None`` values), rows are not decoded.
    A long block comes in pieces of at most ``batch_rows`` rows. ``tables``: only these tables' rows
    are decoded (the others are counted); ``columns_of``: per table, the only columns decoded (the
    others come as nulls)."""
    file = str(info.path)
    columns = {name: [c for c, _ in td.columns] for name, td in info.tables.items()}
    have: dict[str, int] = {}

    def table_of(name: str, cols: list[str], values: dict[str, pa.Array], n: int) -> pa.Table:
        want = columns.get(info.parent_of(name), cols)
        return pa.table([values[c] if c in values else pa.nulls(n, pa.string()) for c in want], names=want)

    def wanted(table: str) -> set[str] | None:
        return set(columns_of[table]) if columns_of is not None and table in columns_of else None

    def room(table: str) -> int:
        if tables is not None and table not in tables:
            return 0
        return batch_rows if max_rows is None else min(batch_rows, max_rows - have.get(table, 0))

    narrow = hasattr(info, "narrow") and max_rows is None and tables is not None
    if narrow:  # a live database: only these tables' columns are read (veil.db.pg_source)
        info.narrow = {t: (columns_of or {}).get(t) for t in tables}
    try:
        yield from _read_rows(info, file, columns, room, table_of, wanted, have, batch_rows)
    finally:
        if narrow:
            info.narrow = None


def _read_rows(info, file, columns, room, table_of, wanted, have, batch_rows):
    with info.lines() as lines:
        for item in Scanner(lines, info.dialect, file).items():
            if isinstance(item, CopyData):
                name, cols = data_header(item.statement, info.dialect, file)
                cols = cols or columns.get(name, [])
                table = info.parent_of(name)
                skipped = 0
                for first, data, rows in item.chunks(batch_rows):  # whole rows, in blocks (no per-line work)
                    limit = room(table)
                    if limit <= 0:
                        skipped += rows
                        continue
                    if limit < rows:  # the sample's last rows: the first ``limit`` lines of the chunk
                        cut = int(line_ends(data)[limit - 1]) + 1  # past the limit-th line
                        skipped += rows - limit
                        data, rows = data[:cut], limit
                    yield table, rows, _copy_table(name, cols, data, rows, first, file, table_of, wanted(table))
                    have[table] = have.get(table, 0) + rows
                if skipped:
                    yield table, skipped, None
            elif isinstance(item, Statement) and item.kind == "insert":
                st = InsertStatement(item.text, item.line, info.dialect, file)
                table = info.parent_of(st.table)
                cols = st.columns or columns.get(st.table)
                if cols is None:
                    raise InputError(f"INSERT into {st.table} without a column list, and the dump has no "
                                     "CREATE TABLE for it", file=file, line=st.line)
                if any(len(r) != len(cols) for r in st.rows):
                    raise InputError(f"malformed INSERT statement: rows do not have {len(cols)} values",
                                     file=file, line=st.line, table=table)
                rows = st.rows
                while rows:
                    n = max(0, room(table))
                    if n == 0:
                        yield table, len(rows), None
                        break
                    part, rows = rows[:n], rows[n:]
                    want = wanted(table)
                    values = {c: pa.array([_clean(decode_literal(st.text[r[i][0]:r[i][1]], info.dialect))
                                           for r in part], pa.string()) for i, c in enumerate(cols)
                              if want is None or c in want}
                    have[table] = have.get(table, 0) + len(part)
                    yield table, len(part), table_of(st.table, cols, values, len(part))


def _copy_table(name: str, cols: list[str], data: bytes, rows: int, first: int, file: str, table_of,
                want: set[str] | None = None) -> pa.Table | None:
    if not cols:
        return None
    raw = copy_rows(data, rows, cols, first, file)
    return table_of(name, cols, {c: _text(copy_decode(raw.column(i).combine_chunks())) for i, c in enumerate(cols)
                                 if want is None or c in want}, rows)


def sample_dump(info: DumpInfo, max_rows: int) -> dict[str, tuple[pa.Table, int]]:
    """table -> (its first ``max_rows`` rows as text columns, its row count). Partitions count for their parent."""
    parts: dict[str, list[pa.Table]] = {}
    counts: dict[str, int] = {}
    for table, n, values in read_rows(info, max_rows):
        counts[table] = counts.get(table, 0) + n
        if values is not None:
            parts.setdefault(table, []).append(values)
    columns = {name: [c for c, _ in td.columns] for name, td in info.tables.items()}
    out: dict[str, tuple[pa.Table, int]] = {}
    for name, td in info.tables.items():
        if td.parent:
            continue
        cols = columns[name]
        empty = pa.table([pa.nulls(0, pa.string()) for _ in cols], names=cols)
        got = pa.concat_tables(parts[name]) if name in parts else empty
        got = got.combine_chunks() if got.num_rows else empty
        out[name] = (got, counts.get(name, 0))
    return out
