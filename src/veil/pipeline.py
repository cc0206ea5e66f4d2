"""Run a plan: stream each table's batches through its operators, write atomically.

The pipeline is a plain function with explicit arguments. Batches are
transformed in worker processes (``workers`` > 1) with a bounded window of
batches in flight, so memory stays bounded and output order equals input
order. Nothing reaches the target path unless every table succeeded.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import select
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import __version__
from .dataset import Dataset, Table
from .errors import InputError, IntegrityError, VeilError
from .formats import FORMATS
from .keys import KeyProvider
from .ops import OPERATORS, OpContext
from .ops.arrays import as_text, canonical
from .ops.registry import Distinct
from .output import AtomicOutput
from .plan import Plan, TablePlan
from .vault import PLAIN_SCHEMA, KeySet, Vault, binary16, blind_array, blind_key, context_keys, encrypt_records, rows16

Progress = Callable[[str, int], None]
Prepare = Callable[[TablePlan, pa.RecordBatch, int], pa.RecordBatch]


@dataclass
class ColumnStats:
    transformed: int = 0
    nulls: int = 0


@dataclass
class TableResult:
    name: str
    rows_in: int = 0
    rows_out: int = 0
    rows_forgotten: int = 0  # rows of forgotten subjects
    rows_dropped_by_reference: int = 0  # rows referencing dropped rows through a foreign key
    vault_records: int = 0
    seconds: float = 0.0
    columns: dict[str, ColumnStats] = field(default_factory=dict)


@dataclass
class RunContext:
    """What every worker needs besides the plan: keys and the forget lists (blind indexes)."""

    keys: KeyProvider | None
    forgotten: dict[str, frozenset[bytes]] = field(default_factory=dict)
    vault: bool = False


@dataclass
class BatchResult:
    batch: pa.RecordBatch
    stats: dict[str, tuple[int, int]]
    forgotten: int = 0
    by_reference: int = 0
    vault: list[VaultPart] = field(default_factory=list)
    contexts: dict[str, np.ndarray] = field(default_factory=dict)  # the vault contexts' keys, (rows, 16)
    subjects: pa.Array | None = None  # each row's subject blind index, when the vault has parts
    dropped_keys: dict[tuple[str, ...], set[tuple]] = field(default_factory=dict)
    kept: pa.Array | None = None  # row mask when rows were dropped


_text = as_text


def _drop_mask(tplan: TablePlan, batch: pa.RecordBatch, run: RunContext,
               subjects: pa.Array | None) -> tuple[np.ndarray, int, int]:
    """Rows to drop: forgotten subjects (``subjects``: each row's subject blind index), and rows
    referencing dropped parent rows."""
    n = batch.num_rows
    forgotten = np.zeros(n, dtype=bool)
    subj = tplan.subject
    blinds = run.forgotten.get(subj.domain) if subj else None
    if subj and blinds and subjects is not None:
        hit = pc.is_in(subjects, value_set=pa.array(sorted(blinds), pa.binary(16)))
        forgotten = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    by_ref = np.zeros(n, dtype=bool)
    for cols, values in tplan.drop_refs:
        if len(cols) == 1:
            hit = pc.is_in(_text(batch.column(cols[0])), value_set=pa.array([v[0] for v in values], pa.string()))
            by_ref |= pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
        else:
            texts = [_text(batch.column(c)).to_pylist() for c in cols]
            by_ref |= np.array([tuple(t) in values for t in zip(*texts, strict=True)], dtype=bool)
    by_ref &= ~forgotten
    return forgotten | by_ref, int(forgotten.sum()), int(by_ref.sum())


@dataclass
class VaultPart:
    """One reversible column's vault records in one batch, as a worker sends them: which rows of the
    batch (less its dropped rows) hold a record, and those records' blind indexes. The main process
    holds the batch's input and output, so the rest of each record (pseudonym, context, original,
    dedup key, subject) is taken from there (:func:`vault_records`), not sent through the pipe."""
    column: str
    domain: str
    version: str
    rows: np.ndarray | None  # int32: the row of each record; None: a record for every row, in order
    blinds: np.ndarray  # (records, 16) uint8
    context: str | None  # the output column whose text is each record's context (None: no context)


def _vault_part(c, inp: pa.Array, out: pa.Array, context: RowContext | None, subject: pa.Array | None,
                run: RunContext, distinct: Distinct | None = None) -> VaultPart | None:
    """The records of a column's distinct values (:class:`VaultPart`); ``context`` is the rows' contexts
    with their keys (``context_keys``), ``distinct`` what the operator saw of the column (its blind
    indexes are reused; without it they are computed here).

    One record per distinct original when there is neither context nor subject (the pseudonym is a
    function of the original), one per row when every row has a context of its own (a primary key),
    else one per distinct (pseudonym, context, original, subject).
    """
    rows = None
    if inp.null_count:
        valid = pc.is_valid(inp)
        rows = np.flatnonzero(valid.to_numpy(zero_copy_only=False))
        inp, out = inp.filter(valid), out.filter(valid)
        context = context.filter(valid) if context is not None else None
        subject = subject.filter(valid) if subject is not None else None
        distinct = distinct.filter(valid) if distinct is not None else None
    if len(inp) == 0:
        return None
    n = len(inp)
    index = distinct.indices.to_numpy(zero_copy_only=False) if distinct is not None else None
    pick: np.ndarray | None
    if context is None and subject is None:
        if index is None:
            orig = canonical(inp).cast(pa.binary())
            pick = np.unique(pc.dictionary_encode(orig).indices.to_numpy(zero_copy_only=False), return_index=True)[1]
            blinds = rows16(blind_array(blind_key(run.keys, c.domain), orig.take(pa.array(pick))))
        else:
            row = np.full(len(distinct.values), -1, np.int64)
            row[index] = np.arange(n)  # a row of each distinct value (any: they all have its pseudonym)
            present = np.flatnonzero(row >= 0)  # values only in rows the run drops (forgotten subjects) are not
            pick, blinds = row[present], distinct.blinds[present]
    else:
        orig = None if index is not None else canonical(inp).cast(pa.binary())
        if orig is None:
            blinds = distinct.blinds[index]
        else:
            blinds = rows16(blind_array(blind_key(run.keys, c.domain), orig))
        if context is not None and context.unique:
            pick = None  # one context per row (a primary key), so every row is a distinct record
        else:
            if orig is None:
                orig = canonical(inp).cast(pa.binary())
            columns = {"p": _text(out), "o": orig, "i": pa.array(np.arange(n))}
            if context is not None:
                columns["c"] = context.text
            if subject is not None:
                columns["s"] = subject
            grouped = pa.table(columns).group_by([k for k in columns if k != "i"]).aggregate([("i", "min")])
            pick = np.sort(grouped.column("i_min").to_numpy())
            blinds = blinds[pick]
    if pick is not None:
        rows = pick if rows is None else rows[pick]
    return VaultPart(c.name, c.domain, c.key_version, None if rows is None else rows.astype(np.int32),
                     np.ascontiguousarray(blinds), c.vault_context if context is not None else None)


def _empty_texts(n: int) -> pa.Array:
    return pa.StringArray.from_buffers(n, pa.py_buffer(np.zeros(n + 1, np.int32)), pa.py_buffer(b""))


Select = Callable[[str, str, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def vault_records(parts: list[VaultPart], inp: pa.RecordBatch, out: pa.RecordBatch, contexts: dict[str, np.ndarray],
                  subjects: pa.Array | None, select: Select | None = None) -> list[tuple[str, str, pa.RecordBatch]]:
    """(domain, version, plain records) of a batch's vault parts, built in the main process from the
    batch's input ``inp`` and output ``out`` (both less the dropped rows), the keys of its contexts
    and its rows' subjects (as the worker sent them).

    ``select(domain, version, keys, linked, no_context)`` (``Vault.fresh``) is given each part's
    dedup keys first, and only the records it keeps are built.
    """
    texts: dict[str, pa.Array] = {}
    linked_rows = None if subjects is None else pc.is_valid(subjects).to_numpy(zero_copy_only=False)
    items = []
    for part in parts:
        rows, blinds, m = part.rows, part.blinds, len(part.blinds)
        ctx_keys = None
        if part.context is not None:
            ctx_keys = contexts[part.context] if rows is None else contexts[part.context][rows]
        keys = blinds if ctx_keys is None else blinds ^ ctx_keys  # the dedup key: (original, context)
        if linked_rows is None:
            linked = np.zeros(m, bool)
        else:
            linked = linked_rows if rows is None else linked_rows[rows]
        if select is not None:
            if ctx_keys is None:
                no_context = np.ones(m, bool)
            else:  # the empty context's key is 0
                halves = ctx_keys.view(np.uint64)
                no_context = (halves[:, 0] | halves[:, 1]) == 0
            keep = select(part.domain, part.version, keys, linked, no_context)
            if not keep.any():
                continue
            if not keep.all():
                sel = np.flatnonzero(keep)
                rows = sel if rows is None else rows[sel]
                blinds, keys, m = blinds[sel], keys[sel], len(sel)
        at_rows = None if rows is None else pa.array(rows)

        def at(arr: pa.Array, at_rows=at_rows) -> pa.Array:
            return arr if at_rows is None else arr.take(at_rows)

        if part.context is not None:
            if part.context not in texts:
                texts[part.context] = pc.fill_null(_text(out.column(part.context)), "")
            ctx = at(texts[part.context])
        else:
            ctx = _empty_texts(m)
        items.append((part.domain, part.version, pa.RecordBatch.from_arrays([
            _text(at(out.column(part.column))), ctx, canonical(at(inp.column(part.column))).cast(pa.binary()),
            binary16(blinds), binary16(keys), at(subjects) if subjects is not None else pa.nulls(m, pa.binary(16))],
            schema=PLAIN_SCHEMA)))
    return items


@dataclass
class RowContext:
    """A batch's vault contexts (its primary-key output, as text), their keys, and whether
    they are all different (no record then repeats another)."""
    text: pa.Array
    key: pa.Array
    unique: bool

    @classmethod
    def of(cls, keys: KeyProvider, column: pa.Array) -> RowContext:
        text = pc.fill_null(_text(column), "")
        key = context_keys(keys, text)
        return cls(text, key, _all_different(key))

    def filter(self, mask: pa.Array) -> RowContext:
        return RowContext(self.text.filter(mask), self.key.filter(mask), self.unique)


def _all_different(keys: pa.Array) -> bool:
    """Whether 16-byte keys are all different: their first halves, sorted (a fast sort of integers,
    where Arrow's count_distinct of the contexts' text costs several times more), and both halves
    only when first halves repeat."""
    hi, lo = KeySet.halves(keys)
    first = np.sort(hi)
    if not (first[1:] == first[:-1]).any():
        return True
    return len(np.unique(np.stack([hi, lo], axis=1), axis=0)) == len(hi)


def _subject_blinds(tplan: TablePlan, batch: pa.RecordBatch, run: RunContext,
                    seen: dict[str, Distinct]) -> pa.Array | None:
    """Per row: the blind index of the row's subject, null where it is null (None for tables without
    a subject). When the subject column's operator ran in the subject's domain, its own blind
    indexes (``seen``) are those: they are taken, not hashed again."""
    subj = tplan.subject
    if subj is None:
        return None
    col = batch.column(subj.column)
    if col.null_count == len(col):
        return pa.nulls(len(col), pa.binary(16))
    distinct = seen.get(subj.column)
    if distinct is not None and any(c.name == subj.column and c.domain == subj.domain for c in tplan.columns):
        return binary16(distinct.blinds).take(distinct.indices)
    return blind_array(blind_key(run.keys, subj.domain), canonical(col))


def transform_batch(tplan: TablePlan, batch: pa.RecordBatch, run: RunContext | KeyProvider | None,
                    row_offset: int) -> BatchResult:
    """Apply a table's plan to one batch: transform, drop forgotten rows, collect vault records."""
    if not isinstance(run, RunContext):
        run = RunContext(run)
    arrays, stats = [], {}
    seen: dict[str, Distinct] = {}  # a keyed column's distinct values and their blind indexes, for the vault
    for c in tplan.columns:
        arr = batch.column(c.name)
        nulls = arr.null_count
        stats[c.name] = (0 if c.op == "keep" else len(arr) - nulls, nulls)
        if c.dropped:
            continue
        if c.op != "keep":
            ctx = OpContext(run.keys, c.domain or "", c.params, tplan.name, c.name, batch, row_offset,
                            c.key_version)
            arr = OPERATORS[c.op].apply(arr, ctx)
            if ctx.distinct is not None:
                seen[c.name] = ctx.distinct
            if arr.type != c.out_type:
                arr = arr.cast(c.out_type)
        arrays.append(arr)
    out = pa.RecordBatch.from_arrays(arrays, schema=tplan.out_schema)
    res = BatchResult(out, stats)
    forgetting = bool(tplan.subject and run.forgotten.get(tplan.subject.domain))
    recording = run.vault and any(c.reversible for c in tplan.columns)
    # each row's subject blind index, once: to drop forgotten subjects, and linked to vault records
    subjects = _subject_blinds(tplan, batch, run, seen) if forgetting or recording else None
    if forgetting or tplan.drop_refs:
        drop, res.forgotten, res.by_reference = _drop_mask(tplan, batch, run, subjects)
        if drop.any():
            dropped = batch.filter(pa.array(drop))
            for cols in tplan.referenced:
                texts = [_text(dropped.column(c)).to_pylist() for c in cols]
                res.dropped_keys[cols] = set(zip(*texts, strict=True))
            res.kept = pa.array(~drop)
            batch, res.batch = batch.filter(res.kept), out.filter(res.kept)
            subjects = subjects.filter(res.kept) if subjects is not None else None
    if recording:
        contexts: dict[str, RowContext] = {}  # computed once per row, for every column
        for c in tplan.columns:
            if c.reversible and not c.dropped:
                context = None
                if c.vault_context:
                    if c.vault_context not in contexts:
                        contexts[c.vault_context] = RowContext.of(run.keys, res.batch.column(c.vault_context))
                    context = contexts[c.vault_context]
                distinct = seen.get(c.name)
                if distinct is not None and res.kept is not None:
                    distinct = distinct.filter(res.kept)
                part = _vault_part(c, batch.column(c.name), res.batch.column(c.name), context, subjects, run,
                                   distinct)
                if part is not None:
                    res.vault.append(part)
        res.contexts = {name: rows16(context.key) for name, context in contexts.items()}
        res.subjects = subjects if res.vault else None
    return res


