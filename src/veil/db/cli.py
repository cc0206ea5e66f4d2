"""What the CLI calls for a database URL: INPUT's parameter type, and a run into a live database."""

from __future__ import annotations

from pathlib import Path

import click

from .url import DbUrl, is_db_url, parse_url


class DataPath(click.ParamType):
    """INPUT: a path (a :class:`Path`), or a database URL (a :class:`DbUrl`, shown without its password)."""

    name = "path-or-url"

    def convert(self, value, param, ctx):
        if isinstance(value, (Path, DbUrl)):
            return value
        if is_db_url(value):
            try:
                return parse_url(value)
            except Exception as exc:  # a UsageError: click's own, with veil's message
                self.fail(getattr(exc, "message", "the database URL cannot be read"), param, ctx)
        return Path(value)
