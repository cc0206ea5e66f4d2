"""Run a plan: stream each table's batches through its operators, write atomically.

The pipeline is a plain function with explicit arguments. Batches are
transformed in worker processes (``workers`` > 1) with a bounded window of
batches in flight, so memory stays bounded and output order equals input
order. Nothing reaches the target path unless every table succeeded.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import __version__
from .dataset import Dataset, Table
from .errors import InputError, IntegrityError, VeilError
from .formats import FORMATS
from .keys import KeyProvider
from .ops import OPERATORS, OpContext
from .output import AtomicOutput
from .plan import Plan, TablePlan

Progress = Callable[[str, int], None]


@dataclass
class ColumnStats:
    transformed: int = 0
    nulls: int = 0


@dataclass
class TableResult:
    name: str
    rows_in: int = 0
    rows_out: int = 0
    seconds: float = 0.0
    columns: dict[str, ColumnStats] = field(default_factory=dict)


def transform_batch(tplan: TablePlan, batch: pa.RecordBatch, keys: KeyProvider | None,
                    row_offset: int) -> tuple[pa.RecordBatch, dict[str, tuple[int, int]]]:
    """Apply a table's plan to one batch; returns the new batch and per-column counts."""
    arrays, fields, stats = [], [], {}
    for c in tplan.columns:
        arr = batch.column(c.name)
        nulls = arr.null_count
        stats[c.name] = (0 if c.op == "keep" else len(arr) - nulls, nulls)
        if c.dropped:
            continue
        if c.op != "keep":
            ctx = OpContext(keys, c.domain or "", c.params, tplan.name, c.name, batch, row_offset,
                            c.key_version)
            arr = OPERATORS[c.op].apply(arr, ctx)
            if arr.type != c.out_type:
                arr = arr.cast(c.out_type)
        arrays.append(arr)
        fields.append(batch.schema.field(c.name).with_type(c.out_type))
    schema = pa.schema(fields, metadata=_metadata(batch.schema, tplan))
    return pa.RecordBatch.from_arrays(arrays, schema=schema), stats


def _metadata(schema: pa.Schema, tplan: TablePlan) -> dict | None:
    meta = dict(schema.metadata or {})
    changed = any(c.dropped or c.in_type != c.out_type for c in tplan.columns)
    if changed:
        meta.pop(b"pandas", None)  # pandas' column list would no longer match
    return meta or None


# -- worker processes ------------------------------------------------------

_WORKER_KEYS: KeyProvider | None = None


def _worker_init(keys: KeyProvider | None) -> None:
    global _WORKER_KEYS
    _WORKER_KEYS = keys


def _worker_run(tplan: TablePlan, batch: pa.RecordBatch, offset: int):
    return transform_batch(tplan, batch, _WORKER_KEYS, offset)


class _Engine:
    """In-process for small inputs; a process pool once a table has several batches."""

    def __init__(self, keys: KeyProvider | None, workers: int):
        self.keys = keys
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None

    def submit(self, tplan: TablePlan, batch: pa.RecordBatch, offset: int, parallel: bool) -> Future:
        if parallel and self.workers > 1:
            if self.pool is None:
                self.pool = ProcessPoolExecutor(self.workers, mp_context=get_context("forkserver"),
                                                initializer=_worker_init, initargs=(self.keys,))
            return self.pool.submit(_worker_run, tplan, batch, offset)
        fut: Future = Future()
        try:
            fut.set_result(transform_batch(tplan, batch, self.keys, offset))
        except BaseException as exc:  # delivered through the future like a worker's error
            fut.set_exception(exc)
        return fut

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


# -- the run ---------------------------------------------------------------

@dataclass
class RunResult:
    tables: list[TableResult]
    output: Path
    started: str
    seconds: float
    key_version: str | None


def _check_paths(dataset: Dataset, out: Path) -> None:
    src, dst = dataset.root.resolve(), out.resolve()
    if src == dst or src in dst.parents or (dataset.is_dir and dst in src.parents):
        raise InputError("the output must not be the input, inside it, or contain it",
                         file=str(out), hint="choose an output path outside the input")


def output_name(table: Table, fmt: str | None) -> str:
    if fmt is None or fmt == table.format:
        return table.path.name
    return table.name + FORMATS[fmt].extensions[0]


