"""``veil run DIR --engine spark``: a directory of Parquet tables through Spark, atomically into OUT.

Each table is a ``.parquet`` file or a directory of part files (Hive ``key=value`` folders read as
partition columns, which must be kept: veil.formats.partitions). The whole profile is compiled once
on the driver over every table's schema (foreign keys inherit their target's rule as in a local
run); each table is then read, transformed per Arrow batch on the executors and written as a
directory of part files ``OUT/<table>/`` (partitioned as its input). Key columns are checked for
pseudonym collisions (Spark aggregations) before the output is committed; a failed run leaves a
previous output untouched (veil.output.AtomicOutput). With a vault, forgotten subjects' rows are
dropped and vault records stored as in a local run (veil.spark.records). Privacy k/l is chosen
first, from Spark aggregations (veil.spark.privacy), as the local engine chooses it. The run's
counts are the local engine's RunResult, counted by Spark (veil.spark.report), for the same JSON
report.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .. import errors
from ..api import BATCH_ROWS, compile_for
from ..errors import InputError, UsageError
from ..formats.partitions import is_partitioned_table, open_partitioned, partition_columns
from ..keys import KeyProvider
from ..output import AtomicOutput
from ..pipeline.driver import drop_refs_for
from ..pipeline.report import RunResult
from ..pipeline.transform import RunContext, run_context
from ..plan import Plan
from ..profile import Profile
from ..vault import Vault
from . import PARTITION, SparkTable, arrow_schema, check_keys, locate, plan_table
from .order import input_bytes, partitions_for
from .privacy import enforce as enforce_privacy
from .privacy import not_null
from .records import STAGING_CONF, Staging, dropped_keys, drops_rows, store_staged
from .report import local_files, local_path, table_result

BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"
SPLIT_CONF = "spark.sql.files.maxPartitionBytes"
# timestamps written as Parquet's TIMESTAMP(MICROS), as the local engine writes them (Spark's default
# is the legacy INT96, read back by other tools as nanoseconds without a time zone)
TIMESTAMP_CONF = "spark.sql.parquet.outputTimestampType"
SPLIT_BYTES = 128 * 1024 * 1024  # Spark's default split
_VEIL_ERROR = re.compile(r"veil\.errors\.(\w+): ([^\n]*)")


def task_error(exc: Exception, table: str | None = None, spark_df: Any = None, root: Path | None = None) -> Exception:
    """A failed Spark job as the VeilError an executor raised (its class and value-free message,
    from the Python traceback Spark forwards), or the Spark error itself (the CLI then shows only
    its type: Spark's own messages may quote data). An error at a row of ``table`` names the input
    file and its row when ``spark_df`` is a file scan (:func:`veil.spark.locate`; the path relative
    to ``root``), else the Spark partition and the row in it."""
    m = _VEIL_ERROR.search(str(exc))
    cls = getattr(errors, m.group(1), None) if m else None
    if cls is None or not (isinstance(cls, type) and issubclass(cls, errors.VeilError)) or cls is errors.ProfileError:
        return exc
    message = m.group(2).split(" (hint: ")[0].strip()
    hint = "nothing was written; see docs/spark.md"
    at = _AT_ROW.match(message) if table is not None else None
    if at is None or not at.group(3).startswith(table + "."):
        return cls(f"a Spark task failed: {message}", hint=hint)
    part, row, column = int(at.group(1)), int(at.group(2)), at.group(3)[len(table) + 1:]
    where = locate(spark_df, part, row) if spark_df is not None else None
    if where is None:
        return cls(f"a Spark task failed: {at.group(4)}", file=f"{PARTITION}{part}", row=row, table=table,
                   column=column, hint=hint)
    path, local = where[0], local_path(where[0])
    if root is not None and local is not None and local.is_relative_to(root.resolve()):
        path = str(Path(root.name) / local.relative_to(root.resolve()))
    return cls(f"a Spark task failed: {at.group(4)}", file=path, row=where[1], table=table, column=column, hint=hint)


_AT_ROW = re.compile(rf"{PARTITION}(\d+), row (\d+), ([^:]+): (.*)$")


@dataclass
class SparkInput:
    name: str
    path: Path | None  # None: a DataFrame given by the caller (veil.spark.write)
    partitions: tuple[str, ...] = ()


def spark_inputs(root: Path) -> list[SparkInput]:
    """The tables of a Parquet directory: ``name.parquet`` files and part-file directories."""
    if not root.is_dir():
        raise InputError("--engine spark reads a directory of Parquet tables", file=str(root),
                         hint="give the directory holding <table>.parquet files or <table>/ part-file folders")
    out: list[SparkInput] = []
    for child in sorted(root.iterdir()):
        if child.name.startswith((".", "_")):
            continue
        if child.is_file() and child.name.endswith((".parquet", ".pq")):
            out.append(SparkInput(child.name.rsplit(".", 1)[0], child))
        elif is_partitioned_table(child):
            out.append(SparkInput(child.name, child, partition_columns(child)))
        elif child.is_file() and child.name.lower().endswith((".csv", ".tsv", ".sql", ".gz")):
            raise InputError("--engine spark reads Parquet tables only", file=str(child),
                             hint="convert the input with `veil run --format parquet` first, or use the local engine")
    names = [t.name for t in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise InputError(f"two inputs hold table '{dup}'", file=str(root), hint="keep one of them")
    if not out:
        raise InputError("no Parquet tables in the input directory", file=str(root))
    return out


def read_table(spark: Any, t: SparkInput) -> Any:
    """One input table as a DataFrame (Hive ``key=value`` folders as partition columns)."""
    if t.partitions:
        return spark.read.option("basePath", str(t.path)).parquet(str(t.path))
    return spark.read.parquet(str(t.path))


def file_schema(path: Path) -> pa.Schema:
    """A Parquet table's Arrow schema as the local engine reads it (its files' nullability and
    time zones, which Spark does not keep)."""
    return open_partitioned(path).schema if path.is_dir() else pq.read_schema(path)



def session(workers: int | None = None, quiet: bool = False) -> Any:
    """The active SparkSession, else one on ``local[workers]`` (spark-submit's master when set),
    its driver logging errors only (log4j2.properties beside this module, unless the Spark
    configuration sets the driver's Java options). ``quiet``: the Java process starts with its
    standard error on the null device, so Spark's start-up lines (which log4j does not format:
    the JVM's, the console log level's) stay off veil's quiet stderr; its errors still reach veil
    as exceptions."""
    try:
        from pyspark import SparkConf
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError("--engine spark needs pyspark", hint='pip install "veil[spark]"') from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # veil's own summary and progress go to stderr; Spark's console progress bar would print there too
    builder = SparkSession.builder.appName("veil").config("spark.ui.showConsoleProgress", "false")
    conf = SparkConf()
    if not conf.contains("spark.master"):
        builder = builder.master(f"local[{workers or '*'}]")
    if not conf.contains("spark.driver.extraJavaOptions"):
        logging = Path(str(resources.files("veil.spark") / "log4j2.properties")).as_uri()
        builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={logging}")
    try:
        with _stderr_to_null() if quiet else nullcontext():
            spark = builder.getOrCreate()
    except Exception as exc:
        condition = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", lambda: None)  # pyspark 4, 3.5
        if condition() != "JAVA_GATEWAY_EXITED":
            raise
        raise UsageError("Spark could not start its Java process",
                         hint=("run without -q to see Java's own message" if quiet else "Java's own message is above")
                         + "; Spark needs Java 17 or later (JAVA_HOME, or java on PATH)") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextmanager
def _stderr_to_null() -> Iterator[None]:
    """This process's standard error on the null device while a child process starts (it keeps it)."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def run_spark(root: Path | Mapping[str, Any], profile: Profile, keys: KeyProvider | None, out: Path, *,
              spark: Any = None, workers: int | None = None, probe_rows: int = 1000, vault: Vault | None = None,
              purpose: str = "", actor: str | None = None, row_order: str | None = None) -> tuple[RunResult, Plan]:
    """Run every table of ``root`` (a directory of Parquet tables, or ``{table: DataFrame}``) into
    ``out``; returns its counts (as the local engine's, for the run report: veil.spark.report) and
    the compiled plan.

    With a ``vault``: forgotten subjects' rows (and rows referencing them) are dropped, and the
    reversible columns' records are staged by the executors and stored by the driver
    (veil.spark.records), committed with the run's audit entry before the output appears. The
    staging directory (``spark.veil.staging.dir``, else the system's temporary directory) is
    removed at the end, also when the run fails. ``row_order`` (default: the profile's): with
    ``shuffle``, each table's rows are written in a keyed order (veil.spark.order)."""
    shuffle = (row_order or profile.row_order) == "shuffle"
    profile = dataclasses.replace(profile, row_order="keep")  # the order is this module's, below
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.perf_counter()
    if isinstance(root, Mapping):
        if not root:
            raise UsageError("no tables given", hint="pass {table name: Spark DataFrame}")
        inputs = [SparkInput(name, None) for name in root]
        frames = dict(root)
        spark = spark or next(iter(frames.values())).sparkSession
    else:
        inputs = spark_inputs(Path(root))
        spark = spark or session(workers)
        frames = {t.name: read_table(spark, t) for t in inputs}
    with _batch_rows(spark), _unless_set(spark, TIMESTAMP_CONF, "TIMESTAMP_MICROS"):
        return _run(spark, inputs, frames, profile, keys, out, started, t0, probe_rows, vault, purpose, actor,
                    shuffle)


