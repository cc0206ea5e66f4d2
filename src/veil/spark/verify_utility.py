"""``veil verify`` on Spark, utility: the local UtilityCheck's section (veil.verify.utility), built by
its own code from what Spark counts (veil.spark.verify).

Per table and side, one ``mapInArrow`` pass runs the local ``ColumnSide`` over each partition's
batches (rows, nulls, blanks, text lengths, numbers and dates parsed as the local check parses
them, sums for the mean and standard deviation, the partition's bottom-k sample by the rows' keys)
and turns each column's values into the local check's keyed fingerprints, counted per batch. The
partitions' sides are merged in a tree on the executors (sums, histograms, the ``SAMPLE`` smallest
keys of the partitions' samples: the local sample itself, a row's key being a function of its
ordinal in the table, veil.verify.distributions.row_keys); the fingerprints are counted by Spark
(groupBy column, fingerprint). The driver receives the merged sides (counts, sums, and the
numbers' samples, which the local check holds too) and per column how many values occur n times,
from which the local code's distinct counts, ranked shares and ``tvd_rank`` follow; a kept
category's TVD and the top-10 overlap are joins of the two sides' fingerprint counts in Spark
(sums and counts reach the driver, never a fingerprint).

A row's ordinal: in a Parquet file scan, the rows of the table's earlier files (sorted by path, as
the local reader reads a directory) plus its ``_metadata.row_index``; in another DataFrame, the rows
of earlier partitions plus its place in its partition (the order of ``collect()``): its sample is the
local one when the local reader reads the rows in that order.

Foreign keys: the integrity aggregation's children per parent key (veil.spark.verify._Integrity);
unique keys: rows and distinct values of the key fingerprints of the shared pass.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..verify.base import VerifyContext
from ..verify.distributions import NUMERIC_KINDS, SAMPLE, ColumnSide, Numbers, share
from ..verify.keys import ORIGINAL as KEY_ORIGINAL
from ..verify.keys import CountSummary, KeyTracker, column_fingerprints, number_fingerprints
from ..verify.runner import _as_copy_types, _typed_columns
from ..verify.utility import TOP_K, UtilityCheck, _seed
from . import conform
from .order import _where, per_file
from .records import partition_id
from .verify import COPY, ORIGINAL, _require_hash_seed

if TYPE_CHECKING:
    from .verify import Verification, _Integrity

FILE_COL, ROW_COL = "__veil_file", "__veil_row"
_TOP = -(1 << 63)  # xor: a fingerprint (uint64 bits in a signed long) that orders as the unsigned one


class Counted(CountSummary):
    """A side's value counts as the driver holds them: how many rows hold each value, without the
    values' fingerprints (what distinct counts, ranked shares and ``tvd_rank`` read)."""

    def __init__(self, counts: np.ndarray) -> None:
        self.counts = np.asarray(counts, np.int64)


class _Keys(KeyTracker):
    """The key tracker's answers from Spark: unique keys' rows and distinct keys (the shared pass's
    key fingerprints), foreign keys' resolution and children per parent (the integrity aggregation)."""

    def __init__(self, v: Verification, integrity: _Integrity) -> None:
        super().__init__(v.ctx)
        self.v, self.integrity = v, integrity
        self.columns: dict[tuple[str, str], dict[tuple[str, ...], str]] = {}
        for name, info in v.ctx.tables.items():
            keys = [info.primary_key] if info.primary_key else []
            keys += [u for u in info.unique if u and u != info.primary_key]
            for side in (ORIGINAL, COPY):
                for cols in keys:
                    if v.has(side, name, cols):
                        self.columns.setdefault((side, name), {})[tuple(cols)] = v.need(side, name, "key", tuple(cols))
        self.counted: dict[tuple[str, str, tuple[str, ...]], Any] = {}

    def count(self) -> None:
        """One aggregation per table and side: every unique key's rows (no null) and distinct keys."""
        from pyspark.sql import functions as F

        for (side, table), cols in self.columns.items():
            aggs = []
            for i, name in enumerate(cols.values()):
                aggs += [F.count(name).alias(f"n{i}"), F.countDistinct(name).alias(f"d{i}")]
            row = self.v.fingerprints(side, table).agg(*aggs).first()
            for i, key in enumerate(cols):
                self.counted[(side, table, key)] = _Duplicates(int(row[f"n{i}"]) - int(row[f"d{i}"]))

    def get(self, side: int, table: str, columns: list[str] | tuple[str, ...]) -> Any:
        return self.counted.get((ORIGINAL if side == KEY_ORIGINAL else COPY, table, tuple(columns)))

    def foreign_key(self, side: int, table: str, fk) -> dict[str, Any] | None:
        name = ORIGINAL if side == KEY_ORIGINAL else COPY
        res = self.integrity.resolution(name, table, fk)
        if res is None:
            return None
        return {**res, "per_parent": self.integrity.per_parent(name, table, fk)}


