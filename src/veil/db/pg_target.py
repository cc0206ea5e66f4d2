"""A live PostgreSQL database as a run's output, replaced atomically.

The run writes the rewritten dump (veil.formats.dump: the source's DDL, its rows transformed,
constraints and indexes after the data as pg_dump orders them, sequences set from the largest value
written) into ``psql`` connected to a new scratch database on the target server. Only when psql
and the run both succeeded is the scratch database swapped in, by two ``ALTER DATABASE ... RENAME``
in one transaction (the old target, if any, renamed away then dropped). A failure anywhere, or a
kill -9, leaves the target as it was: the scratch database is dropped on failure, and one a killed
run left behind is dropped by the next run to the same target. The rename needs no session on the
target database (PostgreSQL refuses to rename a database in use): the error says so, nothing changes.

A run holds an advisory lock named after the target on the server's ``postgres`` database, so two
runs into the same target never interleave.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import zlib

from ..dataset import Target
from ..errors import OutputError, UsageError
from ..formats.dump.shuffle import BlockShuffle
from ..formats.dump.sinks import Counters, DumpSink
from ..plan import Plan
from .server import pg_connect, redact
from .url import DbUrl

SCRATCH = "veil_tmp_"


def scratch_prefix(target: str, kind: str = "") -> str:
    """``veil_tmp_[old_]<target, cut>_<crc32 of the whole name>_``: the scratch databases of one target
    (a run drops those a killed run left; the checksum keeps two long names with one beginning apart)."""
    return f"{SCRATCH}{kind}{target[:24]}_{zlib.crc32(target.encode()):08x}_"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_failed(where: str, stderr: bytes) -> OutputError:
    """A client that stopped loading the target: its first error line (redacted), never the data it quotes."""
    return OutputError(f"loading the target database failed: {redact(stderr.decode('utf-8', 'replace'))}",
                       file=where, hint="the target is unchanged; the target server refused the copy: a CHECK or "
                       "other constraint the transformed values break, an extension or role it lacks, or "
                       "no disk space")


def psql_command(url: DbUrl, dbname: str) -> list[str] | None:
    """psql loading a script from its standard input into ``dbname``, stopping at the first error
    (None: no psql on PATH)."""
    exe = shutil.which("psql")
    return None if exe is None else [exe, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-",
                                     f"--dbname={url.libpq(dbname)}"]


class ClientPipe:
    """psql's standard input as the dump's file; psql gone (it stopped at an error) is an error
    that names psql's first error line, never the data it quotes."""

    def __init__(self, proc: subprocess.Popen, errors, where: str):
        self.proc, self.errors, self.where = proc, errors, where

    def write(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
        except (BrokenPipeError, ValueError):
            self.proc.wait()
            raise self.failure() from None

    def failure(self) -> OutputError:
        self.errors.seek(0)
        return load_failed(self.where, self.errors.read())

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        if self.proc.wait() != 0:
            raise self.failure()


class LoadSink(DumpSink):
    """A rewritten dump piped into a database client (``command()``) loading a scratch database;
    the client's first error line (redacted) is the run's error."""

    tool = ""  # what to install when the client is missing

    def __init__(self, plan: Plan, counters: Counters | None, url: DbUrl, scratch: str):
        super().__init__("-", plan, False, counters)
        self.url, self.scratch = url, scratch
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str] | None:
        """The client's command line (None: no client on PATH)."""
        raise NotImplementedError

    def open(self, target: Target) -> None:
        argv = self.command()
        if argv is None:
            raise OutputError(f"{self.tool} is not on PATH", file=str(self.url), hint=f"install {self.tool}")
        errors = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors,
                                     env=self.url.env())
        self.fh = ClientPipe(self.proc, errors, str(self.url))
        if self.order is not None:
            self.shuffle = BlockShuffle(self.order, self.fh.write, None)

    def abort(self) -> None:
        if self.shuffle is not None:
            with contextlib.suppress(Exception):
                self.shuffle.discard()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class PsqlSink(LoadSink):
    """A rewritten dump loaded by psql into a scratch database (see the module)."""

    tool = "psql (the PostgreSQL client tools)"

    def command(self) -> list[str] | None:
        return psql_command(self.url, self.scratch)


