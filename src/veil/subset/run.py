"""A run's subset: the closure computed over the input (CSV, Parquet or a SQL dump) before the normal
pass, then each batch filtered to its kept positions by the driver (veil.pipeline.driver), so the
operators, vault, forget lists and k-anonymity see the subset only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ..dataset import Dataset
from ..errors import Problem, ProfileError, UsageError
from ..formats.dump import DumpDataset
from ..formats.dump.sample import read_rows
from ..keys import KeyProvider
from ..plan import Plan
from .closure import PURPOSE, Closure, Link, compute

BATCH_ROWS = 1 << 17


class FileReader:
    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def read(self, columns: dict[str, list[str]]) -> Iterator[tuple[str, int, pa.Table]]:
        from ..privacy.enforce import column_batches

        for name, cols in columns.items():
            table = self.dataset.table(name)
            assert table is not None
            start = 0
            for batch in column_batches(table, cols, BATCH_ROWS):
                yield name, start, batch
                start += batch.num_rows


class DumpReader:
    def __init__(self, dataset: DumpDataset):
        self.info = dataset.dump

    def read(self, columns: dict[str, list[str]]) -> Iterator[tuple[str, int, pa.Table]]:
        have: dict[str, int] = {}
        for table, n, values in read_rows(self.info, None, BATCH_ROWS, tables=set(columns)):
            start = have.get(table, 0)
            have[table] = start + n
            if table in columns and values is not None:
                yield table, start, values.select(columns[table])


def apply_subset(plan: Plan, dataset: Dataset, keys: KeyProvider | None) -> dict[str, Any] | None:
    """Compute the profile's subset (``plan.subset_spec``) and set ``plan.subset`` (kept positions per
    table; a table missing from it is copied whole); returns the report section."""
    spec = plan.subset_spec
    if spec is None:
        return None
    if keys is None and any(t.fraction is not None or t.limit is not None for t in spec.targets):
        raise UsageError("subset fraction and limit are keyed (the same rows every run): they need a keyring",
                         hint="pass --keyring")
    tables = {name: tuple(tp.primary_key) for name, tp in plan.tables.items()}
    links = [Link(name, tuple(fk.columns), fk.ref_table, tuple(fk.ref_columns))
             for name, tp in plan.tables.items() for fk in tp.foreign_keys if fk.ref_table in plan.tables]
    for t in spec.targets:
        if (t.fraction is not None or t.limit is not None or t.keys_file is not None) and not tables[t.table] \
                and t.keys_file is not None:
            raise ProfileError([Problem(f"subset target {t.table}: keys_file needs the table's primary key",
                                        t.path, None, "declare primary_key for the table")])
    reader = DumpReader(dataset) if isinstance(dataset, DumpDataset) else FileReader(dataset)
    file = str(dataset.dump.path) if isinstance(dataset, DumpDataset) else None

    def subkey(table: str) -> bytes:
        return keys.subkey(PURPOSE, table) if keys is not None else bytes(32)

    closure: Closure = compute(spec, tables, links, reader, subkey, file)
    touched = {t for t, r in closure.report["tables"].items() if r["passes"]}
    plan.subset = {t: pos for t, pos in closure.positions.items() if t in touched or spec.others == "empty"}
    return closure.report
