"""The one run driver: any Source into any Sink (veil.dataset), through one engine.

For every batch a source yields, in order: submitted to the engine (a process pool,
or in process); its result, in input order, counted, checked for key collisions,
its vault records sealed and stored, written by the sink, reported as progress.
Text a source yields (a dump's statements) is written in its place between the
batches. The output is atomic: the sink writes into a temporary location that
becomes the output only when every table succeeded and the vault committed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..dataset import Barrier, Batch, Begin, Copied, End, Item, Sink, Source
from ..errors import IntegrityError, VeilError
from ..keys import KeyProvider
from ..output import AtomicOutput
from ..plan import Plan, TablePlan
from ..subset.closure import positions_in
from ..subset.dangling import null_rows
from ..vault import Vault, encrypt_records
from ..vault.records import vault_records
from .engine import Engine
from .report import ColumnStats, RunResult, TableResult
from .transform import BatchResult, run_context

Progress = Callable[[str, int], None]
Prepare = Callable[[TablePlan, pa.RecordBatch, int], pa.RecordBatch]
QUEUED_TEXT_LIMIT = 8 << 20  # bytes of source text held back behind an unfinished batch


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

    def add(self, r: BatchResult, inp: pa.RecordBatch) -> int:
        """Store the new records of a batch result (how many); ``inp``: the batch's input, less the rows
        it dropped."""
        stored = 0
        for domain, version, new in vault_records(r.vault, inp, r.batch, r.contexts, r.subjects, self.vault.fresh):
            stored += self.vault.store(domain, version, encrypt_records(self.keys, domain, version, new))
        return stored


@dataclass
class _Pending:
    table: str
    future: Future
    values: pa.RecordBatch  # the batch as submitted (the key check and the vault need the input)
    carry: Any


class Driver:
    """One run's state: each table's result, the keys dropped so far, the key checks, and the queue
    of results and text waiting to be written in order. ``run`` feeds it a source's items."""

    def __init__(self, plan: Plan, sink: Sink, engine: Engine, *, vault: Vault | None = None,
                 progress: Progress | None = None, window: int = 2):
        self.plan, self.sink, self.engine, self.progress, self.window = plan, sink, engine, progress, window
        self.records = VaultWriter(vault, engine.run.keys) if vault is not None else None
        self.results: dict[str, TableResult] = {}
        self.dropped: dict[str, dict[tuple[str, ...], set[tuple]]] = {}
        self.checks: dict[str, KeyCheck] = {}
        self.files: dict[str, str | None] = {}
        self.offsets: dict[str, int] = {}
        self.queue: deque[_Pending | bytes] = deque()
        self.in_flight = 0
        self.queued_bytes = 0
        self.current: Begin | None = None
        self.preload: list[tuple[str, str]] = []
        self.clock = time.perf_counter()

    def result(self, table: str) -> TableResult:
        res = self.results.get(table)
        if res is None:
            columns = {c.name: ColumnStats() for c in self.plan.tables[table].columns}
            res = self.results[table] = TableResult(table, columns=columns)
        return res

    def _tick(self, table: str | None) -> None:
        """The time since the last tick was spent on ``table`` (on none: text between tables)."""
        now = time.perf_counter()
        if table is not None:
            self.result(table).seconds += now - self.clock
        self.clock = now

    def _here(self) -> str | None:
        return self.current.table if self.current is not None else None

    def run(self, items: Iterator[Item]) -> None:
        """Every item of a source, then every result; key checks verified."""
        it = iter(items)
        while True:
            try:
                item = next(it)
            except StopIteration:
                break
            except VeilError as err:
                err.file = err.file or (self.current.file if self.current is not None else None)
                raise
            self._handle(item)
            self._tick(self._here())
        self.drain()
        for check in self.checks.values():
            check.verify()
        self.checks.clear()

    def _handle(self, item: Item) -> None:
        if isinstance(item, Batch):
            self._submit(item)
        elif isinstance(item, bytes):
            self._text(item)
        elif isinstance(item, Begin):
            self._begin(item)
        elif isinstance(item, End):
            self._end(item)
        elif isinstance(item, Copied):
            res = self.result(item.table)
            res.rows_in += item.rows + item.skipped
            res.rows_out += item.rows
            res.rows_subset += item.skipped
            self.offsets[item.table] = self.offsets.get(item.table, 0) + item.rows + item.skipped
        elif isinstance(item, Barrier):
            self.drain()

    def _begin(self, item: Begin) -> None:
        tplan = self.plan.tables[item.table]
        if tplan.foreign_keys and any(self.engine.run.forgotten.values()):
            self.drain()  # every dropped parent row must be known first
        tplan.drop_refs = drop_refs_for(tplan, self.dropped)
        self.current = item
        self.files[item.table] = item.file
        self.result(item.table)
        if item.table not in self.checks:
            self.checks[item.table] = KeyCheck(tplan)
        self.sink.begin(item.table)
        if self.records is not None:
            self.preload = [(c.domain, c.key_version) for c in tplan.columns if c.reversible and not c.dropped]

    def _submit(self, batch: Batch) -> None:
        assert self.current is not None, "a source yields batches between Begin and End"
        name, values = self.current.table, batch.values
        offset = self.offsets.get(name, 0)
        self.offsets[name] = offset + values.num_rows
        self.result(name).rows_in += values.num_rows
        carry = batch.carry
        if self.plan.subset_nulls and name in self.plan.subset_nulls:  # references to rows a subset left out
            values = null_rows(values, self.plan.subset_nulls[name], offset)
        kept = self.plan.subset.get(name) if self.plan.subset is not None else None
        if kept is not None:  # a subset (veil.subset): only the rows of its closure go on
            mask = positions_in(kept, offset, values.num_rows)
            self.result(name).rows_subset += int(values.num_rows - mask.sum())
            if not mask.any():
                return
            if not mask.all():
                values, carry = values.filter(pa.array(mask)), _masked(carry, mask)
        future = self.engine.submit(self.plan.tables[name], values, offset, self.current.parallel)
        self.queue.append(_Pending(name, future, values, carry))
        self.in_flight += 1
        while self.in_flight >= self.window:
            if self.preload and self.records is not None:
                # the workers have batches to transform while the main process reads the keys the
                # vault holds (before the first result)
                tplan = self.plan.tables[name]
                self.records.preload(self.preload, self.current.rows, {
                    (c.domain, c.key_version) for c in tplan.columns if c.reversible and not c.vault_context})
                self.preload = []
            self._pop()

    def _text(self, data: bytes) -> None:
        if not self.sink.takes_text:
            return
        if not self.queue:
            if data:
                self.sink.text(data)
            return
        self.queue.append(data)
        self.queued_bytes += len(data)
        if self.queued_bytes > QUEUED_TEXT_LIMIT:
            self.drain()  # text behind an unfinished batch: wait for it rather than hold it in memory

    def _end(self, item: End) -> None:
        if item.last:
            self.drain()
            check = self.checks.pop(item.table, None)
            if check is not None:
                check.verify()
            self.sink.end(item.table)
        self.current = None

    def drain(self) -> None:
        """Write everything queued, waiting for every result."""
        while self.queue:
            self._pop()

    def _pop(self) -> None:
        head = self.queue.popleft()
        if isinstance(head, bytes):
            self.queued_bytes -= len(head)
            if head:
                self.sink.text(head)
            return
        self.in_flight -= 1
        self._consume(head)

    def _consume(self, p: _Pending) -> None:
        self._tick(self._here())
        try:
            r: BatchResult = p.future.result()
        except VeilError as err:
            err.file = err.file or self.files.get(p.table)
            raise
        inp = p.values.filter(r.kept) if r.kept is not None else p.values
        self.checks[p.table].add(inp, r.batch)
        res = self.results[p.table]
        absorb(res, r, self.dropped.setdefault(p.table, {}))
        if self.records is not None:
            res.vault_records += self.records.add(r, inp)
        self.sink.write(p.table, r.batch, r.kept, p.carry)
        if self.progress:
            self.progress(p.table, r.batch.num_rows)
        self._tick(p.table)

    def cancel(self) -> None:
        for p in self.queue:
            if isinstance(p, _Pending):
                p.future.cancel()
        self.queue.clear()