class PgTarget:
    """The target database's server side: lock, scratch database, swap, clean up."""

    def __init__(self, url: DbUrl, if_exists: str):
        self.url, self.if_exists = url, if_exists
        self.admin = _admin(url)
        self.admin.autocommit = True
        name = url.dbname
        key = zlib.crc32(("veil:" + name).encode()) - (1 << 31)
        if not self.admin.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
            self.admin.close()
            raise OutputError("another veil run is writing this database", file=str(url),
                              hint="wait for it to finish, then retry")
        self.exists = self._exists(name)
        if self.exists and if_exists == "fail":
            self.admin.close()
            raise UsageError("the target database exists", file=str(url),
                              hint="pass --if-exists replace to replace it (atomically)")
        self._clean_stale()
        self.scratch = f"{scratch_prefix(name)}{os.getpid()}_{secrets.token_hex(3)}"

    def server_id(self) -> tuple:
        """Which server and database this is (compared with a live source's: veil.db.run.refuse_same)."""
        start, port = self.admin.execute("SELECT pg_postmaster_start_time()::text, inet_server_port()").fetchone()
        return start, port, self.url.dbname

    def _exists(self, name: str) -> bool:
        return self.admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None

    def _clean_stale(self) -> None:
        """Scratch databases of this target a killed run left behind, and an old copy a run killed
        between the swap and the drop left (one still being loaded is in use by its psql: not dropped)."""
        prefixes = (scratch_prefix(self.url.dbname), scratch_prefix(self.url.dbname, "old_"))
        for (name,) in self.admin.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s) "
                                          "OR starts_with(datname, %s)", prefixes).fetchall():
            with contextlib.suppress(Exception):
                self.admin.execute(f"DROP DATABASE IF EXISTS {_ident(name)}")

    def create(self) -> None:
        """The scratch database, with the encoding and locale of the database it replaces (UTF-8 else)."""
        like = self.admin.execute("SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database "
                                  "WHERE datname = %s", (self.url.dbname,)).fetchone()
        opts = "ENCODING 'UTF8'" if like is None else \
            "ENCODING '{}' LC_COLLATE '{}' LC_CTYPE '{}'".format(*(v.replace("'", "''") for v in like))
        try:
            self.admin.execute(f"CREATE DATABASE {_ident(self.scratch)} TEMPLATE template0 {opts}")
        except Exception as exc:
            raise OutputError(f"cannot create a scratch database on the target server: {redact(str(exc))}",
                              file=str(self.url), hint="the target role needs CREATEDB") from None

    def swap(self) -> None:
        """The scratch database becomes the target, in one transaction; the old one is dropped after."""
        old = f"{scratch_prefix(self.url.dbname, 'old_')}{secrets.token_hex(3)}"
        try:
            with self.admin.transaction():
                if self.exists:
                    self.admin.execute(f"ALTER DATABASE {_ident(self.url.dbname)} RENAME TO {_ident(old)}")
                self.admin.execute(f"ALTER DATABASE {_ident(self.scratch)} RENAME TO {_ident(self.url.dbname)}")
        except Exception as exc:
            raise OutputError(f"cannot swap the new copy in: {redact(str(exc))}", file=str(self.url),
                              hint="the target is unchanged; close every session on the target database "
                              "(PostgreSQL renames no database in use), then retry") from None
        if self.exists:
            with contextlib.suppress(Exception):
                self.admin.execute(f"DROP DATABASE IF EXISTS {_ident(old)} WITH (FORCE)")

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.admin.execute(f"DROP DATABASE IF EXISTS {_ident(self.scratch)} WITH (FORCE)")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.admin.close()


def _admin(url: DbUrl):
    """A connection to the target server's maintenance database (the target itself may not exist)."""
    try:
        return pg_connect(url, "target", "postgres")
    except OutputError:
        return pg_connect(url, "target", "template1")