# -- worker processes ------------------------------------------------------

_WORKER_RUN: RunContext | None = None


def run_context(plan: Plan, keys: KeyProvider | None, vault: Vault | None) -> RunContext:
    """What the workers of one run need: keys, forget lists, and how to write vault records."""
    run = RunContext(keys, vault=vault is not None)
    if vault is not None:
        domains = {t.subject.domain for t in plan.tables.values() if t.subject}
        run.forgotten = {d: frozenset(vault.forgotten(d)) for d in domains}
    return run


_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Make this worker exit when the process that started the pool (``parent``) dies.

    A pool worker is a child of the forkserver, not of the run, and blocks on a queue whose
    write end it holds itself: killed runs (kill -9) used to leave every worker alive, and with
    them the forkserver and the resource tracker (each worker holds their pipes open). So:
    the kernel kills the worker when its own parent (the forkserver) dies (PR_SET_PDEATHSIG), and
    a daemon thread waits on a pidfd of ``parent`` and ends the worker when it exits (polling
    where pidfds are missing). Once the workers are gone the forkserver and the resource
    tracker read end-of-file on their pipes and exit by themselves.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        fd = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)  # the run is already gone
    except (OSError, AttributeError):
        fd = None

    def watch() -> None:
        if fd is not None:
            select.select([fd], [], [])  # readable once the process has exited
        else:
            while _alive(parent):
                time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="veil-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _worker_init(run: RunContext, parent: int | None = None) -> None:
    global _WORKER_RUN
    if parent is not None:
        _die_with(parent)
    _WORKER_RUN = run


