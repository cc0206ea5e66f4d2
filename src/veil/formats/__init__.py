"""Input/output formats: each module provides one Format (a source and a sink); ``open_dataset``
opens an input path (a directory of table files, one table file, or a SQL dump).

Adding a format: a module with a class exposing ``name``, ``extensions``,
``open(path, name) -> Table`` and ``writer(path, schema, source) -> Writer``,
listed in ``BUILTIN_FORMATS`` below; a third-party format registers the same
object under the ``veil.formats`` entry point group (see ``veil.plugins``).
"""

from __future__ import annotations

from pathlib import Path

from ..dataset import Dataset, Table
from ..db import is_db_url, open_live, parse_url
from ..errors import InputError
from ..plugins import FORMATS_GROUP, PluginGroup, accept_format
from .csv import CsvFormat
from .dump import is_archive_dir, is_dump, is_stream, open_dump, spool_stream
from .parquet import ParquetFormat
from .partitions import is_partitioned_table, open_partitioned

BUILTIN_FORMATS = {f.name: f for f in (CsvFormat(), ParquetFormat())}
FORMATS = dict(BUILTIN_FORMATS)  # plus the plugin formats used so far
#: Third-party formats (entry point group veil.formats; protocol in veil.plugins).
PLUGINS = PluginGroup(FORMATS_GROUP, frozenset(BUILTIN_FORMATS), accept_format)


def format_for(path: Path):
    """The format of a file by its name's ending: a built-in, else a plugin format (loaded once)."""
    name = path.name.lower()
    for fmt in BUILTIN_FORMATS.values():
        if any(name.endswith(ext) for ext in fmt.extensions):
            return fmt
    for plugin in PLUGINS.names():
        fmt = PLUGINS.load(plugin)
        if fmt is not None and any(name.endswith(ext.lower()) for ext in fmt.extensions):
            FORMATS[fmt.name] = fmt
            return fmt
    return None


def _open_table(fmt, path: Path, delimiter: str | None, csv_types: str | None = None) -> Table:
    if (delimiter is not None or csv_types is not None) and isinstance(fmt, CsvFormat):
        return fmt.open(path, path.stem, delimiter, csv_types or "infer")
    return fmt.open(path, path.stem)


def open_dataset(path: str | Path, dialect: str | None = None, delimiter: str | None = None,
                 spool_dir: Path | None = None, csv_types: str | None = None) -> Dataset:
    """A directory of table files (one table per file, name = file stem), one file, or a SQL dump
    (a :class:`veil.formats.dump.DumpDataset`). ``delimiter``: of the CSV files (default: sniffed
    from each file's header line). ``-`` (standard input), a FIFO or a pipe is a SQL dump, kept in
    a private temporary file in ``spool_dir`` (default: the system's) while it is read. ``csv_types``:
    how CSV columns are typed in Parquet output (``infer``, the default, or ``string``)."""
    if is_db_url(path):  # a live database (veil.db), read as its dump
        return open_live(path if not isinstance(path, (str, Path)) else parse_url(str(path)))
    root = Path(path)
    if is_stream(root):
        return open_dump(root, dialect, spool_stream(root, spool_dir))
    if not root.exists():
        raise InputError("input not found", file=str(root), hint="check the path")
    if is_archive_dir(root):  # pg_dump -Fd: read like -Fc, through pg_restore
        return open_dump(root, dialect)
    if root.is_file():
        if dialect is not None or is_dump(root):
            return open_dump(root, dialect)
        fmt = format_for(root)
        if fmt is None:
            raise InputError("unsupported file type", file=str(root),
                             hint="veil reads .csv, .parquet and SQL dumps (.sql, .sql.gz, pg_dump -Fc, -Fd)")
        return Dataset(root, False, [_open_table(fmt, root, delimiter, csv_types)])
    tables: list[Table] = []
    seen: dict[str, Path] = {}
    for child in sorted(root.iterdir()):
        if is_partitioned_table(child):  # customers/part-*.parquet, orders/year=2024/...: one table
            tables.append(open_partitioned(child))
            continue
        if child.name.startswith(".") or not child.is_file():
            continue
        fmt = format_for(child)
        if fmt is None:
            continue
        name = child.stem
        if name in seen:
            raise InputError(f"two files hold table '{name}'", file=str(child),
                             hint=f"keep one of {seen[name].name} and {child.name}")
        seen[name] = child
        tables.append(_open_table(fmt, child, delimiter, csv_types))
    if not tables:
        raise InputError("no .csv or .parquet files in the input directory", file=str(root))
    return Dataset(root, True, tables)
