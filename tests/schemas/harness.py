"""The whole path on a realistic schema, with real servers and veil's CLI in subprocesses.

``run_path`` creates the schema in a fresh database, loads the seeded data, dumps it with the real
pg_dump / mysqldump (plain), runs ``veil scan -o draft.yaml --json scan.json``, ``veil validate
draft.yaml dump``, ``veil run dump --profile draft.yaml`` with the draft unchanged, restores the
output into a second fresh database with errors fatal (``psql -v ON_ERROR_STOP=1``; the mariadb
client stops at the first error), then measures on both databases: every relation's join
(joined rows, orphans, children-per-parent distribution), the application's INSERTs without
explicit ids, and how many personal values came through.

No value of the data reaches a message: server errors pass through ``redact`` (quoted text and
``(key)=(value)`` details removed) and comparisons report counts.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import yaml

from .common import RealSchema, Relation, Sensitive, SqlExpr

PG_HOST = os.environ.get("VEIL_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("VEIL_PG_PORT", "5432")
PG_USER = os.environ.get("VEIL_PG_USER", "postgres")
PG_PASSWORD = os.environ.get("VEIL_PG_PASSWORD", "")
PG_ADMIN_DB = os.environ.get("VEIL_PG_DB", "test")
MY_HOST = os.environ.get("VEIL_MYSQL_HOST", "127.0.0.1")
MY_PORT = os.environ.get("VEIL_MYSQL_PORT", "3306")
MY_USER = os.environ.get("VEIL_MYSQL_USER", "root")
MY_PASSWORD = os.environ.get("VEIL_MYSQL_PASSWORD", "")
TIMEOUT = 600


def redact(text: str, limit: int = 1500) -> str:
    """A server's error output without the values it may quote: ``(k)=(v)`` details, quoted text
    (a column, key or table name after its word is kept), and COPY context lines' data."""
    out = []
    for line in text.splitlines():
        if line.lstrip().startswith(("DETAIL:", "CONTEXT:")):
            line = line.split(":", 1)[0] + ": [redacted]"
        line = re.sub(r"\([^()]*\)=\([^()]*\)", "(...)=(...)", line)
        line = re.sub(r"(?<!column )(?<!key )(?<!table )'[^']*'", "'...'", line)
        line = re.sub(r'(?<!column )(?<!table )(?<!relation )"[^"]*"', '"..."', line)
        out.append(line)
    return "\n".join(out)[-limit:]


def _sql_literal(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, SqlExpr):
        return str(v)
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int | Decimal):
        return str(v)
    if isinstance(v, datetime):
        return "'" + v.strftime("%Y-%m-%d %H:%M:%S") + "'"  # UTC, no zone: MySQL DATETIME/TIMESTAMP
    if isinstance(v, date):
        return "'" + v.isoformat() + "'"
    return "'" + str(v).replace("\\", "\\\\").replace("'", "''") + "'"


# -- servers -------------------------------------------------------------------------------------