def _worker_run(tplan: TablePlan, batch: pa.RecordBatch, offset: int) -> BatchResult:
    return transform_batch(tplan, batch, _WORKER_RUN, offset)


class _Engine:
    """In-process for small inputs; a process pool once a table has several batches."""

    def __init__(self, run: RunContext, workers: int):
        self.run = run
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None

    def submit(self, tplan: TablePlan, batch: pa.RecordBatch, offset: int, parallel: bool) -> Future:
        if parallel and self.workers > 1:
            if self.pool is None:
                self.pool = ProcessPoolExecutor(self.workers, mp_context=get_context("forkserver"),
                                                initializer=_worker_init, initargs=(self.run, os.getpid()))
            return self.pool.submit(_worker_run, tplan, batch, offset)
        fut: Future = Future()
        try:
            fut.set_result(transform_batch(tplan, batch, self.run, offset))
        except BaseException as exc:  # delivered through the future like a worker's error
            fut.set_exception(exc)
        return fut

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


# -- what both runners (files here, SQL dumps in formats.dump.run) do with a batch result ----

def drop_refs_for(tplan: TablePlan, dropped: dict[str, dict[tuple[str, ...], set[tuple]]]) -> list:
    """The parent keys dropped so far that this table's foreign keys point at."""
    return [
        (tuple(fk.columns), frozenset(dropped[fk.ref_table][tuple(fk.ref_columns)]))
        for fk in tplan.foreign_keys
        if dropped.get(fk.ref_table, {}).get(tuple(fk.ref_columns))
    ]


