"""The attacker's side of :class:`veil.verify.risk.RiskCheck`, and the counting it shares with it.

- :func:`column_fingerprints` / :func:`tuple_fingerprints`: one uint64 per row for a value, or
  for a tuple of values (quasi-identifiers), from the verification's keyed fingerprints;
- :class:`Counts`: rows per distinct uint64 key, merged across batches (memory per distinct key);
- :class:`AttackerView`: the original's quasi-identifiers as an attacker can reproduce them (each
  column through its operator when that operator is deterministic and keyless), for the linkage
  attack;
- :class:`Inference`: kept columns that predict a transformed column of the same table (a kept
  ``age`` beside a faked ``birth_date``), measured on the original.

No structure here holds a value: only keyed fingerprints (8 bytes each) and counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..formats.typed import Misfit, convert
from ..ops.arrays import is_text
from ..pipeline.transform import transform_batch
from ..plan import TablePlan
from .base import TableInfo, VerifyContext
from .keys import column_fingerprints as value_column_fingerprints

#: The fingerprint of a null (a fixed constant: keyed fingerprints of values are pseudorandom,
#: so a value meets it with probability 2**-64).
NULL_FP = np.uint64(0x9AE16A3B2F90404F)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SEED = np.uint64(0x243F6A8885A308D3)

#: Inference leaks: a kept column K "gives back" a transformed column T when Goodman and Kruskal's
#: lambda of T's coarse form predicted from K is at least this.
INFERENCE_THRESHOLD = 0.8
#: ... measured on the first rows of the original table, at most this many;
INFERENCE_ROWS = 200_000
#: ... for columns with at most this many distinct values (coarse values, for T) in those rows;
INFERENCE_MAX_DISTINCT = 1_000
#: ... for kept columns whose values cover this many rows each on average (not near-unique);
INFERENCE_ROWS_PER_VALUE = 4
#: ... at most this many (kept, transformed) pairs per table (quasi-identifiers first);
INFERENCE_MAX_PAIRS = 64
#: ... each with at most this many distinct (kept value, coarse value) combinations (memory:
#: 24 bytes each, so at most 64 x 20,000 x 24 bytes = 31 MB per table).
INFERENCE_MAX_COMBINATIONS = 20_000
#: Text whose sampled values look like this (share >= 0.9) is a date: its coarse form is the year.
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"


def mix(h: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (Steele, Lea, Flood 2014), vectorised over uint64."""
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint64(30))
        h = h * np.uint64(0xBF58476D1CE4E5B9)
        h = h ^ (h >> np.uint64(27))
        h = h * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))


