"""Partitioned Parquet tables: a directory of part files (``customers/part-0.parquet``, ...) or
Hive-style folders (``orders/year=2024/part-0.parquet``) read as one table.

A partition column's values are folder names: a rule that changes them (pseudonymize, date_shift,
...) would move rows between folders and leave the original values in the folder names of the
input it mirrors, so only ``keep`` is allowed on a partition column (:func:`refuse_partition_rules`).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import Problem, ProfileError

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
