"""Input/output formats: each module provides one Format (a source and a sink).

Adding a format: a module with a class exposing ``name``, ``extensions``,
``open(path, name) -> Table`` and ``writer(path, schema, source) -> Writer``,
listed in ``BUILTIN_FORMATS`` below; a third-party format registers the same
object under the ``veil.formats`` entry point group (see ``veil.plugins``).
"""

from __future__ import annotations

from pathlib import Path

from ..plugins import FORMATS_GROUP, PluginGroup, accept_format
from .csv import CsvFormat
from .parquet import ParquetFormat

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
