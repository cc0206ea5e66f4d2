"""Which rows a subset keeps: the targets' rows, every row they reference (upstream, transitively:
every foreign key of the output resolves), and for ``include_children`` the rows that reference a
target row or a row kept as such a child (downstream; a row kept only as a parent brings no
children, else a connected schema comes back whole), to a fixpoint.

Rows are known by their position in the table's stream (the order every reader of the input gives:
a file's rows, a dump's rows of a table in file order, partitions under their parent), so the run
filters them without reading keys again; kept positions are sorted int64 arrays, 8 bytes a kept row.
Keys are compared as canonical text (each column cast to text, a composite key's columns joined by
U+001F; a null anywhere is no reference), kept only for kept rows and for references still to
resolve, in Arrow string arrays (veil.subset.keyset: ~4 bytes plus the text a key): memory goes
with the subset, not with the input.

**The fixpoint.** A table is *dirty* when rows of it may join: it is a target (first pass), another
table wants keys it may hold (a kept row's foreign key, not yet found), or it is in
``include_children`` and a table it references kept new target or child rows. Each round reads the dirty tables once
(a dump: one scan of the file for all of them), keeps the rows that now qualify, and records what
those rows make dirty; the rounds end when nothing is dirty. Self-references and cycles need no
special case: a cycle is read again until a round adds nothing (each round adds rows, so it ends).
A foreign key whose parent row is not in the input (dangling in the source) stays unresolved and is
reported, never looped on.

**Targets.** ``fraction`` keeps a row when the keyed hash of its primary key (HMAC-SHA256 under the
run's ``subset`` subkey for the table, first 8 bytes) is below fraction × 2^64: the same rows on
every run with the same key and scope, whatever the input order, and a row added to the source
does not change which others are chosen. ``limit`` keeps the N rows of smallest keyed hash (of
those ``where`` selects, if given); ``where`` a predicate; ``keys_file`` the listed keys. Several
criteria of one target must all hold; several targets on one table add up.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..hmacs import hmac_sha256_many
from .keyset import KeySet
from .spec import Exclude, Subset, Target

SEP = "\x1f"
PURPOSE = "subset"


class Reader(Protocol):
    def read(self, columns: dict[str, list[str]]) -> Iterator[tuple[str, int, pa.Table]]:
        """One pass over the named tables: (table, position of the batch's first row, the columns)."""


@dataclass
class Link:
    """A foreign key: child columns -> parent columns; ``null``: a kept row does not pull its
    parent in (the run nulls the reference when the parent row is left out)."""
    child: str
    columns: tuple[str, ...]
    parent: str
    ref: tuple[str, ...]
    null: bool = False


@dataclass
class _State:
    kept: list[np.ndarray] = field(default_factory=list)  # sorted position arrays, merged lazily
    reasons: dict[str, int] = field(default_factory=lambda: {"target": 0, "parent": 0, "child": 0})
    keys: dict[tuple[str, ...], KeySet] = field(default_factory=dict)  # referenced keys of kept rows
    wanted: dict[tuple[str, ...], KeySet] = field(default_factory=dict)  # keys kept children point at
    forced: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # limit rows, kept next pass
    passes: int = 0
    # rows whose children an included table follows: targets and children (not rows kept as parents)
    down: list[np.ndarray] = field(default_factory=list)
    down_keys: dict[tuple[str, ...], KeySet] = field(default_factory=dict)

    def positions(self) -> np.ndarray:
        self.kept = _merge(self.kept)
        return self.kept[0]

    def down_positions(self) -> np.ndarray:
        self.down = _merge(self.down)
        return self.down[0]


def _merge(parts: list[np.ndarray]) -> list[np.ndarray]:
    if len(parts) == 1:
        return parts
    return [np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)]


@dataclass
class Closure:
    """Kept row positions per table, why they are kept, and the passes it took; ``keys``: the kept
    rows' values of every referenced column set, per (table, columns)."""
    positions: dict[str, np.ndarray]
    report: dict[str, Any]
    keys: dict[tuple[str, tuple[str, ...]], KeySet] = field(default_factory=dict)


def positions_in(kept: np.ndarray, start: int, n: int) -> np.ndarray:
    """Which of the rows start .. start+n-1 are in the sorted position array ``kept``."""
    lo, hi = np.searchsorted(kept, [start, start + n])
    mask = np.zeros(n, bool)
    mask[kept[lo:hi] - start] = True
    return mask


