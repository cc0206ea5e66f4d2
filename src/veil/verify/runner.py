"""The verification run: two datasets, one profile, every check, one report.

Phase 1 streams ORIGINAL into every check; phase 2 streams COPY, each batch with the original's
rows at the same positions when they can be paired (:class:`Pairing`). Both sides are read with
the readers ``veil run`` uses (a dump through its own row reader, as text).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..dataset import Dataset
from ..errors import InputError
from ..formats import open_dataset
from ..formats.dump import DumpDataset, dump_sources, is_stream
from ..formats.dump.sample import read_rows
from ..formats.typed import DECLARED, STRICT, Misfit, Source, convert
from ..ops.arrays import is_text
from ..pipeline.engine import die_with
from ..plan import compile_plan, input_table_rules
from ..profile import Profile
from .base import Check, TableInfo, VerifyContext

REPORT_KIND = "veil-verify"
REPORT_VERSION = 1
BATCH_ROWS = 65_536
#: Rows of ORIGINAL held back while waiting for the copy's rows to pair with (beyond: unpaired).
PAIRING_BUFFER_ROWS = 1_000_000
#: Share of a batch's rows in which a kept column equals the paired original's for the rows to pair
#: (Pairing.agree): a copy written with ``row_order: shuffle``, or otherwise reordered, does not.
PAIRING_AGREEMENT = 0.9


def stream(dataset: Dataset, batch_rows: int = BATCH_ROWS) -> Iterator[tuple[str, pa.RecordBatch]]:
    """(table, batch) of every row of ``dataset``: file tables one after the other, a dump in file order."""
    if isinstance(dataset, DumpDataset):
        for table, _n, values in read_rows(dataset.dump, None, batch_rows):
            if values is not None:
                yield from ((table, b) for b in values.to_batches() if b.num_rows)
        return
    for t in dataset.tables:
        for b in t.batches(batch_rows):
            if b.num_rows:
                yield t.name, b


class Pairing:
    """The original's rows at the copy's positions, table by table, from a second read of ORIGINAL.

    The copy is read in its own order; the original's batches of a table are queued until the copy
    asks for them. Rows of other tables read meanwhile wait in the queue, up to
    ``PAIRING_BUFFER_ROWS``; past that (the two sides' table orders differ too much), or when a
    table's row counts differ, the table's batches come unpaired (None).

    Equal counts are not enough: a copy whose rows were reordered (``row_order: shuffle``) has them
    too. ``agree`` checks each paired batch on the columns the profile keeps (equal where the
    positions pair); a batch that disagrees leaves its table unpaired from then on (``reordered``)."""

    def __init__(self, original: Iterator[tuple[str, pa.RecordBatch]], rows_original: dict[str, int],
                 rows_copy: dict[str, int]):
        self.source = original
        self.queues: dict[str, deque[pa.RecordBatch]] = {}
        self.queued: dict[str, int] = {}  # rows in each table's queue
        self.held = 0  # rows in all queues
        self.pairable = {t for t, n in rows_copy.items() if rows_original.get(t) == n}
        self.given_up = False
        self.reordered: set[str] = set()

    def agree(self, table: str, copy: pa.RecordBatch, original: pa.RecordBatch | None,
              kept: list[str]) -> pa.RecordBatch | None:
        """``original`` when its rows pair with ``copy``'s, else None and the table unpaired from here on.

        Evidence is a kept column that tells rows apart: equal with the original's next row in
        less than half of the rows (a constant or sorted-in-runs column would agree in any order).
        The rows pair when one such column equals the paired original's in ``PAIRING_AGREEMENT``
        of the rows (another may differ in its text only: 12.50 written as 12.5); they do not
        when there is such a column and none agrees. Without one, positions are taken as they are."""
        if original is None:
            return None
        informative = False
        for name in kept:
            if name not in copy.schema.names or name not in original.schema.names:
                continue
            a, b = copy.column(name), original.column(name)
            try:
                if a.type != b.type:
                    b = b.cast(a.type)
                n = len(a)
                if n < 2 or _equal_share(b, pa.concat_arrays([b.slice(1), b.slice(0, 1)])) >= 0.5:
                    continue  # does not tell rows apart
                informative = True
                if _equal_share(a, b) >= PAIRING_AGREEMENT:
                    return original
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                continue  # not comparable here: another kept column decides
        if not informative:
            return original
        self.pairable.discard(table)
        self.reordered.add(table)
        self.queues.pop(table, None)
        self.held -= self.queued.pop(table, 0)
        return None

    def take(self, table: str, n: int) -> pa.RecordBatch | None:
        if table not in self.pairable or self.given_up:
            return None
        queue = self.queues.setdefault(table, deque())
        while self.queued.get(table, 0) < n:
            item = next(self.source, None)
            if item is None:
                self.pairable.discard(table)
                return None
            name, batch = item
            if name not in self.pairable:
                continue
            self.queues.setdefault(name, deque()).append(batch)
            self.queued[name] = self.queued.get(name, 0) + batch.num_rows
            self.held += batch.num_rows
            if self.held > PAIRING_BUFFER_ROWS + n:
                self.given_up = True
                self.queues.clear()
                self.queued.clear()
                return None
        parts, need = [], n
        while need:
            b = queue.popleft()
            if b.num_rows > need:
                queue.appendleft(b.slice(need))
                b = b.slice(0, need)
            parts.append(b)
            need -= b.num_rows
        self.queued[table] -= n
        self.held -= n
        return parts[0] if len(parts) == 1 else pa.Table.from_batches(parts).combine_chunks().to_batches()[0]


def _equal_share(a: pa.Array, b: pa.Array) -> float:
    """The share of positions where ``a`` and ``b`` hold the same value (two nulls are the same)."""
    eq = pc.or_(pc.fill_null(pc.equal(a, b), False), pc.and_(a.is_null(), b.is_null()))
    return (pc.sum(eq).as_py() or 0) / len(a)


def _copy_name(name: str, original: Dataset) -> str | None:
    """The ORIGINAL table a COPY table is: the same name, or the same bare name (a dump table
    written to files keeps its qualified name; a file table read back has its file stem)."""
    names = set(original.names)
    if name in names:
        return name
    if len(names) == 1 and not original.is_dir and not isinstance(original, DumpDataset):
        return original.names[0]  # one file against one file: whatever the copy's file is called
    return original.aliases.get(name) or original.aliases.get(name.rsplit(".", 1)[-1])


def build_context(profile: Profile, original: Dataset, copy: Dataset) -> VerifyContext:
    plan = compile_plan(profile, original, None)
    copies = {}
    for t in copy.tables:
        name = _copy_name(t.name, original)
        if name is not None:
            copies[name] = t
    rules = input_table_rules(profile, original)
    tables = {}
    for t in original.tables:
        tp = plan.tables.get(t.name)
        rule = rules.get(t.name)
        ct = copies.get(t.name)
        tables[t.name] = TableInfo(
            t.name, t.schema, ct.schema if ct is not None else None, tp,
            primary_key=list(tp.primary_key) if tp else [],
            unique=[list(u) for u in (rule.unique if rule else [])],
            foreign_keys=list(tp.foreign_keys) if tp else [],
            # the compiled plan's: a table about subjects may take its subject table's (veil.privacy.subjects)
            privacy=tp.privacy if tp is not None else (rule.privacy if rule else None),
            text_sources=_text_sources(original, t, tp))
    return VerifyContext(tables, plan)


def _text_sources(original: Dataset, table, tplan) -> dict[str, Source]:
    """How ORIGINAL's text columns read as the typed values a Parquet copy holds: a dump's by its
    DDL in its dialect; a CSV file's as ``veil run`` reads them (strictly when inferred, leniently
    with a profile ``type:``)."""
    if isinstance(original, DumpDataset):
        return dump_sources(original.dump, list(table.schema))
    declared = {c.name for c in tplan.columns if c.type is not None} if tplan is not None else set()
    return {f.name: Source(f.type, DECLARED if f.name in declared else STRICT)
            for f in table.schema if is_text(f.type)}


def verify_paths(original_path: str | Path, copy_path: str | Path, profile: Profile,
                 checks: list[Callable[[VerifyContext], Check]] | list[list[Callable[[VerifyContext], Check]]], *,
                 dialect: str | None = None, delimiter: str | None = None,
                 progress: Callable[[str], None] | None = None, processes: bool = True) -> dict[str, Any]:
    """Run every check over ORIGINAL and COPY; the report (without gates).

    ``checks``: check classes, or groups of them. Groups run side by side: the first in this
    process, each other in a process of its own that reads both sides again (reading costs far
    less than checking). Checks that share state (``VerifyContext.shared``) belong in one group.
    Standard input cannot be read twice: with ``-`` every group runs here, one after the other;
    so they do without ``processes`` (the Python API: a script calling it needs no
    ``if __name__ == "__main__"`` guard, which a child process would need to import it)."""
    groups = [list(g) for g in checks] if checks and isinstance(checks[0], list) else [list(checks)]
    started = time.monotonic()
    args = (str(original_path), str(copy_path), profile, dialect, delimiter)
    streams = any(str(p) == "-" or is_stream(Path(p)) for p in (original_path, copy_path))
    if len(groups) == 1 or streams or not processes:
        report = _run_group(*args, [c for g in groups for c in g], progress)
    else:
        report = _run_side_by_side(args, groups, progress)
    report["seconds"] = {"total": round(time.monotonic() - started, 3), "checks": report.pop("check_seconds")}
    return report


def _run_side_by_side(args: tuple, groups: list[list], progress: Callable[[str], None] | None) -> dict[str, Any]:
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(len(groups) - 1, mp_context=ctx, initializer=die_with,
                             initargs=(os.getpid(),)) as pool:
        futures = [pool.submit(_run_group, *args, group, None) for group in groups[1:]]
        report = _run_group(*args, groups[0], progress)
        for fut in futures:
            part = fut.result()
            report["paired"] = report["paired"] and part["paired"]
            report["reordered_tables"] = sorted(set(report["reordered_tables"]) | set(part["reordered_tables"]))
            report["check_seconds"].update(part.pop("check_seconds"))
            report.update({k: v for k, v in part.items() if k not in report})
    return report


def _run_group(original_path: str, copy_path: str, profile: Profile, dialect: str | None, delimiter: str | None,
               checks: list[Callable[[VerifyContext], Check]], progress: Callable[[str], None] | None
               ) -> dict[str, Any]:
    """Both phases for ``checks`` (in the calling process): the report's sections, and their times."""
    original = open_dataset(original_path, dialect=dialect, delimiter=delimiter)
    copy = open_dataset(copy_path, dialect=dialect, delimiter=delimiter)
    ctx = build_context(profile, original, copy)
    runs = [make(ctx) for make in checks]
    spent = {check.name: 0.0 for check in runs}
    note = progress or (lambda where: None)

    def feed(call: Callable[[Check], None]) -> None:
        for check in runs:
            t = time.perf_counter()
            call(check)
            spent[check.name] += time.perf_counter() - t

    rows_original: dict[str, int] = {t: 0 for t in ctx.tables}
    typed = {name: _typed_columns(info) for name, info in ctx.tables.items()}
    for table, batch in _as_copy_types(stream(original), typed):
        note(f"reading ORIGINAL {table}")
        rows_original[table] = rows_original.get(table, 0) + batch.num_rows
        feed(lambda check, t=table, b=batch: check.original(t, b))
    rows_copy = _row_counts(copy, original)
    pairing = Pairing(_as_copy_types(stream(original), typed), rows_original, rows_copy)
    kept = {name: [c.name for c in info.plan.columns if not c.transformed]
            for name, info in ctx.tables.items() if info.plan is not None}
    for name, batch in stream(copy):
        table = _copy_name(name, original)
        if table is None:  # a table ORIGINAL does not have (integrity lists it): its cells are
            # searched for leaks all the same (a backup table left in the copy), unpaired
            note(f"reading COPY {name}")
            feed(lambda check, t=name, b=batch: check.copy(t, b, None))
            continue
        note(f"reading COPY {table}")
        paired = pairing.agree(table, batch, pairing.take(table, batch.num_rows), kept.get(table, []))
        feed(lambda check, t=table, b=batch, p=paired: check.copy(t, b, p))
    report: dict[str, Any] = {"report": REPORT_KIND, "version": REPORT_VERSION, "tables": list(ctx.tables),
                              "extra_tables": sorted(t.name for t in copy.tables
                                                     if _copy_name(t.name, original) is None)}
    for check in runs:
        t = time.perf_counter()
        report[check.name] = check.finish()
        spent[check.name] += time.perf_counter() - t
    report["paired"] = not pairing.given_up and not pairing.reordered
    report["reordered_tables"] = sorted(pairing.reordered)
    report["check_seconds"] = {k: round(v, 3) for k, v in spent.items()}
    return report


