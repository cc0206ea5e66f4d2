"""A live PostgreSQL database as a run's input, read as the SQL dump pg_dump would write of it.

veil's dump path already gives a dump's tables their keys, foreign keys, partitions and sequences
(from the DDL), and its rows their Arrow values (from the COPY text). A live source that yields the
very text pg_dump writes gets all of that unchanged, and the same pseudonyms as a run on pg_dump's
file by construction. veil holds one ``REPEATABLE READ, READ ONLY`` transaction for the whole run
(psycopg; session set as pg_dump sets its own: UTF-8, ISO dates, ``extra_float_digits 3``) and
exports its snapshot; everything is read in that snapshot:

- the DDL: ``pg_dump --section=pre-data`` and ``post-data`` with ``--snapshot`` (kept in memory);
- the rows, for each pass over the "dump" (a subset's or k-anonymity's read, the run):
  ``pg_dump --section=data --snapshot`` streamed through a pipe (its COPY blocks are
  ``COPY t (cols) TO STDOUT``, read by libpq in C; row by row through psycopg they cost the main
  process ~40% more), with the sequences' ``setval`` lines;
- ``veil scan``'s sample: ``COPY (SELECT cols FROM ONLY t LIMIT n) TO STDOUT`` through psycopg in
  veil's own transaction, and ``count(*)``.

Nothing goes to disk. The plan's first look at the DDL reads no rows. A partitioned table is read
through its leaves, as pg_dump does (each row once, under the parent's rules).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import InputError
from ..formats.dump import DumpDataset, dump_dataset
from .live import LiveInfo
from .server import pg_connect, pg_tool, redact, server_reason, tool_path
from .url import PG, DbUrl

# pg_dump's session settings (pg_dump.c setup_connection): the text forms of the values
SESSION = ("SET client_encoding = 'UTF8'", "SET DateStyle = ISO", "SET IntervalStyle = postgres",
           "SET extra_float_digits = 3", "SET synchronize_seqscans = off", "SET statement_timeout = 0",
           "SET lock_timeout = 0", "SET idle_in_transaction_session_timeout = 0", "SET row_security = off")

# the tables pg_dump writes data for: ordinary tables and leaf partitions outside the system and
# extensions' schemas (an extension's own tables are its business), in its name order
TABLES = """
SELECT c.oid, n.nspname, c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
ORDER BY n.nspname, c.relname
"""
COLUMNS = """
SELECT attrelid, quote_ident(attname) FROM pg_attribute
WHERE attrelid = ANY(%s) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
ORDER BY attrelid, attnum
"""
SEQUENCES = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
ORDER BY n.nspname, c.relname
"""


