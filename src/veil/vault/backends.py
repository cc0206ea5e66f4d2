"""Vault storage backends: an embedded SQLite file, or PostgreSQL.

Both speak the same small interface (query, execute, commit, compact) over the
same five tables; SQL is written once with ``?`` placeholders.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from typing import Any, Protocol

from ..errors import OutputError, VaultError, VeilError

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS veil_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS veil_segments (id {serial} PRIMARY KEY, domain TEXT NOT NULL, "
    "key_version TEXT NOT NULL, created TEXT NOT NULL, n INTEGER NOT NULL, data {blob} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS veil_segments_dv ON veil_segments (domain, key_version)",
    # a segment's dedup keys and subject links, apart from its data: a run reads these alone
    "CREATE TABLE IF NOT EXISTS veil_segment_keys (segment {int} PRIMARY KEY, keys {blob} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS veil_forgotten (domain TEXT NOT NULL, blind {blob} NOT NULL, "
    "added TEXT NOT NULL, PRIMARY KEY (domain, blind))",
    "CREATE TABLE IF NOT EXISTS veil_audit (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, "
    "action TEXT NOT NULL, purpose TEXT NOT NULL, domain TEXT NOT NULL, key_version TEXT NOT NULL, "
    "count INTEGER NOT NULL, prev TEXT NOT NULL, mac TEXT NOT NULL)",
]


def _no_space(location: str) -> OutputError:
    return OutputError("no space left on the device (or the file-size limit was reached) while writing "
                       "the vault; the vault is unchanged", file=location,
                       hint="free some space (or raise the limit) and run the command again")


def _sqlite_failure(exc: sqlite3.Error, location: str) -> VeilError:
    """The error to show for a failed SQLite write: its cause by error code, never its text."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    if primary == sqlite3.SQLITE_FULL or (primary == sqlite3.SQLITE_IOERR and _disk_full_io(location)):
        return _no_space(location)
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return VaultError("the vault is busy (another veil command is using it)", file=location,
                          hint="retry when the other command has finished")
    if primary == sqlite3.SQLITE_IOERR:
        return VaultError("the vault could not be written (an I/O error)", file=location,
                          hint="check the disk and the file-size limit (ulimit -f), then retry")
    if primary == sqlite3.SQLITE_READONLY:
        return VaultError("the vault is read-only", file=location, hint="check the file's and directory's rights")
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return VaultError("the vault file is damaged", file=location, hint="restore the vault from its backup")
    return VaultError("the vault could not be written", file=location,
                      hint="check the disk and the rights on the vault, then retry")


def _disk_full_io(location: str) -> bool:
    """An I/O error writing next to a full file system, or past the file-size limit."""
    try:
        st = os.statvfs(Path(location).parent)
        if st.f_bavail * st.f_frsize < 1 << 20:
            return True
    except OSError:
        pass
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        return soft != resource.RLIM_INFINITY
    except (ImportError, OSError, ValueError):
        return False


class Backend(Protocol):
    location: str

    def query(self, sql: str, params: list[Any]) -> list[tuple]: ...
    def execute(self, sql: str, params: list[Any]) -> None: ...
    def insert(self, sql: str, params: list[Any]) -> int: ...
    def serialize(self) -> None: ...
    def writeback(self) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def compact(self) -> None: ...
    def close(self) -> None: ...


