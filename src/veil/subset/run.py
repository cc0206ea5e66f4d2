"""A run's subset: the closure computed over the input (CSV, Parquet or a SQL dump) before the normal
pass, then each batch filtered to its kept positions by the driver (veil.pipeline.driver), so the
operators, vault, forget lists and k-anonymity see the subset only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from ..dataset import Dataset
from ..errors import Problem, ProfileError, UsageError
from ..formats.dump import DumpDataset
from ..formats.dump.sample import read_rows
from ..keys import KeyProvider
from ..plan import Plan
from .closure import PURPOSE, Closure, Link, compute, exclusions
from .dangling import settle

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
    one_scan = True  # one scan of the file reads any number of tables

    def __init__(self, dataset: DumpDataset):
        self.info = dataset.dump

    def read(self, columns: dict[str, list[str]]) -> Iterator[tuple[str, int, pa.Table]]:
        have: dict[str, int] = {}
        for table, n, values in read_rows(self.info, None, BATCH_ROWS, tables=set(columns), columns_of=columns):
            start = have.get(table, 0)
            have[table] = start + n
            if table in columns and values is not None:
                yield table, start, values.select(columns[table])


def apply_subset(plan: Plan, dataset: Dataset, keys: KeyProvider | None) -> dict[str, Any] | None:
    """The profile's exclude rules and subset (``plan.excludes``, ``plan.subset_spec``): set
    ``plan.subset`` (kept positions per table; a table missing from it is copied whole); returns
    the report section."""
    spec, excludes = plan.subset_spec, plan.excludes
    if spec is None and not excludes:
        return None
    if spec is not None and keys is None and any(t.fraction is not None or t.limit is not None for t in spec.targets):
        raise UsageError("subset fraction and limit are keyed (the same rows every run): they need a keyring",
                         hint="pass --keyring")
    tables = {name: tuple(tp.primary_key) for name, tp in plan.tables.items()}
    for rule in [*(spec.targets if spec is not None else []), *excludes]:
        if rule.keys_file is not None and not tables[rule.table]:
            raise ProfileError([Problem(f"{rule.path}: keys_file needs the primary key of table {rule.table}",
                                        rule.path, None, "declare primary_key for the table")])
    links = _links(plan, spec, dataset)
    reader = DumpReader(dataset) if isinstance(dataset, DumpDataset) else FileReader(dataset)
    file = str(dataset.dump.path) if isinstance(dataset, DumpDataset) else None
    excluded, rows, ex_report = exclusions(excludes, tables, links, reader, dt.datetime.now(dt.UTC).date(), file) \
        if excludes else ({}, {}, {})
    if spec is None:  # exclude rules alone: every other row of the tables they reach
        plan.subset = {t: np.setdiff1d(np.arange(rows[t], dtype=np.int64), gone) for t, gone in excluded.items()}
        return {"rounds": 0, "excluded": ex_report, "unresolved_references": {}, "others": "all",
                "tables": {t: {"rows_kept": int(len(pos))} for t, pos in plan.subset.items()}}

    def subkey(table: str) -> bytes:
        return keys.subkey(PURPOSE, table) if keys is not None else bytes(32)

    closure: Closure = compute(spec, tables, links, reader, subkey, file, excluded)
    touched = {t for t, r in closure.report["tables"].items() if r["passes"]}
    closed = {t for t in tables if t in touched or spec.others != "all"}  # rows the closure chose
    plan.subset = {t: closure.positions[t] for t in closed}
    for t, gone in excluded.items():  # a table the closure did not read keeps all but its excluded rows
        if t not in plan.subset:
            plan.subset[t] = np.setdiff1d(np.arange(rows[t], dtype=np.int64), gone)
    settled = settle(links, closed, plan.subset, closure, reader)
    for t, gone in settled.dropped.items():  # a whole table's rows that point at rows left out
        whole = plan.subset.get(t, np.arange(settled.rows[t], dtype=np.int64))
        plan.subset[t] = np.setdiff1d(whole, gone)
    plan.subset_nulls = settled.nulled
    for t, nulls in settled.nulled.items():
        plan.tables[t].nulled = tuple(sorted({c for cols, _ in nulls for c in cols}))
    if spec.others == "omit":
        plan.omitted = {t for t in tables if t not in touched}
    report = {**closure.report, "excluded": ex_report}
    report["passes_settle"] = settled.passes
    report["omitted"] = sorted(plan.omitted)
    for t, counts in settled.report.items():
        report["tables"][t].update(counts)
    return report


def _links(plan: Plan, spec: Any, dataset: Dataset) -> list[Link]:
    """The foreign keys between the plan's tables; ``null``: the subset may null it (null_references:
    all of its columns nullable)."""
    wanted = spec.null_references if spec is not None else []
    links, problems = [], []
    for name, tp in plan.tables.items():
        for fk in tp.foreign_keys:
            if fk.ref_table not in plan.tables:
                continue
            cols = tuple(fk.columns)
            named = wanted == "all" or any(t == name and c in cols for t, c in wanted)
            stuck = sorted(set(cols) & dataset.not_null(name)) if named else []
            if named and stuck and wanted != "all":
                problems.append(Problem(f"null_references: {name}.{stuck[0]} is NOT NULL: the reference cannot be "
                                        "nulled", "subset.null_references", None,
                                        "leave it out (its parent rows are kept), or make the column nullable"))
            links.append(Link(name, cols, fk.ref_table, tuple(fk.ref_columns), null=named and not stuck))
    if problems:
        raise ProfileError(problems)
    return links