class LivePgInfo(LiveInfo):
    """A DumpInfo whose text is made from a live database, in one snapshot (see the module)."""

    def __init__(self, url: DbUrl):
        super().__init__(url, PG, pg_connect(url, "source"))
        try:
            self.conn.autocommit = True
            for stmt in SESSION:
                self.conn.execute(stmt)
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            self.snapshot = self.conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            with ThreadPoolExecutor(2) as pool:  # the two pg_dump runs side by side (each waits on the server)
                pre, post = pool.submit(self._pg_dump, "pre-data"), pool.submit(self._pg_dump, "post-data")
                self.tables_sql = self._tables()
                self.pre, self.post = pre.result(), post.result()
            # veil.db.pg_side: the data section only (pre- and post-data loaded apart), without these
            self.split = False
            self.side_leaves: list[tuple[str, str]] = []
            # read_rows' wish for its pass (veil.formats.dump.sample): table -> its columns (None: all);
            # only those are read, by queries (pushdown), instead of every row of every table
            self.narrow: dict[str, list[str] | None] | None = None
        except BaseException:
            self.close()
            raise

    def server_id(self) -> tuple:
        """Which server and database this is (veil.db.run.refuse_same)."""
        return tuple(self.conn.execute("SELECT pg_postmaster_start_time()::text, inet_server_port(), "
                                       "current_database()").fetchone())

    def row_count(self, table: str) -> int:
        quoted = ".".join(_quote(p) for p in self.tables[table].parts or table.split("."))
        return self.conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0]

    def _tables(self) -> list[tuple[str, str]]:
        """(quoted name, COPY column list) of every table with data."""
        rows = self.conn.execute(TABLES).fetchall()
        cols: dict[int, list[str]] = {}
        if rows:
            for oid, col in self.conn.execute(COLUMNS, ([r[0] for r in rows],)).fetchall():
                cols.setdefault(oid, []).append(col)
        self.data_tables = [(f"{schema}.{rel}", quoted) for _oid, schema, rel, quoted in rows]
        return [(quoted, ", ".join(cols.get(oid, []))) for oid, _s, _t, quoted in rows]

    def _pg_dump(self, section: str) -> str:
        """pg_dump's DDL of a section, in veil's snapshot (no owners or grants: the target's roles
        need not be the source's)."""
        out = pg_tool("pg_dump", self.url, [f"--section={section}", "--encoding=UTF8", f"--snapshot={self.snapshot}",
                                             "--no-owner", "--no-privileges"], "source")
        return out.decode("utf-8", "surrogateescape")

    def _lines(self) -> Iterator[Any]:
        """The dump's text, as pieces and files (veil.formats.dump.blocks.Chain)."""
        if self.split:
            yield from self._data_section()
            return
        if self.with_data and self.limit is None and self.narrow is not None:
            yield from self._narrow_section(self.narrow)
            return
        yield self.pre
        if self.with_data and self.limit is None:
            yield from self._data_section()
            yield self.post
            return
        for quoted, cols in self.tables_sql:
            head = f"{quoted} ({cols})" if cols else quoted
            yield f"COPY {head} FROM stdin;\n"
            if self.with_data and cols:
                yield from self._copy(head)
            yield "\\.\n"
            yield "\n"
        yield from self._setvals()
        yield self.post

    def _data_section(self) -> Iterator[Any]:
        """Every row, and the sequences' setval lines: ``pg_dump --section=data`` in veil's snapshot,
        streamed through a pipe (its COPY blocks are the ``COPY ... TO STDOUT`` veil would issue, read in
        C at the speed of a plain dump)."""
        errors = tempfile.TemporaryFile()
        side = [f'--exclude-table-data="{schema}"."{rel}"' for schema, rel in self.side_leaves]
        proc = subprocess.Popen(self.data_dump(side), env=self.url.env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        fh = proc.stdout
        try:
            yield fh  # read in blocks, as bytes, by the lexer; resumed here once it is used up
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            fh.close()
        if proc.wait() != 0:
            errors.seek(0)
            raise self.dump_failed(errors.read())

    def data_dump(self, args: list[str]) -> list[str]:
        """``pg_dump --section=data`` in veil's snapshot, with ``args`` (which tables)."""
        return [tool_path("pg_dump", self.url, "source"), "--section=data", "--encoding=UTF8",
                f"--snapshot={self.snapshot}", "--no-owner", "--no-privileges", *args, f"--dbname={self.url.libpq()}"]

    def dump_failed(self, stderr: bytes) -> InputError:
        return InputError(f"pg_dump failed: {redact(stderr.decode('utf-8', 'replace'))}", file=str(self.url),
                          hint="check the source role's SELECT grants")

    def _narrow_section(self, narrow: dict[str, list[str] | None]) -> Iterator[Any]:
        """The wanted tables' wanted columns, as COPY blocks: ``COPY (SELECT cols FROM ONLY leaf) TO
        STDOUT`` run by psql in veil's snapshot (streamed in C, like pg_dump's), in the order and row
        order pg_dump writes them (a heap scan each; no parallel plan)."""
        exe = tool_path("psql", self.url, "source")
        # a heap scan each, as pg_dump's COPY: no parallel plan and no index path (an index-only scan
        # of a narrowed table would give its rows in key order, and subsets count rows by position)
        script = ["\\set ON_ERROR_STOP 1", *(f"{s};" for s in SESSION), "SET max_parallel_workers_per_gather = 0;",
                  "SET enable_indexscan = off;", "SET enable_indexonlyscan = off;", "SET enable_bitmapscan = off;",
                  "SET enable_tidscan = off;", "SET standard_conforming_strings = on;",
                  "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;", f"SET TRANSACTION SNAPSHOT '{self.snapshot}';"]
        for name, quoted in self.data_tables:
            parent = self.parent_of(name)
            if parent not in narrow:
                continue
            td = self.tables.get(parent)
            cols = narrow[parent] if narrow[parent] is not None else [c for c, _ in td.columns] if td else []
            if not cols:
                continue
            listed = ", ".join(_quote(c) for c in cols)
            head = f"COPY {quoted} ({listed}) FROM stdin;".replace("'", "''")
            script += [f"SELECT '{head}';", f"COPY (SELECT {listed} FROM ONLY {quoted}) TO STDOUT;", "SELECT '\\.';"]
        script.append("COMMIT;")
        errors = tempfile.TemporaryFile()
        with tempfile.NamedTemporaryFile("w", suffix=".sql", encoding="utf-8") as fh:  # names only, no data
            fh.write("\n".join(script) + "\n")  # (a file: psql's output would fill the pipe before a long
            fh.flush()                          #  script on its input was written)
            proc = subprocess.Popen([exe, "-X", "-q", "-A", "-t", "-f", fh.name, f"--dbname={self.url.libpq()}"],
                                    env=self.url.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=errors)
            try:
                yield proc.stdout  # read in blocks, as bytes, by the lexer
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                proc.stdout.close()
        if proc.wait() != 0:
            errors.seek(0)
            raise InputError(f"reading the source failed: {redact(errors.read().decode('utf-8', 'replace'))}",
                             file=str(self.url), hint="check the source role's SELECT grants")

    def _copy(self, head: str) -> Iterator[str]:
        """A table's rows as COPY text lines, streamed (libpq hands one row at a time)."""
        query = f"COPY {head} TO STDOUT"
        if self.limit is not None:
            cols = head[head.index("(") + 1:-1]
            query = f"COPY (SELECT {cols} FROM ONLY {head[:head.index(' (')]} LIMIT {int(self.limit)}) TO STDOUT"
        try:
            with self.conn.cursor() as cur, cur.copy(query) as copy:
                for chunk in copy:
                    text = bytes(chunk).decode("utf-8", "surrogateescape")
                    if text.count("\n") == 1 and text.endswith("\n"):
                        yield text
                    else:
                        yield from text.splitlines(keepends=True)
        except Exception as exc:  # psycopg's errors: named without what the server quoted
            if not _is_db_error(exc):
                raise
            raise InputError(f"reading a table of the source failed: {server_reason(exc)}", file=str(self.url),
                             table=head.split(" (")[0], hint="check the source role's SELECT grants") from None

    def _setvals(self) -> Iterator[str]:
        """``SELECT pg_catalog.setval(...)`` of every sequence, as pg_dump writes them (its data section)."""
        if not self.with_data:
            return
        for (quoted,) in self.conn.execute(SEQUENCES).fetchall():
            last, called = self.conn.execute(f"SELECT last_value, is_called FROM {quoted}").fetchone()
            literal = quoted.replace("'", "''")
            yield f"SELECT pg_catalog.setval('{literal}', {last}, {'true' if called else 'false'});\n"
        yield "\n"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_db_error(exc: BaseException) -> bool:
    import psycopg

    return isinstance(exc, psycopg.Error)


def open_pg(url: DbUrl) -> DumpDataset:
    """The tables of a live PostgreSQL database, as a DumpDataset of the dump pg_dump would write."""
    info = LivePgInfo(url)
    dataset = dump_dataset(info)  # its DDL: the first pass reads no rows
    info.with_data = True
    return dataset


def pg_dump_text(url: DbUrl, args: list[str]) -> bytes:
    """pg_dump's output for ``url`` (for tests and the target's schema)."""
    return pg_tool("pg_dump", url, args, "source")


__all__ = ["LivePgInfo", "open_pg", "pg_dump_text"]
