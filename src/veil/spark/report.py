"""The run report of ``veil run --engine spark``: the local engine's counts (veil.pipeline.report), from Spark.

Per table, counts only (never a value reaches the driver):

- rows in, and per column its nulls and, for a transformed column, its non-null values (what the
  local engine counts as transformed, before rows are dropped): one aggregation over the input,
  ``count(*)`` and ``count(column)`` for every column, answered by Spark's Parquet reader in the JVM;
- rows out: the written output counted (Spark answers from the Parquet footers);
- rows dropped (forgotten subjects, by reference): one more job over the input, only for a table
  that drops rows (veil.spark.records.drop_counts);
- vault records written: those the driver stored (veil.spark.records.store_staged).
"""

from __future__ import annotations

from typing import Any

from ..keys import KeyProvider
from ..pipeline.report import ColumnStats, TableResult
from ..pipeline.transform import RunContext
from ..plan import TablePlan
from .records import drop_counts


def input_stats(tplan: TablePlan, spark_df: Any) -> tuple[int, dict[str, ColumnStats]]:
    """Rows in and each column's (transformed, nulls) as the local engine counts them, in one aggregation."""
    from pyspark.sql import functions as F

    aggs = [F.count(F.lit(1)).alias("rows")]
    aggs += [F.count(F.col(f"`{c.name}`")).alias(f"c{i}") for i, c in enumerate(tplan.columns)]
    row = spark_df.agg(*aggs).collect()[0]
    rows = int(row["rows"])
    stats = {}
    for i, c in enumerate(tplan.columns):
        present = int(row[f"c{i}"])
        stats[c.name] = ColumnStats(transformed=present if c.transformed else 0, nulls=rows - present)
    return rows, stats


def table_result(tplan: TablePlan, spark_df: Any, written: Any, keys: KeyProvider | None, run: RunContext,
                 in_schema: Any) -> TableResult:
    """One table's counts: ``spark_df`` its input, ``written`` its output as written (read back)."""
    rows_in, stats = input_stats(tplan, spark_df)
    forgotten, by_reference = drop_counts(tplan, spark_df, keys, run, in_schema)
    return TableResult(tplan.name, rows_in=rows_in, rows_out=written.count(), rows_forgotten=forgotten,
                       rows_dropped_by_reference=by_reference, columns=stats)