def combine(h: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """One more column into a tuple's fingerprint (order matters)."""
    with np.errstate(over="ignore"):
        return mix(h * _GOLDEN + fp)


def column_fingerprints(ctx: VerifyContext, arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each row's keyed fingerprint of its value (``keys.column_fingerprints``: canonical text, '42'
    and 42 alike; nested values by their JSON), NULL_FP for a null."""
    if isinstance(arr, pa.ChunkedArray) and pa.types.is_dictionary(arr.type):
        # chunks of a dictionary type may hold different dictionaries
        arr = pa.chunked_array([c.dictionary_decode() for c in arr.chunks], arr.type.value_type)
    out = np.full(len(arr), NULL_FP, dtype=np.uint64)
    if len(arr) and arr.null_count < len(arr):
        fps, rows = value_column_fingerprints(ctx, arr)
        out[rows] = fps
    return out


def tuple_fingerprints(ctx: VerifyContext, arrays: list[pa.Array], n: int) -> np.ndarray:
    """Each row's fingerprint of the tuple of ``arrays`` (in that order): the per-column
    fingerprints folded with splitmix64. An empty tuple gives every row the same fingerprint."""
    h = np.full(n, _SEED, dtype=np.uint64)
    for arr in arrays:
        h = combine(h, column_fingerprints(ctx, arr))
    return h


class Counts:
    """Rows per distinct uint64 key, merged across batches: 16 bytes per distinct key (24 with a
    tag, an identifier that each key determines, such as a pair's equivalence class)."""

    def __init__(self, tagged: bool = False) -> None:
        self.tagged = tagged
        self._keys = np.empty(0, np.uint64)
        self._counts = np.empty(0, np.int64)
        self._tags = np.empty(0, np.uint64)
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._pending_n = 0
        self.rows = 0

    def add(self, keys: np.ndarray, tags: np.ndarray | None = None) -> None:
        if len(keys) == 0:
            return
        self.rows += len(keys)
        if self.tagged and tags is not None:
            uniq, first, counts = np.unique(keys, return_index=True, return_counts=True)
            tag = tags[first]
        else:  # no first index needed: a plain sort, not an argsort
            uniq, counts = np.unique(keys, return_counts=True)
            tag = np.empty(0, np.uint64)
        self._pending.append((uniq, counts.astype(np.int64), tag))
        self._pending_n += len(uniq)
        if self._pending_n > max(len(self._keys), 1 << 18):
            self._compact()

    def _compact(self) -> None:
        if not self._pending:
            return
        keys = np.concatenate([self._keys] + [p[0] for p in self._pending])
        counts = np.concatenate([self._counts] + [p[1] for p in self._pending])
        tags = np.concatenate([self._tags] + [p[2] for p in self._pending]) if self.tagged else self._tags
        self._pending, self._pending_n = [], 0
        self._keys, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        self._counts = np.bincount(inv.ravel(), weights=counts, minlength=len(self._keys)).astype(np.int64)
        if self.tagged:
            self._tags = tags[first]

    @property
    def keys(self) -> np.ndarray:
        self._compact()
        return self._keys

    @property
    def counts(self) -> np.ndarray:
        self._compact()
        return self._counts

    @property
    def tags(self) -> np.ndarray:
        self._compact()
        return self._tags

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The count of each key (0 for a key never added)."""
        known = self.keys
        if len(known) == 0:
            return np.zeros(len(keys), np.int64)
        pos = np.minimum(np.searchsorted(known, keys), len(known) - 1)
        return np.where(known[pos] == keys, self._counts[pos], 0)


def grouped(tags: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each tag's group index, the number of groups) for per-group reductions with bincount."""
    _, inv = np.unique(tags, return_inverse=True)
    inv = inv.ravel()
    return inv, int(inv.max()) + 1 if len(inv) else 0


# -- the linkage attack ----------------------------------------------------------


def reproducible(info: TableInfo, column: str) -> bool:
    """Whether an attacker holding the original (not the key) can compute ``column`` as the copy
    shows it: kept, or transformed by a deterministic operator that uses no key."""
    cp = info.column_plan(column)
    if cp is None or not cp.transformed:
        return True
    op = cp.operator
    return op.deterministic and not op.keyed and not op.drops_column


class AttackerView:
    """The original's quasi-identifiers as the attacker computes them: the copy's QI columns that
    are reproducible (:func:`reproducible`), each kept as is or passed through its operator the
    way the pipeline applies it (``transform_batch`` with no keys)."""

    def __init__(self, info: TableInfo, copy_qis: list[str]) -> None:
        names = set(info.original_schema.names)
        self.columns = [c for c in copy_qis if c in names and reproducible(info, c)]
        self.left_out = [c for c in copy_qis if c not in self.columns]
        ops = [cp for c in self.columns if (cp := info.column_plan(c)) is not None and cp.transformed]
        self._plan = TablePlan(info.name, ops) if ops else None
        self._sources = info.text_sources
        self._copy_types = {f.name: f.type for f in info.copy_schema} if info.copy_schema is not None else {}

    def view(self, ctx: VerifyContext, batch: pa.RecordBatch, row_offset: int) -> np.ndarray:
        """Each original row's tuple fingerprint as the attacker sees it."""
        done = {}
        if self._plan is not None:
            out = transform_batch(self._plan, self._working(batch), None, row_offset).batch
            done = {name: out.column(name) for name in out.schema.names}
        arrays = [self._as_copy(c, done[c] if c in done else batch.column(c)) for c in self.columns]
        return tuple_fingerprints(ctx, arrays, batch.num_rows)

    def _as_copy(self, column: str, arr: pa.Array) -> pa.Array:
        """A dump's text as the typed copy writes it (Parquet output of a dump: PostgreSQL's ``t``
        is ``true``, ``\\xdead`` bytes, a timestamptz with its offset a UTC instant), so the same
        value compares equal; files and untyped copies compare by canonical text as they are."""
        source, to = self._sources.get(column), self._copy_types.get(column)
        if source is None or to is None or arr.type == to or not is_text(arr.type) or is_text(to):
            return arr
        try:
            return convert(arr, to, source.how)
        except (Misfit, pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return arr  # a value the copy's type cannot hold: compared as text (a non-match)

    def _working(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch with each transformed column in the type the plan gives it: a dump is read as
        text here, while ``veil run`` types its values before the operator sees them (so
        generalize to year gives a date, not 'YYYY'). A column that does not cast stays as it is."""
        arrays, names = list(batch.columns), batch.schema.names
        for cp in self._plan.columns:
            i = names.index(cp.name)
            if arrays[i].type != cp.in_type:
                try:
                    arrays[i] = pc.cast(arrays[i], cp.in_type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    pass
        return pa.RecordBatch.from_arrays(arrays, names=names)

    def shown(self, ctx: VerifyContext, batch: pa.RecordBatch) -> np.ndarray:
        """Each copy row's tuple fingerprint over the attacker's columns, as written."""
        return tuple_fingerprints(ctx, [batch.column(c) for c in self.columns], batch.num_rows)


# -- inference leaks -------------------------------------------------------------


@dataclass
class _Target:
    """A transformed column and how its coarse form is taken (year of a date, else the value)."""

    name: str
    date_text: bool | None = None  # text holding ISO dates (decided on the first values seen)
    counts: Counts = field(default_factory=Counts)

    def coarse(self, arr: pa.Array) -> pa.Array:
        t = arr.type
        if pa.types.is_dictionary(t):
            arr, t = arr.dictionary_decode(), t.value_type
        if pa.types.is_date(t) or pa.types.is_timestamp(t):
            return pc.year(arr)
        if not is_text(t):
            return arr
        if self.date_text is None:
            sample = arr.drop_null().slice(0, 1000)
            if len(sample) == 0:
                return arr
            hits = pc.sum(pc.match_substring_regex(sample, _ISO_DATE)).as_py() or 0
            self.date_text = hits >= 0.9 * len(sample)
        return pc.utf8_slice_codeunits(arr, 0, 4) if self.date_text else arr


class Inference:
    """Kept columns that give a transformed column back, measured on the first
    :data:`INFERENCE_ROWS` rows of the original.

    Score: Goodman and Kruskal's lambda of T's coarse form predicted from K,
    ``(sum_k max_t n(k,t) - max_t n(t)) / (n - max_t n(t))``: the share of the errors of guessing
    T's most common coarse value that knowing K removes (1: K determines it)."""

    def __init__(self, info: TableInfo, priority: list[str]) -> None:
        keys = set(info.primary_key).union(*info.unique)  # identifiers themselves: not scored
        names = info.original_schema.names
        plans = {c: info.column_plan(c) for c in names}
        kept = [c for c in names if (plans[c] is None or not plans[c].transformed) and c not in keys]
        kept.sort(key=lambda c: (c not in priority, priority.index(c) if c in priority else 0))
        targets = [c for c in names if plans[c] is not None and plans[c].transformed and c not in keys]
        self.kept = {c: Counts() for c in kept}
        self.targets = {c: _Target(c) for c in targets}
        self.pairs = {(k, t): Counts(tagged=True) for k in kept for t in targets}
        self.pairs = dict(list(self.pairs.items())[:INFERENCE_MAX_PAIRS])
        self.rows = 0

    def add(self, ctx: VerifyContext, batch: pa.RecordBatch) -> None:
        room = INFERENCE_ROWS - self.rows
        if room <= 0 or not self.pairs:
            return
        if batch.num_rows > room:
            batch = batch.slice(0, room)
        self.rows += batch.num_rows
        kfp = {k: column_fingerprints(ctx, batch.column(k)) for k in {k for k, _ in self.pairs}}
        tfp = {t: column_fingerprints(ctx, self.targets[t].coarse(batch.column(t)))
               for t in {t for _, t in self.pairs}}
        for k, fp in kfp.items():
            self.kept[k].add(fp)
        for t, fp in tfp.items():
            self.targets[t].counts.add(fp)
        for (k, t), counts in self.pairs.items():
            counts.add(combine(kfp[k], tfp[t]), tags=kfp[k])
        # stop following columns with too many distinct values: they cannot be scored
        too_many = {c for c, n in ((k, len(self.kept[k])) for k in kfp) if n > INFERENCE_MAX_DISTINCT}
        too_many |= {t for t in tfp if len(self.targets[t].counts) > INFERENCE_MAX_DISTINCT}
        self.pairs = {p: c for p, c in self.pairs.items() if p[0] not in too_many and p[1] not in too_many
                      and len(c) <= INFERENCE_MAX_COMBINATIONS}

    def scores(self) -> list[dict]:
        """Every pair that could be scored: {"kept", "transformed", "score"}."""
        out = []
        n = self.rows
        for (k, t), counts in self.pairs.items():
            distinct_k = len(self.kept[k])
            if distinct_k > INFERENCE_MAX_DISTINCT or distinct_k * INFERENCE_ROWS_PER_VALUE > n:
                continue
            base = int(self.targets[t].counts.counts.max()) if n else n
            if n - base <= 0:  # T is constant: nothing to predict
                continue
            inv, groups = grouped(counts.tags, counts.counts)
            best = np.zeros(groups, np.int64)
            np.maximum.at(best, inv, counts.counts)
            score = (int(best.sum()) - base) / (n - base)
            out.append({"kept": k, "transformed": t, "score": round(float(score), 6)})
        return out
