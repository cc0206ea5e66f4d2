"""``veil verify`` on Spark: the integrity, risk and leak metrics the gates read, as Spark aggregations.

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
distributions, per-key resolution counts), never a value or a fingerprint of one.

Computed (as the local report's keys): ``integrity`` (whole); ``risk`` without the linkage attack
and the inference flags (journalist risk with ``privacy.population`` only); ``leaks`` as the local
check counts them when the rows are not paired: each transformed column's original values in its
own column of the copy, and its specific values found in any column of the copy that carries
text through (whole, as word sequences inside text, as rare words inside prose; a column's
vocabulary left out). Not computed, and listed in the report's ``not_computed`` (a gate on
utility or linkage reads an unmeasured value, so it fails when asked for): ``utility``,
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
from ..ops.arrays import blank_mask, is_text
from ..profile import Profile
from ..verify.base import TableInfo, VerifyContext
from ..verify.gates import default_gates, evaluate, parse_gates
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
from ..verify.leaks import RULES, _passes_text, treatment
from ..verify.linkage import (
    INFERENCE_MAX_DISTINCT,
    INFERENCE_ROWS,
    INFERENCE_ROWS_PER_VALUE,
    INFERENCE_THRESHOLD,
    tuple_fingerprints,
)
from ..verify.linkage import column_fingerprints as cell_fingerprints
from ..verify.risk import DEFAULT_K, SUMMARY_METRICS, _histogram, _subject
from ..verify.runner import REPORT_KIND, REPORT_VERSION, _as_copy_types, _typed_columns, build_context
from . import arrow_schema, conform

ORIGINAL, COPY = "original", "copy"
LIST_KINDS = ("sequences", "source_words", "cell_words")  # fingerprint columns holding lists

#: What this engine does not compute (the local report has it): a gate on utility or linkage reads an
#: unmeasured value (a gate asked for then fails; a default gate is skipped); leaks, a lower bound.
NOT_COMPUTED = ["utility", "risk.linkage", "risk.inference", "leaks.same_row", "leaks.weak"]
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
    run = _Verification(prof, frames[ORIGINAL], frames[COPY])
    try:
        with _batch_rows(spark) if spark is not None else nullcontext():
            report = run.report()
    finally:
        run.release()
    report["seconds"] = {"total": round(time.monotonic() - started, 3)}
    results = evaluate(report, gates)
    verdict = "fail" if any(g["failed"] for g in results) else "pass"
    return {"report": report["report"], "version": report["version"], "verdict": verdict, "gates": results,
            **{k: v for k, v in report.items() if k not in ("report", "version")}}


def _frames(spark: Any, data: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """``{table: DataFrame}`` of one side: given, or read from a Parquet directory as
    ``veil run --engine spark`` reads it (veil.spark.run.spark_inputs)."""
    if isinstance(data, Mapping):
        return dict(data)
    from .run import spark_inputs

    return {t.name: spark.read.option("basePath", str(t.path)).parquet(str(t.path)) if t.partitions
            else spark.read.parquet(str(t.path)) for t in spark_inputs(Path(data))}


class _Verification:
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
        integrity = _Integrity(self)
        risk = _Risk(self)
        leaks = _Leaks(self)
        return {"report": REPORT_KIND, "version": REPORT_VERSION, "engine": "spark",
                "not_computed": list(NOT_COMPUTED), "notes": dict(NOTES),
                "tables": list(self.ctx.tables),
                "extra_tables": sorted(t for t in self.frames[COPY] if t not in self.ctx.tables),
                "leaks": leaks.finish(), "risk": risk.finish(), "utility": None,
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
    empty = pa.nulls(n, pa.list_(pa.int64()) if kind in LIST_KINDS else pa.int64())
    if n == 0 or arr.null_count == n:
        return empty
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
    if memo[key] is None:
        return empty
    if kind == "sequences":
        return _sequences(memo[key])
    if kind in ("source_words", "cell_words"):
        return _word_lists(memo[key], kind)
    if kind == "nwords":
        tok, occ, indices = memo[key]
        at = np.asarray(indices.fill_null(0).to_numpy(zero_copy_only=False), np.int64)
        rows = np.flatnonzero(~np.asarray(indices.is_null().to_numpy(zero_copy_only=False), bool) & (occ > 0)[at])
        return _as_int64(n, tok.words[at[rows]].astype(np.uint64), rows)
    return _wholes(n, memo[key], kind)


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


def _wholes(n: int, words: tuple, kind: str) -> pa.Array:
    """Each cell's normalised whole, else null (blanks null): ``sought`` a source's values of several
    words that are specific by length (``min_chars``, ``min_digits``), ``sought_short`` those of at
    most ``max_words`` words (the sequences sought inside text), ``sought_one`` its one-word ones;
    ``scanned`` a scanned cell of several words, ``scanned_one`` of one word."""
    tok, occ, indices = words
    keep = ((tok.words == 1) if kind.endswith("_one") else (tok.words > 1)) & (occ > 0)
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


def _word_lists(words: tuple, kind: str) -> pa.Array:
    """Each cell's words when it has several (LeakCheck._normalised, _inside): ``source_words`` a
    source's words of ``min_chars`` characters (``min_digits`` for a number), once per place (a
    word counts once per row holding the value, per place); ``cell_words`` a scanned cell's
    distinct words."""
    tok, occ, indices = words
    sel = (tok.words[tok.value] > 1) & (occ[tok.value] > 0)
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


def _sequences(words: tuple) -> pa.Array:
    """Each cell's hashes of the sequences of 2 to ``max_words`` words strictly inside it
    (LeakCheck._inside, every start: the member prefilter only skips starts that cannot match)."""
    tok, occ, indices = words
    found_values, found = [np.empty(0, np.int64)], [np.empty(0, np.uint64)]
    if len(tok.fp):
        run = (tok.start + tok.words)[tok.value] - np.arange(len(tok.fp))  # words left in the value
        for k in range(2, min(RULES["max_words"], int(tok.words.max()) - 1) + 1):
            starts = np.flatnonzero((run >= k) & (tok.words[tok.value] > k) & (occ[tok.value] > 0))
            if len(starts) == 0:
                break
            found_values.append(tok.value[starts].astype(np.int64))
            found.append(sequence_hashes(tok, starts, k))
    return _per_cell(len(tok.words), np.concatenate(found_values), np.concatenate(found), indices)


# -- integrity ---------------------------------------------------------------------------------


class _Integrity(IntegrityCheck):
    """The local IntegrityCheck's section, assembled by its own code from the rows Spark counts and
    every foreign key's resolution on both sides: one aggregation of all references and parent keys
    by (foreign key, side, key), then by (foreign key, side)."""

    def __init__(self, v: _Verification) -> None:
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
        self.resolved: dict[tuple[str, int], dict[str, Any]] = {}

    def _resolve(self) -> None:
        """``veil.verify.keys.resolution``'s counts of every foreign key on each side that has its
        child columns (a side without the parent's: nothing resolves)."""
        from functools import reduce

        from pyspark.sql import functions as F

        parts = []
        for i, (table, fk) in enumerate(self.fks):
            for s, side in enumerate((ORIGINAL, COPY)):
                child = self.fk_columns.get((side, table, tuple(fk.columns)))
                if child is None:
                    continue
                parent = self.fk_columns.get((side, fk.ref_table, tuple(fk.ref_columns)))
                self.resolved[(side, i)] = {"references": 0, "resolved": 0, "parent": parent is not None}
                for where, col, role in ((table, child, 1), (fk.ref_table, parent, 0)):
                    if col is not None:
                        parts.append(self.v.fingerprints(side, where).select(
                            F.lit(i).alias("fk"), F.lit(s).alias("side"), F.col(col).alias("k"),
                            F.lit(role).alias("child")).where(F.col("k").isNotNull()))
        if not parts:
            return
        keys = (reduce(lambda a, b: a.unionByName(b), parts).groupBy("fk", "side", "k")
                .agg(F.sum("child").alias("refs"), F.min("child").alias("parent")))
        for row in keys.groupBy("fk", "side").agg(
                F.sum("refs").alias("refs"),
                F.sum(F.when(F.col("parent") == 0, F.col("refs")).otherwise(0)).alias("resolved")).collect():
            got = self.resolved[((ORIGINAL, COPY)[int(row["side"])], int(row["fk"]))]
            got.update(references=int(row["refs"]), resolved=int(row["resolved"]))

    def resolution(self, side: str, table: str, fk) -> dict[str, Any] | None:
        """One foreign key's counts on one side (None: the side lacks a child column)."""
        i = next(n for n, (t, f) in enumerate(self.fks) if t == table and f is fk)
        got = self.resolved.get((side, i))
        if got is None:
            return None
        total, resolved = got["references"], got["resolved"]
        return {"references": total, "resolved": resolved, "unresolved": total - resolved,
                "share": round(resolved / total, 6) if total else None, "parent": got["parent"]}

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


# -- risk --------------------------------------------------------------------------------------


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


class _Risk:
    """The local RiskCheck's classes, k, l and prosecutor risk over the copy: the class of each row
    is its quasi-identifiers' tuple fingerprint; the driver gets the distribution of class sizes
    (how many classes have each size) and per-class minima, never a class."""

    def __init__(self, v: _Verification) -> None:
        self.v = v
        self.tables: dict[str, dict[str, Any]] = {}
        for name, info in v.ctx.tables.items():
            if info.privacy is None:
                continue
            in_copy = set(info.copy_schema.names) if info.copy_schema is not None else set()
            qis = [c for c in info.privacy.quasi_identifiers if c in in_copy]
            sensitive = [c for c in info.privacy.sensitive if c in in_copy]
            subject = _subject(info, in_copy)
            st: dict[str, Any] = {"info": info, "qis": qis, "sensitive": sensitive, "subject": subject,
                                  "absent": [c for c in info.privacy.quasi_identifiers if c not in in_copy]}
            if info.copy_schema is not None:
                st["class"] = v.need(COPY, name, "tuple", tuple(qis))
                st["cells"] = {c: v.need(COPY, name, "cell", (c,)) for c in sensitive}
                if subject is not None:
                    st["person"] = v.need(COPY, name, "cell", (subject,))
            self.tables[name] = st

    def finish(self) -> dict[str, Any]:
        tables: dict[str, Any] = {}
        for name in self.v.ctx.tables:
            st = self.tables.get(name)
            tables[name] = {"privacy": None} if st is None else self._table(name, st)
        measured = [t["summary"] for t in tables.values() if t.get("summary")]

        def pick(metric: str, fn) -> float | int | None:
            values = [s[metric] for s in measured if s[metric] is not None]
            return fn(values) if values else None

        summary = {"k": pick("k", min), "risk": pick("risk", max), "linkage": None,
                   "l": pick("l", min), "unique_share": pick("unique_share", max), "inference": None}
        return {"summary": summary, "tables": tables,
                "settings": {"default_k": DEFAULT_K, "inference_threshold": INFERENCE_THRESHOLD,
                             "inference_rows": INFERENCE_ROWS, "inference_max_distinct": INFERENCE_MAX_DISTINCT,
                             "inference_rows_per_value": INFERENCE_ROWS_PER_VALUE}}

    def _table(self, name: str, st: dict[str, Any]) -> dict[str, Any]:
        from pyspark.sql import functions as F

        info: TableInfo = st["info"]
        p = info.privacy
        assert p is not None
        target_k = p.k or DEFAULT_K
        missing = info.copy_schema is None
        rows = 0 if missing else self.v.rows(COPY, name)
        out: dict[str, Any] = {
            "privacy": {"k": target_k, "l": p.l, "population": p.population, "max_suppression": p.max_suppression},
            "quasi_identifiers": st["qis"], "quasi_identifiers_absent": st["absent"], "sensitive": st["sensitive"],
            "sensitive_absent": [c for c in p.sensitive if c not in st["sensitive"]],
            "rows": rows, "original_rows": self.v.rows(ORIGINAL, name), "missing": missing,
        }
        if rows == 0:
            out.update({"classes": 0, "k": None, "rows_below_k": 0, "share_below_k": None,
                        "unique_rows": 0, "unique_share": None, "class_sizes": _histogram(np.empty(0, np.int64)),
                        "prosecutor": None, "journalist": None,
                        "l_diversity": {c: None for c in st["sensitive"]},
                        "l_entropy": {c: None for c in st["sensitive"]},
                        "rows_below_l": None, "linkage": None, "inference": None})
            out["summary"] = dict.fromkeys(SUMMARY_METRICS) | {"inference": None}
            return out
        fp = self.v.fingerprints(COPY, name)
        cls = st["class"]
        # how many classes have each size: at most about sqrt(2 x rows) distinct sizes
        dist = (fp.groupBy(cls).count().groupBy(F.col("count").alias("size"))
                .agg(F.count(F.lit(1)).alias("classes")).collect())
        sizes = np.repeat(np.array([int(r["size"]) for r in dist], np.int64),
                          np.array([int(r["classes"]) for r in dist], np.int64))
        k = int(sizes.min())
        below = int(sizes[sizes < target_k].sum())
        if st["subject"] is not None:  # k in people: distinct subjects per class
            people = (fp.groupBy(cls, st["person"]).count().groupBy(cls)
                      .agg(F.count(F.lit(1)).alias("people"), F.sum("count").alias("size"))
                      .agg(F.min("people").alias("k"),
                           F.sum(F.when(F.col("people") < target_k, F.col("size")).otherwise(0)).alias("below"))
                      .first())
            out.update({"unit": "subject", "k_rows": k})
            k, below = int(people["k"]), int(people["below"])
        unique = int((sizes == 1).sum())
        l_distinct, l_entropy, below_l = self._diversity(fp, cls, st, p.l)
        prosecutor = {"highest": _r(1 / k), "average": _r(len(sizes) / rows),
                      "rows_at_highest": int(sizes[sizes == k].sum())}
        out.update({
            "classes": int(len(sizes)), "k": k, "rows_below_k": below, "share_below_k": _r(below / rows),
            "unique_rows": unique, "unique_share": _r(unique / rows), "class_sizes": _histogram(sizes),
            "prosecutor": prosecutor, "journalist": _journalist(sizes, rows, p.population),
            "l_diversity": l_distinct, "l_entropy": l_entropy, "rows_below_l": below_l,
            "linkage": None, "inference": None,
        })
        ls = [x for x in l_distinct.values() if x is not None]
        out["summary"] = {"k": k, "risk": prosecutor["highest"], "linkage": None,
                          "l": min(ls) if ls else None, "unique_share": out["unique_share"], "inference": None}
        return out

    @staticmethod
    def _diversity(fp: Any, cls: str, st: dict[str, Any], target_l: int | None) -> tuple[dict, dict, dict | None]:
        """Per sensitive column: distinct l, entropy l (exp of the lowest class entropy), rows in
        classes with fewer than ``target_l`` distinct values: two aggregations of (class, value) counts."""
        from pyspark.sql import functions as F

        distinct: dict[str, int | None] = {}
        entropy: dict[str, float | None] = {}
        below: dict[str, int] = {}
        for c, col in st["cells"].items():
            pairs = fp.groupBy(cls, col).count()
            size = pairs.groupBy(cls).agg(F.sum("count").alias("size"))
            share = F.col("count") / F.col("size")
            per_class = (pairs.join(size, cls).groupBy(cls)
                         .agg(F.count(F.lit(1)).alias("d"), F.first("size").alias("size"),
                              F.sum(-share * F.log(share)).alias("h")))
            aggs = [F.min("d").alias("d"), F.min("h").alias("h")]
            if target_l is not None:
                aggs.append(F.sum(F.when(F.col("d") < target_l, F.col("size")).otherwise(0)).alias("below"))
            row = per_class.agg(*aggs).first()
            if row["d"] is None:
                distinct[c] = entropy[c] = None
                continue
            distinct[c] = int(row["d"])
            entropy[c] = _r(float(np.exp(max(float(row["h"]), 0.0))))
            if target_l is not None:
                below[c] = int(row["below"])
        return distinct, entropy, (below if target_l is not None else None)


def _journalist(sizes: np.ndarray, n: int, population: int | None) -> dict[str, Any] | None:
    """Journalist risk with ``privacy.population`` N (F = f x N / n, as the local check); the local
    check's other case (the original as the population) needs the attacker's view: not computed."""
    if not population:
        return None
    big = np.maximum((sizes * (population / n)).astype(np.float64), sizes)
    return {"source": "population", "population": int(population),
            "highest": _r(1 / big.min()), "average": _r(float((sizes / big).sum()) / n)}


# -- leaks -------------------------------------------------------------------------------------


class _Leaks:
    """Original values of each transformed column in the copy: in its own column (:meth:`_count`),
    and in the columns that carry text through (:meth:`_elsewhere`), counted."""

    def __init__(self, v: _Verification) -> None:
        self.v = v
        self.rules = dict(RULES)
        self.sources: list[dict[str, Any]] = []
        for name, info in v.ctx.tables.items():
            for column in info.transformed():
                field = info.original_schema.field(column)
                src: dict[str, Any] = {"id": len(self.sources), "table": name, "column": column,
                                       "treatment": treatment(info, column),
                                       "skipped": "nested" if pa.types.is_nested(field.type) else None,
                                       "null": pa.types.is_null(field.type), "elsewhere": 0, "in_text": 0,
                                       "found_in": set()}
                if src["skipped"] is None and not src["null"]:
                    src["original"] = v.need(ORIGINAL, name, "value", (column,))
                    for kind in ("sought", "sought_one"):
                        src[kind] = v.need(ORIGINAL, name, kind, (column,))
                    if src["treatment"] != "free_text":  # words of free text are not values
                        for kind in ("sought_short", "source_words"):
                            src[kind] = v.need(ORIGINAL, name, kind, (column,))
                    if src["treatment"] != "removed" and info.copy_schema is not None \
                            and column in info.copy_schema.names \
                            and not pa.types.is_nested(info.copy_schema.field(column).type):
                        src["copy"] = v.need(COPY, name, "value", (column,))
                self.sources.append(src)
        own = {(s["table"], s["column"]): s["id"] for s in self.sources}
        # the copy's columns that carry text through (LeakCheck._scan): kept, free text, coarse
        # each with the source it is (-1: none) and its fingerprint columns: the whole cell of several
        # words or of one, its words (non-blank cells, prose); inside text: sequences, distinct words
        self.scanned: list[dict[str, Any]] = []
        for name, schema in v.schemas[COPY].items():
            info = v.ctx.tables.get(name)
            for f in schema:
                if pa.types.is_nested(f.type) or pa.types.is_null(f.type) or _passes_text(info, f.name) is None:
                    continue
                kinds = ("scanned", "scanned_one", "nwords") + (("sequences", "cell_words") if is_text(f.type) else ())
                self.scanned.append({"table": name, "column": f.name,
                                     "own": own.get((name, f.name), -1) if info is not None else -1,
                                     **{kind: v.need(COPY, name, kind, (f.name,)) for kind in kinds}})

    def _count(self) -> None:
        """Each source's non-blank cells and distinct values in ORIGINAL, and the copy's cells of its
        column holding one of them: one aggregation of every source's (value, side) by (source,
        value), then by source."""
        from functools import reduce

        from pyspark.sql import functions as F

        parts = []
        for src in self.sources:
            src.update(rows=0, distinct=0, found=0)
            for side, key, role in ((ORIGINAL, "original", 1), (COPY, "copy", 0)):
                if key in src:
                    parts.append(self.v.fingerprints(side, src["table"]).select(
                        F.lit(src["id"]).alias("src"), F.col(src[key]).alias("k"),
                        F.lit(role).alias("original")).where(F.col("k").isNotNull()))
        if not parts:
            return
        values = (reduce(lambda a, b: a.unionByName(b), parts).groupBy("src", "k")
                  .agg(F.sum("original").alias("n"), F.count(F.lit(1)).alias("cells")))
        held = F.col("n") > 0
        for row in values.groupBy("src").agg(
                F.sum("n").alias("rows"), F.sum(F.when(held, 1).otherwise(0)).alias("distinct"),
                F.sum(F.when(held, F.col("cells") - F.col("n")).otherwise(0)).alias("found")).collect():
            self.sources[int(row["src"])].update(rows=int(row["rows"]), distinct=int(row["distinct"]),
                                                 found=int(row["found"]))

    def _elsewhere(self) -> None:
        """LeakCheck._scan and Matches.settle over every scanned column, unpaired: a cell holding a
        specific value of another source column (held by at most max(specific_min, specific_share x
        rows) rows of its column), normalised, is ``elsewhere`` as the whole cell (several words),
        ``in_text`` as a sequence of 2 to ``max_words`` words strictly inside it, or as one word
        inside it when the column is prose (``text_min_words`` words per cell on average). In prose,
        a word matched in more than max(vocabulary_min, vocabulary_share x cells) cells (inside, or
        as a one-word cell) is the column's vocabulary, not a leak. A cell counts once per source,
        as elsewhere before in text. One-word matches outside prose are weak, never leaks: not
        sought (``weak`` is not counted). The driver gets per-column counts and (column, source,
        kind, cells) rows of ids and counts."""
        from functools import reduce

        from pyspark.sql import functions as F

        def union(frames: list[Any]) -> Any:
            return reduce(lambda a, b: a.unionByName(b), frames)

        if not self.scanned or not any("sought" in src for src in self.sources):
            return
        # per scanned column: non-blank cells and their words, for prose and the vocabulary limit
        stats = union([self.v.fingerprints(COPY, sc["table"]).select(F.lit(i).alias("scan"),
                                                                     F.col(sc["nwords"]).alias("n"))
                       for i, sc in enumerate(self.scanned)]).groupBy("scan").agg(
            F.count("n").alias("cells"), F.sum("n").alias("words")).collect()
        limits: dict[int, float] = {}
        for row in stats:
            i, cells, words = int(row["scan"]), int(row["cells"]), int(row["words"] or 0)
            if "cell_words" in self.scanned[i] and words >= self.rules["text_min_words"] * max(1, cells):
                limits[i] = max(self.rules["vocabulary_min"], self.rules["vocabulary_share"] * cells)
        # the index (hash, kind, source): kinds 0 whole of several words, 1 a sequence inside text,
        # 2 a one-word whole, 3 one word inside text (2 and 3 only for prose)
        index = []
        for src in self.sources:
            if "sought" not in src:
                continue
            limit = max(self.rules["specific_min"], self.rules["specific_share"] * src.get("rows", 0))
            fp = self.v.fingerprints(ORIGINAL, src["table"])
            wanted = [(F.col(src["sought"]), (0,))]
            if "source_words" in src:
                wanted.append((F.col(src["sought_short"]), (1,)))
            if limits:
                wanted.append((F.col(src["sought_one"]), (2, 3) if "source_words" in src else (2,)))
                if "source_words" in src:
                    wanted.append((F.explode(src["source_words"]), (3,)))
            for h, kinds in wanted:
                found = (fp.select(h.alias("h")).where(F.col("h").isNotNull()).groupBy("h").count()
                         .where(F.col("count") <= limit))
                index.extend(found.select("h", F.lit(kind).alias("kind"), F.lit(src["id"]).alias("src"))
                             for kind in kinds)
        cells = []
        for i, sc in enumerate(self.scanned):
            # a cell's id: its position in the persisted fingerprints (the same in every branch)
            base = self.v.fingerprints(COPY, sc["table"]).select(F.monotonically_increasing_id().alias("cell"), "*")
            tag = [F.lit(i).alias("scan"), F.lit(sc["own"]).alias("own")]
            kinds = [(0, "scanned"), (1, "sequences")]
            if i in limits:  # prose
                kinds += [(2, "scanned_one"), (3, "cell_words")]
            for kind, col in kinds:
                if col not in sc:
                    continue
                h = F.explode(sc[col]) if col in LIST_KINDS else F.col(sc[col])
                cells.append(base.select("cell", h.alias("h"), F.lit(kind).alias("kind"), *tag)
                             .where(F.col("h").isNotNull()))
        matches = union(cells).join(union(index), ["h", "kind"]).where(F.col("src") != F.col("own"))
        if limits:
            one_word = F.col("kind") >= 2
            limit = F.lit(0.0)
            for i, value in limits.items():
                limit = F.when(F.col("scan") == i, F.lit(float(value))).otherwise(limit)
            common = (matches.where(one_word).groupBy("scan", "h").agg(F.countDistinct("cell").alias("n"))
                      .where(F.col("n") > limit).select("scan", "h", F.lit(True).alias("common")))
            matches = matches.join(common, ["scan", "h"], "left").where(~(one_word & F.col("common").isNotNull()))
        # in prose a one-word whole cell is weak (2) and a word inside is in text (1)
        first = F.when(F.col("kind") == 3, 1).otherwise(F.col("kind"))
        found = (matches.groupBy("scan", "cell", "src").agg(F.min(first).alias("kind"))
                 .where(F.col("kind") < 2).groupBy("scan", "src", "kind").count().collect())
        for row in found:
            src, kind = self.sources[int(row["src"])], int(row["kind"])
            src[("elsewhere", "in_text")[kind]] += int(row["count"])
            sc = self.scanned[int(row["scan"])]
            src["found_in"].add(f"{sc['table']}.{sc['column']}")

    def finish(self) -> dict[str, Any]:
        tables: dict[str, Any] = {t: {"summary": {}, "columns": {}} for t in self.v.ctx.tables}
        self._count()
        self._elsewhere()
        for src in self.sources:
            tables[src["table"]]["columns"][src["column"]] = _leak_column(src)
        for name, t in tables.items():
            leaks = sum(c["leaks"] for c in t["columns"].values())
            rows = sum(s["rows"] for s in self.sources if s["table"] == name)
            t["summary"] = {"leaks": leaks, "leaked_share": _share(leaks, rows)}
        total_leaks = sum(t["summary"]["leaks"] for t in tables.values())
        total_rows = sum(s["rows"] for s in self.sources)
        return {
            "summary": {"leaks": total_leaks, "leaked_share": _share(total_leaks, total_rows),
                        "columns_checked": sum(s["skipped"] is None for s in self.sources),
                        "values_checked": total_rows,
                        "columns_leaking": sum(c["leaks"] > 0 for t in tables.values() for c in t["columns"].values())},
            "tables": tables,
            "scanned": None,
            "rules": dict(self.rules),
        }


def _leak_column(src: dict[str, Any]) -> dict[str, Any]:
    """The local check's column entry for rows it cannot pair (LeakCheck._column, unpaired): a strict
    column's own-column matches are leaks, other treatments' are expected overlap; a value of
    several words found whole in another column is a leak (``elsewhere``)."""
    same_column = src["found"]
    leaks = same_column if src["treatment"] == "strict" else 0
    return {
        "treatment": src["treatment"],
        "checked": src["rows"],
        "distinct": src["distinct"],
        "compared": 0,
        "kept_same_row": None,
        "expected_same_row": None,
        "same_column": same_column,
        "elsewhere": src["elsewhere"],
        "in_text": src["in_text"],
        "weak": None,
        "expected_overlap": same_column - leaks,
        "leaks": leaks + src["elsewhere"] + src["in_text"],
        "kept_share": None,
        "leaked_share": _share(leaks + src["elsewhere"] + src["in_text"], src["rows"]),
        "found_in": sorted(src["found_in"]),
        **({"skipped": src["skipped"]} if src["skipped"] else {}),
    }


def _share(n: int, of: int) -> float | None:
    return round(min(1.0, n / of), 6) if of else None


__all__ = ["NOT_COMPUTED", "verify"]
