"""Utility: how much of the original's shape the copy keeps (``veil verify``, the "utility" section).

Per column, before (ORIGINAL) and after (COPY): type, null share, distinct count, and by kind:

- ``number`` / ``date`` (numeric and date/timestamp types, and text columns whose every non-blank
  value reads as a number or an ISO date): count, mean, std, quantiles, a 20-bin histogram over the
  original's 1%–99% range; distance: the KS statistic (``ks``), with the 1-Wasserstein distance
  divided by the original's interquartile range (its 1%–99% range when that is 0) beside it;
- ``category`` (distinct values at most 5% of the non-null rows, or at most 1000 and at most half
  of them: a value repeats twice on average): frequencies per
  keyed fingerprint; distance: total variation (``tvd``), value for value, for a column the profile
  keeps; for one it transforms, the TVD of the frequency profiles (``tvd_rank``: the i-th most
  frequent value against the i-th, whatever the labels); top-10 overlap beside it;
- ``text``: the length distribution; distance: KS of the lengths (``ks_length``);
- ``other`` (binary, nested, ...): distinct counts only.

A column the profile transforms by a keyed injective operator (a pseudonymized identifier), or any
transformed key column, is judged by its distinct count: distance ``distinct_ratio`` =
|1 - distinct after / distinct before|. A dropped column is reported, not scored; a column missing
from the copy without the profile dropping it scores distance 1.

Nulls count in the distance: d = min(1, |null share after - before| + (1 - the larger null share)
* d_values), so nullifying a column costs its non-null share.

Per foreign key: the share of references that resolve before and after, and the distribution of
children per parent (histogram with edges 0, 1, 2, 3, 5, 10, 20, 50, 100, +) with the KS distance
between before and after. Per unique key (primary key, unique): duplicates before and after.

Table score: 1 - the mean of the distances of its scored columns and of its foreign keys'
children-per-parent distances (1 = the same distributions). ``summary.utility``: the lowest.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pyarrow as pa

from ..ops.arrays import is_text
from . import distributions
from .base import TableInfo, VerifyContext
from .distributions import (
    LENGTH_CAP,
    NUMERIC_KINDS,
    QUANTILES,
    ColumnSide,
    ks,
    ks_counts,
    ranked_shares,
    top_k_overlap,
    tvd,
    tvd_rank,
    wasserstein,
)
from .keys import COPY, ORIGINAL, KeyTracker, column_fingerprints, number_fingerprints, references

CATEGORY_DISTINCT = 1000
CATEGORY_SHARE = 0.05
CATEGORY_REPEAT = 0.5  # at most 1000 distinct values only if each repeats twice on average
TOP_K = 10
BINS = 20
CHILD_EDGES = (0, 1, 2, 3, 5, 10, 20, 50, 100)  # the last bin: 100 and more
LENGTH_EDGES = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, LENGTH_CAP)  # the last: LENGTH_CAP and more


def r6(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def _iso(seconds: float | None, days: bool = False) -> str | None:
    """ISO text of seconds since 1970 (UTC): a date when the column holds dates only."""
    if seconds is None:
        return None
    if days:
        return str(np.datetime64(int(np.floor(seconds / 86400.0 + 0.5)), "D"))
    return str(np.datetime64(int(round(seconds)), "s")).replace("T", " ")


class UtilityCheck:
    name = "utility"

    def __init__(self, ctx: VerifyContext) -> None:
        self.ctx = ctx
        self.keys = KeyTracker.shared(ctx)
        self._sides: dict[tuple[str, str], list[ColumnSide | None]] = {}
        self._kinds: dict[tuple[str, str], str] = {}

    # -- phases ----------------------------------------------------------------

    def original(self, table: str, batch: pa.RecordBatch) -> None:
        known = {}
        keys = self._key_columns(table)
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            sides = self._sides.setdefault((table, name), [ColumnSide(_seed(table, name)), None])
            fps = None if name in keys else number_fingerprints(self.ctx, column)
            if fps is None:
                fps = known[name] = column_fingerprints(self.ctx, column)
            sides[0].add(self.ctx, column, fps, count_values=name not in self._single_keys(table))
        self.keys.feed(self, ORIGINAL, table, batch, known)

    def copy(self, table: str, batch: pa.RecordBatch, original: pa.RecordBatch | None) -> None:
        known = {}
        keys = self._key_columns(table)
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            sides = self._sides.get((table, name))
            if sides is None:  # a column (or table) the original lacks: integrity reports it
                continue
            kind = self.kind(table, name)
            if sides[1] is None:
                sides[1] = ColumnSide(_seed(table, name), kind=kind)
            fps = (number_fingerprints(self.ctx, column)
                   if name not in keys and kind in NUMERIC_KINDS else None)
            if fps is None:
                fps = known[name] = column_fingerprints(self.ctx, column)
            sides[1].add(self.ctx, column, fps, count_values=name not in self._single_keys(table))
        self.keys.feed(self, COPY, table, batch, known)

    def _key_columns(self, table: str) -> set[str]:
        """Columns of the table in a key: their fingerprints must match across sides and types.
        The others of a number or date kind only need a distinct count (``number_fingerprints``)."""
        return {c for cols in self.keys.sets.get(table, ()) for c in cols}

    def _single_keys(self, table: str) -> set[str]:
        """Columns that are a key on their own: the key tracker counts their values (the same
        fingerprints), so their sides take its counts (:meth:`_shared_values`) instead of a second set."""
        return {cols[0] for cols in self.keys.sets.get(table, ()) if len(cols) == 1}

    def _shared_values(self, table: str, column: str) -> None:
        """A single-column key's sides: ``values`` from the key tracker, once its counting is over
        for that side (phase 1 for the original, finish for the copy)."""
        if column not in self._single_keys(table):
            return
        for i, side in enumerate(self._sides.get((table, column)) or ()):
            if side is not None and not getattr(side, "shared_values", False):
                counts = self.keys.get(ORIGINAL if i == 0 else COPY, table, (column,))
                if counts is not None:
                    side.values, side.shared_values = counts, True

    def kind(self, table: str, column: str) -> str:
        """The column's kind, from the original side (final once phase 1 is over)."""
        got = self._kinds.get((table, column))
        if got is None:
            self._shared_values(table, column)
            side = self._sides[(table, column)][0]
            got = side.number_kind()
            if got is None:
                present = side.rows - side.nulls
                if (side.values.distinct <= CATEGORY_SHARE * present
                      or side.values.distinct <= min(CATEGORY_DISTINCT, CATEGORY_REPEAT * present)):
                    got = "category"
                else:
                    got = "text" if side.type is not None and is_text(side.type) else "other"
            self._kinds[(table, column)] = got
        return got

    # -- the section -------------------------------------------------------------

    def finish(self) -> dict[str, Any]:
        tables: dict[str, Any] = {}
        for name, info in self.ctx.tables.items():
            tables[name] = self._table(info)
        scores = [t["score"] for t in tables.values() if t["score"] is not None]
        return {"summary": {"utility": r6(min(scores)) if scores else None},
                "tables": tables,
                "method": {"sample": distributions.SAMPLE, "category_distinct": CATEGORY_DISTINCT,
                           "category_share": CATEGORY_SHARE,
                           "category_repeat": CATEGORY_REPEAT, "top_k": TOP_K,
                           "quantiles": list(QUANTILES), "children_edges": list(CHILD_EDGES),
                           "date_unit": "seconds since 1970-01-01 UTC"}}

    def _table(self, info: TableInfo) -> dict[str, Any]:
        in_copy = info.copy_schema is not None
        columns = {c: self._column(info, c, in_copy) for c in info.original_schema.names}
        fks = [self._foreign_key(info, fk) for fk in info.foreign_keys]
        distances = [c["distance"] for c in columns.values() if c["scored"]]
        distances += [f["distance"] for f in fks if f["distance"] is not None]
        score = r6(1.0 - float(np.mean(distances))) if in_copy and distances else None
        keys = [info.primary_key] if info.primary_key else []
        keys += [u for u in info.unique if u and u != info.primary_key]
        return {"summary": {"utility": score}, "score": score, "in_copy": in_copy,
                "columns_scored": len(distances), "columns": columns, "foreign_keys": fks,
                "unique_keys": [self._unique(info, k) for k in keys]}

    def _role(self, info: TableInfo, column: str, in_copy: bool) -> str:
        plan = info.column_plan(column)
        if plan is not None and plan.dropped:
            return "dropped"
        if not in_copy or column not in info.copy_schema.names:
            return "missing"
        if plan is None or not plan.transformed:
            return "kept"
        op = plan.operator
        key_columns = set(info.primary_key).union(*info.unique, *(fk.columns for fk in info.foreign_keys))
        key_columns.update(c for t in self.ctx.tables.values() for fk in t.foreign_keys
                           if fk.ref_table == info.name for c in fk.ref_columns)
        if column in key_columns or (op.keyed and op.injective(op.with_defaults(plan.params))):
            return "identifier"
        return "transformed"

    def _column(self, info: TableInfo, column: str, in_copy: bool) -> dict[str, Any]:
        sides = self._sides.get((info.name, column))
        if sides is None:  # the original table had no batch
            sides = [ColumnSide(_seed(info.name, column)), None]
            self._sides[(info.name, column)] = sides
        self._shared_values(info.name, column)
        before, after = sides
        kind = self.kind(info.name, column)
        role = self._role(info, column, in_copy)
        if after is None and role not in ("dropped", "missing"):
            after = ColumnSide(0, kind=kind)  # an empty copy table
        out: dict[str, Any] = {"kind": kind, "role": role, "before": _stats(before, kind),
                               "after": None if after is None else _stats(after, kind)}
        if role == "dropped":
            out.update(distance=None, distance_name=None, scored=False)
            return out
        if role == "missing":
            out.update(distance=1.0, distance_name="missing", scored=True)
            return out
        values, name, extra = _value_distance(before, after, kind, role, *self._measures(info.name, column))
        nb, na = before.nulls / max(before.rows, 1), after.nulls / max(after.rows, 1)
        if before.rows == 0 and after.rows == 0:
            distance = 0.0
        elif after.rows == 0 or before.rows == 0:
            distance = 1.0  # nothing to compare with: integrity reports the row counts
        elif values is None:
            distance = min(1.0, abs(nb - na)) if min(before.rows - before.nulls,
                                                      after.rows - after.nulls) == 0 else 1.0
        else:
            distance = min(1.0, abs(nb - na) + (1.0 - max(nb, na)) * values)
        out.update(distance=r6(distance), distance_name=name, value_distance=r6(values),
                   scored=True, **extra)
        if role != "kept":
            _without_values(out)
        return out

    def _measures(self, table: str, column: str) -> tuple[Any, Any]:
        """How the column's two value counts are compared: (tvd, top_k_overlap) of the sides'
        FingerprintCounts (the Spark verification joins them in Spark instead)."""
        return tvd, top_k_overlap

    def _foreign_key(self, info: TableInfo, fk) -> dict[str, Any]:
        before = self.keys.foreign_key(ORIGINAL, info.name, fk)
        after = self.keys.foreign_key(COPY, info.name, fk)
        hist_b = _children_histogram(before)
        hist_a = _children_histogram(after)
        distance = None
        if before is not None and after is not None:
            distance = ks(np.sort(before["per_parent"]), np.sort(after["per_parent"]))
        return {"columns": list(fk.columns), "references": references(fk),
                "resolved_before": None if before is None else before["share"],
                "resolved_after": None if after is None else after["share"],
                "unresolved_before": None if before is None else before["unresolved"],
                "unresolved_after": None if after is None else after["unresolved"],
                "children_per_parent": {"edges": [*CHILD_EDGES, "+"], "before": hist_b,
                                        "after": hist_a},
                "distance": r6(distance), "distance_name": "ks"}

    def _unique(self, info: TableInfo, columns: list[str]) -> dict[str, Any]:
        before = self.keys.get(ORIGINAL, info.name, columns)
        after = self.keys.get(COPY, info.name, columns)
        db = None if before is None else before.duplicates
        da = None if after is None else after.duplicates
        return {"columns": list(columns), "unique_before": None if db is None else db == 0,
                "unique_after": None if da is None else da == 0,
                "duplicates_before": db, "duplicates_after": da}