class Postgres:
    dialect = "postgresql"

    def __init__(self) -> None:
        import psycopg

        self.psycopg = psycopg

    def env(self) -> dict[str, str]:
        env = dict(os.environ, PGHOST=PG_HOST, PGPORT=PG_PORT, PGUSER=PG_USER, PGCONNECT_TIMEOUT="5")
        if PG_PASSWORD:
            env["PGPASSWORD"] = PG_PASSWORD
        return env

    def connect(self, db: str, autocommit: bool = True):
        dsn = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={db}" + \
              (f" password={PG_PASSWORD}" if PG_PASSWORD else "")
        return self.psycopg.connect(dsn, autocommit=autocommit, connect_timeout=5)

    @staticmethod
    def unavailable() -> str | None:
        """Why the server cannot be used, or None."""
        missing = [t for t in ("pg_dump", "psql") if shutil.which(t) is None]
        if missing:
            return f"{', '.join(missing)} not on PATH"
        try:
            import psycopg
        except ImportError as exc:
            return f"psycopg is not installed ({exc})"
        try:
            Postgres().connect(PG_ADMIN_DB).close()
        except psycopg.Error as exc:
            return f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable ({type(exc).__name__})"
        return None

    def create(self, name: str) -> None:
        with self.connect(PG_ADMIN_DB) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")

    def drop(self, name: str) -> None:
        with self.connect(PG_ADMIN_DB) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def load(self, db: str, schema: RealSchema) -> None:
        with self.connect(db, autocommit=False) as conn:  # one transaction: deferred keys hold at commit
            conn.execute(schema.ddl)
            with conn.cursor() as cur:
                for table, (cols, rows) in schema.data().items():
                    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                        for r in rows:
                            cp.write_row(r)
                if schema.after_load:
                    cur.execute(schema.after_load)
            conn.commit()

    def dump(self, db: str, out: Path, flags: tuple[str, ...] = ()) -> None:
        res = subprocess.run(["pg_dump", "--no-owner", *flags, "-f", str(out), db], capture_output=True, text=True,
                             env=self.env(), timeout=TIMEOUT)
        if res.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {redact(res.stderr)}")

    def restore(self, path: Path, db: str) -> tuple[bool, str]:
        res = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", str(path)],
                             capture_output=True, text=True, env=self.env(), timeout=TIMEOUT)
        return res.returncode == 0, redact(res.stderr)

    def rows(self, db: str, sql: str) -> list[tuple]:
        with self.connect(db) as conn:
            return [tuple(None if v is None else str(v) for v in r) for r in conn.execute(sql).fetchall()]

    def insert(self, db: str, sql: str) -> tuple[bool, str]:
        """Run the application's INSERT (it returns the new key); (ok, redacted error)."""
        try:
            with self.connect(db) as conn:
                key = conn.execute(sql).fetchone()[0]
            return key is not None, ""
        except self.psycopg.Error as exc:
            return False, redact(f"{type(exc).__name__}: {exc}")