def absorb(res: TableResult, r: BatchResult, dropped: dict[tuple[str, ...], set[tuple]]) -> None:
    """Add one batch's counts, statistics and dropped keys to its table's result."""
    res.rows_forgotten += r.forgotten
    res.rows_dropped_by_reference += r.by_reference
    res.rows_out += r.batch.num_rows
    for cols, keys in r.dropped_keys.items():
        dropped.setdefault(cols, set()).update(keys)
    for cname, (transformed, nulls) in r.stats.items():
        res.columns[cname].transformed += transformed
        res.columns[cname].nulls += nulls


class KeyCheck:
    """Key columns whose operator is injective only with high probability: no two distinct
    inputs may share an output (checked on the distinct values, once the table is done)."""

    def __init__(self, tplan: TablePlan):
        self.table = tplan.name
        self.seen: dict[str, tuple[list[pa.Array], list[pa.Array]]] = {
            c.name: ([], []) for c in tplan.columns if c.check_unique}

    def add(self, inp: pa.RecordBatch, out: pa.RecordBatch) -> None:
        for c, (ins, outs) in self.seen.items():
            ins.append(pc.unique(inp.column(c)))
            outs.append(pc.unique(out.column(c)))

    def verify(self) -> None:
        for c, (ins, outs) in self.seen.items():
            n_in = pc.count_distinct(pa.chunked_array(ins)).as_py() if ins else 0
            n_out = pc.count_distinct(pa.chunked_array(outs)).as_py() if outs else 0
            if n_out < n_in:
                raise IntegrityError(
                    f"{n_in - n_out} distinct value(s) got the same pseudonym as another in a key column",
                    table=self.table, column=c, hint="use a longer token (length: 24 or more)")


