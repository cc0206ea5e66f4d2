"""A live MySQL/MariaDB database as a run's output, replaced atomically.

The rewritten dump (mysqldump's DDL, the rows transformed, AUTO_INCREMENT left to the server where a
key changed) is loaded by the ``mariadb``/``mysql`` client into a new scratch database on the target
server; when the load and the run both succeeded, one ``RENAME TABLE`` statement moves every table of
the target into a new "old" database and every table of the scratch database into the target (MySQL
renames all the tables of one statement atomically); the old and scratch databases are then dropped.
A failure, or a kill -9, leaves the target as it was; the next run into the same target drops the
scratch database a killed run left. ``GET_LOCK`` named after the target keeps two runs apart.

Only base tables are moved: views, triggers and routines of the source are not carried over (MySQL
moves no trigger across databases), see docs/databases.md.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil

from ..errors import OutputError, UsageError
from .my_source import my_connect, my_tool_args
from .pg_target import LoadSink, scratch_prefix
from .server import redact
from .url import DbUrl


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class ClientSink(LoadSink):
    """A rewritten MySQL dump loaded by the mariadb/mysql client into a scratch database."""

    tool = "the mariadb/mysql client"

    def command(self) -> list[str] | None:
        exe = shutil.which("mariadb") or shutil.which("mysql")
        return None if exe is None else [exe, *my_tool_args(self.url), "--batch", "--", self.scratch]


class MyTarget:
    """The target server's side: lock, scratch database, swap by RENAME TABLE, clean up."""

    def __init__(self, url: DbUrl, if_exists: str):
        self.url, self.if_exists = url, if_exists
        self.admin = my_connect(url, "target", dbname="information_schema")
        name = url.dbname
        if self._one("SELECT GET_LOCK(%s, 0)", ("veil:" + name)[:64]) != 1:
            self.close()
            raise OutputError("another veil run is writing this database", file=str(url),
                              hint="wait for it to finish, then retry")
        self.exists = self._one("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", name) > 0
        if self.exists and if_exists == "fail":
            self.close()
            raise UsageError("the target database exists", file=str(url),
                             hint="pass --if-exists replace to replace it (atomically)")
        self._clean_stale()
        self.scratch = f"{scratch_prefix(name)}{os.getpid()}_{secrets.token_hex(3)}"

    def _run(self, sql: str, args=None) -> list:
        with self.admin.cursor() as cur:
            cur.execute(sql, args)
            return [tuple(v.decode() if isinstance(v, bytes) else v for v in r) for r in cur.fetchall()]

    def _one(self, sql: str, args=None):
        v = self._run(sql, args)[0][0]
        return int(v) if isinstance(v, str) and v.lstrip("-").isdigit() else v

    def server_id(self) -> tuple:
        host, port = self._run("SELECT @@hostname, @@port")[0]
        return host, port, self.url.dbname

    def _clean_stale(self) -> None:
        """Scratch databases of this target that a killed run left (the lock says no run is loading one)."""
        prefix = scratch_prefix(self.url.dbname)
        for (name,) in self._run("SELECT schema_name FROM information_schema.schemata"):
            if name.startswith(prefix) or name.startswith(scratch_prefix(self.url.dbname, "old_")):
                with contextlib.suppress(Exception):
                    self._run(f"DROP DATABASE IF EXISTS {_q(name)}")

    def create(self) -> None:
        like = self._run("SELECT default_character_set_name, default_collation_name FROM information_schema.schemata "
                         "WHERE schema_name = %s", self.url.dbname)
        charset, collation = like[0] if like else ("utf8mb4", None)
        opts = f"CHARACTER SET {charset}" + (f" COLLATE {collation}" if collation else "")
        try:
            self._run(f"CREATE DATABASE {_q(self.scratch)} {opts}")
        except Exception as exc:
            raise OutputError(f"cannot create a scratch database on the target server: {redact(str(exc))}",
                              file=str(self.url), hint="the target user needs CREATE and DROP") from None

    def _tables(self, db: str) -> list[str]:
        return [r[0] for r in self._run("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                                        "AND table_type = 'BASE TABLE'", db)]

    def swap(self) -> None:
        """One RENAME TABLE: the target's tables out, the scratch database's in."""
        target = self.url.dbname
        old = f"{scratch_prefix(target, 'old_')}{secrets.token_hex(3)}"
        try:
            if not self.exists:
                self._run(f"CREATE DATABASE {_q(target)}")
            moves = []
            if self.exists and self._tables(target):
                self._run(f"CREATE DATABASE {_q(old)}")
                moves += [f"{_q(target)}.{_q(t)} TO {_q(old)}.{_q(t)}" for t in self._tables(target)]
            moves += [f"{_q(self.scratch)}.{_q(t)} TO {_q(target)}.{_q(t)}" for t in self._tables(self.scratch)]
            if moves:
                self._run("RENAME TABLE " + ", ".join(moves))
        except Exception as exc:
            raise OutputError(f"cannot swap the new copy in: {redact(str(exc))}", file=str(self.url),
                              hint="the target is unchanged; retry") from None
        for db in (old, self.scratch):
            with contextlib.suppress(Exception):
                self._run(f"DROP DATABASE IF EXISTS {_q(db)}")

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._run(f"DROP DATABASE IF EXISTS {_q(self.scratch)}")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.admin.close()
