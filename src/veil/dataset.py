"""Tables and datasets: what a Source yields and a Sink receives.

A :class:`Table` is a name, an Arrow schema and a way to stream its
RecordBatches; a :class:`Dataset` is the tables found at an input path.
Formats (veil.formats) create tables and write them back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from .errors import InputError


class Writer(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...
    def close(self) -> None: ...


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
    root: Path
    is_dir: bool
    tables: list[Table]
    # a SQL dump: its dialect, table definitions and how to read it (veil.formats.dump)
    dump: Any = None
    # other names a profile may use for a table: bare name -> schema-qualified name
    aliases: dict[str, str] = field(default_factory=dict)
    # bare names that several schemas use: bare name -> the qualified names
    ambiguous: dict[str, list[str]] = field(default_factory=dict)

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tables]


def open_dataset(path: str | Path, dialect: str | None = None) -> Dataset:
    """A directory of table files (one table per file, name = file stem) or one file."""
    from .formats import format_for

    root = Path(path)
    if not root.exists():
        raise InputError("input not found", file=str(root), hint="check the path")
    if root.is_file():
        from .formats.dump import is_dump, open_dump

        if dialect is not None or is_dump(root):
            return open_dump(root, dialect)
        fmt = format_for(root)
        if fmt is None:
            raise InputError("unsupported file type", file=str(root),
                             hint="veil reads .csv, .parquet and SQL dumps (.sql, .sql.gz, pg_dump -Fc)")
        return Dataset(root, False, [fmt.open(root, root.stem)])
    tables: list[Table] = []
    seen: dict[str, Path] = {}
    for child in sorted(root.iterdir()):
        if child.name.startswith(".") or not child.is_file():
            continue
        fmt = format_for(child)
        if fmt is None:
            continue
        name = child.stem
        if name in seen:
            raise InputError(f"two files hold table '{name}'", file=str(child),
                             hint=f"keep one of {seen[name].name} and {child.name}")
        seen[name] = child
        tables.append(fmt.open(child, name))
    if not tables:
        raise InputError("no .csv or .parquet files in the input directory", file=str(root))
    return Dataset(root, True, tables)