RESERVE_KEYS = 1 << 20  # at most this much room made at once (36 MB of table): a column may repeat


class VaultWriter:
    """Vault records of batch results: deduplicated against the vault, sealed (a few AES-GCM calls
    per thousand records) and queued for storage, here in the main process."""

    def __init__(self, vault: Vault, keys: KeyProvider):
        self.vault, self.keys = vault, keys

    def preload(self, pairs: list[tuple[str, str]], rows: int | None = None,
                growing: set[tuple[str, str]] | frozenset = frozenset()) -> None:
        """Read the keys the vault holds for these (domain, version) pairs now, rather than when
        their first records arrive; for the ``growing`` pairs (records without a context, which
        the run adds to what it checks), make room for ``rows`` more keys (up to RESERVE_KEYS) at once."""
        for pair in dict.fromkeys(pairs):
            held = self.vault.held(*pair)
            if rows and pair in growing:
                held.reserve(min(rows, RESERVE_KEYS))

    def add(self, res: TableResult, r: BatchResult, inp: pa.RecordBatch) -> None:
        """Store the new records of a batch result; ``inp``: the batch's input, less the rows it dropped."""
        for domain, version, new in vault_records(r.vault, inp, r.batch, r.contexts, r.subjects, self.vault.fresh):
            res.vault_records += self.vault.store(domain, version, encrypt_records(self.keys, domain, version, new))


