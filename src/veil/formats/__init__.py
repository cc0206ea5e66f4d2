"""Input/output formats: each module provides one Format (a source and a sink).

Adding a format: a module with a class exposing ``name``, ``extensions``,
``open(path, name) -> Table`` and ``writer(path, schema, source) -> Writer``,
listed in ``FORMATS`` below.
"""

from __future__ import annotations

from pathlib import Path

from .csv import CsvFormat
from .parquet import ParquetFormat

FORMATS = {f.name: f for f in (CsvFormat(), ParquetFormat())}


def format_for(path: Path):
    name = path.name.lower()
    for fmt in FORMATS.values():
        if any(name.endswith(ext) for ext in fmt.extensions):
            return fmt
    return None
