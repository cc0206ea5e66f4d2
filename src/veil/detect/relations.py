"""Primary and foreign keys of the scanned tables: from a dump's DDL, else inferred from column names
(``id``, ``<table>_id``) confirmed by uniqueness in the sample."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ..dataset import Dataset
from ..formats.dump import DumpDataset, ddl_keys
from . import names as name_rules
from .findings import TableScan
from .sampling import Sample


def _singular(word: str) -> str:
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ses", "s"), ("s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            return word[: -len(suffix)] + repl
    return word


def _unique(col: pa.ChunkedArray | pa.Array) -> bool:
    col = col.drop_null() if isinstance(col, pa.Array) else col.combine_chunks().drop_null()
    return len(col) > 0 and len(pc.unique(col)) == len(col)


def infer_keys(dataset: Dataset, samples: dict[str, Sample]) -> dict[str, TableScan]:
    """Primary and foreign keys: from the DDL for dumps, else from names (``id``, ``<table>_id``)
    confirmed by uniqueness in the sample."""
    if isinstance(dataset, DumpDataset):
        return _dump_keys(dataset, samples)
    scans: dict[str, TableScan] = {}
    pk_of: dict[str, str] = {}
    for t in dataset.tables:
        sample, rows, est = samples[t.name]
        scans[t.name] = ts = TableScan(t.name, t.format, rows, est, sample.num_rows)
        pk = _name_primary_key(t.name, t.schema.names, sample)
        if pk is not None:
            ts.primary_key = [pk]
            pk_of[t.name] = pk
    for t in dataset.tables:
        _name_foreign_keys(scans[t.name], t.schema.names, pk_of)
    return scans


def _dump_keys(dataset: DumpDataset, samples: dict[str, Sample]) -> dict[str, TableScan]:
    scans: dict[str, TableScan] = {}
    parents = {td.parent for td in dataset.dump.tables.values() if td.parent}
    for t in dataset.tables:
        pk, _unique_keys, fks = ddl_keys(dataset.dump, t.name)
        sample, rows, est = samples[t.name]
        scans[t.name] = TableScan(t.name, "dump", rows, est, sample.num_rows, list(pk), [
            {"columns": list(fk.columns), "references": {"table": fk.ref_table, "columns": list(fk.ref_columns)},
             "source": "ddl"} for fk in fks], partitioned=t.name in parents)
    return scans


def _name_primary_key(table: str, columns: list[str], sample: pa.Table) -> str | None:
    """The first column named like the table's own id whose sampled values are unique."""
    singular = _singular(table.lower())
    last = _singular(name_rules.tokens(table)[-1]) if name_rules.tokens(table) else singular
    for c in columns:
        low = c.lower()
        if low in ("id", f"{singular}_id", f"{singular}id", f"{table.lower()}_id", f"{last}_id") and \
                sample.num_rows and _unique(sample.column(c)):
            return c
    return None


def _name_foreign_keys(ts: TableScan, columns: list[str], pk_of: dict[str, str]) -> None:
    """``customer_id`` references the table ``customer(s)`` whose key is ``id`` (or is ``customer_id``)."""
    for c in columns:
        if ts.primary_key == [c]:
            continue
        low = c.lower()
        if low == "id" or (not low.endswith("_id") and not low.endswith("id")):
            continue  # a bare "id" is a table's own key, never a reference
        base = low[:-3] if low.endswith("_id") else low[:-2]
        for other, pk in pk_of.items():
            if other == ts.name:
                continue
            o = other.lower()
            if pk.lower() == low or (pk.lower() == "id" and base and base in (o, _singular(o))):
                ts.foreign_keys.append({"columns": [c], "references": {"table": other, "columns": [pk]},
                                        "source": "names"})
                break
