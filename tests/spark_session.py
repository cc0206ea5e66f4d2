"""The local Spark session the Spark tests share the shape of (one per test module)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def local_spark(app: str, shuffle_partitions: int = 2) -> Iterator[Any]:
    """A local[2] session without its UI, quiet below errors; stopped when the module is done."""
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName(app).config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", str(shuffle_partitions)).getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