class _Duplicates:
    def __init__(self, duplicates: int) -> None:
        self.duplicates = duplicates


class Utility(UtilityCheck):
    """The local UtilityCheck, its sides filled from Spark (module doc); ``finish`` is the local one."""

    def __init__(self, v: Verification, integrity: _Integrity) -> None:
        super().__init__(v.ctx)
        self.v = v
        self.keys = _Keys(v, integrity)
        self.counts: dict[tuple[str, str], Any] = {}  # (side, table) -> (c, fp, n) DataFrame, persisted
        self.index: dict[tuple[str, str], int] = {}  # (table, column) -> c: the column's place in ORIGINAL
        self.pairs: dict[tuple[str, str], dict[str, Any]] = {}
        self.persisted: list[Any] = []

    def _shared_values(self, table: str, column: str) -> None:
        """Nothing to take: a key column's values are counted with the others (module doc)."""

    def finish(self) -> dict[str, Any]:
        try:
            self.keys.count()
            for name in self.ctx.tables:
                self._side(ORIGINAL, name)
            for name, info in self.ctx.tables.items():
                if info.copy_schema is not None and name in self.v.frames[COPY] and (ORIGINAL, name) in self.counts:
                    self._side(COPY, name)
            self._pairs()
            return super().finish()
        finally:
            for df in self.persisted:
                df.unpersist()
            self.persisted.clear()

    # -- one side of a table ---------------------------------------------------------------------

    def _side(self, side: str, table: str) -> None:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F
        from pyspark.sql.types import BinaryType, IntegerType, LongType, StructField, StructType

        info = self.ctx.tables[table]
        df, schema = self.v.frames[side][table], self.v.schemas[side][table]
        keys = self._key_columns(table)
        spec = []
        for i, name in enumerate(info.original_schema.names):
            self.index[(table, name)] = i
            if name not in schema.names:
                continue
            if side == ORIGINAL:
                spec.append((i, name, name not in keys, None))
            elif (table, name) in self._sides:
                kind = self.kind(table, name)
                spec.append((i, name, name not in keys and kind in NUMERIC_KINDS, kind))
        typed = _typed_columns(info) if side == ORIGINAL else {}
        framed, where = _positioned(df)
        out_schema = StructType([StructField("c", IntegerType()), StructField("fp", LongType()),
                                 StructField("n", LongType()), StructField("state", BinaryType())])
        fn = _side_batches(self.v.key, schema, spec, table, typed, where)
        out = framed.mapInArrow(fn, out_schema).persist(StorageLevel.DISK_ONLY)
        self.persisted.append(out)
        states = (out.where(F.col("state").isNotNull()).select("state").rdd
                  .treeAggregate(None, _merge_row, _merge, depth=2))
        if states is None:  # no rows: the local check made no side
            out.unpersist()
            return
        counts = (out.where(F.col("fp").isNotNull()).groupBy("c", "fp").agg(F.sum("n").alias("n"))
                  .persist(StorageLevel.DISK_ONLY))
        self.persisted.append(counts)
        self.counts[(side, table)] = counts
        freq: dict[int, list[tuple[int, int]]] = {}
        for row in counts.groupBy("c", "n").agg(F.count(F.lit(1)).alias("k")).collect():
            freq.setdefault(int(row["c"]), []).append((int(row["n"]), int(row["k"])))
        out.unpersist()  # the value counts are on disk now: the pass's rows (and samples) go
        types = _file_types(df)
        for i, name, _number, _kind in spec:
            got = states[i]
            pairs = freq.get(i, [])
            got.values = Counted(np.repeat(np.array([n for n, _ in pairs], np.int64),
                                           np.array([k for _, k in pairs], np.int64)))
            if got.type is not None and name in types and name not in typed:
                got.type = types[name]  # the type the local reader reads (Spark's timestamps are in us)
            if side == ORIGINAL:
                self._sides[(table, name)] = [got, None]
            else:
                self._sides[(table, name)][1] = got

    # -- what compares the two sides' values ---------------------------------------------------------

    def _pairs(self) -> None:
        """Per category column: the top-10 overlap, and for a kept one the TVD (joins in Spark)."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        for table, info in self.ctx.tables.items():
            a, b = self.counts.get((ORIGINAL, table)), self.counts.get((COPY, table))
            if a is None or b is None:
                continue
            cats, kept = [], []
            for name in info.original_schema.names:
                sides = self._sides.get((table, name))
                if sides is None or sides[1] is None or self.kind(table, name) != "category":
                    continue
                cats.append(self.index[(table, name)])
                if (sides[0].values.total and sides[1].values.total
                        and self._role(info, name, True) == "kept"):
                    kept.append((self.index[(table, name)], sides[0].values.total, sides[1].values.total))
            if not cats:
                continue
            names = {self.index[(table, n)]: n for n in info.original_schema.names}
            order = Window.partitionBy("c").orderBy(F.desc("n"), F.col("fp").bitwiseXOR(F.lit(_TOP)).asc())

            def top(d: Any, cols: list[int] = cats, order: Any = order) -> Any:
                return (d.where(F.col("c").isin(cols)).withColumn("r", F.row_number().over(order))
                        .where(F.col("r") <= TOP_K).select("c", "fp"))

            for row in top(a).join(top(b), ["c", "fp"]).groupBy("c").count().collect():
                self.pairs.setdefault((table, names[int(row["c"])]), {})["overlap"] = int(row["count"])
            if not kept:
                continue
            totals = F.create_map(*[F.lit(x) for c, ta, _ in kept for x in (c, ta)])
            totals_b = F.create_map(*[F.lit(x) for c, _, tb in kept for x in (c, tb)])
            cols = [c for c, _, _ in kept]
            joined = (a.where(F.col("c").isin(cols)).withColumnRenamed("n", "na")
                      .join(b.where(F.col("c").isin(cols)).withColumnRenamed("n", "nb"), ["c", "fp"], "full_outer"))
            diff = F.abs(F.coalesce(F.col("na") / F.element_at(totals, F.col("c")), F.lit(0.0))
                         - F.coalesce(F.col("nb") / F.element_at(totals_b, F.col("c")), F.lit(0.0)))
            for row in joined.groupBy("c").agg(F.sum(diff).alias("d")).collect():
                self.pairs.setdefault((table, names[int(row["c"])]), {})["tvd"] = float(0.5 * row["d"])

    def _measures(self, table: str, column: str) -> tuple[Any, Any]:
        got = self.pairs.get((table, column), {})

        def tvd_of(a: Counted, b: Counted) -> float | None:
            return got.get("tvd") if a.total and b.total else None

        def overlap_of(a: Counted, b: Counted, k: int = TOP_K) -> float | None:
            top = min(k, a.distinct)
            return share(got.get("overlap", 0), top) if top else None

        return tvd_of, overlap_of


# -- where a row is, on the executors -----------------------------------------------------------


def _positioned(df: Any) -> tuple[Any, tuple[str, dict]]:
    """``df`` with what gives each row's ordinal in its table, and how: ``("files", {file: rows in the
    earlier files})`` with the row's file and row in it as two more columns (a Parquet file scan), or
    ``("partitions", {partition: rows in the earlier partitions})``."""
    from pyspark.sql import functions as F

    framed = None
    if df.inputFiles():  # (asking Spark for _metadata of another DataFrame logs an error)
        try:
            framed = df.select("*", F.col("_metadata.file_path").alias(FILE_COL),
                               F.col("_metadata.row_index").alias(ROW_COL))
        except Exception:  # not a file scan (no _metadata): the partitions' order
            framed = None
    if framed is not None:
        files = sorted({_where(u) for u in df.inputFiles()})
        rows = _footer_rows(df)
        if rows is None:
            got = framed.groupBy(FILE_COL).count().collect()
            rows = {_where(r[FILE_COL]): int(r["count"]) for r in got}
        offsets, seen = {}, 0
        for f in files:
            offsets[f] = seen
            seen += rows.get(f, 0)
        return framed, ("files", offsets)
    got: dict[int, int] = {}
    for r in df.mapInArrow(_partition_rows, "p int, n long").collect():  # as the pass will see them
        got[int(r["p"])] = got.get(int(r["p"]), 0) + int(r["n"])
    offsets, seen = {}, 0
    for p in sorted(got):
        offsets[p] = seen
        seen += got[p]
    return df, ("partitions", offsets)


def _partition_rows(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    n = sum(b.num_rows for b in batches)
    yield pa.RecordBatch.from_arrays([pa.array([partition_id()], pa.int32()), pa.array([n], pa.int64())],
                                     names=["p", "n"])


def _footer_rows(df: Any) -> dict[str, int] | None:
    """Rows of each input file from its Parquet footer (files on the driver's file system), else None."""
    from .report import local_path

    out = {}
    for uri in df.inputFiles():
        path = local_path(uri)
        if path is None:
            return None
        try:
            out[_where(uri)] = pq.ParquetFile(path).metadata.num_rows
        except (pa.ArrowException, OSError):
            return None
    return out


def _file_types(df: Any) -> dict[str, pa.DataType]:
    """The column types of the table's first file (sorted by path) as the local reader reads them."""
    from .report import local_files

    try:
        files = local_files(df)
        schema = pq.read_schema(sorted(files)[0]) if files else None
    except Exception:  # not a file scan, or a footer pyarrow cannot read: Spark's types
        return {}
    if schema is None:
        return {}
    return {f.name: f.type.value_type if pa.types.is_dictionary(f.type) else f.type for f in schema}


def _ordinals(batch: pa.RecordBatch, width: int, where: tuple[str, dict], part: int, seen: int) -> np.ndarray:
    how, offsets = where
    n = batch.num_rows
    if how == "partitions":
        return np.arange(n, dtype=np.uint64) + np.uint64(offsets.get(part, 0) + seen)
    start = per_file(batch.column(width), offsets, "veil verify")
    return start + batch.column(width + 1).to_numpy(zero_copy_only=False).astype(np.uint64)


def _side_batches(key: bytes, in_schema: pa.Schema, spec: list[tuple[int, str, bool, str | None]], table: str,
                  typed: dict[str, Any], where: tuple[str, dict]):
    """What each executor task runs: every column of its batches through a local ``ColumnSide`` (its
    values counted as fingerprint rows ``(c, fp, n)``), then one row holding the pickled sides."""
    width = len(in_schema)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        _require_hash_seed()
        ctx = VerifyContext({}, None, fingerprint_key=key)
        sides: dict[int, ColumnSide] = {}
        part, seen = partition_id(), 0
        for batch in batches:
            n = batch.num_rows
            if n == 0:
                continue
            ordinals = _ordinals(batch, width, where, part, seen)
            seen += n
            batch = conform(batch.select(list(range(width))), in_schema)
            if typed:
                batch = next(_as_copy_types(iter([(table, batch)]), {table: typed}))[1]
            cs, fs, ns = [], [], []
            for i, name, number, kind in spec:
                arr = batch.column(name)
                side = sides.get(i)
                if side is None:
                    side = sides[i] = ColumnSide(_seed(table, name), kind=kind)
                fps = number_fingerprints(ctx, arr) if number else None
                if fps is None:
                    fps = column_fingerprints(ctx, arr)
                side.add(ctx, arr, fps, count_values=False, ordinals=ordinals)
                counted = getattr(fps, "counted", None)
                fp, count = counted if counted is not None else np.unique(fps[0], return_counts=True)
                cs.append(np.full(len(fp), i, np.int32))
                fs.append(np.asarray(fp, np.uint64).view(np.int64))
                ns.append(np.asarray(count, np.int64))
            if cs:
                c = np.concatenate(cs)
                yield pa.RecordBatch.from_arrays([pa.array(c), pa.array(np.concatenate(fs)),
                                                  pa.array(np.concatenate(ns)), pa.nulls(len(c), pa.binary())],
                                                 names=["c", "fp", "n", "state"])
        if sides:
            yield pa.RecordBatch.from_arrays([pa.array([-1], pa.int32()), pa.nulls(1, pa.int64()),
                                              pa.nulls(1, pa.int64()), pa.array([pickle.dumps(sides)], pa.binary())],
                                             names=["c", "fp", "n", "state"])

    return run


# -- merging the partitions' sides -----------------------------------------------------------------


def _merge_row(acc: dict | None, row: Any) -> dict | None:
    return _merge(acc, pickle.loads(row[0]))


def _merge(a: dict | None, b: dict | None) -> dict | None:
    """Two partitions' ``{column: ColumnSide}`` as one (what the local side holds after both)."""
    if a is None or b is None:
        return b if a is None else a
    for i, side in b.items():
        a[i] = side if i not in a else _merge_side(a[i], side)
    return a


def _merge_side(a: ColumnSide, b: ColumnSide) -> ColumnSide:
    if a.type is None:
        a.type = b.type
    a.rows += b.rows
    a.nulls += b.nulls
    a.blanks += b.blanks
    if b.lengths is not None:
        a.lengths = b.lengths if a.lengths is None else a.lengths + b.lengths
    a._dead |= b._dead  # a kind one batch anywhere does not read as is given up (strict side)
    for kind, numbers in b.numbers.items():
        a.numbers[kind] = numbers if kind not in a.numbers else _merge_numbers(a.numbers[kind], numbers)
    for kind in a._dead:
        a.numbers.pop(kind, None)
    return a


def _merge_numbers(a: Numbers, b: Numbers) -> Numbers:
    """Counts and sums (``b``'s sums moved to ``a``'s shift), and the ``SAMPLE`` smallest keys of both
    samples: the bottom-k of the union, as the local side's."""
    a.unparsed += b.unparsed
    a.whole_days = a.whole_days and b.whole_days
    if b.count == 0 or b._shift is None:
        return a
    if a._shift is None:
        a._shift, a._sum, a._sumsq = b._shift, b._sum, b._sumsq
    else:
        d = b._shift - a._shift
        a._sumsq += b._sumsq + 2.0 * d * b._sum + b.count * d * d
        a._sum += b._sum + b.count * d
    a.count += b.count
    sample = np.concatenate([a.sample, b.sample])
    keys = np.concatenate([a._keys, b._keys])
    if len(sample) > SAMPLE:
        best = np.argpartition(keys, SAMPLE - 1)[:SAMPLE]
        sample, keys = sample[best], keys[best]
    a.sample, a._keys = sample, keys
    return a
