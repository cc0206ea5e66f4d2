"""Parquet: streamed by row group/batch; the Arrow schema (and its metadata) is kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..dataset import Table
from ..errors import InputError
from .partitions import PartitionedWriter


class ParquetFormat:
    name = "parquet"
    extensions = (".parquet", ".pq")
    #: typed output: the writer gets each column's typed type (veil.formats.typed), not only text
    typed = True

    def open(self, path: Path, name: str) -> Table:
        try:
            pf = pq.ParquetFile(path, pre_buffer=False)
            schema = pf.schema_arrow
            num_rows = pf.metadata.num_rows
        except (pa.ArrowInvalid, OSError):
            raise InputError("not a readable Parquet file", file=str(path),
                             hint="check that the file is complete (not truncated)") from None
        seen: set[str] = set()
        for col in schema.names:
            if col in seen:  # a rule could not say which one it means
                raise InputError("two columns have the same name", file=str(path), table=name, column=col,
                                 hint="rename one of them before running veil")
            seen.add(col)

        def read(batch_size: int) -> Iterator[pa.RecordBatch]:
            try:
                # pre_buffer=False: pyarrow would otherwise keep read-ahead buffers for the
                # whole file, and memory would grow with the file's size
                f = pq.ParquetFile(path, pre_buffer=False)
                yield from f.iter_batches(batch_size=batch_size)
            except (pa.ArrowInvalid, OSError):
                raise InputError("the Parquet file is damaged", file=str(path)) from None

        return Table(name, path, self.name, schema, read, num_rows)

    def writer(self, path: Path, schema: pa.Schema, source: Table | None):
        if source is not None and "partitioning" in source.options:  # a directory of part files, as read
            return PartitionedWriter(path, schema, source.options["partitioning"])
        return ParquetWriter(path, schema)


SPARK_SCHEMA = b"org.apache.spark.sql.parquet.row.metadata"


def output_metadata(meta: dict | None, transformed: set[str], reshaped: bool) -> dict | None:
    """The schema-level key/value metadata of an output: the input's, with what it says about
    transformed columns removed (field-level metadata of those is dropped by the plan).

    ``pandas`` and Spark's schema list every column: when a column is dropped or changes type
    (``reshaped``) they no longer match and are dropped; otherwise their entries of transformed
    columns lose their per-column metadata, and pandas' free-form keys (``attrs``, which may
    hold anything) are left out. Other keys are kept as they are.
    """
    out = dict(meta or {})
    if not transformed:
        return out or None
    for key, rewrite in ((b"pandas", _pandas_meta), (SPARK_SCHEMA, _spark_meta)):
        if key not in out:
            continue
        try:
            out[key] = None if reshaped else rewrite(json.loads(out[key]), transformed)
        except (ValueError, TypeError, AttributeError, KeyError):
            out[key] = None  # not what the writer documents: drop it rather than guess
        if out[key] is None:
            del out[key]
    return out or None


_PANDAS_KEYS = ("index_columns", "column_indexes", "columns", "creator", "pandas_version")


def _pandas_meta(doc: dict, transformed: set[str]) -> bytes:
    doc = {k: v for k, v in doc.items() if k in _PANDAS_KEYS}
    for col in doc.get("columns", []):
        if col.get("field_name", col.get("name")) in transformed:
            col["metadata"] = None
    return json.dumps(doc).encode()


def _spark_meta(doc: dict, transformed: set[str]) -> bytes:
    for f in doc.get("fields", []):
        if f.get("name") in transformed:
            f["metadata"] = {}
    return json.dumps(doc).encode()


class ParquetWriter:
    def __init__(self, path: Path, schema: pa.Schema):
        self._w = pq.ParquetWriter(path, schema)

    def write(self, batch: pa.RecordBatch) -> None:
        self._w.write_batch(batch)

    def close(self) -> None:
        self._w.close()
