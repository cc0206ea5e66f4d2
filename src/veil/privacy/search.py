"""The counts of quasi-identifier combinations, and the search for the generalization levels.

:class:`Counter` streams a table's quasi-identifier (and sensitive) columns and keeps one row per
distinct combination with its count (memory per distinct combination, not per row).
:func:`search` chooses one level per quasi-identifier (:mod:`.hierarchy`) over the lattice of level
combinations, then the classes to suppress.

Information loss (documented in docs/privacy.md): for a node (h_1..h_q) of the lattice, with
H_i the top level of quasi-identifier i and s the share of rows suppressed (their QIs nulled),

    loss = s + (1 - s) * mean_i(h_i / H_i)

(normalised generalization height, ARX's "height"/Sweeney's precision, with a suppressed row
losing everything). A node is *feasible* when the rows in classes smaller than k (or with fewer
than l distinct values of a sensitive attribute) are at most ``max_suppression`` of the rows.

The rows suppressed form one class (every quasi-identifier null): when fewer than k, the smallest
other classes join it (suppressed too), within the bound, or the node is not feasible.

Search: rows in small classes never increase when a level goes up (classes only merge; the top
node, every quasi-identifier suppressed, is one class and feasible when the table has k rows).
A greedy climb from the bottom (each step raises one quasi-identifier: a feasible step of least
loss if there is one, else the step leaving the fewest rows below k; ties by the levels) finds a
feasible node; its loss L bounds the search: every node of height < L is then evaluated in order of
height (then levels), since loss >= height, and the least loss wins (ties: the first). The search
stops after :data:`EVALUATION_CELLS` / distinct combinations evaluations (at least
:data:`MIN_EVALUATIONS`, at most :data:`MAX_EVALUATIONS`) and says so ("exhaustive": false).
Everything is deterministic, and independent of the order the combinations came in.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import hierarchy
from .hierarchy import Spec

EVALUATION_CELLS = 60_000_000
MIN_EVALUATIONS = 40
MAX_EVALUATIONS = 5_000
_COMPACT_ROWS = 2_000_000  # partial counts held before they are merged
COUNT = "__veil_rows"
_NONE = np.zeros(0, np.int64)


class Counter:
    """Rows per distinct combination of ``columns``, over batches (group_by, merged as they grow)."""

    def __init__(self, columns: list[str]):
        self.columns = columns
        self.parts: list[pa.Table] = []
        self.held = 0
        self.rows = 0

    def add(self, batch: pa.Table | pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        t = pa.table([batch.column(c) for c in self.columns], names=self.columns)
        part = t.group_by(self.columns, use_threads=False).aggregate([([], "count_all")])
        self.parts.append(part.rename_columns(self.columns + [COUNT]))
        self.held += part.num_rows
        self.rows += batch.num_rows
        if self.held > _COMPACT_ROWS:
            self.parts = [self._merged()]
            self.held = self.parts[0].num_rows

    def _merged(self) -> pa.Table:
        t = pa.concat_tables(self.parts)
        out = t.group_by(self.columns, use_threads=False).aggregate([(COUNT, "sum")])
        return out.rename_columns(self.columns + [COUNT])

    def table(self, schema: dict[str, pa.DataType]) -> pa.Table:
        """The distinct combinations and their counts (``COUNT``), columns in the given types."""
        if not self.parts:
            return pa.table({**{c: pa.array([], schema[c]) for c in self.columns}, COUNT: pa.array([], pa.int64())})
        t = self._merged() if len(self.parts) > 1 else self.parts[0]
        return t  # its order depends on the batches; the search does not (sorted codes)


@dataclass
class _Column:
    name: str
    values: pa.Array  # distinct values (a null among them if any)
    codes: np.ndarray  # per combination: index into values
    levels: list[Spec]
    gen: list[np.ndarray] = field(default_factory=list)  # per level: code of each distinct value
    cards: list[int] = field(default_factory=list)
    null_code: list[int | None] = field(default_factory=list)


@dataclass
class Outcome:
    """One evaluated node."""
    levels: tuple[int, ...]
    feasible: bool
    suppressed_rows: int
    loss: float
    k: int | None
    classes: int
    suppressed: np.ndarray  # class ids suppressed (with the inverse only: the chosen node)
    below: int = 0  # rows in classes below k (or l), before the suppressed class is made up to k
    inverse: np.ndarray | None = None  # combination -> class id (kept for the chosen node only)


@dataclass
class Result:
    """The chosen levels, the keys of the suppressed classes, and the figures of the report."""
    levels: dict[str, Spec]  # per quasi-identifier: its chosen level
    heights: dict[str, tuple[int, int]]  # per quasi-identifier: (level, top level)
    suppressed_keys: list[str]  # hierarchy.tuple_keys of the suppressed classes
    report: dict[str, Any]


class Infeasible(Exception):
    """No node reaches the targets (too few rows, or a sensitive attribute with fewer than l values)."""


def _codes(col: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The distinct values, sorted (null last), and each combination's index into them: codes that
    do not depend on the order the combinations came in."""
    values = pc.unique(col)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.take(pc.array_sort_indices(values, null_placement="at_end"))
    codes = pc.index_in(col, value_set=values, skip_nulls=False)
    return values, codes.to_numpy(zero_copy_only=False).astype(np.int64)


