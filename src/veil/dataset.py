"""Tables and datasets: what a Source yields and a Sink receives.

A :class:`Table` is a name, an Arrow schema and a way to stream its
RecordBatches; a :class:`Dataset` is the tables found at an input path.
Formats (veil.formats) create tables and write them back.

The run driver (veil.pipeline.driver) runs any :class:`Source` into any
:class:`Sink`. A source yields, in order: :class:`Begin` a table's rows (a
table of files once; a SQL dump's table once per COPY block or run of
INSERTs), its :class:`Batch` es, :class:`End`; between them, for a dump, text
(``bytes``) the sink writes back unchanged, :class:`Copied` rows a source passed
through untouched, and :class:`Barrier` (every batch so far written before the
source goes on: a dump's setval needs the largest id written).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa


class Writer(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...
    def close(self) -> None: ...


# -- what a source yields ---------------------------------------------------

@dataclass
class Begin:
    """A table's rows start: ``rows`` when known up front, ``file`` named on its errors,
    ``parallel``: worth the worker processes (more than one batch)."""
    table: str
    rows: int | None = None
    file: str | None = None
    parallel: bool = True


@dataclass
class Batch:
    """Rows of the current table; ``carry``: what the sink needs beside the result to write them
    (a dump's raw text), handed back with it."""
    values: pa.RecordBatch
    carry: Any = None


@dataclass
class End:
    """The current table's rows end here; ``last``: the table has no more rows in the source."""
    table: str
    last: bool = True


@dataclass
class Copied:
    """``rows`` rows of a table the source wrote through as text, untransformed (and ``skipped``
    rows it left out: outside the run's subset)."""
    table: str
    rows: int
    skipped: int = 0


class Barrier:
    """Every batch before this is written before the source goes on."""


Item = Begin | Batch | End | Copied | Barrier | bytes


class Source(Protocol):
    """Tables to run. ``names``: every table, in report order; ``items``: the run's stream."""
    names: list[str]

    def items(self, plan: Any, batch_size: int, forgotten: dict[str, frozenset[bytes]]) -> Iterator[Item]: ...


class Target(Protocol):
    def path_for(self, filename: str) -> Path: ...


class Sink(Protocol):
    """Where the results go: open -> (begin, write, end per table; text) -> close, or abort.

    ``is_dir``: the output is a directory of tables (else one file); ``takes_text``: the text a
    source yields is written (a dump) or has no place (table files)."""
    is_dir: bool
    takes_text: bool

    def open(self, target: Target) -> None: ...
    def begin(self, table: str) -> None: ...
    def write(self, table: str, batch: pa.RecordBatch, kept: pa.Array | None, carry: Any) -> None: ...
    def text(self, data: bytes) -> None: ...
    def end(self, table: str) -> None: ...
    def close(self) -> str | None: ...  # the one file to commit, None for a directory
    def abort(self) -> None: ...


@dataclass
class Table:
    name: str
    path: Path
    format: str
    schema: pa.Schema
    read: Callable[[int], Iterator[pa.RecordBatch]]
    num_rows: int | None = None  # known up front for Parquet, not for CSV
    options: dict[str, Any] = field(default_factory=dict)  # format details to keep on write (BOM...)

    def batches(self, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        return self.read(batch_size)


@dataclass
class Dataset:
    """The tables found at an input path (``veil.formats.open_dataset`` opens one); a SQL dump is a
    ``veil.formats.dump.DumpDataset``, which adds the dump's dialect, definitions and text."""
    root: Path
    is_dir: bool
    tables: list[Table]
    # other names a profile may use for a table: bare name -> schema-qualified name
    aliases: dict[str, str] = field(default_factory=dict)
    # bare names that several schemas use: bare name -> the qualified names
    ambiguous: dict[str, list[str]] = field(default_factory=dict)

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tables]

    def not_null(self, name: str) -> set[str]:
        """The columns of table ``name`` that may not hold NULL (a Parquet field's flag; a dump's DDL)."""
        table = self.table(name)
        return {f.name for f in table.schema if not f.nullable} if table is not None else set()