class MySQL:
    dialect = "mysql"
    client_bin = shutil.which("mariadb") or shutil.which("mysql")
    dump_bin = shutil.which("mysqldump") or shutil.which("mariadb-dump")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if MY_PASSWORD:
            env["MYSQL_PWD"] = MY_PASSWORD  # never on the command line
        return env

    def conn_args(self) -> list[str]:
        return ["-h", MY_HOST, "-P", str(MY_PORT), "-u", MY_USER, "--protocol=TCP", "--default-character-set=utf8mb4"]

    @classmethod
    def unavailable(cls) -> str | None:
        if cls.client_bin is None or cls.dump_bin is None:
            return "the mariadb/mysql client or mysqldump is not on PATH"
        me = cls()
        try:
            res = subprocess.run([me.client_bin, *me.conn_args(), "--connect-timeout=5", "-e", "SELECT 1"],
                                 capture_output=True, env=me.env(), timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"MySQL/MariaDB at {MY_HOST}:{MY_PORT} is unreachable ({type(exc).__name__})"
        return None if res.returncode == 0 else f"MySQL/MariaDB at {MY_HOST}:{MY_PORT} is unreachable"

    def client(self, sql: str, db: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        args = [self.client_bin, *self.conn_args(), "--batch", "--skip-column-names"] + ([db] if db else [])
        res = subprocess.run(args, input=sql.encode(), capture_output=True, env=self.env(), timeout=TIMEOUT)
        if check and res.returncode != 0:
            raise RuntimeError(f"mariadb client failed: {redact(res.stderr.decode('utf-8', 'replace'))}")
        return res

    def create(self, name: str) -> None:
        self.client(f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                    "COLLATE utf8mb4_unicode_ci;")

    def drop(self, name: str) -> None:
        self.client(f"DROP DATABASE IF EXISTS `{name}`;", check=False)

    def load(self, db: str, schema: RealSchema) -> None:
        parts = ["SET FOREIGN_KEY_CHECKS=0;", "SET time_zone='+00:00';", schema.ddl]
        for table, (cols, rows) in schema.data().items():
            for i in range(0, len(rows), 500):
                values = ",\n".join("(" + ", ".join(_sql_literal(v) for v in r) + ")" for r in rows[i:i + 500])
                parts.append(f"INSERT INTO `{table}` ({', '.join(cols)}) VALUES\n{values};")
        parts.append("SET FOREIGN_KEY_CHECKS=1;")
        if schema.after_load:
            parts.append(schema.after_load)
        self.client("\n".join(parts), db)

    def dump(self, db: str, out: Path, flags: tuple[str, ...] = ()) -> None:
        with open(out, "wb") as fh:
            res = subprocess.run([self.dump_bin, *self.conn_args(), "--triggers", "--routines", *flags, db], stdout=fh,
                                 stderr=subprocess.PIPE, env=self.env(), timeout=TIMEOUT)
        if res.returncode != 0:
            raise RuntimeError(f"mysqldump failed: {redact(res.stderr.decode('utf-8', 'replace'))}")

    def restore(self, path: Path, db: str) -> tuple[bool, str]:
        with open(path, "rb") as fh:  # the client stops at the first error (no --force)
            res = subprocess.run([self.client_bin, *self.conn_args(), db], stdin=fh, capture_output=True,
                                 env=self.env(), timeout=TIMEOUT)
        return res.returncode == 0, redact(res.stderr.decode("utf-8", "replace"))

    def rows(self, db: str, sql: str) -> list[tuple]:
        out = self.client(sql, db).stdout.decode("utf-8")
        return [tuple(None if f == "NULL" else f for f in line.split("\t")) for line in out.splitlines()]

    def insert(self, db: str, sql: str) -> tuple[bool, str]:
        res = self.client(f"{sql};\nSELECT LAST_INSERT_ID();", db, check=False)
        if res.returncode != 0:
            return False, redact(res.stderr.decode("utf-8", "replace"))
        return res.stdout.decode().split()[-1] != "0", ""


def server_for(schema: RealSchema):
    return Postgres() if schema.dialect == "postgresql" else MySQL()


def unavailable(schema: RealSchema) -> str | None:
    return Postgres.unavailable() if schema.dialect == "postgresql" else MySQL.unavailable()


# -- measures ---------------------------------------------------------------------------------------

def _on(rel: Relation) -> str:
    return " AND ".join(f"c.{a} = p.{b}" for a, b in zip(rel.columns, rel.ref_columns, strict=True))


def join_figures(server, db: str, rel: Relation) -> tuple[int, int, tuple]:
    """(joined rows, orphan child rows, children-per-parent distribution as ((n, parents), ...))."""
    joined = server.rows(db, f"SELECT count(*) FROM {rel.child} c JOIN {rel.parent} p ON {_on(rel)}")[0][0]
    present = " AND ".join(f"c.{a} IS NOT NULL" for a in rel.columns)
    orphans = server.rows(db, f"SELECT count(*) FROM {rel.child} c WHERE {present} AND NOT EXISTS "
                              f"(SELECT 1 FROM {rel.parent} p WHERE {_on(rel)})")[0][0]
    keys = ", ".join(f"p.{b}" for b in rel.ref_columns)
    dist = server.rows(db, f"SELECT n, count(*) FROM (SELECT count(c.{rel.columns[0]}) AS n FROM {rel.parent} p "
                           f"LEFT JOIN {rel.child} c ON {_on(rel)} GROUP BY {keys}) d GROUP BY n ORDER BY n")
    return int(joined), int(orphans), tuple((int(n), int(k)) for n, k in dist)


def _values(server, db: str, s: Sensitive) -> set[tuple]:
    cols = ", ".join(s.columns)
    present = " OR ".join(f"{c} IS NOT NULL" for c in s.columns)
    return set(server.rows(db, f"SELECT DISTINCT {cols} FROM {s.table} WHERE {present}"))


@dataclass
class Outcome:
    """What ``run_path`` saw: exit codes, redacted messages, timings and the measures."""

    schema: str
    tables: int = 0
    columns: int = 0
    rows: int = 0
    dump_bytes: int = 0
    declared: set = field(default_factory=set)  # FKs the scan read from the DDL
    inferred: set = field(default_factory=set)  # FKs the scan inferred
    draft: str = ""
    scan_rc: int | None = None
    validate_rc: int | None = None
    validate_out: str = ""
    strict_rc: int | None = None  # validate --strict: warnings are errors
    strict_out: str = ""
    run_rc: int | None = None
    run_err: str = ""
    restore_ok: bool = False
    restore_err: str = ""
    joins_src: dict = field(default_factory=dict)  # relation name -> join_figures
    joins_dst: dict = field(default_factory=dict)
    inserts: dict = field(default_factory=dict)  # table -> (ok, redacted error)
    keys_changed: dict = field(default_factory=dict)  # table whose key the draft pseudonymizes -> ids differ
    sensitive: dict = field(default_factory=dict)  # name -> (share of output values found in the source, count)
    notes_leaks: dict = field(default_factory=dict)  # 'table.notes<-table.column' -> notes holding a source value
    seconds: dict = field(default_factory=dict)  # step -> wall seconds (subprocess, start-up included)
    failed_step: str | None = None

    def joins_kept(self) -> int:
        return sum(self.joins_dst.get(k) == v for k, v in self.joins_src.items())


def veil(*args, timeout: int = TIMEOUT) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "veil", *map(str, args)], capture_output=True, text=True,
                         timeout=timeout)
    return res, time.perf_counter() - t0