def _typed_columns(info: TableInfo) -> dict[str, tuple[pa.DataType, str]]:
    """ORIGINAL's text columns that the copy holds typed (a dump or CSV written to Parquet): column ->
    (the copy's type, how the text reads as it)."""
    if info.copy_schema is None:
        return {}
    out = {}
    for f in info.original_schema:
        source = info.text_sources.get(f.name)
        if source is None or not is_text(f.type) or f.name not in info.copy_schema.names:
            continue
        to = info.copy_schema.field(f.name).type
        if not is_text(to):
            out[f.name] = (to, source.how)
    return out


def _as_copy_types(batches: Iterator[tuple[str, pa.RecordBatch]], typed: dict[str, dict]
                   ) -> Iterator[tuple[str, pa.RecordBatch]]:
    """ORIGINAL's batches with the text columns a typed copy holds typed read as the copy's types
    (``veil run``'s own conversion: a timestamptz with its offset a UTC instant, PostgreSQL's ``t`` a
    bool, ``\\x..`` bytes), so every check compares like with like. A value the type cannot hold
    leaves its column as text (compared as text: no match)."""
    for table, batch in batches:
        cols = typed.get(table)
        if cols:
            arrays = list(batch.columns)
            for name, (to, how) in cols.items():
                i = batch.schema.get_field_index(name)
                if i < 0:
                    continue
                try:
                    arrays[i] = convert(arrays[i], to, how)
                except (Misfit, pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    continue
            batch = pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
        yield table, batch


def _row_counts(copy: Dataset, original: Dataset) -> dict[str, int]:
    """Rows per COPY table, counted before phase 2 so the pairing knows which tables can be paired:
    Parquet from its metadata, others by one cheap read."""
    counts: dict[str, int] = {}
    if isinstance(copy, DumpDataset):
        for table, n, _ in read_rows(copy.dump, 0):
            counts[table] = counts.get(table, 0) + n
        return {(_copy_name(t, original) or t): n for t, n in counts.items()}
    for t in copy.tables:
        name = _copy_name(t.name, original) or t.name
        if t.num_rows is not None:
            counts[name] = t.num_rows
        else:
            counts[name] = sum(b.num_rows for b in t.batches(BATCH_ROWS))
    return counts


def refuse_same(original_path: Path, copy_path: Path) -> None:
    if str(original_path) != "-" and Path(original_path).resolve() == Path(copy_path).resolve():
        raise InputError("ORIGINAL and COPY are the same path", file=str(copy_path),
                         hint="give the input of veil run and its --out")
