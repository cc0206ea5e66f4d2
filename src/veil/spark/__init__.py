"""The Spark engine: a table's plan applied per Arrow batch on the executors (``mapInArrow``).

The plan is compiled once, on the driver, against the Arrow schema of the Spark DataFrame: an
unclassified column fails there, before any job starts, with the CLI's message. Each executor task
runs the same per-batch function as the local engine (:func:`veil.pipeline.transform_batch`), and
keyed operators are pure functions of (key, domain, value): the same value gives the same output
bytes in either engine. The function shipped to the executors carries the table's plan and only the
derived subkeys the plan uses (veil.spark.keys), never the keyring's secrets.

With a vault (``veil run --engine spark --vault``), executors stage the plain records of their
batches encrypted under a run-scoped key and the driver seals and stores them, and forgotten
subjects' rows (and rows referencing them) are dropped as in a local run (veil.spark.records).
Privacy k/l is enforced as locally, its first pass counted by Spark aggregations
(veil.spark.privacy). Not done by this engine (refused, never skipped): subset and
row_order: shuffle (veil.api.refuse_whole_input_features).
Pseudonym collisions in key columns are checked by :func:`check_keys` (a Spark aggregation), which
``veil run --engine spark`` runs before it commits the output.

Needs the ``spark`` extra (pyspark >= 3.5). docs/spark.md has the set-up and the exposure of keys.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..api import as_keys, as_profile, compile_for
from ..errors import IntegrityError, UsageError, VeilError
from ..formats.order import ORDER_PURPOSE
from ..keys import KeyProvider
from ..pipeline.transform import RunContext, transform_batch
from ..plan import TablePlan
from ..profile import Profile
from .keys import RecordingKeys, SubkeyProvider
from .order import ORDER_COL, file_ordinals, input_bytes, partitions_for, shuffled, sort_keys, with_positions
from .privacy import enforce as enforce_privacy
from .privacy import not_null
from .records import StageWriter, drops_rows, kept_input, partition_id, record_vault_keys, stage_batch

# pyspark warns on every session that it "does not yet fully support pandas >= 3.0.0": veil hands
# Spark Arrow batches, never pandas, and the warning would break `veil run --engine spark -q`'s silence
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

PROBE_ROWS = 1000  # rows of each table the driver runs to learn which subkeys the plan uses
PROBE_NONNULL = 16  # more rows for a transformed column with no value in those


def _spark_types():
    try:
        from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
    except ImportError:  # pragma: no cover - the spark extra is missing
        raise UsageError("the Spark engine needs pyspark", hint='pip install "veil[spark]"') from None
    return from_arrow_schema, to_arrow_schema


def to_arrow(struct: Any, spark: Any) -> pa.Schema:
    """A Spark schema as Arrow, as mapInArrow hands its batches: a timestamp with a time zone
    (Spark's TimestampType) in the session's time zone (pyspark >= 4 asks for it)."""
    convert = _spark_types()[1]
    try:
        return convert(struct, timezone=spark.conf.get("spark.sql.session.timeZone"))
    except TypeError:  # pragma: no cover - pyspark 3.5: no time zone argument, UTC
        return convert(struct)


def arrow_schema(spark_df: Any, like: pa.Schema | None = None) -> pa.Schema:
    """The Arrow schema mapInArrow hands the executors for ``spark_df``; with ``like`` (the Arrow
    schema of the Parquet files it reads), a timestamp column with a time zone in the files' zone
    instead of the session's: the same instants, and the zone the local engine reads (a date's
    day, month or year is taken in it), so both engines transform alike."""
    schema = to_arrow(spark_df.schema, spark_df.sparkSession)
    if like is None:
        return schema
    fields = []
    for f in schema:
        i = like.get_field_index(f.name)
        theirs = like.field(i).type if i >= 0 else None
        if (pa.types.is_timestamp(f.type) and f.type.tz and theirs is not None and pa.types.is_timestamp(theirs)
                and theirs.tz):
            f = f.with_type(pa.timestamp(f.type.unit, theirs.tz))
        fields.append(f)
    return pa.schema(fields, metadata=schema.metadata)


def _to_arrow(spark_df: Any) -> pa.Table:
    if hasattr(spark_df, "toArrow"):  # pyspark >= 4
        return spark_df.toArrow()
    return pa.Table.from_batches(spark_df._collect_as_arrow())  # pyspark 3.5


def probe_keys(tplan: TablePlan, spark_df: Any, keys: KeyProvider, schema: pa.Schema,
               probe_rows: int = PROBE_ROWS, context: RunContext | None = None,
               sample: pa.Table | None = None) -> RecordingKeys:
    """Run the table's plan on the driver over its first ``probe_rows`` rows (``sample`` when the
    caller read them already, else a Spark job; and a few more rows for each transformed column
    empty there), noting every key the operators ask for (with ``context``'s forget lists and vault
    records, and their index keys whatever the rows). Nothing of the sample is kept or shown."""
    from pyspark.sql import functions as F

    recorder = RecordingKeys(keys)
    sample = _to_arrow(spark_df.limit(probe_rows)).cast(schema) if sample is None else sample
    parts = [sample]
    for c in tplan.columns:
        if c.transformed and not c.dropped and sample.column(c.name).null_count == sample.num_rows:
            parts.append(_to_arrow(spark_df.where(F.col(f"`{c.name}`").isNotNull()).limit(PROBE_NONNULL)).cast(schema))
    run = RunContext(recorder)
    if context is not None:
        run.forgotten, run.vault = context.forgotten, context.vault
        record_vault_keys(tplan, recorder, run)
    for part in parts:
        for batch in part.to_batches():
            transform_batch(tplan, batch, run, 0)
    return recorder


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A batch as ``schema`` (Spark may hand over other, equivalent Arrow types)."""
    if batch.schema == schema:
        return batch
    return pa.RecordBatch.from_arrays([a if a.type == f.type else a.cast(f.type)
                                       for a, f in zip(batch.columns, schema, strict=True)], schema=schema)


