"""Privacy k/l on the Spark engine: the first pass of veil.privacy.enforce as Spark aggregations.

For each table with ``privacy: {k: ..}`` (or ``l``), one job counts the rows per distinct
combination of the columns the local engine counts (:class:`veil.privacy.enforce.Need`: the
quasi-identifiers, l's sensitive columns, the subject column when k counts people): a ``groupBy``
with ``count``, partial counts per task then one shuffle of a row per combination and task. The
combinations and their counts (what the local engine holds in memory, no more) are collected to
the driver, where :func:`veil.privacy.enforce.decide` runs the local engine's lattice search and
rewrites the plan: each quasi-identifier gets operator ``k_anonymity`` with the chosen levels and
suppressed classes, which the executors then apply in the normal ``mapInArrow`` pass. Nothing of
the counts is shown; the report holds the search's figures, as locally.

A quasi-identifier its profile coarsens (generalize, mask) is counted as its rule writes it: that
rule runs on the executors first (a ``mapInArrow`` over the counted columns only), then the
``groupBy``. Tables about subjects (counted in people, a subject table's privacy inherited) need
nothing more: the subject column is one more grouping column, and an inherited quasi-identifier's
floor is applied to the collected combinations on the driver, as locally (veil.privacy.subjects).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from ..plan import Plan
from ..privacy.enforce import Need, decide, needs
from ..privacy.search import COUNT


def not_null(spark_df: Any, files: pa.Schema | None = None) -> set[str]:
    """The columns of a DataFrame Spark declares non-nullable, and with ``files`` (the Arrow schema
    of the Parquet files it reads) those the files declare so: Spark reads every column of a file
    as nullable. A suppressed value of such a column takes a placeholder."""
    return {f.name for f in spark_df.schema.fields if not f.nullable} | {f.name for f in files or [] if not f.nullable}


def enforce(plan: Plan, frames: dict[str, Any], nonnull: Callable[[str], set[str]],
            schemas: dict[str, pa.Schema] | None = None) -> dict[str, dict[str, Any]]:
    """Choose the levels of every table of ``plan`` with privacy k/l, its counts from ``frames``
    (the tables' Spark DataFrames), and rewrite its plan; returns each table's report section.
    ``nonnull``: a table's columns that may not hold NULL (e.g. its Parquet files' fields);
    ``schemas``: the tables' Arrow schemas the plan was compiled for (default: as Spark hands them)."""
    wanted = needs(plan)
    if not wanted:
        return {}
    combos = {name: combinations(frames[name], need, name, (schemas or {}).get(name))
              for name, need in wanted.items()}
    return decide(plan, wanted, combos, {name: nonnull(name) for name in wanted})


def combinations(spark_df: Any, need: Need, table: str, schema: pa.Schema | None = None) -> pa.Table:
    """The distinct combinations of ``need.columns`` and their row counts (``COUNT``), typed as the
    table's plan types them: one Spark aggregation, collected to the driver. ``schema``: the
    table's Arrow schema the plan was compiled for."""
    from pyspark.sql import functions as F

    from . import _to_arrow, arrow_schema

    cols = need.columns
    df = spark_df.select(*[F.col(_quoted(c)) for c in cols])
    types = dict(need.types)
    if need.bases:
        df, types = _based(df, need, table, arrow_schema(df, schema))
    floats = {c: types[c] for c in cols if pa.types.is_floating(types[c])}
    if floats:
        df = _as_bits(df, floats, arrow_schema(df))
    # positional names: a column may be called like the count
    got = _to_arrow(df.groupBy(*[F.col(_quoted(c)).alias(f"c{i}") for i, c in enumerate(cols)])
                    .agg(F.count(F.lit(1)).alias("n")))
    arrays = [_from_bits(got.column(f"c{i}").combine_chunks(), types[c]) if c in floats
              else _as(got.column(f"c{i}").combine_chunks(), types[c]) for i, c in enumerate(cols)]
    return pa.table(arrays + [got.column("n").combine_chunks().cast(pa.int64())], names=cols + [COUNT])


def _based(df: Any, need: Need, table: str, in_schema: pa.Schema) -> tuple[Any, dict[str, pa.DataType]]:
    """``df`` (the counted columns) with each coarsened quasi-identifier through its own rule, on the
    executors; and the columns' types after it."""
    from pyspark.sql.pandas.types import from_arrow_schema

    from . import conform, to_arrow

    empty = need.based(in_schema.empty_table(), table)
    types = {f.name: f.type for f in empty.schema}
    out_spark = from_arrow_schema(empty.schema)
    out_schema = to_arrow(out_spark, df.sparkSession)

    def coarsen(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            t = need.based(pa.Table.from_batches([conform(batch, in_schema)]), table)
            for b in t.to_batches():
                yield conform(b, out_schema)

    return df.mapInArrow(coarsen, out_spark), types


_BITS = {64: (pa.float64(), pa.int64()), 32: (pa.float32(), pa.int32())}  # float width: (float, its bits)


def _bits_of(t: pa.DataType) -> tuple[pa.DataType, pa.DataType]:
    """The float type a float column is viewed from, and the integer of its bits."""
    return _BITS[64 if t.bit_width == 64 else 32]


def _as_bits(df: Any, floats: dict[str, pa.DataType], in_schema: pa.Schema) -> Any:
    """``df`` with each floating-point column as the integer of its bits, on the executors: Spark
    groups -0.0 with 0.0 and every NaN together, the local engine (Arrow) groups by the bits."""
    from pyspark.sql.pandas.types import from_arrow_schema

    from . import conform

    views = {c: _bits_of(t) for c, t in floats.items()}
    out_schema = pa.schema([pa.field(f.name, views[f.name][1]) if f.name in views else f for f in in_schema])

    def bits(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            batch = conform(batch, in_schema)
            arrays = [a.cast(views[f.name][0]).view(views[f.name][1]) if f.name in views else a
                      for a, f in zip(batch.columns, in_schema, strict=True)]
            yield pa.RecordBatch.from_arrays(arrays, schema=out_schema)

    return df.mapInArrow(bits, from_arrow_schema(out_schema))


def _from_bits(arr: pa.Array, to: pa.DataType) -> pa.Array:
    """A collected column of bits (``_as_bits``) as the floats they are."""
    floating, bits = _bits_of(to)
    return _as(arr.cast(bits).view(floating), to)


def _as(arr: pa.Array, to: pa.DataType) -> pa.Array:
    """A collected column in the type the executors' batches hold (Spark may hand over an equivalent one)."""
    return arr if arr.type == to else arr.cast(to)


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
