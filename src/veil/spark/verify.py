"""``veil verify`` on Spark: the integrity, utility, risk and leak metrics the gates read, as Spark aggregations.

:func:`verify` takes ORIGINAL and COPY as Spark DataFrames (``{table: DataFrame}``) or as directories
of Parquet tables (read as ``veil run --engine spark`` reads them) and returns a report with the
local ``veil verify`` report's structure and key names for what it computes, so
:func:`veil.verify.gates.evaluate` and :func:`~veil.verify.gates.default_gates` read it unchanged.

How: each table of each side goes once through a ``mapInArrow`` pass that turns the columns a
metric needs into 8-byte keyed fingerprints with the local checks' own functions
(veil.verify.keys, veil.verify.linkage: canonical text, '42' and 42 alike, nulls and blanks as the
local checks treat them), under a key drawn at random for this verification and never stored
(it travels to the executors in the task closure only). Everything after that is Spark
groupBy/agg/joins on those fingerprints; the driver receives counts only (row counts, class-size
distributions, per-key resolution counts), never a value or a fingerprint of one, but for what the
local checks hold too: each number or date column's sample of at most 50,000 values (utility), and
a free-text (scrub) column's distinct word fingerprints of its original text, sent back with the
task that cuts that column of the copy (leaks, veil.spark.verify_leaks.known_spans).

Computed (as the local report's keys): ``integrity`` (whole); ``utility`` (whole: each column's
distributions from the local check's own sides, filled per partition and merged; the numbers'
sample is the local one, veil.spark.verify_utility); ``risk`` without the linkage attack
and the inference flags (journalist risk with ``privacy.population`` only); ``leaks`` as the local
check counts them when the rows are not paired: each transformed column's original values in its
own column of the copy, and its specific values found in any column of the copy that carries
text through (whole, as word sequences inside text, as rare words inside prose; a column's
vocabulary left out). Not computed, and listed in the report's ``not_computed`` (a gate on
linkage reads an unmeasured value, so it fails when asked for):
``risk.linkage``, ``risk.inference``, ``leaks.same_row`` (a value kept in its own row of an
overlap or coarsening column; a one-word value confirmed by its row), ``leaks.weak`` (one-word
matches that are not leaks): the leaks gate reads a lower bound. docs/spark-verify.md says what
differs and why.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..api import as_profile, memory_dataset
from ..errors import UsageError
from ..ops.arrays import blank_mask
from ..profile import Profile
from ..verify.base import TableInfo, VerifyContext
from ..verify.gates import default_gates, judged, parse_gates
from ..verify.integrity import IntegrityCheck
from ..verify.keys import COPY as KEY_COPY
from ..verify.keys import ORIGINAL as KEY_ORIGINAL
from ..verify.keys import column_fingerprints, references, row_fingerprints
from ..verify.leak_index import (
    distinct_values,
    searchable_text,
    sequence_hashes,
    timestamp_wholes,
    tokenise,
    unsearchable,
)
from ..verify.leaks import RULES
from ..verify.linkage import column_fingerprints as cell_fingerprints
from ..verify.linkage import (
    tuple_fingerprints,
)
from ..verify.runner import REPORT_KIND, REPORT_VERSION, _as_copy_types, _typed_columns, build_context
from . import arrow_schema, conform

ORIGINAL, COPY = "original", "copy"
LIST_KINDS = ("sequences", "source_words", "cell_words")  # fingerprint columns holding lists

#: What this engine does not compute (the local report has it): a gate on linkage reads an
#: unmeasured value (a gate asked for then fails; a default gate is skipped); leaks, a lower bound.
NOT_COMPUTED = ["risk.linkage", "risk.inference", "leaks.same_row", "leaks.weak"]
NOTES = {
    "paired": "rows are not paired by position: leaks are counted as the local check counts them for "
              "unpaired rows (a strict column's own matches are all leaks; a value an overlap or coarsening "
              "column kept in its own row is not judged; a one-word value found whole in another column is "
              "weak, not confirmed by its row)",
    "leaks.prose": "whether a text column is prose (single rare words inside it are leaks, else weak) is "
                   "judged over the whole column, not per batch",
    "leaks.weak": "one-word matches that are not leaks (outside prose, or a one-word cell) are not counted",
    "risk.journalist": "computed with privacy.population only, not with the original as the population",
}


def verify(original: Mapping[str, Any] | str | Path, copy: Mapping[str, Any] | str | Path,
           profile: Profile | Mapping | str | Path, *, fail_on: str | None = None, spark: Any = None
           ) -> dict[str, Any]:
    """The report of ``veil verify`` for what Spark computes (module doc), with the gates
    (``fail_on`` as ``--fail-on``; default the profile's) and the verdict; ``"engine": "spark"``
    and ``"not_computed"`` name what it leaves out. Counts, shares and names only, never a value."""
    from .run import _batch_rows, session

    started = time.monotonic()
    prof = as_profile(profile)
    gates = parse_gates(fail_on) if fail_on is not None else default_gates(prof)
    sides = {ORIGINAL: original, COPY: copy}
    if any(not isinstance(s, Mapping) for s in sides.values()):
        spark = spark or session()
    frames = {side: _frames(spark, data) for side, data in sides.items()}
    if spark is None:
        spark = next((df.sparkSession for f in frames.values() for df in f.values()), None)
    run = Verification(prof, frames[ORIGINAL], frames[COPY])
    try:
        with _batch_rows(spark) if spark is not None else nullcontext():
            report = run.report()
    finally:
        run.release()
    report["seconds"] = {"total": round(time.monotonic() - started, 3)}
    return judged(report, gates)


def _frames(spark: Any, data: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """``{table: DataFrame}`` of one side: given, or read from a Parquet directory as
    ``veil run --engine spark`` reads it (veil.spark.run.spark_inputs)."""
    if isinstance(data, Mapping):
        return dict(data)
    from .run import read_table, spark_inputs

    return {t.name: read_table(spark, t) for t in spark_inputs(Path(data))}


class Verification:
    """One verification: the context (the local runner's, from the frames' Arrow schemas), the
    fingerprint columns each metric asks for, and the Spark jobs that count them."""

    def __init__(self, profile: Profile, original: dict[str, Any], copy: dict[str, Any]) -> None:
        self.frames = {ORIGINAL: original, COPY: copy}
        self.schemas = {side: {name: arrow_schema(df) for name, df in f.items()} for side, f in self.frames.items()}
        self.ctx: VerifyContext = build_context(profile, memory_dataset({}, self.schemas[ORIGINAL]),
                                                memory_dataset({}, self.schemas[COPY]))
        self.key = secrets.token_bytes(32)
        self.specs: dict[tuple[str, str], dict[tuple[str, tuple[str, ...]], str]] = {}
        self.cached: dict[tuple[str, str], Any] = {}
        self._rows: dict[tuple[str, str], int] = {}

    # -- fingerprints --------------------------------------------------------------------

    def need(self, side: str, table: str, kind: str, columns: tuple[str, ...]) -> str:
        """The name of the fingerprint column of ``kind`` over ``columns`` (registered before any job)."""
        spec = self.specs.setdefault((side, table), {})
        return spec.setdefault((kind, columns), f"f{len(spec)}")

    def fingerprints(self, side: str, table: str) -> Any:
        """The table's fingerprint columns (one mapInArrow pass, persisted: 8 bytes per cell)."""
        got = self.cached.get((side, table))
        if got is not None:
            return got
        from pyspark import StorageLevel
        from pyspark.sql.types import ArrayType, LongType, StructField, StructType

        spec = self.specs[(side, table)]
        df = self.frames[side][table]
        in_schema = self.schemas[side][table]
        info = self.ctx.tables.get(table)
        typed = _typed_columns(info) if side == ORIGINAL and info is not None else {}
        out = StructType([StructField(name, ArrayType(LongType()) if kind in LIST_KINDS else LongType(), True)
                          for (kind, _), name in spec.items()])
        fn = _fingerprint_batches(self.key, in_schema, [(name, kind, cols) for (kind, cols), name in spec.items()],
                                  table, typed)
        # on disk: a cached partition is read back as a stream (in memory it is one buffer per partition)
        got = self.cached[(side, table)] = df.mapInArrow(fn, out).persist(StorageLevel.DISK_ONLY)
        return got

    def rows(self, side: str, table: str) -> int:
        if (side, table) not in self._rows:
            self._rows[(side, table)] = int(self.frames[side][table].count())
        return self._rows[(side, table)]

    def release(self) -> None:
        for df in self.cached.values():
            df.unpersist()
        self.cached.clear()

    def has(self, side: str, table: str, columns: list[str] | tuple[str, ...]) -> bool:
        schema = self.schemas[side].get(table)
        return schema is not None and all(c in schema.names for c in columns)

    # -- the report ------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        from .verify_leaks import Leaks
        from .verify_risk import Risk
        from .verify_utility import Utility

        integrity = _Integrity(self)
        risk = Risk(self)
        leaks = Leaks(self)
        utility = Utility(self, integrity)
        return {"report": REPORT_KIND, "version": REPORT_VERSION, "engine": "spark",
                "not_computed": list(NOT_COMPUTED), "notes": dict(NOTES),
                "tables": list(self.ctx.tables),
                "extra_tables": sorted(t for t in self.frames[COPY] if t not in self.ctx.tables),
                "leaks": leaks.finish(), "risk": risk.finish(), "utility": utility.finish(),
                "integrity": integrity.finish(), "paired": False, "reordered_tables": []}


def _fingerprint_batches(key: bytes, in_schema: pa.Schema, spec: list[tuple[str, str, tuple[str, ...]]],
                         table: str, typed: dict[str, Any]):
    """What each executor task runs: its batches as fingerprint columns (int64, the uint64 bits).

    Kinds: ``key`` a row's fingerprint over key columns, null when one is null (no reference: SQL's
    MATCH SIMPLE; veil.verify.keys.row_fingerprints); ``value`` a value's fingerprint, null for a
    null or blank cell (what the leak check seeks); ``tuple`` the quasi-identifiers' tuple and
    ``cell`` one column's value, a null a value of its own (veil.verify.linkage); ``sought``,
    ``sought_short`` and ``scanned`` a cell's normalised whole and ``sequences`` the word sequences
    inside it (:func:`_wholes`, :func:`_sequences`). Only the verification's random key and the
    column names are in the closure."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        _require_hash_seed()
        ctx = VerifyContext({}, None, fingerprint_key=key)
        for batch in batches:
            batch = conform(batch, in_schema)
            if typed:
                batch = next(_as_copy_types(iter([(table, batch)]), {table: typed}))[1]
            memo: dict[tuple[str, bool], Any] = {}  # a column's words, cut once per batch
            yield pa.RecordBatch.from_arrays([_column(ctx, batch, kind, cols, memo) for _, kind, cols in spec],
                                             names=[name for name, _, _ in spec])

    return run


def _require_hash_seed() -> None:
    """Fingerprints of values longer than 15 bytes use Python's ``hash`` of bytes: every worker must
    share its seed (PySpark sets PYTHONHASHSEED for its workers, from the driver's or 0)."""
    seed = os.environ.get("PYTHONHASHSEED")
    if seed is None or seed == "random":
        raise UsageError("Spark's Python workers have no fixed PYTHONHASHSEED",
                         hint="set spark.executorEnv.PYTHONHASHSEED (any number) for veil verify on Spark")


def _as_int64(n: int, fps: np.ndarray, rows: np.ndarray) -> pa.Array:
    full = np.zeros(n, np.uint64)
    full[rows] = fps
    present = np.zeros(n, bool)
    present[rows] = True
    return pa.array(full.view(np.int64), mask=~present)


def _column(ctx: VerifyContext, batch: pa.RecordBatch, kind: str, cols: tuple[str, ...], memo: dict) -> pa.Array:
    n = batch.num_rows
    if kind == "tuple":
        return pa.array(tuple_fingerprints(ctx, [batch.column(c) for c in cols], n).view(np.int64))
    if kind == "cell":
        return pa.array(cell_fingerprints(ctx, batch.column(cols[0])).view(np.int64))
    if kind == "key":
        fps, rows = row_fingerprints(ctx, batch, list(cols))  # type: ignore[misc]  # the columns exist
        return _as_int64(n, fps, rows)
    arr = batch.column(cols[0])  # value, or words
    if n == 0 or arr.null_count == n:
        return empty(n, kind)
    if kind == "value":
        fps, rows = column_fingerprints(ctx, arr)
        blanks = blank_mask(arr)
        if blanks is not None:
            keep = ~np.asarray(blanks, bool)[rows]
            fps, rows = fps[keep], rows[keep]
        return _as_int64(n, fps, rows)
    sought = kind.startswith("sought") or kind == "source_words"  # a source's cut, else a scanned column's
    key = (cols[0], sought)
    if key not in memo:
        memo[key] = _words(ctx, arr, sought)
    return empty(n, kind) if memo[key] is None else spans(n, memo[key], kind)


def empty(n: int, kind: str) -> pa.Array:
    """A fingerprint column of ``kind`` with no value (every cell null)."""
    return pa.nulls(n, pa.list_(pa.int64()) if kind in LIST_KINDS else pa.int64())


def spans(n: int, words: tuple, kind: str, known: np.ndarray | None = None) -> pa.Array:
    """The fingerprint column ``kind`` of a column's cut (:func:`_words`): its wholes, word lists,
    sequences or word counts; ``known`` (a flag per word position): only spans of known words."""
    if kind == "sequences":
        return _sequences(words, known)
    if kind in ("source_words", "cell_words"):
        return _word_lists(words, kind, known)
    if kind == "nwords":
        return _nwords(n, words)
    return _wholes(n, words, kind, known)


def _nwords(n: int, words: tuple) -> pa.Array:
    """Each non-blank cell's number of words (the prose test and the vocabulary limit)."""
    tok, occ, indices = words
    at = np.asarray(indices.fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    rows = np.flatnonzero(~np.asarray(indices.is_null().to_numpy(zero_copy_only=False), bool) & (occ > 0)[at])
    return _as_int64(n, tok.words[at[rows]].astype(np.uint64), rows)


def _words(ctx: VerifyContext, arr: pa.Array, sought: bool) -> tuple | None:
    """(tokens, rows per value (0: blank), each row's value, whether the row has one) of a column's
    cells as the leak check cuts them (veil.verify.leak_index.tokenise: case, accents, punctuation
    and spacing ignored). ``sought``: a source column's (LeakCheck._normalised); else a scanned
    column's (LeakCheck._scan: timestamps without text; types that hold no specific value skipped)."""
    values, occ, indices = distinct_values(arr)
    if values is None or (not sought and unsearchable(arr, RULES["min_digits"])):
        return None
    tok = None if sought else timestamp_wholes(ctx, values)
    if tok is None:
        texts = searchable_text(values, RULES["min_digits"])
        if texts is None:
            return None
        tok = tokenise(ctx, texts)
    return tok, occ, indices


def _wholes(n: int, words: tuple, kind: str, known: np.ndarray | None = None) -> pa.Array:
    """Each cell's normalised whole, else null (blanks null): ``sought`` a source's values of several
    words that are specific by length (``min_chars``, ``min_digits``), ``sought_short`` those of at
    most ``max_words`` words (the sequences sought inside text), ``sought_one`` its one-word ones;
    ``scanned`` a scanned cell of several words, ``scanned_one`` of one word. ``known`` (a flag per
    word position): only cells whose every word is known."""
    tok, occ, indices = words
    keep = ((tok.words == 1) if kind.endswith("_one") else (tok.words > 1)) & (occ > 0)
    if known is not None:
        keep &= np.bincount(tok.value[~known], minlength=len(tok.words)) == 0
    if kind.startswith("sought"):
        keep &= (tok.chars >= RULES["min_chars"]) & (~tok.digits | (tok.chars >= RULES["min_digits"]))
    if kind == "sought_short":
        keep &= tok.words <= RULES["max_words"]
    at = np.asarray(indices.fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    rows = np.flatnonzero(~np.asarray(indices.is_null().to_numpy(zero_copy_only=False), bool) & keep[at])
    return _as_int64(n, tok.whole[at[rows]], rows)


def _per_cell(n_values: int, values: np.ndarray, hashes: np.ndarray, indices: pa.Array) -> pa.Array:
    """Lists of ``hashes`` grouped by their value (``values``), one per cell (its value's)."""
    order = np.argsort(values, kind="stable")
    offsets = np.concatenate(([0], np.cumsum(np.bincount(values, minlength=n_values)))).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(hashes[order].view(np.int64)))
    return lists.take(indices)


def _word_lists(words: tuple, kind: str, known: np.ndarray | None = None) -> pa.Array:
    """Each cell's words when it has several (LeakCheck._normalised, _inside): ``source_words`` a
    source's words of ``min_chars`` characters (``min_digits`` for a number), once per place (a
    word counts once per row holding the value, per place); ``cell_words`` a scanned cell's
    distinct words (``known``: those known only)."""
    tok, occ, indices = words
    sel = (tok.words[tok.value] > 1) & (occ[tok.value] > 0)
    if known is not None:
        sel &= known
    if kind == "source_words":
        chars, digits = tok.token_chars[tok.token], tok.token_digits[tok.token]
        sel &= (chars >= RULES["min_chars"]) & (~digits | (chars >= RULES["min_digits"]))
    pos = np.flatnonzero(sel)
    values, fps = tok.value[pos].astype(np.int64), tok.fp[pos]
    if kind == "cell_words" and len(pos):
        order = np.lexsort((fps, values))
        values, fps = values[order], fps[order]
        first = np.ones(len(values), bool)
        first[1:] = (values[1:] != values[:-1]) | (fps[1:] != fps[:-1])
        values, fps = values[first], fps[first]
    return _per_cell(len(tok.words), values, fps, indices)


def _sequences(words: tuple, known: np.ndarray | None = None) -> pa.Array:
    """Each cell's hashes of the sequences of 2 to ``max_words`` words strictly inside it
    (LeakCheck._inside, every start: the member prefilter only skips starts that cannot match);
    ``known``: those whose every word is known."""
    tok, occ, indices = words
    found_values, found = [np.empty(0, np.int64)], [np.empty(0, np.uint64)]
    if len(tok.fp):
        run = (tok.start + tok.words)[tok.value] - np.arange(len(tok.fp))  # words left in the value
        unknown = None if known is None else np.concatenate(([0], np.cumsum(~known)))
        for k in range(2, min(RULES["max_words"], int(tok.words.max()) - 1) + 1):
            starts = np.flatnonzero((run >= k) & (tok.words[tok.value] > k) & (occ[tok.value] > 0))
            if len(starts) == 0:
                break
            if unknown is not None:
                starts = starts[unknown[starts + k] == unknown[starts]]
            found_values.append(tok.value[starts].astype(np.int64))
            found.append(sequence_hashes(tok, starts, k))
    return _per_cell(len(tok.words), np.concatenate(found_values), np.concatenate(found), indices)


# -- integrity ---------------------------------------------------------------------------------


class _Integrity(IntegrityCheck):
    """The local IntegrityCheck's section, assembled by its own code from the rows Spark counts and
    every foreign key's resolution on both sides: one aggregation of all references and parent keys
    by (foreign key, side, key), then by (foreign key, side, whether a parent holds the key, its
    references): the resolution's counts, and the children per parent key the utility reads."""

    def __init__(self, v: Verification) -> None:
        super().__init__(v.ctx)
        self.v = v
        self.fk_columns: dict[tuple[str, str, tuple[str, ...]], str] = {}
        self.fks: list[tuple[str, Any]] = []  # (table, foreign key), by id
        for name, info in v.ctx.tables.items():
            for fk in info.foreign_keys:
                self.fks.append((name, fk))
                for side in (ORIGINAL, COPY):
                    for table, cols in ((name, tuple(fk.columns)), (fk.ref_table, tuple(fk.ref_columns))):
                        if table in v.ctx.tables and v.has(side, table, cols):
                            self.fk_columns[(side, table, cols)] = v.need(side, table, "key", cols)
        self.resolved: dict[tuple[str, int], dict[str, Any]] | None = None

    def _resolve(self) -> None:
        """``veil.verify.keys.resolution``'s counts of every foreign key on each side that has its
        child columns (a side without the parent's: nothing resolves)."""
        from functools import reduce

        from pyspark.sql import functions as F

        if self.resolved is not None:
            return
        self.resolved = {}
        parts = []
        for i, (table, fk) in enumerate(self.fks):
            for s, side in enumerate((ORIGINAL, COPY)):
                child = self.fk_columns.get((side, table, tuple(fk.columns)))
                if child is None:
                    continue
                parent = self.fk_columns.get((side, fk.ref_table, tuple(fk.ref_columns)))
                self.resolved[(side, i)] = {"references": 0, "resolved": 0, "parent": parent is not None,
                                            "per_parent": []}
                for where, col, role in ((table, child, 1), (fk.ref_table, parent, 0)):
                    if col is not None:
                        parts.append(self.v.fingerprints(side, where).select(
                            F.lit(i).alias("fk"), F.lit(s).alias("side"), F.col(col).alias("k"),
                            F.lit(role).alias("child")).where(F.col("k").isNotNull()))
        if not parts:
            return
        keys = (reduce(lambda a, b: a.unionByName(b), parts).groupBy("fk", "side", "k")
                .agg(F.sum("child").alias("refs"), F.min("child").alias("parent")))
        # per (foreign key, side): how many keys have each number of references, parents' and orphans'
        for row in keys.groupBy("fk", "side", "parent", "refs").agg(F.count(F.lit(1)).alias("keys")).collect():
            got = self.resolved[((ORIGINAL, COPY)[int(row["side"])], int(row["fk"]))]
            refs, n = int(row["refs"]), int(row["keys"])
            got["references"] += refs * n
            if int(row["parent"]) == 0:
                got["resolved"] += refs * n
                got["per_parent"].append((refs, n))

    def resolution(self, side: str, table: str, fk) -> dict[str, Any] | None:
        """One foreign key's counts on one side (None: the side lacks a child column)."""
        self._resolve()
        i = next(n for n, (t, f) in enumerate(self.fks) if t == table and f is fk)
        got = self.resolved.get((side, i))  # type: ignore[union-attr]  # resolved above
        if got is None:
            return None
        total, resolved = got["references"], got["resolved"]
        return {"references": total, "resolved": resolved, "unresolved": total - resolved,
                "share": round(resolved / total, 6) if total else None, "parent": got["parent"]}

    def per_parent(self, side: str, table: str, fk) -> np.ndarray:
        """How many references each parent key of one foreign key has (0 for a key none references),
        in no order (veil.verify.keys.resolution's ``per_parent``, sorted)."""
        self._resolve()
        i = next(n for n, (t, f) in enumerate(self.fks) if t == table and f is fk)
        got = self.resolved.get((side, i), {}).get("per_parent", [])  # type: ignore[union-attr]
        return np.repeat(np.array([r for r, _ in got], np.int64), np.array([n for _, n in got], np.int64))

    def finish(self) -> dict[str, Any]:
        for name, info in self.v.ctx.tables.items():
            self._rows[(KEY_ORIGINAL, name)] = self.v.rows(ORIGINAL, name)
            if info.copy_schema is not None:
                self._rows[(KEY_COPY, name)] = self.v.rows(COPY, name)
        self._resolve()
        return super().finish()

    def _foreign_key(self, info: TableInfo, fk) -> dict[str, Any]:
        res = self.resolution(COPY, info.name, fk)
        out = {"columns": list(fk.columns), "references": references(fk)}
        if res is None:
            return {**out, "references_checked": 0, "unresolved": 0, "resolved_share": None, "checked": False}
        before = self.resolution(ORIGINAL, info.name, fk)
        share_before = before["share"] if before is not None else None
        lost = None if res["share"] is None or share_before is None else max(0.0, share_before - res["share"])
        return {**out, "references_checked": res["references"], "unresolved": res["unresolved"],
                "resolved_share": res["share"], "checked": True, "parent_in_copy": res["parent"],
                "resolved_share_original": share_before, "lost": None if lost is None else round(lost, 6)}


__all__ = ["NOT_COMPUTED", "verify"]
