"""``row_order: shuffle`` on Spark: a table's rows written in a keyed pseudo-random order.

In the input's order, a row's position links the copy to the original (docs/profile.md, row
order). The local engine sorts each table by 64-bit keys drawn from AES-256-CTR in input order
(veil.formats.order). On Spark, where no task knows a row's position in the table, a row's sort key
is AES-256 (the ``cryptography`` library) under the same subkey (``row_order`` purpose, the table
as domain) of one 16-byte block naming where the row was read: its Parquet file's number among the
table's files (sorted by path) and its row in that file (Parquet's hidden ``_metadata`` columns).
Distinct blocks give distinct, uniformly random-looking keys; the first 8 bytes are the sort key.

The transformed rows then go through one shuffle: hash-partitioned on the sort key into a number of
partitions set by the input's size (not by the cluster), each partition sorted by (Hive partition
columns, sort key) and written as its own part file. Rows ordered by any fixed rule on random keys
(here: the key's hash bucket, then the key) are a uniformly random permutation to anyone without
the key; the same input files and key give the same order whatever the splits or executors;
another key an unrelated order. It is not the local engine's order (that needs a global sort,
whose range sampling would run the transform twice): the rows and every value are the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import UsageError

FILE_COL, ROW_COL, ORDER_COL = "__veil_file", "__veil_row", "__veil_order"
#: input bytes per shuffle partition (one part file each)
PART_BYTES = 128 * 1024 * 1024
_TOP = np.uint64(1 << 63)


def _where(uri: str) -> str:
    """A file's URI as one form: Spark writes ``file:/x`` in ``_metadata`` and ``file:///x`` in
    ``inputFiles()``."""
    u = urlparse(uri)
    return f"{u.scheme}://{u.netloc}{u.path}"


def file_ordinals(spark_df: Any) -> dict[str, int]:
    """Each input file of ``spark_df`` (a Parquet scan) and its number among them, sorted by path."""
    return {f: i for i, f in enumerate(sorted({_where(u) for u in spark_df.inputFiles()}))}


def with_positions(spark_df: Any, table: str) -> Any:
    """``spark_df`` with where each row was read (file, row in it) as two more columns."""
    from pyspark.sql import functions as F

    try:
        return spark_df.select("*", F.col("_metadata.file_path").alias(FILE_COL),
                               F.col("_metadata.row_index").alias(ROW_COL))
    except Exception:  # not a Parquet file scan: no position to key the order on
        raise UsageError("row_order: shuffle on Spark needs a table read from Parquet files", table=table,
                         hint="read it with spark.read.parquet, or pass row_order keep") from None


def per_file(files: pa.Array, numbers: Mapping[str, int], what: str) -> np.ndarray:
    """Each row's number of its file (``numbers``: by the file's path, as :func:`_where` gives it);
    a file the driver did not list stops ``what`` (the input changed while it ran)."""
    uniq = pc.unique(files)
    known = [numbers.get(_where(u)) for u in uniq.to_pylist()]
    if any(k is None for k in known):
        raise UsageError(f"{what} met a file Spark did not list for the table",
                         hint="the input changed while it ran; run it again")
    return np.asarray(known, np.uint64)[pc.index_in(files, uniq).to_numpy(zero_copy_only=False)]


def sort_keys(files: pa.Array, rows: pa.Array, key: bytes, ordinals: Mapping[str, int]) -> pa.Array:
    """Each row's sort key, as a signed 64-bit integer that orders as the unsigned key."""
    ords = per_file(files, ordinals, "row_order: shuffle")
    blocks = np.empty((len(rows), 2), ">u8")
    blocks[:, 0] = ords
    blocks[:, 1] = rows.to_numpy(zero_copy_only=False).astype(np.uint64)
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # one block each: distinct in, distinct out
    out = np.frombuffer(enc.update(blocks.tobytes()) + enc.finalize(), ">u8")[::2].astype(np.uint64)
    return pa.array((out ^ _TOP).view(np.int64))


def input_bytes(spark_df: Any) -> int:
    """The bytes of the files a DataFrame reads (a 128 MB partition per file the driver cannot open)."""
    from .report import local_files

    files = local_files(spark_df)
    if files is None:
        return len(spark_df.inputFiles()) * PART_BYTES
    return sum(f.stat().st_size for f in files)


def partitions_for(size: int) -> int:
    """Shuffle partitions for an input of ``size`` bytes: set by the data, so the order does not
    depend on the cluster."""
    return max(1, -(-size // PART_BYTES))


def shuffled(result: Any, parts: int, partition_columns: tuple[str, ...]) -> Any:
    """The transformed rows (with ORDER_COL) in the keyed order, without ORDER_COL."""
    from pyspark.sql import functions as F

    return (result.repartition(parts, F.col(ORDER_COL))
            .sortWithinPartitions(*[F.col(f"`{c}`") for c in partition_columns], F.col(ORDER_COL))
            .drop(ORDER_COL))