def key_text(batch: pa.Table, cols: tuple[str, ...]) -> pa.Array:
    """Each row's key as canonical text; null when any of its columns is null."""
    parts = []
    for c in cols:
        col = batch.column(c)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        parts.append(col if pa.types.is_string(col.type) else pc.cast(col, pa.string()))
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, SEP)


def keyed_hash(key: bytes, texts: pa.Array) -> np.ndarray:
    """uint64 per row: the first 8 bytes of HMAC-SHA256(key, text) (null text: the largest value)."""
    vals = texts.to_pylist()
    digests = hmac_sha256_many(key, (v.encode("utf-8", "surrogateescape") for v in vals if v is not None))
    out = np.full(len(vals), np.iinfo(np.uint64).max, np.uint64)
    idx = [i for i, v in enumerate(vals) if v is not None]
    if idx:
        out[idx] = np.frombuffer(b"".join(d[:8] for d in digests), dtype=">u8").astype(np.uint64)
    return out


def exclusions(rules: list[Exclude], tables: dict[str, tuple[str, ...]], links: list[Link], reader: Reader,
               today: dt.date, file: str | None = None) -> tuple[dict[str, np.ndarray], dict[str, int], dict]:
    """The rows no copy may hold: those the ``exclude`` rules match, and (to a fixpoint) every row
    that references an excluded row, whatever the table (as forget cascades). Returns excluded
    positions per table, the row counts of the tables read, and the report section."""
    by_table: dict[str, list[tuple[Exclude, Any, KeySet | None]]] = {}
    for r in rules:
        by_table.setdefault(r.table, []).append((r, r.predicate(today), _read_keys(r, file) if r.keys_file else None))
    children_of: dict[str, list[Link]] = {t: [] for t in tables}
    for lk in links:
        if lk.child in tables and lk.parent in tables:
            children_of[lk.parent].append(lk)
    refs = {t: {lk.ref for lk in children_of[t]} for t in tables}
    parents = {t: [lk for lk in links if lk.child == t and lk.parent in tables] for t in tables}
    gone: dict[str, list[np.ndarray]] = {t: [] for t in tables}
    keys: dict[str, dict[tuple[str, ...], KeySet]] = {t: {r: KeySet() for r in refs[t]} for t in tables}
    counts = {t: {"direct": 0, "cascade": 0, "passes": 0} for t in tables}
    rows: dict[str, int] = {}
    dirty, first = set(by_table), True
    while dirty:
        columns = {}
        for t in sorted(dirty):
            cols: list[str] = []
            for group in [tables[t], *refs[t], *(lk.columns for lk in parents[t])]:
                cols += [c for c in group if c not in cols]
            for _r, pred, _k in by_table.get(t, []) if first else []:
                cols += [c for c in (pred.columns if pred else []) if c not in cols]
            columns[t] = cols
        reading, dirty = set(columns), set()
        for table, start, batch in reader.read(columns):
            n = batch.num_rows
            rows[table] = max(rows.get(table, 0), start + n)
            pos = np.arange(start, start + n, dtype=np.int64)
            done = np.concatenate(gone[table]) if gone[table] else np.zeros(0, np.int64)
            fresh = ~np.isin(pos, done)
            direct = np.zeros(n, bool)
            for _rule, pred, listed in by_table.get(table, []) if first else []:
                hit = pred.mask(batch, table) if pred is not None else np.ones(n, bool)
                if listed is not None:
                    hit &= listed.member(key_text(batch, tables[table]))
                direct |= hit
            cascade = np.zeros(n, bool)
            for lk in parents[table]:
                bad = keys[lk.parent].get(lk.ref)
                if bad:
                    cascade |= bad.member(key_text(batch, lk.columns))
            direct &= fresh
            cascade &= fresh & ~direct
            hit = direct | cascade
            if not hit.any():
                continue
            counts[table]["direct"] += int(direct.sum())
            counts[table]["cascade"] += int(cascade.sum())
            gone[table].append(pos[hit])
            out = batch.filter(pa.array(hit))
            for ref in refs[table]:
                if len(keys[table][ref].add(key_text(out, ref))):
                    dirty.update(lk.child for lk in children_of[table] if lk.ref == ref)
        for t in reading:
            counts[t]["passes"] += 1
        first = False
    positions = {t: np.unique(np.concatenate(g)) for t, g in gone.items() if g}
    report = {t: c for t, c in counts.items() if c["passes"]}
    return positions, rows, report