# -- the run ---------------------------------------------------------------

@dataclass
class RunResult:
    tables: list[TableResult]
    output: Path
    started: str
    seconds: float
    key_version: str | None
    vault_records: int = 0
    forget_applied: bool = False


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
             progress: Progress | None = None, vault: Vault | None = None,
             prepare: Prepare | None = None) -> RunResult:
    """Transform every table of ``dataset`` into ``out`` (a directory, or a file for one-file input).

    With a ``vault``, reversible columns write their (pseudonym -> original)
    records, and rows of forgotten subjects (and rows referencing them) are
    dropped. ``prepare`` rewrites each input batch first (re-keying uses it).
    """
    if dataset.dump is not None:
        if prepare is not None:
            raise InputError("re-keying a SQL dump is not supported yet", file=str(dataset.root),
                             hint="re-key a Parquet or CSV output (veil run --format parquet)")
        from .formats.dump.run import run_dump

        return run_dump(plan, dataset, Path(out), keys, fmt=fmt, batch_size=batch_size, workers=workers,
                        progress=progress, vault=vault)
    out = Path(out)
    if not dataset.is_dir and out.is_dir():
        out = out / output_name(dataset.tables[0], fmt)
    _check_paths(dataset, out)
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.perf_counter()
    run = run_context(plan, keys, vault)
    engine = _Engine(run, workers)
    results: dict[str, TableResult] = {}
    dropped: dict[str, dict[tuple[str, ...], set[tuple]]] = {}
    by_name = {t.name: t for t in dataset.tables}
    try:
        with AtomicOutput(out, dataset.is_dir) as target:
            for name in plan.order():
                table, tplan = by_name[name], plan.tables[name]
                tplan.drop_refs = drop_refs_for(tplan, dropped)
                results[name] = _run_table(tplan, table, target.path_for(output_name(table, fmt)),
                                           FORMATS[fmt or table.format], engine, batch_size, progress, vault,
                                           dropped.setdefault(name, {}), prepare)
            engine.close()
            if vault is not None:
                vault.commit()  # before the output appears: every new pseudonym is reversible
            target.commit(None if dataset.is_dir else output_name(dataset.tables[0], fmt))
    except BaseException:
        if vault is not None:
            vault.rollback()
        raise
    finally:
        engine.close()
    ordered = [results[t.name] for t in dataset.tables]
    return RunResult(ordered, out, started, time.perf_counter() - t0, plan.key_version,
                     sum(r.vault_records for r in ordered), bool(run.forgotten))


