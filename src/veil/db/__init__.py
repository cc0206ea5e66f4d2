"""Live databases as a run's input and output (issue 21): PostgreSQL and MySQL/MariaDB.

- :mod:`.url`: database URLs, credentials kept out of everything shown;
- :mod:`.live`: what a live source of either kind shares (its shown path, the connection, scan's sample);
- :mod:`.server`: connections and client tools, value-free errors;
- :mod:`.pg_source`: a live PostgreSQL database read as the dump pg_dump would write, in one snapshot;
- :mod:`.pg_target`: a run's rewritten dump loaded into a scratch database, swapped in by rename;
- :mod:`.cli`: what ``veil run`` / ``scan`` / ``validate`` call for a URL.

See docs/databases.md.
"""

from __future__ import annotations

from ..errors import UsageError
from .url import MYSQL, PG, DbUrl, is_db_url, parse_url

__all__ = ["DbUrl", "is_db_url", "open_live", "parse_url"]


def open_live(url: DbUrl):
    """The tables of a live database, as the DumpDataset of its dump (veil.formats.dump)."""
    if url.kind == PG:
        from .pg_source import open_pg

        return open_pg(url)
    if url.kind == MYSQL:
        from .my_source import open_mysql

        return open_mysql(url)
    raise UsageError(f"unsupported database kind {url.kind}")