def _scan_fks(scan: dict) -> tuple[set, set]:
    declared, inferred = set(), set()
    for t in scan["tables"]:
        for fk in t["foreign_keys"]:
            row = (t["name"], tuple(fk["columns"]), fk["references"]["table"], tuple(fk["references"]["columns"]))
            (declared if fk.get("source") == "ddl" else inferred).add(row)
    return declared, inferred


def run_path(schema: RealSchema, work: Path, keyring: Path, *, workers: int = 1, ner: bool = False,
             keep_dbs: bool = False, tag: str | None = None, dump_flags: tuple[str, ...] = (),
             scan_flags: tuple[str, ...] = ()) -> Outcome:
    """The whole path on one schema; databases ``veil_rs_{pg|my}_<tag>_{src|dst}`` dropped at the end.
    ``dump_flags`` go to pg_dump / mysqldump, ``scan_flags`` to veil scan (``--sample-rows 500``)."""
    server = server_for(schema)
    tag = tag or secrets.token_hex(4)
    prefix = "veil_rs_pg" if schema.dialect == "postgresql" else "veil_rs_my"
    src, dst = f"{prefix}_{tag}_src", f"{prefix}_{tag}_dst"
    out = Outcome(schema.name)
    dump, draft, scan_json, safe = work / "in.sql", work / "draft.yaml", work / "scan.json", work / "out.sql"
    try:
        t0 = time.perf_counter()
        server.create(src)
        server.load(src, schema)
        out.seconds["load"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        server.dump(src, dump, dump_flags)
        out.seconds["dump"] = time.perf_counter() - t0

        res, out.seconds["scan"] = veil("scan", dump, "-o", draft, "--json", scan_json, "-q",
                                        *([] if ner else ["--no-ner"]), *scan_flags)
        out.scan_rc = res.returncode
        if res.returncode != 0:
            out.failed_step, out.run_err = "scan", res.stderr[-1500:]
            return out
        scan = json.loads(scan_json.read_text())
        out.tables, out.columns = len(scan["tables"]), len(scan["columns"])
        out.rows, out.dump_bytes = sum(t["rows"] or 0 for t in scan["tables"]), dump.stat().st_size
        out.declared, out.inferred = _scan_fks(scan)
        out.draft = draft.read_text()

        res, out.seconds["validate"] = veil("validate", draft, dump)
        out.validate_rc, out.validate_out = res.returncode, (res.stdout + res.stderr)[-3000:]
        res, _ = veil("validate", "--strict", draft, dump)
        out.strict_rc, out.strict_out = res.returncode, (res.stdout + res.stderr)[-3000:]

        res, out.seconds["run"] = veil("run", dump, "--profile", draft, "--keyring", keyring, "--out", safe, "-q",
                                       "--workers", str(workers))
        out.run_rc, out.run_err = res.returncode, res.stderr[-3000:]
        if res.returncode != 0:
            out.failed_step = "run"
            return out

        server.create(dst)
        t0 = time.perf_counter()
        out.restore_ok, out.restore_err = server.restore(safe, dst)
        out.seconds["restore"] = time.perf_counter() - t0
        if not out.restore_ok:
            out.failed_step = "restore"
            return out

        for rel in schema.relations:
            out.joins_src[rel.name] = join_figures(server, src, rel)
            out.joins_dst[rel.name] = join_figures(server, dst, rel)
        for s in schema.sensitive:
            before, after = _values(server, src, s), _values(server, dst, s)
            out.sensitive[s.name] = (len(after & before) / len(after) if after else 1.0, len(after))
        for table, column, source in schema.notes:
            st, sc = source.rsplit(".", 1)
            values = {r[0] for r in server.rows(src, f"SELECT DISTINCT {sc} FROM {st} WHERE {sc} IS NOT NULL")}
            texts = [r[0] for r in server.rows(dst, f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")]
            out.notes_leaks[f"{table}.{column}<-{source}"] = sum(any(v in t for v in values) for t in texts)
        rules = yaml.safe_load(out.draft)["tables"]
        for table, spec in rules.items():  # keys the draft pseudonymizes: no longer the source's ids
            pk = spec.get("primary_key") or []
            rule = (spec.get("columns") or {}).get(pk[0]) if len(pk) == 1 else None
            if isinstance(rule, dict) and rule.get("op") == "pseudonymize":
                ids = f"SELECT {pk[0]} FROM {table}"
                out.keys_changed[table] = set(server.rows(src, ids)) != set(server.rows(dst, ids))
        for table, sql in schema.inserts.items():  # last: they change the tables measured above
            out.inserts[table] = server.insert(dst, sql)
        return out
    finally:
        if not keep_dbs:
            server.drop(src)
            server.drop(dst)


def server_or_skip(cls):
    """A server of ``cls`` (Postgres, MySQL), or the test skips with the reason (fails under
    VEIL_REQUIRE_DB=1, as in CI)."""
    import pytest

    reason = cls.unavailable()
    if reason:
        if os.environ.get("VEIL_REQUIRE_DB") == "1":
            pytest.fail(f"{reason} (VEIL_REQUIRE_DB=1)")
        pytest.skip(reason)
    return cls()


def scratch_databases(cls, prefix: str):
    """A server whose ``new()`` creates a database; the generator drops them all at the end."""
    srv = server_or_skip(cls)
    names: list[str] = []

    def new() -> str:
        import secrets

        names.append(f"{prefix}_{secrets.token_hex(5)}")
        srv.create(names[-1])
        return names[-1]

    srv.new = new
    try:
        yield srv
    finally:
        for n in names:
            srv.drop(n)


def run_dump(srv, db: str, tmp: Path, keyring: Path, profile_text: str, *args: str,
             dump_flags: tuple[str, ...] = ()) -> tuple[Path, dict]:
    """Dump ``db`` with the server's real dump tool and `veil run` the dump with the profile; returns
    the rewritten dump and the run report (tables by bare name). The run must succeed."""
    from tests.conftest import run_module

    dump, prof, out, rep = tmp / f"{db}.sql", tmp / f"{db}.yaml", tmp / f"{db}-out.sql", tmp / f"{db}.json"
    srv.dump(db, dump, dump_flags)
    prof.write_text(profile_text)
    res = run_module("run", dump, "-p", prof, "--keyring", keyring, "-o", out, "--report", rep, "-q", "--force",
                     *args)
    assert res.returncode == 0, res.stderr
    report = json.loads(rep.read_text())
    report["tables"] = {k.rsplit(".", 1)[-1]: v for k, v in report["tables"].items()}
    return out, report