def _seed(table: str, column: str) -> int:
    """The same seed on both sides: an identical copy draws the same rows into its samples."""
    return zlib.crc32(f"{table}\0{column}".encode())


def _children_histogram(res: dict[str, Any] | None) -> list[int] | None:
    if res is None:
        return None
    counts, _ = np.histogram(res["per_parent"], bins=[*CHILD_EDGES, np.inf])
    return [int(c) for c in counts]


#: the fields that hold numbers of the data itself (a quantile, a mean, a bin edge is a value, or
#: near one): reported for kept columns only, whose values the copy holds anyway
VALUE_FIELDS = ("mean", "std", "std_days", "quantiles")


def _without_values(out: dict[str, Any]) -> None:
    """Drop what would show values of a column the profile transforms (a card number read as a
    number: its quantiles are card numbers): counts, shares and distances stay."""
    for side in (out.get("before"), out.get("after")):
        for name in VALUE_FIELDS:
            if side and name in side:
                side[name] = None
    hist = out.get("histogram")
    if hist and "edges" in hist and hist.get("of") != "length":
        hist["edges"] = None
    if "wasserstein" in out:
        out["wasserstein"] = None  # in the column's units: with a shift it tells the values' scale


def _stats(side: ColumnSide, kind: str) -> dict[str, Any]:
    out = side.common()
    if side.lengths is not None:
        total = int(side.lengths.sum())
        mean = float((np.arange(len(side.lengths)) * side.lengths).sum() / total) if total else None
        out["length"] = {"mean": r6(mean), "blank": side.blanks}
    numbers = side.numbers.get(kind) if kind in NUMERIC_KINDS else None
    if numbers is not None:
        mean, std = numbers.moments()
        sample = numbers.sorted_sample()
        qs = np.quantile(sample, QUANTILES) if len(sample) else [None] * len(QUANTILES)
        labels = [f"p{round(q * 100):02d}" for q in QUANTILES]
        if kind == "date":
            days = numbers.whole_days
            out.update(count=numbers.count, unparsed=numbers.unparsed, mean=_iso(mean, days),
                       std_days=r6(None if std is None else std / 86400.0),
                       quantiles=dict(zip(labels, (_iso(q, days) for q in qs), strict=True)))
        else:
            out.update(count=numbers.count, unparsed=numbers.unparsed, mean=r6(mean), std=r6(std),
                       quantiles=dict(zip(labels, (r6(q) for q in qs), strict=True)))
    elif kind in NUMERIC_KINDS:
        out.update(count=0, unparsed=side.rows - side.nulls - side.blanks)
    return out


