"""After the closure: the references of the copy that would point at a row left out, settled.

The closure follows every foreign key of a kept row upward, so its rows' references resolve, except:

- a ``null_references`` foreign key, which the closure does not follow: where its parent row is
  left out, the run writes NULL in its columns (``nulled``: row positions per table and key);
- a table copied whole (``others: all``, or only thinned by ``exclude`` rules) whose rows point at
  a table the subset reduced: such a row is left out, or its reference nulled when the foreign key
  may be, and rows of other whole tables that point at a left-out row follow, to a fixpoint.

A parent's rows are known by the values of its referenced columns: for a table the closure
reduced, the values its kept rows hold (``Closure.keys``); for a whole table, the values of the
rows this pass left out. Keys are canonical text, as in the closure (veil.subset.closure).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .closure import Closure, Link, Reader, key_text, positions_in
from .keyset import KeySet


@dataclass
class Settled:
    nulled: dict[str, list[tuple[tuple[str, ...], np.ndarray]]] = field(default_factory=dict)
    dropped: dict[str, np.ndarray] = field(default_factory=dict)  # whole tables' rows left out
    report: dict[str, dict[str, int]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # row counts of the tables read
    passes: int = 0


def settle(links: list[Link], closed: set[str], kept: dict[str, np.ndarray], closure: Closure,
           reader: Reader) -> Settled:
    """``closed``: the tables whose rows the closure chose (``kept``: their positions, and the
    excluded-only tables' too)."""
    out = Settled()
    gone_keys: dict[tuple[str, tuple[str, ...]], KeySet] = {}
    dropped: dict[str, list[np.ndarray]] = {}
    check = [lk for lk in links if lk.parent in closed and (lk.null or lk.child not in closed)]
    while check:
        columns: dict[str, list[str]] = {}
        for lk in check:
            cols = columns.setdefault(lk.child, [])
            cols += [c for c in lk.columns if c not in cols]
            for ref in {other.ref for other in links if other.parent == lk.child}:
                cols += [c for c in ref if c not in cols]
        out.passes += 1
        fresh: set[str] = set()
        # rows left out by earlier passes (this pass only adds rows of the batch it is reading)
        before = {t: np.unique(np.concatenate(d)) for t, d in dropped.items() if d}
        for table, start, batch in reader.read(columns):
            n = batch.num_rows
            out.rows[table] = max(out.rows.get(table, 0), start + n)
            written = positions_in(kept[table], start, n) if table in kept else np.ones(n, bool)
            if table in before:
                written &= ~positions_in(before[table], start, n)
            drop = np.zeros(n, bool)
            for lk in (lk for lk in check if lk.child == table):
                texts = key_text(batch, lk.columns)
                if lk.parent in closed:
                    bad = ~closure.keys.get((lk.parent, lk.ref), KeySet()).member(texts)
                else:
                    bad = gone_keys.get((lk.parent, lk.ref), KeySet()).member(texts)
                bad &= written & pc.is_valid(texts).to_numpy(zero_copy_only=False)
                if not bad.any():
                    continue
                where = np.flatnonzero(bad).astype(np.int64) + start
                if lk.null:
                    out.nulled.setdefault(table, []).append((lk.columns, where))
                    _count(out, table, "nulled", len(where))
                else:
                    drop |= bad
            if drop.any() and table not in closed:
                dropped.setdefault(table, []).append(np.flatnonzero(drop).astype(np.int64) + start)
                _count(out, table, "left_out", int(drop.sum()))
                gone = batch.filter(pa.array(drop))
                for other in links:
                    if other.parent == table and len(gone_keys.setdefault((table, other.ref), KeySet()).add(
                            key_text(gone, other.ref))):
                        fresh.add(table)
        # next: whole tables that point at rows this pass left out
        check = [lk for lk in links if lk.parent in fresh and lk.child not in closed]
    out.nulled = _merged(out.nulled)
    out.dropped = {t: np.unique(np.concatenate(d)) for t, d in dropped.items() if d}
    return out


def _merged(nulled: dict[str, list[tuple[tuple[str, ...], np.ndarray]]]) -> dict:
    merged: dict[str, dict[tuple[str, ...], list[np.ndarray]]] = {}
    for table, parts in nulled.items():
        for cols, pos in parts:
            merged.setdefault(table, {}).setdefault(cols, []).append(pos)
    return {t: [(cols, np.unique(np.concatenate(p))) for cols, p in by.items()] for t, by in merged.items()}


def _count(out: Settled, table: str, what: str, n: int) -> None:
    entry = out.report.setdefault(table, {"nulled": 0, "left_out": 0})
    entry[what] += n


def null_rows(values: pa.RecordBatch, nulls: list[tuple[tuple[str, ...], np.ndarray]],
              offset: int) -> pa.RecordBatch:
    """The batch (rows ``offset`` ..) with the listed foreign keys' columns NULL at their positions."""
    n = values.num_rows
    for cols, positions in nulls:
        hit = positions_in(positions, offset, n)
        if not hit.any():
            continue
        mask = pa.array(hit)
        for c in cols:
            i = values.schema.get_field_index(c)
            col = values.column(i)
            values = values.set_column(i, values.schema.field(i), pc.if_else(mask, pa.nulls(n, col.type), col))
    return values
