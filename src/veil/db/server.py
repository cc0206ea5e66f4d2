"""Connections and client tools for live databases, with value-free errors.

A server's error text may quote data (``Key (email)=(...) already exists``, a COPY line's content):
:func:`redact` keeps its first error line with every quoted string and ``(k)=(v)`` detail removed;
a connection failure is an :class:`InputError` (source) or :class:`OutputError` (target) with a hint.
The password never reaches an argv or a message (veil.db.url).
"""

from __future__ import annotations

import re
import shutil
import subprocess

from ..errors import InputError, OutputError, VeilError
from .url import DbUrl

TIMEOUT = 30  # seconds to connect


def redact(text: str) -> str:
    """The first error line of a server or client tool, without what it quotes."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = next((ln for ln in lines if "ERROR" in ln or "FATAL" in ln or "error" in ln), lines[0] if lines else "")
    line = line.split("DETAIL:")[0]
    line = re.sub(r"\([^()]*\)=\([^()]*\)", "(...)=(...)", line)
    line = re.sub(r"'(?:[^'\\]|\\.)*'", "'...'", line)
    # a double-quoted name after the word that says what it names stays; any other quoted text goes
    line = re.sub(r'(\b\w+\s+)?"(?:[^"\\]|\\.)*"', lambda m: m.group(0) if (m.group(1) or "").strip().lower()
                  in _NAMES else (m.group(1) or "") + '"..."', line)
    return line[:300]


_NAMES = {"relation", "table", "column", "constraint", "index", "schema", "database", "role", "user", "type",
          "sequence", "function", "extension", "at", "host", "view", "trigger"}


def server_reason(exc: BaseException) -> str:
    return redact(str(exc)) or type(exc).__name__


def _error(role: str, message: str, where: str, hint: str) -> VeilError:
    cls = InputError if role == "source" else OutputError
    return cls(message, file=where, hint=hint)


def pg_connect(url: DbUrl, role: str, dbname: str | None = None):
    """A psycopg connection (the password as a keyword, never in the conninfo shown)."""
    import psycopg

    kwargs = {"connect_timeout": TIMEOUT}
    if url.password is not None:
        kwargs["password"] = url.password
    try:
        return psycopg.connect(url.libpq(dbname), **kwargs)
    except psycopg.Error as exc:
        raise _error(role, f"cannot connect to the {role} database: {server_reason(exc)}",
                     url.shown(dbname), "check the host, port, database name, user and password "
                     "(in the URL, env:VAR, PGPASSWORD or ~/.pgpass)") from None


def tool_path(tool: str, url: DbUrl, role: str) -> str:
    """Where a PostgreSQL client tool (pg_dump, psql) is; a missing one is the role's error."""
    exe = shutil.which(tool)
    if exe is None:
        raise _error(role, f"{tool} is not on PATH", str(url), "install the PostgreSQL client tools")
    return exe


def pg_tool(tool: str, url: DbUrl, args: list[str], role: str, dbname: str | None = None) -> bytes:
    """Run pg_dump (or another libpq tool) on ``url`` and return its output."""
    exe = tool_path(tool, url, role)
    proc = subprocess.run([exe, *args, f"--dbname={url.libpq(dbname)}"], env=url.env(),
                          stdin=subprocess.DEVNULL, capture_output=True)
    if proc.returncode != 0:
        raise _error(role, f"{tool} failed: {redact(proc.stderr.decode('utf-8', 'replace'))}", url.shown(dbname),
                     f"check that {tool} can read the database with these credentials")
    return proc.stdout
