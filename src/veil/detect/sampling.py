"""A bounded sample of every table, and a column's distinct values as text.

At most ``max_rows`` rows per table are read (Parquet: the first rows of up to
8 row groups spread over the file; CSV: the first rows, the row count estimated
from the file size; SQL dumps: the first rows of every table, the dump read
once). Of those, at most ``limit`` distinct non-null values per column are
analysed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..dataset import Dataset, Table
from ..formats.dump import DumpDataset
from ..formats.dump.sample import sample_dump
from .coltypes import type_category

DEFAULT_SAMPLE = 2000  # distinct values per column
DEFAULT_SAMPLE_ROWS = 20_000  # rows read per table

Sample = tuple[pa.Table, int | None, bool]  # sampled rows, row count, whether the count is an estimate


def _sample_parquet(table: Table, max_rows: int) -> tuple[pa.Table, int, bool]:
    pf = pq.ParquetFile(table.path, pre_buffer=False)
    n_groups = pf.metadata.num_row_groups
    total = pf.metadata.num_rows
    if n_groups == 0 or total == 0:
        return table.schema.empty_table(), total, False
    picks = sorted({round(i * (n_groups - 1) / max(1, min(n_groups, 8) - 1)) for i in range(min(n_groups, 8))})
    per = max(1, math.ceil(max_rows / len(picks)))
    parts = []
    for g in picks:
        for batch in pf.iter_batches(batch_size=min(per, 65_536), row_groups=[g]):
            parts.append(batch)
            break
    return pa.Table.from_batches(parts, schema=pf.schema_arrow), total, False


def _sample_stream(table: Table, max_rows: int) -> tuple[pa.Table, int | None, bool]:
    parts: list[pa.RecordBatch] = []
    got = 0
    exhausted = True
    for batch in table.batches(min(max_rows, 65_536)):
        parts.append(batch)
        got += batch.num_rows
        if got >= max_rows:
            exhausted = False
            break
    sample = pa.Table.from_batches(parts, schema=table.schema) if parts else table.schema.empty_table()
    if exhausted:
        return sample, got, False
    if table.num_rows is not None:  # known up front (a directory of Parquet part files)
        return sample.slice(0, max_rows), table.num_rows, False
    return sample.slice(0, max_rows), _estimate_rows(table.path), True


def _estimate_rows(path: Path) -> int | None:
    """Lines in a text file, estimated from its first 4 MiB and its size."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(4 << 20)
    lines = head.count(b"\n")
    if not head or not lines:
        return None
    return max(0, round(lines * size / len(head)) - 1)


def sample_dataset(dataset: Dataset, max_rows: int) -> dict[str, tuple[pa.Table, int | None, bool]]:
    """table -> (sampled rows, row count, whether the count is an estimate)."""
    if isinstance(dataset, DumpDataset):
        live = getattr(dataset.dump, "sample", None)  # a live database (veil.db): LIMIT, exact counts
        got = live(max_rows) if live is not None else sample_dump(dataset.dump, max_rows)
        return {name: (t, n, False) for name, (t, n) in got.items()}
    out = {}
    for table in dataset.tables:
        if table.format == "parquet" and table.path.is_file():  # else a directory of part files
            out[table.name] = _sample_parquet(table, max_rows)
        else:
            out[table.name] = _sample_stream(table, max_rows)
    return out


def distinct_text(col: pa.ChunkedArray | pa.Array, limit: int) -> list[str]:
    """Up to ``limit`` distinct non-null values as text."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    col = col.drop_null()
    if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
        values = [v.decode("utf-8", "replace") for v in pc.unique(col).to_pylist()[:limit]]
    elif type_category(col.type) == "nested":
        values = list(dict.fromkeys(json.dumps(v, ensure_ascii=False, default=str)
                                    for v in col.slice(0, 4 * limit).to_pylist()))[:limit]
    else:
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            try:
                col = col.cast(pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return []
        values = pc.unique(col).to_pylist()[:limit]
    return [v for v in values if v is not None and v.strip()]


def binary_heads(col: pa.ChunkedArray | pa.Array, limit: int, size: int = 16) -> list[bytes] | None:
    """The first ``size`` bytes of up to ``limit`` distinct non-null values of a binary column
    (None for other types): what their magic numbers are read from."""
    t = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
    if not (pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)):
        return None
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    return [v[:size] for v in pc.unique(col.drop_null()).to_pylist()[:limit]]