SCRUB_BATCH = 2048  # rows per batch in tables with a scrub column


class BackgroundWriter:
    """A format's writer run in a thread of its own: Arrow's Parquet and CSV writers release the GIL
    while they encode, compress and write, so the main process meanwhile takes the next results
    and, with a vault, seals and stores records. Batches are written in order; at most ``depth``
    wait. An error of the writer is raised by the next ``write`` or by ``close``."""

    def __init__(self, writer, depth: int = 4):
        self._writer = writer
        self._queue: queue.Queue = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="veil-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write(batch)
                except BaseException as exc:  # handed to the main thread
                    self._error = exc

    def write(self, batch: pa.RecordBatch) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(batch)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        try:
            if self._error is not None:
                raise self._error
        finally:
            self._writer.close()


def _run_table(tplan: TablePlan, table: Table, path: Path, fmt, engine: _Engine, batch_size: int,
               progress: Progress | None, vault: Vault | None, dropped: dict[tuple[str, ...], set[tuple]],
               prepare: Prepare | None) -> TableResult:
    t0 = time.perf_counter()
    if any(c.op == "scrub" for c in tplan.columns):
        # scrub costs milliseconds per distinct text: small batches keep every worker busy
        batch_size = min(batch_size, SCRUB_BATCH)
    res = TableResult(table.name, columns={c.name: ColumnStats() for c in tplan.columns})
    keys = KeyCheck(tplan)
    writer = BackgroundWriter(fmt.writer(path, tplan.out_schema, table))
    # with a vault, a longer window: the workers have batches to transform while the main process
    # reads the keys the vault holds (before the first result) and seals and stores records
    window = max(2, engine.workers * (4 if vault is not None else 2))
    pending: deque[tuple[Future, pa.RecordBatch]] = deque()
    records = VaultWriter(vault, engine.run.keys) if vault is not None else None
    preload = [(c.domain, c.key_version) for c in tplan.columns if c.reversible and not c.dropped]
    parallel = table.num_rows is None or table.num_rows > batch_size

    def consume() -> None:
        fut, batch = pending.popleft()
        try:
            r: BatchResult = fut.result()
        except VeilError as err:
            err.file = err.file or str(table.path)
            raise
        inp = batch.filter(r.kept) if r.kept is not None else batch
        keys.add(inp, r.batch)
        absorb(res, r, dropped)
        if records is not None:
            records.add(res, r, inp)
        writer.write(r.batch)
        if progress:
            progress(table.name, r.batch.num_rows)

    try:
        offset = 0
        for batch in _located(table.batches(batch_size), table):
            if prepare is not None:
                batch = prepare(tplan, batch, offset)
            pending.append((engine.submit(tplan, batch, offset, parallel), batch))
            offset += batch.num_rows
            res.rows_in += batch.num_rows
            while len(pending) >= window:
                if records is not None and preload:
                    records.preload(preload, table.num_rows, {(c.domain, c.key_version) for c in tplan.columns
                                                              if c.reversible and not c.vault_context})
                    preload = []
                consume()
        while pending:
            consume()
        keys.verify()
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
            "rows_dropped": {"forgotten_subject": tr.rows_forgotten, "by_reference": tr.rows_dropped_by_reference},
            "vault_records_written": tr.vault_records,
            "seconds": round(tr.seconds, 4),
            "columns": {
                c.name: {
                    "op": c.op,
                    "domain": c.domain,
                    "key_version": c.key_version,
                    "source": c.source,
                    "reversible": c.reversible,
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
            "vault_records_written": result.vault_records,
        },
        "forget_list_applied": result.forget_applied,
        "tables": tables,
    }
    if extra:
        doc.update(extra)
    return doc
