"""The run report of ``veil run --engine spark``: the local engine's counts (veil.pipeline.report), from Spark.

Per table, counts only (never a value reaches the driver):

- rows in, and per column its nulls and, for a transformed column, its non-null values (what the
  local engine counts as transformed, before rows are dropped): from the Parquet footers of the
  files Spark reads (``inputFiles()``: rows and null counts per row group, read on the driver, no
  job) when they hold them for every column, else one aggregation over the input, ``count(*)`` and
  ``count(column)`` for every column, in the JVM (it reads every column once more);
- rows out: the written files' footers (row counts), read on the driver;
- rows dropped (forgotten subjects, by reference): one more job over the input, only for a table
  that drops rows (veil.spark.records.drop_counts);
- vault records written: those the driver stored (veil.spark.records.store_staged).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.parquet as pq

from ..keys import KeyProvider
from ..pipeline.report import ColumnStats, TableResult
from ..pipeline.transform import RunContext
from ..plan import TablePlan
from .records import drop_counts


def local_files(spark_df: Any) -> list[Path] | None:
    """The files a DataFrame read from Parquet reads, when all are on the driver's file system."""
    paths = [local_path(u) for u in spark_df.inputFiles()]
    if not paths or any(p is None for p in paths):
        return None
    return paths


def local_path(uri: str) -> Path | None:
    """A file URI (``file:/x``, ``file:///x``, or a bare path) as a path; None for another scheme."""
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme in ("file", "") else None


def footer_stats(tplan: TablePlan, files: list[Path]) -> tuple[int, dict[str, ColumnStats]] | None:
    """Rows in and each column's (transformed, nulls) from the files' Parquet footers, or None when
    a file lacks a null count (statistics are optional) or a column is not a flat column of every
    file (a partition column, a nested type: Spark's count is then needed)."""
    rows, nulls = 0, {c.name: 0 for c in tplan.columns}
    for f in files:
        meta = pq.ParquetFile(f).metadata
        leaf = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
        if meta.num_columns != len(meta.schema.to_arrow_schema()) or any(c not in leaf for c in nulls):
            return None
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for name in nulls:
                stats = group.column(leaf[name]).statistics
                if stats is None or not stats.has_null_count:
                    return None
                nulls[name] += stats.null_count
            rows += group.num_rows
    return rows, {c.name: ColumnStats(transformed=rows - nulls[c.name] if c.transformed else 0, nulls=nulls[c.name])
                  for c in tplan.columns}


def output_rows(path: Path) -> int:
    """Rows of a written Parquet output directory (its part files' footers, Hive folders included)."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in sorted(path.rglob("*.parquet"))
               if not any(part.startswith((".", "_")) for part in f.relative_to(path).parts))


def input_stats(tplan: TablePlan, spark_df: Any) -> tuple[int, dict[str, ColumnStats]]:
    """Rows in and each column's (transformed, nulls) as the local engine counts them: from the
    Parquet footers when they tell (:func:`footer_stats`), else in one aggregation."""
    from pyspark.sql import functions as F

    files = local_files(spark_df)
    try:
        counted = footer_stats(tplan, files) if files else None
    except (pa.ArrowException, OSError):  # a footer pyarrow cannot read: Spark counts
        counted = None
    if counted is not None:
        return counted

    aggs = [F.count(F.lit(1)).alias("rows")]
    aggs += [F.count(F.col(f"`{c.name}`")).alias(f"c{i}") for i, c in enumerate(tplan.columns)]
    row = spark_df.agg(*aggs).collect()[0]
    rows = int(row["rows"])
    stats = {}
    for i, c in enumerate(tplan.columns):
        present = int(row[f"c{i}"])
        stats[c.name] = ColumnStats(transformed=present if c.transformed else 0, nulls=rows - present)
    return rows, stats


def table_result(tplan: TablePlan, spark_df: Any, written: Path, keys: KeyProvider | None, run: RunContext,
                 in_schema: Any) -> TableResult:
    """One table's counts: ``spark_df`` its input, ``written`` its output directory (as written)."""
    rows_in, stats = input_stats(tplan, spark_df)
    forgotten, by_reference = drop_counts(tplan, spark_df, keys, run, in_schema)
    return TableResult(tplan.name, rows_in=rows_in, rows_out=output_rows(written), rows_forgotten=forgotten,
                       rows_dropped_by_reference=by_reference, columns=stats)