def compute(subset: Subset, tables: dict[str, tuple[str, ...]], links: list[Link], reader: Reader,
            subkey: Callable[[str], bytes], file: str | None = None,
            excluded: dict[str, np.ndarray] | None = None) -> Closure:
    """The subset's kept positions (module doc). ``tables``: every table and its primary key (may be
    empty); ``links``: the foreign keys; ``subkey(table)``: the table's 32-byte subset key;
    ``excluded``: rows that may not be chosen (the exclude rules and their cascade)."""
    excluded = excluded or {}
    state = {t: _State() for t in tables}
    parents_of: dict[str, list[Link]] = {t: [] for t in tables}
    children_of: dict[str, list[Link]] = {t: [] for t in tables}
    for lk in links:
        if lk.child in tables and lk.parent in tables:
            parents_of[lk.child].append(lk)
            children_of[lk.parent].append(lk)
    include = set(subset.include_children)
    for lk in links:  # what kept rows of each parent must remember: the keys children point at
        if lk.parent in state and lk.child in state:
            state[lk.parent].keys.setdefault(lk.ref, KeySet())
            if lk.child in include:
                state[lk.parent].down_keys.setdefault(lk.ref, KeySet())
    by_table: dict[str, list[Target]] = {}
    for t in subset.targets:
        by_table.setdefault(t.table, []).append(t)
    # events: new keys wanted from a table (upstream), new kept rows of a table an included child
    # references (downstream). A table is read again when an event for it came after the
    # first batch of its last read: every batch of a read saw what was known before that read.
    clock = 1
    touched = dict.fromkeys(by_table, 0)
    began: dict[str, int] = {}
    first = True
    rounds = 0

    def touch(t: str) -> None:
        nonlocal clock
        clock += 1
        touched[t] = clock

    while dirty := {t for t, v in touched.items() if v > began.get(t, -1)}:
        rounds += 1
        reading = set(dirty)
        if getattr(reader, "one_scan", False):
            # one scan reads every table at the cost of one (a dump): read those this round may
            # touch too, so a child after its parent in the file is settled in the same round
            grow = True
            while grow:
                more = {lk.child for t in reading for lk in children_of[t] if lk.child in include}
                more |= {lk.parent for t in reading for lk in parents_of[t] if not lk.null}
                grow = bool(more - reading)
                reading |= more
        columns = {t: _columns(t, tables[t], parents_of[t], state[t], by_table.get(t) if first else None)
                   for t in sorted(reading)}
        selected = {t: _select(by_table[t], tables[t], subkey(t), file) for t in reading if first and t in by_table}
        for t in reading:
            began.pop(t, None)
        for table, start, batch in reader.read(columns):
            if table not in reading:
                continue
            began.setdefault(table, clock)
            st = state[table]
            n = batch.num_rows
            pos = np.arange(start, start + n, dtype=np.int64)
            allowed = ~np.isin(pos, excluded[table]) if table in excluded else np.ones(n, bool)
            have, down_have = st.positions(), st.down_positions()
            new = allowed & ~np.isin(pos, have, assume_unique=True) if len(have) else allowed
            if not new.any() and not (table in include or len(st.forced)):
                continue
            target = selected[table].take(batch, pos) & allowed if table in selected else np.zeros(n, bool)
            if len(st.forced):
                target |= np.isin(pos, st.forced) & allowed
            why_target = target & new
            why_parent = np.zeros(n, bool)
            for ref, want in st.wanted.items():
                if len(want):
                    why_parent |= want.member(key_text(batch, ref))
            why_parent &= new & ~why_target
            child = np.zeros(n, bool)
            if table in include:
                for lk in parents_of[table]:
                    keys = state[lk.parent].down_keys.get(lk.ref)
                    if keys is not None and len(keys):
                        child |= keys.member(key_text(batch, lk.columns))
                child &= allowed
            why_child = child & new & ~why_target & ~why_parent
            add = why_target | why_parent | why_child
            down = (target | child) & ~np.isin(pos, down_have) if len(down_have) else target | child
            if add.any():
                st.reasons["target"] += int(why_target.sum())
                st.reasons["parent"] += int(why_parent.sum())
                st.reasons["child"] += int(why_child.sum())
                st.kept.append(pos[add])
                rows = batch.filter(pa.array(add))
                for ref, keys in st.keys.items():
                    found = key_text(rows, ref)
                    keys.add(found)
                    if ref in st.wanted:
                        st.wanted[ref].discard(found)
                for lk in parents_of[table]:  # upstream: the parents these rows reference
                    if lk.null:
                        continue
                    pst = state[lk.parent]
                    refs = pst.keys[lk.ref].new(key_text(rows, lk.columns))
                    if len(pst.wanted.setdefault(lk.ref, KeySet()).add(refs)):
                        touch(lk.parent)
            if down.any():  # downstream: included children of these rows may now join
                st.down.append(pos[down])
                rows = batch.filter(pa.array(down))
                for ref, keys in st.down_keys.items():
                    if len(keys.add(key_text(rows, ref))):
                        for lk in children_of[table]:
                            if lk.child in include and lk.ref == ref:
                                touch(lk.child)
        for t in reading:
            state[t].passes += 1
            began.setdefault(t, clock + 1)  # read, and held no row: nothing it could miss
            state[t].forced = np.zeros(0, np.int64)
            if t in selected and len(pending := selected[t].finish()):
                state[t].forced = pending  # a limit's rows: known after the whole pass, kept on the next
                touch(t)
        first = False
    positions = {t: st.positions() for t, st in state.items()}
    unresolved = {t: n for t, st in state.items() if (n := sum(len(v) for v in st.wanted.values()))}
    report = {
        "rounds": rounds,
        "tables": {t: {"rows_kept": int(len(positions[t])), **st.reasons, "passes": st.passes}
                   for t, st in state.items()},
        "unresolved_references": unresolved,
        "others": subset.others,
    }
    keys = {(t, ref): ks for t, st in state.items() for ref, ks in st.keys.items()}
    return Closure(positions, report, keys)