#: a mixed-radix key space up to this many times the combinations (and at most _COUNTING_MAX) is
#: grouped by counting (linear in the space), a larger one by sorting (n log n)
_COUNTING_RATIO = 16
_COUNTING_MAX = 1 << 26


def _classes(key: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct keys, sorted; each combination's class id): np.unique's answer, by counting
    when the key space is small."""
    if span <= min(_COUNTING_RATIO * len(key) + 65_536, _COUNTING_MAX):
        present = np.zeros(span, bool)
        present[key] = True
        uniq = np.flatnonzero(present)
        rank = np.cumsum(present) - 1
        return uniq, rank[key]
    return np.unique(key, return_inverse=True)


def _by_height(ev: _Evaluator, tops: list[int]):
    """The lattice's nodes in order of (height, levels), generated lazily from the bottom (a heap:
    raising one level raises the height, so a node is pushed before its turn comes). Sorting the whole
    lattice took minutes with 11 quasi-identifiers (6**11 nodes) for a search that stops long before."""
    start = tuple(0 for _ in tops)
    heap = [(ev.height(start), start)]
    seen = {start}
    while heap:
        _, node = heapq.heappop(heap)
        yield node
        for i, top in enumerate(tops):
            if node[i] < top:
                up = node[:i] + (node[i] + 1,) + node[i + 1:]
                if up not in seen:
                    seen.add(up)
                    heapq.heappush(heap, (ev.height(up), up))


def search(combos: pa.Table, qis: list[str], k: int, *, max_suppression: float = 0.0,
           sensitive: list[str] = (), l: int | None = None, subject: str | None = None) -> Result:  # noqa: E741
    """Levels for ``qis`` so the table is k-anonymous (and l-diverse in ``sensitive``) with at most
    ``max_suppression`` of the rows suppressed, at the least information loss found (module doc).
    ``subject``: a column of ``combos`` naming the person of each row: a class then needs k distinct
    subjects (not k rows; a person with many rows counts once)."""
    n = combos.column(COUNT).to_numpy().astype(np.int64)
    total = int(n.sum())
    cols = _columns(combos, qis, n, k)
    sens = [_codes(combos.column(s))[1] for s in sensitive] if l else []
    subj = _codes(combos.column(subject))[1] if subject is not None else None
    people = len(np.unique(subj[~_null_codes(combos.column(subject), subj)])) if subj is not None else total
    if 0 < people < k:
        raise Infeasible(f"the table has {people} {'subjects' if subj is not None else 'rows'}, fewer than k = {k}")
    for s_name, s in zip(sensitive if l else [], sens, strict=True):
        if total and len(np.unique(s)) < l:
            raise Infeasible(f"sensitive column {s_name} has fewer than l = {l} distinct values")
    tops = [len(c.levels) - 1 for c in cols]
    ev = _Evaluator(cols, n, total, k, max_suppression, sens, l or 0, tops, subj)
    budget = min(MAX_EVALUATIONS, max(MIN_EVALUATIONS, EVALUATION_CELLS // max(len(n), 1)))
    best = ev.greedy()
    if best is None:
        raise Infeasible("no generalization reaches the targets")
    exhaustive = True
    for node in _by_height(ev, tops):
        if ev.height(node) >= best.loss:
            break
        if node not in ev.cache and len(ev.cache) >= budget:
            exhaustive = False
            break
        o = ev.evaluate(node)
        if o.feasible and (o.loss, node) < (best.loss, best.levels):
            best = o
    nodes = math.prod(t + 1 for t in tops)
    result = _result(ev, cols, best, exhaustive, nodes, total, k, l, max_suppression)
    result.report["unit"] = "subject" if subject is not None else "row"
    if subject is not None:
        result.report["subjects"] = people
    return result


def _null_codes(col: pa.Array | pa.ChunkedArray, codes: np.ndarray) -> np.ndarray:
    """Which combinations have a null in ``col`` (a row without a subject is nobody's: not counted)."""
    valid = pc.is_valid(col)
    if isinstance(valid, pa.ChunkedArray):
        valid = valid.combine_chunks()
    return ~valid.to_numpy(zero_copy_only=False)


class _Evaluator:
    def __init__(self, cols, n, total, k, max_suppression, sens, l, tops, subj=None):  # noqa: E741
        self.cols, self.n, self.total, self.k = cols, n, total, k
        self.max_suppression, self.sens, self.l, self.tops = max_suppression, sens, l, tops
        self.subj = subj  # per combination: its subject's code (k counts subjects), or None (rows)
        self.cache: dict[tuple[int, ...], Outcome] = {}

    def _people(self, inv: np.ndarray, classes: int, sizes: np.ndarray) -> np.ndarray:
        """Per class: how many it counts towards k (distinct subjects, or rows)."""
        if self.subj is None:
            return sizes
        width = int(self.subj.max()) + 1 if len(self.subj) else 1
        pairs = np.unique(inv * width + self.subj)
        return np.bincount(pairs // width, minlength=classes).astype(np.int64)

    def _group_size(self, inv: np.ndarray, group: np.ndarray, null_class: int | None, sizes: np.ndarray) -> int:
        """What the suppressed rows' class counts towards k: its rows, or its distinct subjects."""
        classes = np.append(group, [null_class] if null_class is not None else []).astype(np.int64)
        if self.subj is None:
            return int(sizes[classes].sum())
        return len(np.unique(self.subj[np.isin(inv, classes)]))

    def height(self, node: tuple[int, ...]) -> float:
        if not node:
            return 0.0
        return float(np.mean([h / t if t else 0.0 for h, t in zip(node, self.tops, strict=True)]))

    def evaluate(self, node: tuple[int, ...], keep_inverse: bool = False) -> Outcome:
        """The node's outcome; cached without its per-combination class ids (memory: one small
        record per node), which ``keep_inverse`` computes again for the chosen node."""
        if node in self.cache and not keep_inverse:
            return self.cache[node]
        key = np.zeros(len(self.n), np.int64)
        null_key: int | None = 0
        span = 1
        for c, h in zip(self.cols, node, strict=True):
            card = c.cards[h]
            if span * card >= 1 << 62:  # keep the mixed-radix key inside int64
                uniq, key = np.unique(key, return_inverse=True)
                if null_key is not None:
                    pos = np.searchsorted(uniq, null_key)
                    null_key = int(pos) if pos < len(uniq) and uniq[pos] == null_key else None
                span = len(uniq)
            key = key * card + c.gen[h][c.codes]
            null_key = None if null_key is None or c.null_code[h] is None else null_key * card + c.null_code[h]
            span *= card
        uniq, inv = _classes(key, span)
        sizes = np.bincount(inv, weights=self.n, minlength=len(uniq)).astype(np.int64)
        people = self._people(inv, len(uniq), sizes)
        small = people < self.k
        for s in self.sens:
            pairs = np.unique(inv * (int(s.max()) + 1) + s)
            distinct = np.bincount(pairs // (int(s.max()) + 1), minlength=len(sizes))
            small |= distinct < self.l
        null_class = None
        if null_key is not None:
            pos = int(np.searchsorted(uniq, null_key))
            null_class = pos if pos < len(uniq) and uniq[pos] == null_key else None
        if null_class is not None:
            small[null_class] = False  # the rows suppressed join it; checked as the group below
        below = int(sizes[small].sum())
        null_rows = int(sizes[null_class]) if null_class is not None else 0
        limit = self.max_suppression * self.total + 1e-9
        group = np.flatnonzero(small)
        feasible = below <= limit

        def short(grp: np.ndarray) -> bool:  # the suppressed class below k (or l)
            return self._group_size(inv, grp, null_class, sizes) < self.k or not self._diverse(inv, grp, null_class)

        if feasible and below + null_rows and short(group):
            # the suppressed rows form one class (all quasi-identifiers null): it must reach k (and
            # l); the smallest other classes (ties: class order) join it while the bound allows
            rest = np.flatnonzero(~small)
            rest = rest[rest != null_class] if null_class is not None else rest
            rest = rest[np.argsort(sizes[rest], kind="stable")]
            have = self._group_size(inv, group, null_class, sizes)
            grown = have + np.cumsum(people[rest])  # subjects: an upper bound (one may be in two classes)
            take = int(np.searchsorted(grown, self.k)) + 1 if have < self.k else 0
            while take <= len(rest) and below + int(sizes[rest[:take]].sum()) <= limit:
                if not short(np.concatenate([group, rest[:take]])):
                    break
                take += 1
            group = np.sort(np.concatenate([group, rest[:take]]))
            feasible = take <= len(rest) and int(sizes[group].sum()) <= limit
        rows = int(sizes[group].sum())
        share = rows / self.total if self.total else 0.0
        kept = np.ones(len(sizes), bool)
        kept[group] = False
        if null_class is not None:
            kept[null_class] = False
        group_rows = rows + null_rows
        smallest = [int(people[kept].min())] if kept.any() else []
        smallest += [self._group_size(inv, group, null_class, sizes)] if group_rows else []
        o = Outcome(node, feasible, rows, share + (1 - share) * self.height(node),
                    min(smallest) if smallest else None, int(kept.sum()) + (1 if group_rows else 0), _NONE, below)
        self.cache[node] = o
        return replace(o, suppressed=group, inverse=inv) if keep_inverse else o

    def _diverse(self, inv: np.ndarray, group: np.ndarray, null_class: int | None) -> bool:
        if not self.sens:
            return True
        members = np.isin(inv, np.append(group, [null_class] if null_class is not None else []).astype(np.int64))
        return all(len(np.unique(s[members])) >= self.l for s in self.sens)

    def greedy(self) -> Outcome | None:
        node = tuple(0 for _ in self.cols)
        cur = self.evaluate(node)
        while not cur.feasible:
            steps = [node[:i] + (node[i] + 1,) + node[i + 1:] for i in range(len(node)) if node[i] < self.tops[i]]
            if not steps:
                return None
            outs = [self.evaluate(s) for s in steps]
            cur = min(outs, key=lambda o: (not o.feasible, o.loss if o.feasible else o.below, o.loss, o.levels))
            node = cur.levels
        return cur


def _result(ev: _Evaluator, cols: list[_Column], best: Outcome, exhaustive: bool, nodes: int, total: int,
            k: int, l: int | None, max_suppression: float) -> Result:  # noqa: E741
    keys: list[str] = []
    best = ev.evaluate(best.levels, keep_inverse=True)
    if len(best.suppressed):
        # one combination of each suppressed class: its generalized tuple, as the workers will see it
        first = np.full(int(best.inverse.max()) + 1, -1, np.int64)
        order = np.arange(len(best.inverse))[::-1]
        first[best.inverse[order]] = order
        rows = pa.array(first[best.suppressed])
        arrays = [hierarchy.generalize(c.values, c.levels[h]).take(pa.array(c.codes).take(rows))
                  for c, h in zip(cols, best.levels, strict=True)]
        keys = sorted(hierarchy.tuple_keys(arrays).to_pylist())
    levels = {c.name: c.levels[h] for c, h in zip(cols, best.levels, strict=True)}
    report = {
        "k_target": k, "k": best.k, "l_target": l, "max_suppression": max_suppression,
        "levels": {c.name: c.levels[h]["name"] for c, h in zip(cols, best.levels, strict=True)},
        "heights": {c.name: [h, len(c.levels) - 1] for c, h in zip(cols, best.levels, strict=True)},
        "classes": best.classes, "rows": total, "suppressed_rows": best.suppressed_rows,
        "suppressed_share": round(best.suppressed_rows / total, 6) if total else 0.0,
        "information_loss": round(best.loss, 6),
        "search": {"nodes": nodes, "evaluated": len(ev.cache), "exhaustive": exhaustive},
    }
    return Result(levels, {c.name: (h, len(c.levels) - 1) for c, h in zip(cols, best.levels, strict=True)},
                  keys, report)


def _columns(combos: pa.Table, qis: list[str], n: np.ndarray, k: int) -> list[_Column]:
    """Each quasi-identifier's distinct values, hierarchy and codes at every level."""
    cols: list[_Column] = []
    for q in qis:
        values, codes = _codes(combos.column(q))
        counts = np.bincount(codes, weights=n, minlength=len(values)).astype(np.int64)
        c = _Column(q, values, codes, hierarchy.build(values, counts, k))
        for spec in c.levels:
            enc = pc.dictionary_encode(hierarchy.generalize(values, spec), null_encoding="encode")
            c.gen.append(enc.indices.to_numpy(zero_copy_only=False).astype(np.int64))
            c.cards.append(max(len(enc.dictionary), 1))
            nulls = np.flatnonzero(pc.is_null(enc.dictionary).to_numpy(zero_copy_only=False))
            c.null_code.append(int(nulls[0]) if len(nulls) else None)
        cols.append(c)
    return cols


def evaluate_levels(combos: pa.Table, qis: list[str], k: int, levels: dict[str, str]) -> dict[str, Any]:
    """The figures of a given choice of levels (by name, e.g. the manual ZIP-3 + birth-year choice),
    every class below k suppressed: for comparisons (bench)."""
    n = combos.column(COUNT).to_numpy().astype(np.int64)
    cols = _columns(combos, qis, n, k)
    ev = _Evaluator(cols, n, int(n.sum()), k, 1.0, [], 0, [len(c.levels) - 1 for c in cols])
    node = tuple(next(i for i, s in enumerate(c.levels) if s["name"] == levels[c.name]) for c in cols)
    o = ev.evaluate(node)
    return {"levels": levels, "k": o.k, "suppressed_rows": o.suppressed_rows,
            "information_loss": round(o.loss, 6), "classes": o.classes}
