"""Rows of a SQL dump for ``veil scan``: the first rows of every table, and every table's row count.

One pass over the dump. COPY rows are counted line by line and only the first
``max_rows`` of a table are split and decoded; INSERT statements are tokenized
(their row count needs it) but only the values of sampled rows are decoded.
"""

from __future__ import annotations

import pyarrow as pa

from ...errors import InputError
from . import DumpInfo, data_header
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


def sample_dump(info: DumpInfo, max_rows: int) -> dict[str, tuple[pa.Table, int]]:
    """table -> (its first ``max_rows`` rows as text columns, its row count). Partitions count for their parent."""
    file = str(info.path)
    columns = {name: [c for c, _ in td.columns] for name, td in info.tables.items()}
    parts: dict[str, list[pa.Table]] = {}
    have: dict[str, int] = {}
    counts: dict[str, int] = {}

    def keep(name: str, cols: list[str], values: dict[str, pa.Array], n: int) -> None:
        table = info.parent_of(name)
        want = columns.get(table, cols)
        arrays = [values[c] if c in values else pa.nulls(n, pa.string()) for c in want]
        parts.setdefault(table, []).append(pa.table(arrays, names=want))
        have[table] = have.get(table, 0) + n

    with info.lines() as lines:
        for item in Scanner(lines, info.dialect, file).items():
            if isinstance(item, CopyData):
                name, cols = data_header(item.statement, info.dialect, file)
                cols = cols or columns.get(name, [])
                table = info.parent_of(name)
                taken: list[bytes] = []
                first = None
                n = 0
                for line_no, line in item.lines:
                    n += 1
                    if have.get(table, 0) + len(taken) < max_rows:
                        first = first or line_no
                        taken.append(line.encode("utf-8", "surrogateescape"))
                counts[table] = counts.get(table, 0) + n
                if taken and cols:
                    raw = copy_rows(taken, cols, first, file)
                    keep(name, cols, {c: _text(copy_decode(raw.column(i).combine_chunks()))
                                      for i, c in enumerate(cols)}, len(taken))
            elif isinstance(item, Statement) and item.kind == "insert":
                st = InsertStatement(item.text, item.line, info.dialect, file)
                table = info.parent_of(st.table)
                counts[table] = counts.get(table, 0) + len(st.rows)
                room = max_rows - have.get(table, 0)
                cols = st.columns or columns.get(st.table)
                if cols is None:
                    raise InputError(f"INSERT into {st.table} without a column list, and the dump has no "
                                     "CREATE TABLE for it", file=file, line=st.line)
                if any(len(r) != len(cols) for r in st.rows):
                    raise InputError(f"malformed INSERT statement: rows do not have {len(cols)} values",
                                     file=file, line=st.line, table=table)
                if room <= 0:
                    continue
                rows = st.rows[:room]
                values = {}
                for i, c in enumerate(cols):
                    texts = [_clean(decode_literal(st.text[r[i][0]:r[i][1]], info.dialect)) for r in rows]
                    values[c] = pa.array(texts, pa.string()) if texts else pa.nulls(0, pa.string())
                keep(st.table, cols, values, len(rows))
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

