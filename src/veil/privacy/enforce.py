"""The run's first pass: k-anonymity (and l-diversity) chosen before the normal pass.

For every table whose profile has ``privacy: {k: ..}`` (or ``l``), :func:`enforce` reads the
quasi-identifier columns only (Parquet: those columns; CSV: the file; a dump: its rows as text,
typed like the run types them) and counts rows per distinct combination
(:class:`veil.privacy.search.Counter`); :func:`veil.privacy.search.search` chooses the levels and
the classes to suppress. Each quasi-identifier's column plan then gets operator ``k_anonymity``
with that choice as parameters, so the normal pass (any source, any number of workers) writes it
generalized, the suppressed classes' rows null. The choice and its figures go to the run report
(``TablePlan.privacy_report``): names and numbers, never a value.

A quasi-identifier the profile drops or nulls is left out (the copy does not hold it); one it keeps
is generalized; one it coarsens (generalize, mask: deterministic, not keyed) is counted and
generalized as that rule writes it; any other operator is refused when the plan is compiled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..dataset import Dataset
from ..errors import InputError, ProfileError
from ..errors import Problem as _Problem
from ..formats.dump import DumpDataset
from ..formats.dump.sample import read_rows
from ..ops.kanon import base_output
from ..plan import Plan, TablePlan
from ..subset.closure import positions_in
from .hierarchy import placeholder
from .search import Counter, Infeasible, search

#: rows per batch of the first pass: fewer, larger group-bys are much faster (1M rows of the bench:
#: 1.9 s in batches of 65,536, 0.4 s in batches of 2**20); memory is bounded by the batch. Parquet
#: batches hold the projected columns only; CSV and dump batches every column, so they are smaller.
PARQUET_BATCH_ROWS = 1 << 20
BATCH_ROWS = 1 << 18


@dataclass
class Need:
    """What the first pass counts for one table that enforces k or l."""

    qis: list[str]  # the quasi-identifiers to generalize
    sensitive: list[str]  # l-diversity's sensitive columns
    subject: str | None  # the column whose distinct values k counts (None: rows)
    types: dict[str, pa.DataType]  # every column's input type
    bases: dict[str, dict]  # a QI its profile coarsens (generalize, mask): that rule ({"op", "params"})

    @property
    def columns(self) -> list[str]:
        """The columns counted, in order: one row per distinct combination of them."""
        return self.qis + self.sensitive + ([self.subject] if self.subject else [])

    def based(self, batch: pa.Table, table: str) -> pa.Table:
        """A batch of the counted columns with each coarsened QI as its rule writes it."""
        if not self.bases:
            return batch
        return pa.table([base_output(batch.column(c).combine_chunks(), self.bases.get(c), table, c)
                         for c in batch.column_names], names=batch.column_names)


def _wanted(tplan: TablePlan) -> tuple[list[str], list[str]] | None:
    """(quasi-identifiers to generalize, sensitive columns) of a table that enforces k or l."""
    p = tplan.privacy
    if p is None or (p.k is None and p.l is None):
        return None
    by_name = {c.name: c for c in tplan.columns}
    qis = [q for q in p.quasi_identifiers if q in by_name and not by_name[q].operator.drops_column
           and not by_name[q].operator.nulls_column]
    if not qis:
        return None
    sensitive = [s for s in p.sensitive if s in by_name and s not in qis] if p.l else []
    return qis, sensitive


def _subject_column(tplan: TablePlan, wanted: tuple[list[str], list[str]]) -> str | None:
    """The column whose distinct values k counts (veil.privacy.subjects): the subject's, unless it
    is the primary key (one row, one person) or none is declared (rows)."""
    s = tplan.subject
    if s is None or tplan.primary_key == [s.column] or s.column in wanted[0] + wanted[1]:
        return None
    return s.column if any(c.name == s.column for c in tplan.columns) else None


def needs(plan: Plan) -> dict[str, Need]:
    """The tables that enforce k or l and what each counts; subject tables first (the tables that
    inherit their privacy start from their levels: veil.privacy.subjects)."""
    out = {}
    for name, tp in plan.tables.items():
        w = _wanted(tp)
        if w is None:
            continue
        out[name] = Need(w[0], w[1], _subject_column(tp, w), {c.name: c.in_type for c in tp.columns},
                         {c.name: {"op": c.op, "params": c.params} for c in tp.columns
                          if c.name in w[0] and not c.operator.keeps_value})
    return dict(sorted(out.items(), key=lambda kv: plan.tables[kv[0]].privacy.inherited_from is not None))


def enforce(plan: Plan, dataset: Dataset, batch_rows: int = BATCH_ROWS) -> dict[str, dict[str, Any]]:
    """Choose the levels of every table with privacy k/l and rewrite its plan (module doc); returns
    each such table's report section. The counting is this process's (the Spark engine counts with
    Spark aggregations: veil.spark.privacy); the choice is :func:`decide`'s."""
    wanted = needs(plan)
    if not wanted:
        return {}
    counters = {name: Counter(need.columns) for name, need in wanted.items()}

    def add(name: str, batch: pa.Table) -> None:
        counters[name].add(wanted[name].based(batch, name))

    starts: dict[str, int] = {}

    def counted(name: str, batch: pa.Table) -> pa.Table:
        """The batch's rows in the run's subset (veil.subset), if it has one: k is for what is written."""
        start = starts.get(name, 0)
        starts[name] = start + batch.num_rows
        kept = plan.subset.get(name) if plan.subset is not None else None
        return batch if kept is None else batch.filter(pa.array(positions_in(kept, start, batch.num_rows)))

    if isinstance(dataset, DumpDataset):
        for table, n, values in read_rows(dataset.dump, None, batch_rows, tables=set(counters)):
            if table in counters and values is not None:
                values = counted(table, values)
                add(table, _typed(values, counters[table].columns, wanted[table].types, table,
                                  str(dataset.dump.path)))
            elif table in counters:
                starts[table] = starts.get(table, 0) + n
    else:
        for name, counter in counters.items():
            table = dataset.table(name)
            assert table is not None
            for batch in column_batches(table, counter.columns, batch_rows):
                add(name, counted(name, batch))
    combos = {name: counters[name].table(wanted[name].types) for name in wanted}
    # a NOT NULL column cannot take a suppressed value's null (a dump's DDL; a Parquet field)
    return decide(plan, wanted, combos, {name: dataset.not_null(name) for name in wanted})