@contextmanager
def _unless_set(spark: Any, conf: str, value: str | None) -> Iterator[None]:
    """``conf`` set to ``value`` for the run, unless the session sets its own (or value is None)."""
    if value is None or spark.conf.get(conf, None) is not None:
        yield
        return
    spark.conf.set(conf, value)
    try:
        yield
    finally:
        spark.conf.unset(conf)


def _batch_rows(spark: Any) -> Any:
    """Arrow batches as large as the local engine's (Spark's default is 10,000 rows: more, costlier
    calls into Python), unless the session sets its own size; the output values do not depend on it."""
    return _unless_set(spark, BATCH_CONF, str(BATCH_ROWS))


def _even_splits(spark: Any, t: SparkInput) -> Any:
    """Input splits of a table larger than a 128 MB split per core cut to a whole number of waves
    (Spark's 128 MB splits of 550 MB on 2 cores are 5 tasks: the fifth runs alone), unless the
    session sets its own split size. Which rows a task reads changes, no value does."""
    if t.path is None:  # a DataFrame: its splits are the caller's
        return _unless_set(spark, SPLIT_CONF, None)
    size, cores = _input_bytes(t.path, None), spark.sparkContext.defaultParallelism
    waves = -(-size // (cores * SPLIT_BYTES))
    return _unless_set(spark, SPLIT_CONF, str(-(-size // (waves * cores))) if waves > 1 else None)


def _run(spark: Any, inputs: list[SparkInput], frames: dict[str, Any], profile: Profile, keys: KeyProvider | None,
         out: Path, started: str, t0: float, probe_rows: int, vault: Vault | None, purpose: str,
         actor: str | None, shuffle: bool = False) -> tuple[RunResult, Plan]:
    paths = {t.name: t.path for t in inputs}
    files = {n: file_schema(p) for n, p in paths.items() if p is not None}
    schemas = {n: arrow_schema(df, files.get(n)) for n, df in frames.items()}
    plan = compile_for(profile, keys, schemas, engine="Spark engine")

    # the files' NOT NULL columns (Spark reads every column nullable); k/l: Spark aggregations
    enforce_privacy(plan, frames, lambda name: not_null(frames[name], files.get(name)), schemas)
    context = run_context(plan, keys, vault)
    staging = Staging(spark.conf.get(STAGING_CONF, None)) if vault is not None else None
    try:
        if vault is not None:
            vault.record_run("run", purpose=purpose, version=plan.key_version or "", actor=actor)
        tables = _plan_tables(plan, inputs, frames, schemas, keys, probe_rows, context, staging, shuffle)
        results = {}
        with AtomicOutput(Path(out), True) as target:
            for t in inputs:
                t1 = time.perf_counter()
                written = target.path_for(t.name)
                with _even_splits(spark, t):
                    _write(spark, tables[t.name], t, str(written))
                results[t.name] = table_result(tables[t.name].plan, frames[t.name], written, tables[t.name].keys,
                                               context, schemas[t.name])
                results[t.name].seconds = time.perf_counter() - t1
            if vault is not None and staging is not None:
                for name in plan.order():
                    if name in tables:
                        results[name].vault_records = store_staged(vault, keys, staging, name)
                vault.commit()  # the records and the run's audit entry, before the output appears
            target.commit()
    except BaseException:
        if vault is not None:
            vault.rollback()
        raise
    finally:
        if staging is not None:
            staging.close()
    ordered = [results[t.name] for t in inputs]
    return RunResult(ordered, Path(out), started, time.perf_counter() - t0, plan.key_version,
                     sum(r.vault_records for r in ordered), bool(context.forgotten)), plan


def _plan_tables(plan: Any, inputs: list[SparkInput], frames: dict[str, Any], schemas: dict[str, pa.Schema],
                 keys: KeyProvider | None, probe_rows: int, context: RunContext,
                 staging: Staging | None, shuffle: bool = False) -> dict[str, SparkTable]:
    """Each table's lazy output, in the plan's order (referenced tables first): a table's rows
    dropped by reference need the keys of the rows its parents drop (veil.spark.records)."""
    parts = {t.name: t.partitions for t in inputs}
    paths = {t.name: t.path for t in inputs}
    dropped: dict[str, dict[tuple[str, ...], set[tuple]]] = {}
    tables: dict[str, SparkTable] = {}
    for name in plan.order():
        if name not in frames:
            continue
        tplan = plan.tables[name]
        tplan.drop_refs = drop_refs_for(tplan, dropped)
        sample = None if parts[name] else partial(_first_rows, frames[name], probe_rows)
        size = _input_bytes(paths[name], frames[name]) if shuffle else 0
        st = tables[name] = plan_table(tplan, frames[name], keys, probe_rows, parts[name], context,
                                       staging.writer(name) if staging is not None else None, sample, schemas[name],
                                       partitions_for(size) if shuffle else None)
        if tplan.referenced and drops_rows(tplan, context):
            dropped[name] = dropped_keys(tplan, frames[name], st.keys, context, schemas[name])
    return tables


def _input_bytes(path: Path | None, spark_df: Any) -> int:
    """The bytes of a table's input files (a directory's, or those Spark lists for a DataFrame)."""
    if path is None:
        return input_bytes(spark_df)
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _first_rows(spark_df: Any, rows: int, schema: pa.Schema) -> pa.Table | None:
    """The first ``rows`` rows Spark would read of a Parquet table, read on the driver with pyarrow
    (no Spark job: the probe needs no more), as Spark hands them to Python; None when the files are
    not on the driver's file system or their types do not cast (Spark then reads them)."""
    files = local_files(spark_df)
    if not files:
        return None
    try:
        first = next(pq.ParquetFile(files[0]).iter_batches(batch_size=rows, columns=schema.names), None)
        if first is None:
            return None
        return pa.Table.from_batches([first]).select(schema.names).cast(schema)
    except (pa.ArrowException, KeyError, ValueError, OSError):
        return None


def _write(spark: Any, st: SparkTable, t: SparkInput, path: str) -> None:
    """One table's output written as part files, then its key columns checked on the output as
    written (read back, not computed again; before the commit: a collision leaves no output)."""
    writer = st.result.write.mode("error")
    if t.partitions:
        writer = writer.partitionBy(*t.partitions)
    try:
        writer.parquet(path)
    except Exception as exc:  # a task failed: a veil error on an executor keeps its class and message
        raise task_error(exc, st.plan.name, st.frame, t.path.parent if t.path is not None else None) from None
    if any(c.check_unique for c in st.plan.columns):
        check_keys(st, spark.read.parquet(path))