def batch_function(tplan: TablePlan, keys: SubkeyProvider | None, in_schema: pa.Schema, out_schema: pa.Schema,
                   forgotten: dict[str, frozenset[bytes]] | None = None, stage: StageWriter | None = None,
                   order: tuple[bytes, dict[str, int]] | None = None):
    """What each executor task runs: its partition's Arrow batches through the table's plan. Only
    ``tplan``, ``keys`` (the run's subkeys), the forget list of the table's subject domain, the
    vault staging writer (veil.spark.records) and, for ``row_order: shuffle``, the table's order
    subkey and its files' numbers (veil.spark.order; the batches then end with the rows' file and
    row, and the output with their sort key) are in its closure."""
    width = len(in_schema)

    def transform(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        run = RunContext(keys, dict(forgotten or {}), vault=stage is not None)
        part, offset = partition_id(), 0
        for seq, batch in enumerate(batches):
            if order is not None:
                sort = sort_keys(batch.column(width), batch.column(width + 1), *order)
                batch = batch.select(list(range(width)))
            batch = conform(batch, in_schema)
            try:
                res = transform_batch(tplan, batch, run, offset)
            except VeilError as exc:
                raise in_partition(exc, part) from None
            offset += batch.num_rows
            if stage is not None:
                stage_batch(res, batch, stage, (part, seq))
            out = conform(res.batch, out_schema)
            if order is not None:
                out = out.append_column(ORDER_COL, sort.filter(res.kept) if res.kept is not None else sort)
            yield out

    return transform


PARTITION = "Spark partition "


def in_partition(exc: VeilError, part: int) -> VeilError:
    """An executor's error with its row counted in the task's partition, named as the file: a
    row number alone would be relative to a slice of the input (:func:`locate` finds the file)."""
    if exc.row is not None and not exc.file:
        exc.file = f"{PARTITION}{part}"
    return exc


def locate(spark_df: Any, part: int, row: int) -> tuple[str, int] | None:
    """The input file and its row (1-based) that ``row`` (1-based) of ``spark_df``'s partition
    ``part`` was read from: one small job over Parquet's hidden ``_metadata`` columns (a file
    scan's partitions and their row order are the same whichever columns are read), else None
    (not a file scan). Only the file's path and a row number reach the driver."""
    from pyspark.sql import functions as F

    def pick(i: int, rows: Iterator[Any]) -> Iterator[tuple[str, int]]:
        if i == part:
            for n, r in enumerate(rows, 1):
                if n == row:
                    yield r[0], int(r[1]) + 1
                    return

    try:
        meta = spark_df.select(F.col("_metadata.file_path"), F.col("_metadata.row_index"))
        got = meta.rdd.mapPartitionsWithIndex(pick).collect()
    except Exception:  # not a Parquet file scan (no row_index), or the job failed: the partition's row stays
        return None
    return got[0] if got else None


class SparkTable:
    """One table's Spark plan: the compiled TablePlan, the executors' keys, the input (``frame``;
    ``source``: the rows it keeps), and the lazy output."""

    def __init__(self, tplan: TablePlan, keys: SubkeyProvider | None, source: Any, result: Any, frame: Any = None):
        self.plan, self.keys, self.source, self.result = tplan, keys, source, result
        self.frame = source if frame is None else frame


def prepare(spark_df: Any, profile: Profile | Mapping | str | Path, keys: KeyProvider | str | Path | None, *,
            table: str | None = None, scope: str | None = None, probe_rows: int = PROBE_ROWS) -> SparkTable:
    """Compile on the driver, learn the subkeys, and build the lazy mapInArrow (see :func:`anonymize`)."""
    prof = as_profile(profile)
    provider = as_keys(keys, scope or prof.scope) if keys is not None else None
    name = _table_name(prof, table)
    shuffle = prof.row_order == "shuffle"
    if shuffle:  # ordered by veil.spark.order after the transform, for a DataFrame read from Parquet
        prof = dataclasses.replace(prof, row_order="keep")
    files = files_schema(spark_df)
    schema = arrow_schema(spark_df, files)
    plan = compile_for(prof, provider, {name: schema}, engine="Spark engine")
    nonnull = not_null(spark_df, files)
    enforce_privacy(plan, {name: spark_df}, lambda _: nonnull, {name: schema})  # k/l: Spark aggregations
    return plan_table(plan.tables[name], spark_df, provider, probe_rows, in_schema=schema,
                      shuffle_parts=partitions_for(input_bytes(spark_df)) if shuffle else None)


def files_schema(spark_df: Any) -> pa.Schema | None:
    """The Arrow schema of the Parquet files a DataFrame reads (what the local engine reads: which
    columns are NOT NULL, timestamps' zones), when they are on the driver's file system, all have
    one schema and hold every column of the DataFrame; else None."""
    import pyarrow.parquet as pq

    from .report import local_files

    try:
        paths = local_files(spark_df)
        schemas = [pq.read_schema(f) for f in paths or []]
    except (OSError, pa.ArrowException):
        return None
    if not schemas or any(not s.equals(schemas[0]) for s in schemas[1:]):
        return None
    return schemas[0] if set(spark_df.columns) <= set(schemas[0].names) else None


def plan_table(tplan: TablePlan, spark_df: Any, provider: KeyProvider | None, probe_rows: int = PROBE_ROWS,
               partition_columns: tuple[str, ...] = (), context: RunContext | None = None,
               stage: StageWriter | None = None, sample: Any = None, in_schema: pa.Schema | None = None,
               shuffle_parts: int | None = None) -> SparkTable:
    """The lazy output of one table whose plan is compiled: the subkeys it uses, learnt on the driver,
    in the closure of the executors' function. ``context``: the run's forget lists (and whether it
    writes vault records, then staged with ``stage``). ``sample(in_schema)``: the first rows for the
    key probe read without Spark (veil.spark.run reads them from the Parquet file), or None.
    ``shuffle_parts``: write the rows in the keyed order (``row_order: shuffle``, veil.spark.order)
    through that many shuffle partitions."""
    from_arrow_schema = _spark_types()[0]
    refuse_partition_rules(tplan, partition_columns)
    in_schema = in_schema or arrow_schema(spark_df)
    shipped = None
    if provider:
        rows = sample(in_schema) if sample is not None else None
        shipped = probe_keys(tplan, spark_df, provider, in_schema, probe_rows, context, rows).provider()
    out_spark = from_arrow_schema(tplan.out_schema)
    out_schema = to_arrow(out_spark, spark_df.sparkSession)
    forgotten = {}
    if context is not None and tplan.subject and context.forgotten.get(tplan.subject.domain):
        forgotten = {tplan.subject.domain: context.forgotten[tplan.subject.domain]}
    order, source_df = None, spark_df
    if shuffle_parts:
        if provider is None:
            raise UsageError("row_order: shuffle needs a keyring (the order is keyed)", hint="pass a keyring")
        source_df = with_positions(spark_df, tplan.name)
        order = (provider.subkey(ORDER_PURPOSE, tplan.name), file_ordinals(spark_df))
        out_spark = out_spark.add(ORDER_COL, "long", False)
    fn = batch_function(tplan, shipped, in_schema, out_schema, forgotten,
                        stage if context is not None and context.vault else None, order)
    result = source_df.mapInArrow(fn, out_spark)
    if shuffle_parts:
        result = shuffled(result, shuffle_parts, partition_columns)
    source = spark_df
    if context is not None and drops_rows(tplan, context):  # the key check counts the rows kept
        source = kept_input(tplan, spark_df, shipped, context, in_schema)
    return SparkTable(tplan, shipped, source, result, spark_df)


def anonymize(spark_df: Any, profile: Profile | Mapping | str | Path, keys: KeyProvider | str | Path | None, *,
              table: str | None = None, scope: str | None = None, probe_rows: int = PROBE_ROWS) -> Any:
    """A Spark DataFrame of ``spark_df`` anonymized with ``profile`` and ``keys``, lazily.

    The plan is compiled here, on the driver (an unclassified column raises a VeilError before any
    job starts); with privacy k/l, one aggregation job counts the quasi-identifiers' combinations
    and the levels are chosen here (veil.spark.privacy); a small job reads ``probe_rows`` rows to
    learn which subkeys the plan uses; the
    returned DataFrame applies the plan per Arrow batch (``mapInArrow``) when an action runs. Values
    are byte-identical to ``veil run`` for the same key. Key columns are not checked for pseudonym
    collisions here: run :func:`check_keys` (``veil run --engine spark`` does).
    """
    return prepare(spark_df, profile, keys, table=table, scope=scope, probe_rows=probe_rows).result


def write(tables: Mapping[str, Any] | str | Path, profile: Profile | Mapping | str | Path,
          keys: KeyProvider | str | Path, out: str | Path, *, vault: Any = None, scope: str | None = None,
          purpose: str = "", actor: str | None = None, probe_rows: int = PROBE_ROWS) -> dict[str, Any]:
    """Anonymize ``tables`` (``{table: Spark DataFrame}``, or a directory of Parquet tables) into
    ``out`` now, as ``veil run --engine spark`` does: ``out/<table>/part-*.parquet``, committed
    atomically (a failed run leaves a previous output untouched), key columns checked for pseudonym
    collisions, and with ``vault`` (a path, a ``postgresql://`` URL, or an open ``veil.vault.Vault``)
    forgotten subjects' rows dropped and the vault records stored and committed with the run's
    audit entry, the same content as a local run. Returns the JSON run report (as ``--report``).

    ``out`` is a directory on the driver's file system (a cluster: a mount every executor writes,
    e.g. a DBFS FUSE path). For a lazy DataFrame without a vault, use :func:`anonymize`."""
    from ..pipeline.report import report_dict
    from ..vault import Vault
    from ..vault.vault import open_vault
    from .run import run_spark

    prof = as_profile(profile)
    scope = scope or prof.scope
    provider = as_keys(keys, scope)
    if isinstance(tables, Mapping):
        for name in tables:
            if not isinstance(name, str) or not name or name.startswith((".", "_")) or "/" in name or "\\" in name:
                raise UsageError("a table name must be a plain name (no path separator, not starting with '.' or '_')",
                                 table=str(name), hint="use the profile's table name")
    opened = None if vault is None or isinstance(vault, Vault) else open_vault(
        vault, provider, forbidden_dirs=(Path(out),), create=True)
    try:
        result, plan = run_spark(tables if isinstance(tables, Mapping) else Path(tables), prof, provider, Path(out),
                                 probe_rows=probe_rows, vault=opened or vault,
                                 purpose=purpose or "veil.spark.write", actor=actor)
    finally:
        if opened is not None:
            opened.close()
    where = "DataFrames" if isinstance(tables, Mapping) else Path(tables)
    return report_dict(result, plan, input_path=where, profile_path=None,
                       extra={"scope": scope, "engine": "spark"})


def _table_name(profile: Profile, table: str | None) -> str:
    from ..api import _table_name as name_of

    return name_of(profile, table)


def refuse_partition_rules(tplan: TablePlan, partition_columns: tuple[str, ...]) -> None:
    """A Hive partition column must be kept: a pseudonymized partition key would move rows between
    folders (and its folder names would still show the original values)."""
    from ..formats.partitions import refuse_partition_rules as refuse

    refuse(tplan, partition_columns)


def check_keys(st: SparkTable, written: Any = None) -> None:
    """Key columns whose operator is injective only with high probability: as many distinct outputs
    as inputs (one Spark aggregation each side), else IntegrityError naming table.column only.
    ``written``: the output as written (read back: the transform is not computed again)."""
    from pyspark.sql import functions as F

    cols = [c.name for c in st.plan.columns if c.check_unique]
    if not cols:
        return
    agg = [F.countDistinct(F.col(f"`{c}`")).alias(c) for c in cols]
    n_in = st.source.agg(*agg).collect()[0]
    n_out = (st.result if written is None else written).agg(*agg).collect()[0]
    for c in cols:
        if n_out[c] < n_in[c]:
            raise IntegrityError(f"{n_in[c] - n_out[c]} distinct value(s) got the same pseudonym as another in a key "
                                 "column", table=st.plan.name, column=c, hint="use a longer token (length: 24 or more)")


def k_anonymity(spark_df: Any, quasi_identifiers: list[str], k: int | None = None) -> dict[str, int]:
    """The equivalence classes of ``quasi_identifiers`` in a (written) Spark DataFrame, as one
    aggregation (map-side partial counts, then a shuffle of one row per class and task): the number
    of classes, the smallest class (the copy's k), and with ``k`` the rows in classes smaller than k.
    Counts only, never a value; nulls form a class of their own, as in ``veil verify``."""
    from pyspark.sql import functions as F

    missing = [q for q in quasi_identifiers if q not in spark_df.columns]
    if missing:
        raise UsageError(f"quasi-identifier column {missing[0]} is not in the table", hint="check the column names")
    classes = spark_df.groupBy(*[F.col(f"`{q}`") for q in quasi_identifiers]).count()
    aggs = [F.count(F.lit(1)).alias("classes"), F.min("count").alias("k")]
    if k is not None:
        aggs.append(F.sum(F.when(F.col("count") < k, F.col("count")).otherwise(0)).alias("rows_below_k"))
    row = classes.agg(*aggs).collect()[0].asDict()
    return {name: int(v or 0) for name, v in row.items()}


__all__ = ["SparkTable", "anonymize", "check_keys", "k_anonymity", "plan_table", "prepare", "write"]
