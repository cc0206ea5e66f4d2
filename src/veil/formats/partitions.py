"""Partitioned Parquet tables: a directory of part files (``customers/part-0.parquet``, ...) or
Hive-style folders (``orders/year=2024/part-0.parquet``) read as one table.

A partition column's values are folder names: a rule that changes them (pseudonymize, date_shift,
...) would move rows between folders and leave the original values in the folder names of the
input it mirrors, so only ``keep`` is allowed on a partition column (:func:`refuse_partition_rules`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..dataset import Table
from ..errors import InputError, Problem, ProfileError

PART_SUFFIXES = (".parquet", ".pq")


def is_partitioned_table(path: Path) -> bool:
    """A directory holding Parquet part files, directly or in ``key=value`` folders (no hidden or
    ``_``-prefixed files counted: Spark's ``_SUCCESS``, ``.crc``)."""
    if not path.is_dir() or path.name.startswith((".", "_")):
        return False
    return any(p.is_file() and p.name.endswith(PART_SUFFIXES) and not p.name.startswith((".", "_"))
               for p in _walk(path))


def _walk(path: Path):
    for child in sorted(path.iterdir()):
        if child.name.startswith((".", "_")):
            continue
        if child.is_dir() and "=" in child.name:
            yield from _walk(child)
        elif child.is_file():
            yield child


def partition_columns(path: Path) -> tuple[str, ...]:
    """The Hive partition columns of a table directory, outermost first (from its first leaf)."""
    cols: list[str] = []
    probe = path
    while True:
        sub = next((c for c in sorted(probe.iterdir()) if c.is_dir() and "=" in c.name
                    and not c.name.startswith((".", "_"))), None) if probe.is_dir() else None
        if sub is None:
            return tuple(cols)
        cols.append(sub.name.split("=", 1)[0])
        probe = sub


def refuse_partition_rules(tplan, partition_columns: tuple[str, ...]) -> None:
    """Only ``keep`` on a partition column: anything else is a profile problem (exit 3)."""
    bad = [c for c in tplan.columns if c.name in partition_columns and c.transformed]
    if bad:
        raise ProfileError([Problem(f"{tplan.name}.{c.name} is a partition column (its values are folder names); "
                                    f"operator {c.op} would move rows between folders",
                                    f"tables.{tplan.name}.columns.{c.name}", None,
                                    "keep the partition column, or rewrite the table without partitions first")
                            for c in bad])


def open_partitioned(path: Path):
    """One table of a directory of Parquet part files (Hive ``key=value`` folders become columns, at
    the end of the schema). ``options["partitioning"]``: its partition columns, which the Parquet
    writer writes back as folders (:class:`PartitionedWriter`)."""


    import pyarrow.dataset as ds  # (here: it imports pandas, which a run rarely needs)

    cols = partition_columns(path)
    try:
        data = ds.dataset(path, format="parquet", partitioning="hive" if cols else None,
                          ignore_prefixes=[".", "_"])
        schema, rows = data.schema, data.count_rows()
    except (pa.ArrowInvalid, OSError):
        raise InputError("not a readable directory of Parquet part files", file=str(path),
                         hint="every part file must be complete Parquet with the same columns") from None

    def read(batch_size: int):
        try:
            yield from data.to_batches(batch_size=batch_size)
        except (pa.ArrowInvalid, OSError):
            raise InputError("a Parquet part file is damaged", file=str(path)) from None

    return Table(path.name, path, "parquet", schema, read, rows, options={"partitioning": cols})


class PartitionedWriter:
    """A table written as a directory: ``part-0.parquet``, or one ``part-0.parquet`` per Hive folder
    of its partition columns (their values become folder names and leave the files)."""

    def __init__(self, path: Path, schema, columns: tuple[str, ...]):
        self.path, self.schema, self.columns = Path(path), schema, columns
        self.path.mkdir()
        self.file_schema = schema
        for c in columns:
            self.file_schema = self.file_schema.remove(self.file_schema.get_field_index(c))
        self.writers: dict[tuple, object] = {}

    def _writer(self, key: tuple):

        w = self.writers.get(key)
        if w is None:
            folder = self.path.joinpath(*(f"{c}={_folder_value(v)}" for c, v in zip(self.columns, key, strict=True)))
            folder.mkdir(parents=True, exist_ok=True)
            w = self.writers[key] = pq.ParquetWriter(folder / "part-0.parquet", self.file_schema)
        return w

    def write(self, batch) -> None:

        if not self.columns:
            self._writer(()).write_batch(batch)
            return
        table = pa.Table.from_batches([batch])
        keys = table.select(list(self.columns)).group_by(list(self.columns)).aggregate([]).to_pylist()
        for key in keys:
            mask = None
            for c in self.columns:
                col = table.column(c)
                hit = pc.is_null(col) if key[c] is None else pc.fill_null(pc.equal(col, key[c]), False)
                mask = hit if mask is None else pc.and_(mask, hit)
            part = table.filter(mask).drop_columns(list(self.columns))
            self._writer(tuple(key[c] for c in self.columns)).write_table(part)

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
        if not self.writers:  # a table without rows still gets its schema

            pq.write_table(self.file_schema.empty_table(), self.path / "part-0.parquet")


def _folder_value(v) -> str:

    return "__HIVE_DEFAULT_PARTITION__" if v is None else quote(str(v), safe="")