def _masked(carry: Any, mask: np.ndarray) -> Any:
    """A batch's render (a dump's) for the rows of ``mask`` only: the transform's own kept mask
    (forgotten rows) is spread back over the batch's rows."""
    if carry is None:
        return None

    def render(out: pa.RecordBatch, kept: pa.Array | None, split: bool = False) -> Any:
        full = mask.copy()
        if kept is not None:
            full[mask] = kept.to_numpy(zero_copy_only=False)
        return carry(out, pa.array(full), split=True) if split else carry(out, pa.array(full))

    return render


class Prepared:
    """A source whose batches are rewritten first (``prepare(table plan, batch, row offset)``):
    re-keying maps pseudonyms back to their originals this way before they are transformed again."""

    def __init__(self, source: Source, prepare: Prepare):
        self.source, self.prepare = source, prepare
        self.names = source.names

    def items(self, plan: Plan, batch_size: int, forgotten: dict[str, frozenset[bytes]]) -> Iterator[Item]:
        table, offset = None, 0
        for item in self.source.items(plan, batch_size, forgotten):
            if isinstance(item, Begin) and item.table != table:
                table, offset = item.table, 0
            elif isinstance(item, Batch) and table is not None:
                values = self.prepare(plan.tables[table], item.values, offset)
                offset += item.values.num_rows
                item = Batch(values, item.carry)
            yield item


def drive(plan: Plan, source: Source, sink: Sink, out: Path, keys: KeyProvider | None, *,
          batch_size: int = 65_536, workers: int = 1, progress: Progress | None = None,
          vault: Vault | None = None, action: str = "run", purpose: str = "",
          actor: str | None = None) -> RunResult:
    """Run ``source`` through ``plan`` into ``sink``, atomically into ``out``.

    With a ``vault``, reversible columns write their (pseudonym -> original) records (committed
    before the output appears: every new pseudonym is reversible), and rows of forgotten subjects
    (and rows referencing them) are dropped. The commit writes the run's audit entry (``action``,
    ``purpose``, ``actor``, the plan's key version and the records stored) in the same transaction
    as the records: a failed run leaves neither.
    """
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.perf_counter()
    run = run_context(plan, keys, vault)
    engine = Engine(run, workers)
    # with a vault, a longer window: the workers have batches to transform while the main process
    # reads the keys the vault holds (before the first result) and seals and stores records
    driver = Driver(plan, sink, engine, vault=vault, progress=progress,
                    window=max(2, workers * (4 if vault is not None else 2)))
    try:
        if vault is not None:
            vault.record_run(action, purpose=purpose, version=plan.key_version or "", actor=actor)
        with AtomicOutput(out, sink.is_dir) as target:
            sink.open(target)
            try:
                driver.run(source.items(plan, batch_size, run.forgotten))
                single = sink.close()
            except BaseException:
                driver.cancel()
                sink.abort()
                raise
            engine.close()
            if vault is not None:
                vault.commit()
            target.commit(single)
    except BaseException:
        if vault is not None:
            vault.rollback()
        raise
    finally:
        engine.close()
    ordered = [driver.result(name) for name in source.names]
    return RunResult(ordered, out, started, time.perf_counter() - t0, plan.key_version,
                     sum(r.vault_records for r in ordered), bool(run.forgotten))
