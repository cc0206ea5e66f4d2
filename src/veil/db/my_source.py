"""A live MySQL/MariaDB database as a run's input, read as the dump mysqldump would write of it.

As for PostgreSQL (veil.db.pg_source): the DDL is mysqldump's own (``--no-data``), and the rows are
written as mysqldump writes them (``INSERT INTO `t` VALUES (...),(...);``: a column the server flags
numeric unquoted, every other value quoted with mysql_real_escape_string's escapes, in a session
set as mysqldump sets its own: ``SET NAMES utf8mb4``, ``time_zone '+00:00'``), so veil's dump path
gives the same keys, values and pseudonyms as on mysqldump's file. Rows are read with PyMySQL's
unbuffered cursor (streamed, bounded memory) and no conversion (the server's text as it sends it),
in one ``START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY`` held for the whole run: every pass
over the data sees the same snapshot (InnoDB tables; DDL is not transactional in MySQL).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

from ..errors import InputError, OutputError
from ..formats.dump import DumpDataset, dump_dataset
from ..formats.dump.lexer import MYSQL
from .live import LiveInfo
from .server import redact
from .url import DbUrl

ROWS_PER_INSERT = 1000
# the column types libmysqlclient flags numeric (IS_NUM: DECIMAL, TINY, SHORT, LONG, FLOAT, DOUBLE,
# NULL, LONGLONG, INT24, YEAR, NEWDECIMAL): mysqldump writes their values unquoted
NUMERIC_TYPES = frozenset({0, 1, 2, 3, 4, 5, 6, 8, 9, 13, 246})
# mysql_real_escape_string's escapes, as mysqldump writes them
_ESCAPES = str.maketrans({"\0": "\\0", "\n": "\\n", "\r": "\\r", "\\": "\\\\", "'": "\\'", '"': '\\"',
                          "\x1a": "\\Z"})
_FOOTER = "/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;"


def my_connect(url: DbUrl, role: str, dbname: str | None = None, stream: bool = False):
    """A PyMySQL connection with no value conversion (text as the server sends it)."""
    try:
        import pymysql
        import pymysql.cursors
    except ImportError:
        raise InputError("MySQL/MariaDB needs the PyMySQL driver", file=str(url),
                         hint="pip install 'veil[mysql]'") from None
    kwargs = dict(host=url.host or "localhost", user=url.user or None, database=dbname or url.dbname,
                  charset="utf8mb4", conv={}, connect_timeout=30, autocommit=True)
    if url.port:
        kwargs["port"] = url.port
    if url.password is not None:
        kwargs["password"] = url.password
    if stream:
        kwargs["cursorclass"] = pymysql.cursors.SSCursor
    try:
        return pymysql.connect(**kwargs)
    except pymysql.Error as exc:
        cls = InputError if role == "source" else OutputError
        raise cls(f"cannot connect to the {role} database: {redact(str(exc))}", file=url.shown(dbname),
                  hint="check the host, port, database name, user and password (in the URL or env:VAR)") from None


def my_tool_args(url: DbUrl) -> list[str]:
    args = ["-h", url.host or "localhost", "--protocol=TCP" if url.host else "--protocol=SOCKET",
            "--default-character-set=utf8mb4"]
    if url.port:
        args += ["-P", str(url.port)]
    if url.user:
        args += ["-u", url.user]
    return args


def _literal(value, numeric: bool) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "surrogateescape")
    if numeric:
        return value
    return "'" + value.translate(_ESCAPES) + "'"


class LiveMyInfo(LiveInfo):
    """A DumpInfo whose text is made from a live MySQL/MariaDB database, in one snapshot."""

    def __init__(self, url: DbUrl):
        super().__init__(url, MYSQL, my_connect(url, "source", stream=True))
        try:
            with self.conn.cursor() as cur:
                for stmt in ("SET NAMES utf8mb4", "SET time_zone = '+00:00'",
                             "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                             "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"):
                    cur.execute(stmt)
                cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
                            "AND table_type = 'BASE TABLE' ORDER BY table_name")
                self.tables_sql = [r[0] if isinstance(r[0], str) else r[0].decode() for r in cur.fetchall()]
            ddl = self._mysqldump()
            cut = ddl.find(_FOOTER)
            self.pre, self.post = (ddl, "") if cut < 0 else (ddl[:cut], ddl[cut:])
        except BaseException:
            self.close()
            raise

    def server_id(self) -> tuple:
        with self.conn.cursor() as cur:
            cur.execute("SELECT @@hostname, @@port, DATABASE()")
            return tuple(v.decode() if isinstance(v, bytes) else v for v in cur.fetchone())

    def row_count(self, table: str) -> int:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM `{table.replace('`', '``')}`")
            return int(cur.fetchone()[0])

    def _mysqldump(self) -> str:
        exe = shutil.which("mysqldump") or shutil.which("mariadb-dump")
        if exe is None:
            raise InputError("mysqldump is not on PATH", file=str(self.url), hint="install the MySQL/MariaDB client")
        proc = subprocess.run([exe, *my_tool_args(self.url), "--no-data", "--single-transaction", "--skip-comments",
                               "--no-tablespaces", "--", self.url.dbname], env=self.url.env(), stdin=subprocess.DEVNULL,
                              capture_output=True)
        if proc.returncode != 0:
            raise InputError(f"mysqldump failed: {redact(proc.stderr.decode('utf-8', 'replace'))}",
                             file=str(self.url), hint="check that mysqldump can read the database")
        return proc.stdout.decode("utf-8", "surrogateescape")

    def _lines(self) -> Iterator[str]:
        yield from self.pre.splitlines(keepends=True)
        if self.with_data:
            for table in self.tables_sql:
                yield from self._inserts(table)
        yield from self.post.splitlines(keepends=True)

    def _inserts(self, table: str) -> Iterator[str]:
        quoted = "`" + table.replace("`", "``") + "`"
        try:
            with self.conn.cursor() as cur:
                cur.execute(f"SELECT * FROM {quoted}" + (f" LIMIT {int(self.limit)}" if self.limit is not None else ""))
                numeric = [d[1] in NUMERIC_TYPES for d in cur.description]
                while rows := cur.fetchmany(ROWS_PER_INSERT):
                    body = ",".join("(" + ",".join(_literal(v, n) for v, n in zip(row, numeric, strict=True)) + ")"
                                    for row in rows)
                    yield f"INSERT INTO {quoted} VALUES {body};\n"
        except Exception as exc:
            if type(exc).__module__.split(".")[0] != "pymysql":
                raise
            raise InputError(f"reading a table of the source failed: {redact(str(exc))}", file=str(self.url),
                             table=table, hint="check the source role's SELECT grants") from None


def open_mysql(url: DbUrl) -> DumpDataset:
    """The tables of a live MySQL/MariaDB database, as a DumpDataset of the dump mysqldump would write."""
    info = LiveMyInfo(url)
    dataset = dump_dataset(info)  # its DDL: the first pass reads no rows
    info.with_data = True
    return dataset