def _value_distance(before: ColumnSide, after: ColumnSide, kind: str, role: str,
                    tvd_of=tvd, overlap_of=top_k_overlap) -> tuple[float | None, str, dict[str, Any]]:
    """(distance of the non-null values in [0, 1], its name, extra fields of the column)."""
    extra: dict[str, Any] = {}
    if role == "identifier":
        db, da = before.values.distinct, after.values.distinct
        d = (0.0 if da == 0 else 1.0) if db == 0 else min(1.0, abs(1.0 - da / db))
        return d, "distinct_ratio", extra
    if kind in NUMERIC_KINDS:
        nb, na = before.numbers.get(kind), after.numbers.get(kind)
        a = nb.sorted_sample() if nb is not None else np.empty(0)
        b = na.sorted_sample() if na is not None else np.empty(0)
        d = ks(a, b)
        if d is None and len(a) and after.rows - after.nulls - after.blanks > 0:
            d = 1.0  # the copy's values are no longer numbers (dates)
        if len(a):
            lo, hi = np.quantile(a, [0.01, 0.99])
            q1, q3 = np.quantile(a, [0.25, 0.75])
            scale = q3 - q1 if q3 > q1 else hi - lo
            w = wasserstein(a, b)
            extra["wasserstein"] = r6(w)
            extra["wasserstein_normalized"] = r6(w / scale) if w is not None and scale > 0 else None
            extra["histogram"] = _histogram(a, b, lo, hi)
        return d, "ks", extra
    if kind == "category":
        extra["top_k_overlap"] = overlap_of(before.values, after.values, TOP_K)
        rb, ra = ranked_shares(before.values)[:TOP_K], ranked_shares(after.values)[:TOP_K]
        extra["histogram"] = {"ranks": list(range(1, TOP_K + 1)),
                              "before": [r6(x) for x in rb], "after": [r6(x) for x in ra]}
        if role == "kept":
            return tvd_of(before.values, after.values), "tvd", extra
        return tvd_rank(before.values, after.values), "tvd_rank", extra
    if kind == "text" and before.lengths is not None:
        extra["histogram"] = {"of": "length", "edges": [*LENGTH_EDGES, "+"],
                              "before": _length_bins(before.lengths),
                              "after": _length_bins(after.lengths)}
        if after.lengths is None:
            return (1.0 if after.rows > after.nulls else None), "ks_length", extra
        return ks_counts(before.lengths, after.lengths), "ks_length", extra
    db, da = before.values.distinct, after.values.distinct
    d = (0.0 if da == 0 else 1.0) if db == 0 else min(1.0, abs(1.0 - da / db))
    return d, "distinct_ratio", extra


def _histogram(a: np.ndarray, b: np.ndarray, lo: float, hi: float) -> dict[str, Any]:
    """Counts of the samples in 20 bins over the original's 1%-99% range (values beyond it in the
    end bins)."""
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, BINS + 1)
    before, _ = np.histogram(np.clip(a, lo, hi), bins=edges)
    after, _ = np.histogram(np.clip(b, lo, hi), bins=edges) if len(b) else (np.zeros(BINS), None)
    return {"edges": [r6(e) for e in edges], "before": [int(c) for c in before],
            "after": [int(c) for c in after], "of": "sample"}


def _length_bins(lengths: np.ndarray | None) -> list[int] | None:
    if lengths is None:
        return None
    idx = np.searchsorted(np.asarray(LENGTH_EDGES), np.arange(len(lengths)), side="right") - 1
    return [int(c) for c in np.bincount(idx, weights=lengths, minlength=len(LENGTH_EDGES))]
