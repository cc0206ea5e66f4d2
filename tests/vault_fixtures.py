"""Shared helpers and fixtures for the keys and vault end-to-end tests.

Fixtures defined here are imported by tests/test_keys.py and tests/test_vault.py:

- ``vault_profile``: profiles/shop.yaml made reversible, with customers' subject = email;
- ``pg_url``: a fresh PostgreSQL database per test (skipped when the server is not
  reachable, failed instead when VEIL_REQUIRE_DB=1);
- ``store``: a vault location parametrized over ["sqlite", "postgres"], with direct
  database access for the tests that tamper with it.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import secrets
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from veil.keys import load_keyring
from veil.vault import SEGMENT_SCHEMA, dedup_keys, from_stored, index_seal, seal_indexes, to_ipc

from .conftest import SHOP_PROFILE

VERSION_ID = re.compile(r"^k-[0-9a-f]{8}$")
TABLES = ["addresses", "customers", "orders", "payments", "support_tickets"]

PG_HOST = os.environ.get("VEIL_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("VEIL_PG_PORT", "5432")
PG_USER = os.environ.get("VEIL_PG_USER", "postgres")
PG_PASSWORD = os.environ.get("VEIL_PG_PASSWORD", "")
PG_ADMIN_DB = os.environ.get("VEIL_PG_DB", "test")


# -- profile -----------------------------------------------------------------------

def make_vault_profile(directory: Path, name: str = "profile.yaml") -> Path:
    s = SHOP_PROFILE.read_text(encoding="utf-8")
    s2 = s.replace("defaults:\n  unknown_columns: fail", "defaults:\n  unknown_columns: fail\n  reversible: true")
    s3 = s2.replace("  customers:\n    primary_key: [customer_id]",
                    "  customers:\n    subject: {column: email, domain: email}\n    primary_key: [customer_id]")
    assert s != s2 != s3, "profiles/shop.yaml changed shape: update make_vault_profile"
    path = directory / name
    path.write_text(s3, encoding="utf-8")
    return path


@pytest.fixture
def vault_profile(tmp_path) -> Path:
    d = tmp_path / "profiles"
    d.mkdir(exist_ok=True)
    return make_vault_profile(d)


# -- PostgreSQL ------------------------------------------------------------------------

def _pg_dsn(dbname: str) -> str:
    auth = PG_USER + (f":{PG_PASSWORD}" if PG_PASSWORD else "")
    return f"postgresql://{auth}@{PG_HOST}:{PG_PORT}/{dbname}"


def _pg_unavailable(reason: str) -> None:
    msg = f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT} (user {PG_USER}, db {PG_ADMIN_DB}): {reason}"
    if os.environ.get("VEIL_REQUIRE_DB") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture
def pg_url():
    """A fresh database per test; yields its URL and drops it afterwards."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is installed in CI
        _pg_unavailable(f"psycopg is not installed ({exc})")
    try:
        admin = psycopg.connect(_pg_dsn(PG_ADMIN_DB), autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        _pg_unavailable(f"{type(exc).__name__}: {str(exc).strip()}")
    name = "veil_t_" + secrets.token_hex(6)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_dsn(name)
    finally:
        with psycopg.connect(_pg_dsn(PG_ADMIN_DB), autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- vault stores (what --vault gets, plus direct access for the tests) ------------------

class Store:
    kind: str
    spec: str  # the --vault argument
    label: str  # how veil names the vault in its messages
    keyring: Path | None = None  # set by a test's fixture: a segment's dedup keys are made from its index secret

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        raise NotImplementedError

    def execute(self, sql: str, params: Iterable[Any] = ()) -> None:
        raise NotImplementedError

    def dump(self) -> bytes:
        """Everything stored: the files for SQLite, every row of every veil table for PostgreSQL."""
        raise NotImplementedError

    # -- segments
    def segments(self, domain: str | None = None, version: str | None = None) -> list[tuple[int, str, str, pa.Table]]:
        rows = self.query("SELECT id, domain, key_version, data FROM veil_segments ORDER BY id")
        out = []
        for sid, dom, ver, data in rows:
            if (domain is None or dom == domain) and (version is None or ver == version):
                keys = load_keyring(self.keyring) if self.keyring is not None else None
                table = from_stored(pa.ipc.open_stream(bytes(data)).read_all())
                if keys is not None:
                    # indexes sealed to the version: opened first, then the dedup keys made from them
                    table = seal_indexes(table, index_seal(keys, dom, ver), decrypt=True)
                    table = table.set_column(3, "key", dedup_keys(keys, table.column("blind").chunk(0),
                                                                  table.column("context").chunk(0)))
                out.append((int(sid), dom, ver, table))
        return out

    def count_segments(self, version: str) -> int:
        return int(self.query("SELECT count(*) FROM veil_segments WHERE key_version = ?", [version])[0][0])

    def write_segment(self, sid: int, table: pa.Table) -> None:
        """Store a segment: one in veil's in-memory schema as veil stores it, any other as it is."""
        if table.schema == SEGMENT_SCHEMA:
            assert self.keyring is not None, "set store.keyring: veil seals a segment's indexes to its version"
            dom, ver = self.query("SELECT domain, key_version FROM veil_segments WHERE id = ?", [sid])[0]
            data = to_ipc(table, index_seal(load_keyring(self.keyring), dom, ver))
        else:
            sink = io.BytesIO()
            with pa.ipc.new_stream(sink, table.schema) as w:
                w.write_table(table)
            data = sink.getvalue()
        self.execute("UPDATE veil_segments SET data = ? WHERE id = ?", [data, sid])


class SqliteStore(Store):
    kind = "sqlite"

    def __init__(self, path: Path):
        self.path = path
        self.spec = str(path)
        self.label = str(path)

    def _conn(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None)

    def query(self, sql, params=()):
        conn = self._conn()
        try:
            return conn.execute(sql, list(params)).fetchall()
        finally:
            conn.close()

    def execute(self, sql, params=()):
        conn = self._conn()
        try:
            conn.execute(sql, list(params))
        finally:
            conn.close()

    def files(self) -> list[Path]:
        """The vault file and whatever SQLite keeps beside it (-journal, -wal, -shm)."""
        return sorted(p for p in self.path.parent.iterdir() if p.name.startswith(self.path.name))

    def dump(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.files())


class PgStore(Store):
    kind = "postgres"
    label = "postgresql vault"

    def __init__(self, url: str):
        self.spec = url

    def _conn(self):
        import psycopg
        return psycopg.connect(self.spec, autocommit=True)

    def query(self, sql, params=()):
        with self._conn() as conn:
            return conn.execute(sql.replace("?", "%s"), list(params)).fetchall()

    def execute(self, sql, params=()):
        with self._conn() as conn:
            conn.execute(sql.replace("?", "%s"), list(params))

    def dump(self) -> bytes:
        parts: list[bytes] = []
        for table in ("veil_meta", "veil_segments", "veil_forgotten", "veil_audit"):
            for row in self.query(f"SELECT * FROM {table}"):
                for v in row:
                    parts.append(bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode())
        return b"\0".join(parts)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path) -> Store:
    if request.param == "sqlite":
        return SqliteStore(tmp_path / "vaultdir" / "vault.db")
    return PgStore(request.getfixturevalue("pg_url"))


# -- data ------------------------------------------------------------------------------

def read_table(path: Path) -> list[dict[str, str | None]]:
    """Rows of a CSV or Parquet table, every value as text (None for null)."""
    if path.suffix == ".parquet":
        t = pq.read_table(path)
        cols = {n: t.column(n).to_pylist() for n in t.column_names}
        return [{n: (None if cols[n][i] is None else str(cols[n][i])) for n in cols} for i in range(t.num_rows)]
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [{k: (v if v != "" else None) for k, v in r.items()} for r in csv.DictReader(fh)]


def table_path(directory: Path, table: str) -> Path:
    for ext in (".csv", ".parquet"):
        if (directory / f"{table}{ext}").exists():
            return directory / f"{table}{ext}"
    raise FileNotFoundError(directory / table)


def column(directory: Path, table: str, col: str) -> list[str | None]:
    return [r[col] for r in read_table(table_path(directory, table))]


def email_pairs(src: Path, out: Path) -> list[tuple[str, str]]:
    """(pseudonym, original) for customers.email: output rows follow input rows."""
    originals, pseudonyms = column(src, "customers", "email"), column(out, "customers", "email")
    assert len(originals) == len(pseudonyms)
    return [(p, o) for p, o in zip(pseudonyms, originals, strict=True) if p is not None]


def data_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


# -- keys --------------------------------------------------------------------------------

def keyring_secrets(path: Path) -> dict[str, bytes]:
    """Every secret in a plain keyring file: name -> raw bytes."""
    doc = json.loads(path.read_text())
    out = {"index_secret": base64.b64decode(doc["index_secret"])}
    for k in doc["keys"]:
        for field in ("secret", "vault_key"):
            if k[field] is not None:
                out[f"{k['id']}.{field}"] = base64.b64decode(k[field])
    return out


def encodings(secret: bytes) -> dict[str, bytes]:
    """The forms a leaked key could take: raw, hex, base64 (standard and URL-safe), and halves."""
    forms = {
        "raw": secret,
        "hex": secret.hex().encode(),
        "HEX": secret.hex().upper().encode(),
        "base64": base64.b64encode(secret).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(secret).rstrip(b"="),
    }
    for i, half in enumerate((secret[:16], secret[16:])):
        forms[f"raw[{i}]"] = half
        forms[f"hex[{i}]"] = half.hex().encode()
    return forms


def find_secrets(blob: bytes, named_secrets: dict[str, bytes]) -> list[str]:
    """Which secrets (in which encoding) appear in blob."""
    return [f"{name} ({form})" for name, s in named_secrets.items()
            for form, needle in encodings(s).items() if needle in blob]


def versions(cli, keyring: Path | str, *extra: str, env: dict | None = None) -> list[dict]:
    res = cli("keys", "list", "--keyring", keyring, "--json", *extra, env=env)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def active_version(cli, keyring: Path | str, *extra: str, env: dict | None = None) -> str:
    act = [v for v in versions(cli, keyring, *extra, env=env) if v["active"]]
    assert len(act) == 1
    return act[0]["id"]


def init_keyring_cli(cli, path: Path, *extra: str, env: dict | None = None) -> str:
    res = cli("keys", "init", path, *extra, env=env)
    assert res.exit_code == 0, res.output
    m = re.search(r"key version (k-[0-9a-f]{8})", res.stdout)
    assert m, res.stdout
    return m.group(1)


def rotate(cli, keyring: Path, *extra: str, env: dict | None = None) -> str:
    res = cli("keys", "rotate", "--keyring", keyring, *extra, env=env)
    assert res.exit_code == 0, res.output
    m = re.match(r"rotated: (k-[0-9a-f]{8}) is active", res.stdout)
    assert m, res.stdout
    return m.group(1)


def run_ok(cli, src: Path, out: Path, profile: Path, keyring: Path | str, *extra: str,
           env: dict | None = None, workers: int = 1) -> dict:
    """`veil run` that must succeed; returns the report."""
    report = out.parent / f"{out.name}-report.json"
    res = cli("run", src, "--profile", profile, "--keyring", keyring, "--out", out, "--report", report,
              "--workers", str(workers), "-q", *extra, env=env)
    assert res.exit_code == 0, res.output
    doc = json.loads(report.read_text())
    doc["_result"] = res
    doc["_report_path"] = report
    return doc