def _columns(table: str, pk: tuple[str, ...], parents: list[Link], st: _State,
             targets: list[Target] | None) -> list[str]:
    cols: list[str] = []
    for group in [pk, *st.keys, *(lk.columns for lk in parents)]:
        cols += [c for c in group if c not in cols]
    for t in targets or []:
        if t.where is not None:
            cols += [c for c in t.where.columns if c not in cols]
    return cols


class _Selection:
    """A table's targets over its first pass: ``take`` gives the rows chosen outright; a ``limit``
    keeps candidates (smallest keyed hashes) until ``finish`` adds them."""

    def __init__(self, targets: list[Target], pk: tuple[str, ...], key: bytes, file: str | None):
        self.targets, self.pk, self.key, self.file = targets, pk, key, file
        self.heaps: list[list[tuple[int, int]]] = [[] for _ in targets]
        self.file_keys: list[KeySet | None] = [_read_keys(t, file) if t.keys_file else None for t in targets]

    def take(self, batch: pa.Table, pos: np.ndarray) -> np.ndarray:
        n = batch.num_rows
        chosen = np.zeros(n, bool)
        texts = key_text(batch, self.pk) if self.pk else None
        hashes = None
        for i, t in enumerate(self.targets):
            ok = np.ones(n, bool)
            if t.where is not None:
                ok &= t.where.mask(batch, t.table)
            if self.file_keys[i] is not None:
                if texts is None:
                    raise InputError(f"subset target {t.table}: keys_file needs the table's primary key",
                                     table=t.table, hint="declare primary_key for the table in the profile")
                ok &= self.file_keys[i].member(texts)
            if t.fraction is not None or t.limit is not None:
                if hashes is None:
                    # no primary key: the row's position is its key (stable for the same input)
                    hashes = keyed_hash(self.key, texts if texts is not None else pa.array(pos.astype(str)))
                if t.fraction is not None and t.fraction < 1:
                    ok &= hashes < np.uint64(min(int(t.fraction * 2.0 ** 64), 2 ** 64 - 1))
            if t.limit is not None:
                heap = self.heaps[i]
                for p, h in zip(pos[ok], hashes[ok], strict=True):
                    item = (-int(h), -int(p))  # a max-heap of the N smallest (hash, position)
                    if len(heap) < t.limit:
                        heapq.heappush(heap, item)
                    elif item > heap[0]:
                        heapq.heapreplace(heap, item)
                continue
            chosen |= ok
        return chosen

    def finish(self) -> np.ndarray:
        """The limit targets' rows, known after the whole first pass (kept as targets on the next)."""
        return np.array(sorted({-p for heap in self.heaps for _, p in heap}), np.int64)


def _select(targets: list[Target], pk: tuple[str, ...], key: bytes, file: str | None) -> _Selection:
    return _Selection(targets, pk, key, file)


def _read_keys(t: Target | Exclude, file: str | None) -> KeySet:
    path = t.keys_file
    assert path is not None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"subset target {t.table}: keys_file cannot be read ({type(err).__name__})",
                         file=str(path), hint="one primary key value a line, UTF-8") from None
    listed = KeySet()
    listed.add(pa.array([line.replace("\t", SEP) for line in text.splitlines() if line.strip()], pa.string()))
    return listed
