"""Parquet: streamed by row group/batch; the Arrow schema (and its metadata) is kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..dataset import Table
from ..errors import InputError


class ParquetFormat:
    name = "parquet"
    extensions = (".parquet", ".pq")

    def open(self, path: Path, name: str) -> Table:
        try:
            pf = pq.ParquetFile(path, pre_buffer=False)
            schema = pf.schema_arrow
            num_rows = pf.metadata.num_rows
        except (pa.ArrowInvalid, OSError):
            raise InputError("not a readable Parquet file", file=str(path),
                             hint="check that the file is complete (not truncated)") from None

        def read(batch_size: int) -> Iterator[pa.RecordBatch]:
            try:
                # pre_buffer=False: pyarrow would otherwise keep read-ahead buffers for the
                # whole file, and memory would grow with the file's size
                f = pq.ParquetFile(path, pre_buffer=False)
                yield from f.iter_batches(batch_size=batch_size)
            except (pa.ArrowInvalid, OSError):
                raise InputError("the Parquet file is damaged", file=str(path)) from None

        return Table(name, path, self.name, schema, read, num_rows)

    def writer(self, path: Path, schema: pa.Schema, source: Table | None) -> ParquetWriter:
        return ParquetWriter(path, schema)


class ParquetWriter:
    def __init__(self, path: Path, schema: pa.Schema):
        self._w = pq.ParquetWriter(path, schema)

    def write(self, batch: pa.RecordBatch) -> None:
        self._w.write_batch(batch)

    def close(self) -> None:
        self._w.close()