def decide(plan: Plan, wanted: dict[str, Need], combos: dict[str, pa.Table],
           not_null: dict[str, set[str]]) -> dict[str, dict[str, Any]]:
    """The lattice search over each table's counts (``combos``: one row per distinct combination of
    ``Need.columns`` and its count, veil.privacy.search.COUNT), in ``wanted``'s order, and the plan
    rewritten: each quasi-identifier gets operator ``k_anonymity`` with the choice. ``not_null``:
    per table, the columns that may not hold NULL (a suppressed value takes a placeholder)."""
    reports = {}
    for name, need in wanted.items():
        qis, sens = need.qis, need.sensitive
        tplan = plan.tables[name]
        p = tplan.privacy
        assert p is not None
        bases = dict(need.bases)
        table_combos = combos[name]
        floors: dict[str, str] = {}
        if p.inherited_from is not None:
            table_combos, floors = _floor(plan, name, qis, bases, table_combos)
        try:
            result = search(table_combos, qis, p.k or 1, max_suppression=p.max_suppression or 0.0,
                            sensitive=sens, l=p.l, subject=need.subject)
        except Infeasible as exc:
            raise ProfileError(problems=[_Problem(f"table {name}: k-anonymity cannot be reached: {exc}", p.path, None,
                                         "lower privacy.k (or l), or declare fewer quasi-identifiers")]) from None
        fill = {c.name: v for c in tplan.columns if c.name in qis and c.name in not_null.get(name, ())
                and (v := placeholder(c.out_type)) is not None}
        params = {"levels": result.levels, "qis": qis, "suppressed": result.suppressed_keys,
                  "base": bases or None, "fill": fill or None}
        # blank text is a value like any other here: the first pass counted it as one
        tplan.columns = [replace(c, op="k_anonymity", params=params, blank="transform") if c.name in qis else c
                         for c in tplan.columns]
        if p.inherited_from is not None:
            result.report["inherited_from"] = p.inherited_from
            result.report["floors"] = floors
        tplan.privacy_report = result.report
        reports[name] = result.report
    return reports


def _floor(plan: Plan, name: str, qis: list[str], bases: dict[str, dict], combos: pa.Table
           ) -> tuple[pa.Table, dict[str, str]]:
    """A table inheriting its subject table's privacy: each inherited quasi-identifier it keeps (of
    the subject table's type) starts at the level the subject table chose, so joined through the
    subject key it is never finer (its ``base`` becomes that level; the counts are generalized
    the same way). Returns the counts and, per quasi-identifier, the level it starts from."""
    parent = plan.tables[plan.tables[name].privacy.inherited_from]
    chosen = {c.name: c for c in parent.columns if c.op == "k_anonymity"}
    mine = {c.name: c for c in plan.tables[name].columns}
    floors: dict[str, str] = {}
    for q in qis:
        pc_ = chosen.get(q)
        if pc_ is None or not mine[q].operator.keeps_value or mine[q].in_type != pc_.in_type:
            continue
        pbase = (pc_.params.get("base") or {}).get(q)
        spec = pc_.params["levels"][q]
        bases[q] = {"op": "k_anonymity", "params": {"levels": {q: spec}, "qis": [q],
                                                    "base": {q: pbase} if pbase else None}}
        i = combos.column_names.index(q)
        combos = combos.set_column(i, q, base_output(combos.column(q).combine_chunks(), bases[q], name, q))
        floors[q] = spec["name"]
    return combos, floors


def column_batches(table, columns: list[str], batch_rows: int):
    """The columns of a table of files: a Parquet file (or a directory of part files, Hive folders
    as columns, veil.formats.partitions) read for them alone."""
    if table.format == "parquet":
        if table.path.is_dir():
            import pyarrow.dataset as ds  # (here: it imports pandas)

            parts = ds.dataset(table.path, format="parquet", ignore_prefixes=[".", "_"],
                               partitioning="hive" if table.options.get("partitioning") else None)
            batches = parts.to_batches(columns=columns, batch_size=max(batch_rows, PARQUET_BATCH_ROWS))
        else:
            batches = pq.ParquetFile(table.path).iter_batches(max(batch_rows, PARQUET_BATCH_ROWS), columns=columns)
        for b in batches:
            yield pa.table([b.column(c).cast(table.schema.field(c).type) for c in columns], names=columns)
        return
    for b in table.batches(batch_rows):
        yield pa.table([b.column(c) for c in columns], names=columns)


def _typed(values: pa.Table, columns: list[str], types: dict[str, pa.DataType], table: str, file: str) -> pa.Table:
    """A dump's text values typed as the run types them (a bad value is named by column, never shown)."""
    arrays = []
    for c in columns:
        col = values.column(c).combine_chunks()
        to = types[c]
        if col.type != to:
            try:
                col = pc.cast(col, to)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise InputError(f"a value is not a valid {to} in a quasi-identifier column", file=file,
                                 table=table, column=c, hint="fix the value, or leave the column out of "
                                 "privacy.quasi_identifiers") from None
        arrays.append(col)
    return pa.table(arrays, names=columns)