class SqliteBackend:
    """One file; rollback journal (no WAL to linger) and secure_delete (freed pages are zeroed).

    New files use 64 KiB pages: segments are megabytes, written in 16x fewer pages.
    """

    def __init__(self, path: Path):
        self.location = str(path)
        new = not path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        if new:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        elif path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise VaultError(f"the vault is accessible by other users (mode {stat.filemode(path.stat().st_mode)})",
                             file=str(path), hint=f"run: chmod 600 {path}")
        try:
            self.conn = sqlite3.connect(path, isolation_level=None)
            if new:
                self.conn.execute("PRAGMA page_size=65536")
            self.conn.execute("PRAGMA journal_mode=DELETE")
            self.conn.execute("PRAGMA secure_delete=ON")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("BEGIN")
            for stmt in SCHEMA:
                self.conn.execute(stmt.format(serial="INTEGER", int="INTEGER", blob="BLOB"))
            for event in ("UPDATE", "DELETE"):
                self.conn.execute(
                    f"CREATE TRIGGER IF NOT EXISTS veil_audit_no_{event.lower()} BEFORE {event} ON veil_audit "
                    "BEGIN SELECT RAISE(ABORT, 'the veil audit log is append-only'); END")
            self.conn.execute("COMMIT")
            self.conn.execute("BEGIN")
        except sqlite3.DatabaseError as exc:
            code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
            if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
                raise VaultError("the vault file is not a veil vault, or it is damaged", file=str(path),
                                 hint="restore the vault from its backup") from None
            raise _sqlite_failure(exc, str(path)) from None

    def query(self, sql: str, params: list[Any]) -> list[tuple]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError:
            raise VaultError("the vault file is damaged", file=self.location,
                             hint="restore the vault from its backup") from None

    def execute(self, sql: str, params: list[Any]) -> None:
        self._write(sql, params)

    def insert(self, sql: str, params: list[Any]) -> int:
        """Insert one row; its id."""
        return int(self._write(sql, params).lastrowid)

    def _write(self, sql: str, params: list[Any]) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            raise _sqlite_failure(exc, self.location) from None

    def _run(self, *statements: str) -> None:
        try:
            for stmt in statements:
                self.conn.execute(stmt)
        except sqlite3.DatabaseError as exc:
            raise _sqlite_failure(exc, self.location) from None

    def serialize(self) -> None:
        """SQLite serialises writers itself (a second writer gets a clear 'busy' error)."""

    def writeback(self) -> None:
        """Start writing the file's dirty pages to disk now, without waiting (a hint to the kernel),
        so the fsync at commit has little left to do. Durability is still the commit's fsync."""
        if not hasattr(os, "posix_fadvise"):
            return
        try:
            fd = os.open(self.location, os.O_RDONLY)
        except OSError:
            return
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
        finally:
            os.close(fd)

    def commit(self) -> None:
        self._run("COMMIT", "BEGIN")

    def rollback(self) -> None:
        # SQLite may already have rolled back a transaction that failed (a full disk, an I/O error)
        self._run(*(("ROLLBACK", "BEGIN") if self.conn.in_transaction else ("BEGIN",)))

    def compact(self) -> None:
        self._run("COMMIT", "VACUUM", "BEGIN")

    def close(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # closing rolls back all the same
        self.conn.close()


class PostgresBackend:
    """A PostgreSQL database (tables created on first use)."""

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:
            raise VaultError("a PostgreSQL vault needs psycopg", hint='pip install "veil[postgres]"') from None
        self._psycopg = psycopg
        # never echo the URL: it may hold a password
        self.location = "postgresql vault"
        try:
            self.conn = psycopg.connect(url, autocommit=False)
            with self.conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(7316265)")
                for stmt in SCHEMA:
                    cur.execute(stmt.format(serial="BIGSERIAL", int="BIGINT", blob="BYTEA"))
                cur.execute(
                    "CREATE OR REPLACE FUNCTION veil_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'the veil audit log is append-only'; END $$")
                cur.execute("DROP TRIGGER IF EXISTS veil_audit_append_only ON veil_audit")
                cur.execute("CREATE TRIGGER veil_audit_append_only BEFORE UPDATE OR DELETE ON veil_audit "
                            "FOR EACH ROW EXECUTE FUNCTION veil_audit_append_only()")
            self.conn.commit()
        except psycopg.Error as exc:
            raise VaultError(f"cannot open the PostgreSQL vault ({type(exc).__name__})", file=self.location,
                             hint="check the URL, that the server runs, and the user's rights") from None

    def _fail(self, exc: Exception) -> VeilError:
        self.conn.rollback()
        if str(getattr(exc, "sqlstate", "") or "").startswith("53"):  # insufficient resources (53100: disk full)
            return _no_space(self.location)
        return VaultError(f"the PostgreSQL vault failed ({type(exc).__name__})", file=self.location,
                          hint="check the server, the user's rights, or retry if another veil command was "
                          "writing")

    def query(self, sql: str, params: list[Any]) -> list[tuple]:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), params)
                return cur.fetchall()
        except self._psycopg.Error as exc:
            raise self._fail(exc) from None

    def execute(self, sql: str, params: list[Any]) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), params)
        except self._psycopg.Error as exc:
            raise self._fail(exc) from None

    def insert(self, sql: str, params: list[Any]) -> int:
        """Insert one row; its id."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql.replace("?", "%s") + " RETURNING id", params)
                return int(cur.fetchone()[0])
        except self._psycopg.Error as exc:
            raise self._fail(exc) from None

    def serialize(self) -> None:
        """One writer of the audit chain at a time (released at commit)."""
        self.execute("SELECT pg_advisory_xact_lock(7316266)", [])

    def writeback(self) -> None:
        """Nothing to do: the server writes."""

    def commit(self) -> None:
        try:
            self.conn.commit()
        except self._psycopg.Error as exc:
            raise self._fail(exc) from None

    def rollback(self) -> None:
        self.conn.rollback()

    def compact(self) -> None:
        self.conn.commit()
        self.conn.autocommit = True
        try:
            with self.conn.cursor() as cur:
                cur.execute("VACUUM FULL veil_segments")
                cur.execute("VACUUM FULL veil_segment_keys")
                cur.execute("VACUUM FULL veil_forgotten")
        finally:
            self.conn.autocommit = False

    def close(self) -> None:
        self.conn.close()


def open_backend(spec: str) -> Backend:
    if spec.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(spec)
    return SqliteBackend(Path(spec).expanduser())
