"""Database URLs as veil's INPUT and --out: ``postgresql://`` (``postgres://``) and ``mysql://``
(``mariadb://``).

A :class:`DbUrl` keeps its password apart from everything that is ever shown: ``str(url)`` is the
URL without it (what reports, errors and progress name), and the password goes to the driver as a
keyword and to the client tools (pg_dump, psql, mariadb) through their environment, never on a
command line. The password comes from the URL, from ``env:VAR`` in its place
(``postgresql://ro:env:PGPW@host/shop``), or, for PostgreSQL, from what libpq reads itself
(``PGPASSWORD``, ``~/.pgpass``). A whole URL may also be given as ``env:VAR`` (the variable holds it).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ..errors import UsageError

PG, MYSQL = "postgresql", "mysql"
SCHEMES = {"postgresql": PG, "postgres": PG, "mysql": MYSQL, "mariadb": MYSQL}
_URL = re.compile(r"^(postgresql|postgres|mysql|mariadb)://", re.I)


def is_db_url(text: object) -> bool:
    """Whether an INPUT or --out names a database (a URL, or ``env:VAR`` holding one)."""
    if isinstance(text, DbUrl):
        return True
    s = str(text)
    if s.startswith("env:") and re.fullmatch(r"env:\w+", s):
        return bool(_URL.match(os.environ.get(s[4:], "")))
    return bool(_URL.match(s))


@dataclass(frozen=True)
class DbUrl:
    """A parsed database URL; ``str()`` never shows the password."""
    kind: str  # PG or MYSQL
    host: str
    port: int | None
    dbname: str
    user: str
    query: tuple[tuple[str, str], ...] = ()
    password: str | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return self.shown()

    def shown(self, dbname: str | None = None) -> str:
        user = quote(self.user, safe="") + "@" if self.user else ""
        host = self.host if ":" not in self.host else f"[{self.host}]"
        port = f":{self.port}" if self.port else ""
        q = "?" + "&".join(f"{k}={v}" for k, v in self.query) if self.query else ""
        return f"{self.kind}://{user}{host}{port}/{quote(dbname if dbname is not None else self.dbname)}{q}"

    def with_db(self, dbname: str) -> DbUrl:
        return DbUrl(self.kind, self.host, self.port, dbname, self.user, self.query, self.password)

    def libpq(self, dbname: str | None = None) -> str:
        """The URL for libpq and the PostgreSQL tools, without the password."""
        return self.shown(dbname)

    def env(self) -> dict[str, str]:
        """The environment of a client tool: the password in PGPASSWORD / MYSQL_PWD, not its argv."""
        env = dict(os.environ)
        if self.password is not None:
            env["PGPASSWORD" if self.kind == PG else "MYSQL_PWD"] = self.password
        return env

    def same_place(self, other: DbUrl) -> bool:
        """The same database of the same server, as far as the URLs tell (the server is asked too)."""
        def host(h: str) -> str:
            return "127.0.0.1" if h in ("", "localhost", "::1", "127.0.0.1") else h.lower()
        default = 5432 if self.kind == PG else 3306
        return (self.kind == other.kind and host(self.host) == host(other.host)
                and (self.port or default) == (other.port or default) and self.dbname == other.dbname)


def parse_url(text: str, what: str = "INPUT") -> DbUrl:
    """A DbUrl from ``scheme://[user[:password]@]host[:port]/dbname[?params]`` or ``env:VAR``."""
    raw = text
    if raw.startswith("env:"):
        raw = os.environ.get(raw[4:], "")
    m = _URL.match(raw)
    if m is None:
        raise UsageError(f"{what} is not a database URL", hint="use postgresql://user@host/db or mysql://user@host/db")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise UsageError(f"{what}: the database URL cannot be read (its port?)",
                         hint="postgresql://user@host:5432/db") from None
    kind = SCHEMES[m.group(1).lower()]
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise UsageError(f"{what}: the database URL names no database", hint=f"{kind}://user@host/DBNAME")
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and password.startswith("env:"):
        var = password[4:]
        if var not in os.environ:
            raise UsageError(f"{what}: the password variable {var} is not set",
                             hint=f"export {var}=... before running veil")
        password = os.environ[var]
    query = tuple((k, v) for k, v in parse_qsl(parts.query) if k != "password")
    pw_query = dict(parse_qsl(parts.query)).get("password")
    if pw_query is not None and password is None:
        password = os.environ.get(pw_query[4:], "") if pw_query.startswith("env:") else pw_query
    return DbUrl(kind, parts.hostname or "", port, dbname, unquote(parts.username or ""), query, password)