def run_plan(plan: Plan, dataset: Dataset, out: Path, keys: KeyProvider | None, *,
             fmt: str | None = None, batch_size: int = 65_536, workers: int = 1,
             progress: Progress | None = None) -> RunResult:
    """Transform every table of ``dataset`` into ``out`` (a directory, or a file for one-file input)."""
    out = Path(out)
    if not dataset.is_dir and out.is_dir():
        out = out / output_name(dataset.tables[0], fmt)
    _check_paths(dataset, out)
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.perf_counter()
    engine = _Engine(keys, workers)
    results: list[TableResult] = []
    try:
        with AtomicOutput(out, dataset.is_dir) as target:
            for table in dataset.tables:
                name = output_name(table, fmt)
                results.append(_run_table(plan.tables[table.name], table, target.path_for(name),
                                          FORMATS[fmt or table.format], engine, batch_size, progress))
            engine.close()
            target.commit(None if dataset.is_dir else output_name(dataset.tables[0], fmt))
    finally:
        engine.close()
    return RunResult(results, out, started, time.perf_counter() - t0, plan.key_version)


def _run_table(tplan: TablePlan, table: Table, path: Path, fmt, engine: _Engine, batch_size: int,
               progress: Progress | None) -> TableResult:
    t0 = time.perf_counter()
    res = TableResult(table.name, columns={c.name: ColumnStats() for c in tplan.columns})
    checked = [c.name for c in tplan.columns if c.check_unique]
    seen_in: dict[str, list[pa.Array]] = {c: [] for c in checked}
    seen_out: dict[str, list[pa.Array]] = {c: [] for c in checked}
    writer = fmt.writer(path, tplan.out_schema, table)
    window = max(2, engine.workers * 2)
    pending: deque[tuple[Future, pa.RecordBatch]] = deque()
    parallel = table.num_rows is None or table.num_rows > batch_size

    def consume() -> None:
        fut, batch = pending.popleft()
        try:
            out_batch, stats = fut.result()
        except VeilError as err:
            err.file = err.file or str(table.path)
            raise
        for c in checked:
            seen_in[c].append(pc.unique(batch.column(c)))
            seen_out[c].append(pc.unique(out_batch.column(c)))
        for cname, (transformed, nulls) in stats.items():
            res.columns[cname].transformed += transformed
            res.columns[cname].nulls += nulls
        res.rows_out += out_batch.num_rows
        writer.write(out_batch)
        if progress:
            progress(table.name, out_batch.num_rows)

    try:
        offset = 0
        for batch in _located(table.batches(batch_size), table):
            pending.append((engine.submit(tplan, batch, offset, parallel), batch))
            offset += batch.num_rows
            res.rows_in += batch.num_rows
            while len(pending) >= window:
                consume()
        while pending:
            consume()
        for c in checked:
            n_in = pc.count_distinct(pc.unique(pa.chunked_array(seen_in[c]))).as_py() if seen_in[c] else 0
            n_out = pc.count_distinct(pc.unique(pa.chunked_array(seen_out[c]))).as_py() if seen_out[c] else 0
            if n_out < n_in:
                raise IntegrityError(
                    f"{n_in - n_out} distinct value(s) got the same pseudonym as another in a key column",
                    table=table.name, column=c, hint="use a longer token (length: 24 or more)")
    finally:
        writer.close()
        for fut, _ in pending:
            fut.cancel()
    res.seconds = time.perf_counter() - t0
    return res


def _located(batches, table: Table):
    """Name the table's file on errors raised while reading it."""
    try:
        yield from batches
    except VeilError as err:
        err.file = err.file or str(table.path)
        raise


def report_dict(result: RunResult, plan: Plan, *, input_path: Path, profile_path: str | None,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON run report: counts, operators, domains, key versions, timings; never data."""
    tables = {}
    for tr in result.tables:
        tplan = plan.tables[tr.name]
        tables[tr.name] = {
            "rows_in": tr.rows_in,
            "rows_out": tr.rows_out,
            "seconds": round(tr.seconds, 4),
            "columns": {
                c.name: {
                    "op": c.op,
                    "domain": c.domain,
                    "key_version": c.key_version,
                    "source": c.source,
                    "transformed": tr.columns[c.name].transformed,
                    "nulls": tr.columns[c.name].nulls,
                }
                for c in tplan.columns
            },
        }
    doc = {
        "veil_version": __version__,
        "started": result.started,
        "seconds": round(result.seconds, 4),
        "input": str(input_path),
        "output": str(result.output),
        "profile": profile_path,
        "key_version": result.key_version,
        "totals": {
            "tables": len(result.tables),
            "rows_in": sum(t.rows_in for t in result.tables),
            "rows_out": sum(t.rows_out for t in result.tables),
        },
        "tables": tables,
    }
    if extra:
        doc.update(extra)
    return doc
