"""What a live source of either kind shares (veil.db.pg_source, veil.db.my_source): a DumpInfo whose
text is made from a connection held open for the whole run, the path it is shown as, and veil
scan's bounded sample."""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..formats.dump import DumpInfo
from .url import DbUrl


class UrlPath(type(Path())):  # type: ignore[misc]
    """The path of a live "dump": its ``str`` is the URL as shown (no password), which errors name;
    its ``name`` the database's (an output file's default name)."""

    shown: str | None = None

    def __str__(self) -> str:
        return self.shown or super().__str__()


def url_path(url: DbUrl) -> Path:
    """``<kind>/<dbname>.sql`` shown as the URL: a run into ``--out DIR/`` writes ``DIR/<dbname>.sql``."""
    path = UrlPath(url.kind, url.dbname.replace("/", "_") + ".sql")
    path.shown = str(url)
    return path


class LiveInfo(DumpInfo):
    """A live database read as the dump its tool would write. Subclasses open the snapshot, and give
    ``_lines()`` (the dump's text) and ``row_count(table)``."""

    def __init__(self, url: DbUrl, dialect: str, conn: Any):
        super().__init__(url_path(url), dialect, False, False)
        self.url = url
        self.conn = conn
        self.with_data = False  # the first pass (the DDL's keys) reads no rows
        self.limit: int | None = None  # rows per table (veil scan's sample), None: all
        atexit.register(self.close)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    @contextlib.contextmanager
    def lines(self) -> Iterator[Iterator[str]]:
        from ..formats.dump.blocks import Chain

        chain = Chain(self._lines())
        try:
            yield chain
        finally:
            chain.close()  # a run that stopped early: the generator's own cleanup (its pg_dump killed)

    def _lines(self) -> Iterator[str]:
        raise NotImplementedError

    def row_count(self, table: str) -> int:
        raise NotImplementedError

    def sample(self, max_rows: int) -> dict:
        """``veil scan``'s sample: the first ``max_rows`` rows of each table (``LIMIT``: the rows a scan
        of the dump's file takes), and each table's exact row count (counted by the server, no row sent)."""
        from ..formats.dump.sample import sample_dump

        self.limit = max_rows
        try:
            got = sample_dump(self, max_rows)
        finally:
            self.limit = None
        return {name: (rows, self.row_count(name)) for name, (rows, _n) in got.items()}
